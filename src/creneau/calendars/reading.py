"""Reading remote objects into busy occurrences, for one calendar and one sync window.

A :class:`Reader` is handed each batch of downloaded events by the provider (``received``) while the next
batch downloads, so parsing and expansion overlap with the server's work; the sync engine then picks up what
was read, or reads what it was not handed (a stored event re-expanded when the window moved).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from creneau.calendars import ical
from creneau.calendars.providers.base import RemoteEvent
from creneau.domain.intervals import Interval


@dataclass(frozen=True)
class Reading:
    """One object as the busy rules see it inside the window."""

    parsed: ical.ParsedObject
    occurrences: list[ical.Occurrence]


class Reader:
    def __init__(self, *, window: Interval, tz: tzinfo, owners: Collection[str]) -> None:
        self.window, self._tz, self._owners = window, tz, owners
        self._early: dict[str, tuple[str, Reading | ical.MalformedObject]] = {}

    def __call__(self, events: Sequence[RemoteEvent]) -> None:
        """The provider's ``received`` hook: read ``events`` now, keep the outcome for :meth:`get`."""
        for event in events:
            self._early[event.remote_id] = (event.ical, self._attempt(event.ical))

    def get(self, event: RemoteEvent) -> Reading:
        """``event`` read. :raises ical.MalformedObject: when it cannot be read or expanded."""
        text, outcome = self._early.pop(event.remote_id, (None, None))
        if text is not event.ical or outcome is None:  # not handed over early, or changed since
            outcome = self._attempt(event.ical)
        if isinstance(outcome, ical.MalformedObject):
            raise outcome
        return outcome

    def read(self, text: str) -> Reading:
        """:raises ical.MalformedObject: when ``text`` cannot be read or expanded."""
        parsed = ical.parse(text)
        occurrences = ical.busy_occurrences(
            parsed, window=self.window, default_tz=self._tz, owner_addresses=self._owners
        )
        return Reading(parsed, occurrences)

    def _attempt(self, text: str) -> Reading | ical.MalformedObject:
        try:
            return self.read(text)
        except ical.MalformedObject as exc:
            return exc
