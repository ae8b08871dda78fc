"""The Graph sync cursor of one calendar: the deltaLink of its last round and the window it covers.

::

    {"v": 1, "delta": "<@odata.deltaLink>", "start": "2025-01-01T00:00:00Z", "end": "2025-08-01T00:00:00Z"}

A calendarView delta round is bound to the window of its first request; the deltaLink carries it. When the
window we want has moved on by more than :data:`WINDOW_SLACK` since, the provider starts a new round (a full
listing) instead of following the link. A cursor we cannot read raises ``SyncCursorInvalid``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from creneau.domain.intervals import Interval
from creneau.errors import SyncCursorInvalid

VERSION = 1
WINDOW_SLACK = timedelta(days=7)


@dataclass(frozen=True)
class Cursor:
    delta_link: str
    window: Interval

    def encode(self) -> str:
        return json.dumps(
            {
                "v": VERSION,
                "delta": self.delta_link,
                "start": _z(self.window.start),
                "end": _z(self.window.end),
            },
            separators=(",", ":"),
        )

    def covers(self, wanted: Interval) -> bool:
        """Whether this round's window is still close enough to ``wanted`` to be followed."""
        return (
            abs(self.window.start - wanted.start) <= WINDOW_SLACK
            and abs(self.window.end - wanted.end) <= WINDOW_SLACK
        )


def decode(text: str) -> Cursor:
    """:raises SyncCursorInvalid: when ``text`` is not a cursor this version wrote."""
    try:
        data = json.loads(text)
    except ValueError:
        raise SyncCursorInvalid(
            "the stored Microsoft sync cursor is unreadable; a full sync is needed"
        ) from None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise SyncCursorInvalid(
            "the stored Microsoft sync cursor has an unknown format; a full sync is needed"
        )
    try:
        link = data["delta"]
        window = Interval(_parse(data["start"]), _parse(data["end"]))
    except (KeyError, TypeError, ValueError):
        raise SyncCursorInvalid(
            "the stored Microsoft sync cursor is incomplete; a full sync is needed"
        ) from None
    if not isinstance(link, str) or not link.startswith(("http://", "https://")):
        raise SyncCursorInvalid("the stored Microsoft sync cursor has no delta link; a full sync is needed")
    return Cursor(link, window)


def _z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("naive time in cursor")
    return parsed
