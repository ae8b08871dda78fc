"""A local, stateful stand-in for Google Calendar API v3 and Google's OAuth endpoints (tests and demo).

``start()`` serves it on 127.0.0.1; ``RunningEmulator.state`` (:class:`GoogleState`) is the control object
tests use directly, ``/_emulator/`` the same controls over HTTP. See docs/providers/google.md.
"""

from __future__ import annotations

from creneau.emulators.google.accounts import TokenSet
from creneau.emulators.google.server import RunningEmulator, build_app, start
from creneau.emulators.google.state import DEFAULT_SCOPE, Faults, GoogleState

__all__ = ["DEFAULT_SCOPE", "Faults", "GoogleState", "RunningEmulator", "TokenSet", "build_app", "start"]
