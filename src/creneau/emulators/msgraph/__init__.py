"""A local Microsoft Graph (calendar subset) and Microsoft identity platform, for tests and the demo.

Stateful, in memory, served by uvicorn on 127.0.0.1 from a background thread::

    running = start()                       # RunningEmulator(url, state, notifier, stop())
    user = running.state.add_user("ada@contoso.example", kind="work")
    tokens = running.state.issue_tokens(user.email)
    ...                                     # point a provider at running.graph_url
    running.stop()

Modules: ``model`` (stored objects, wire formats of times), ``recurrence`` (series → occurrences),
``state`` (the control object), ``delta`` (calendarView delta rounds), ``faults``, ``push`` (subscription
handshake and delivery), ``web`` (auth and shapes shared by the endpoints), ``api`` (reads), ``events``
(writes, getSchedule), ``subscriptions``, ``oauth``, ``control`` (``/_emulator/``), ``server``.
See docs/providers/msgraph.md.
"""

from __future__ import annotations

from creneau.emulators.msgraph.server import RunningEmulator, create_app, start
from creneau.emulators.msgraph.state import EmulatorError, GraphState

__all__ = ["EmulatorError", "GraphState", "RunningEmulator", "create_app", "start"]
