"""What a video-conference link is, and the contract of the providers that make link-only conferences.

Two kinds of video link exist in creneau:

- **native** links (Google Meet, Microsoft Teams) are made by the calendar itself, *with* the event: they
  are a capability of the calendar provider (``Capabilities.native_conferencing`` in
  ``creneau.calendars.providers.base``; the booking asks for one with ``EventDraft.native_conference``) and
  the link comes back in ``WrittenEvent.join_url``. Nothing in this package creates them.
- **link-only** links (Jitsi) need no calendar: a :class:`ConferencingProvider` from this package makes them,
  before the event is written, and the link goes into the event and the participant's email.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

__all__ = ["Conference", "ConferencingProvider"]


@dataclass(frozen=True)
class Conference:
    """A video conference a participant joins with ``join_url``; ``provider`` is the provider's ``name``."""

    provider: str
    join_url: str


class ConferencingProvider(abc.ABC):
    """Makes link-only video conferences (no calendar involved).

    Contract for implementations and callers:

    - :meth:`create` must be safe to call again for the same ``booking_key`` (a retry after a crash or a
      failed write). It may return a *different* link on the second call only if the first one was never
      handed out, which is the case as long as the caller follows the next rule.
    - The caller stores the returned :class:`Conference` on the booking (before sending any email or writing
      any calendar event that shows it) and never calls :meth:`create` twice for one booking: a reschedule
      keeps the stored link, a cancellation just stops using it.
    - ``title`` may end up readable in the link; pass the study or session name, never the participant's
      name or anything else personal.
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def create(self, *, booking_key: str, title: str) -> Conference:
        """A conference for the booking ``booking_key`` (our stable booking identifier).

        :raises ValueError: when ``booking_key`` is empty.
        """
