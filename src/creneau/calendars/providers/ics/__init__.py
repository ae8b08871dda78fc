"""Read-only ICS feeds (``webcal://`` and ``https://`` calendar subscriptions), kind ``ics``.

One account is one feed is one calendar. Modules, bottom-up: ``address`` (what the researcher may paste),
``feed`` (the conditional, size-capped GET and the cursor that remembers its validators), ``split`` (one feed
file → one VCALENDAR per UID, with the VTIMEZONEs each needs), and ``provider`` which ties them into
:class:`IcsProvider`. See docs/providers/ics.md.
"""

from __future__ import annotations

from creneau.calendars.providers.ics.provider import IcsProvider

__all__ = ["IcsProvider"]
