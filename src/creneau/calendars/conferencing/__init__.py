"""Video-conference links for remote sessions.

This package holds the **link-only** providers (Jitsi) and the choice between them. **Native** links (Google
Meet, Microsoft Teams) are not made here: they are a capability of the calendar provider
(``Capabilities.native_conferencing``), created with the calendar event when the booking code sets
``EventDraft.native_conference`` and returned in ``WrittenEvent.join_url``.

How the booking code uses it::

    if destination_capabilities.native_conferencing and session_wants_native:
        draft = EventDraft(..., native_conference=True)        # the link comes back with the written event
    else:
        conference = default_conferencing(jitsi_base_url=settings.jitsi_base_url).create(
            booking_key=booking.key, title=session.name
        )
        # store `conference` on the booking first, then put conference.join_url in the event and the email
"""

from __future__ import annotations

from creneau.calendars.conferencing.base import Conference, ConferencingProvider
from creneau.calendars.conferencing.jitsi import JitsiConferencing

__all__ = ["Conference", "ConferencingProvider", "JitsiConferencing", "default_conferencing"]


def default_conferencing(*, jitsi_base_url: str) -> ConferencingProvider:
    """The link-only provider to use when the destination calendar makes no native links: Jitsi Meet on
    ``jitsi_base_url`` (a self-hosted Jitsi, or ``https://meet.jit.si``).

    :raises ValueError: when ``jitsi_base_url`` is not an absolute http(s) URL without query or fragment.
    """
    return JitsiConferencing(jitsi_base_url)
