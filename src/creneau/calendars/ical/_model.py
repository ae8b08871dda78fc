"""The values the iCalendar layer hands to the sync engine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import icalendar

from creneau.domain.intervals import Interval

__all__ = ["MalformedObject", "Occurrence", "ParsedObject", "SingleEvent", "reason", "short"]

_MAX_TEXT = 70


class MalformedObject(ValueError):
    """An object we cannot read. The message says what is wrong (at most a property name, a UID and a short
    reason), never the whole object, so it can be shown to the researcher and logged."""


def short(text: object) -> str:
    """A short, one-line excerpt of ``text`` for an error message."""
    line = re.sub(r"\s+", " ", str(text)).strip()
    return line if len(line) <= _MAX_TEXT else line[: _MAX_TEXT - 1] + "…"


def reason(exc: BaseException) -> str:
    """What a library exception says, without the piece of the object it quotes after the first colon."""
    return short(str(exc).split(":", 1)[0]) or type(exc).__name__


@dataclass(frozen=True)
class SingleEvent:
    """What the busy rules need of a lone non-recurring VEVENT, read by the fast path (``_fast``).

    ``start``, ``end`` (DTEND, or ``None``) and ``duration`` (DURATION, or ``None``; never both) are what
    :func:`parse` would have left in the icalendar component: DATE values as dates, zoned times aware in the
    zone their TZID means to us (``_zones``), ``...Z`` times in UTC, floating times naive. The other fields
    are the raw values the busy rules read: ``status`` and ``transp`` as written (``""`` and ``"OPAQUE"``
    when absent), every ``ORGANIZER`` address, and every ``ATTENDEE`` as (address, PARTSTAT or
    ``"NEEDS-ACTION"``).
    """

    start: date
    end: date | None
    duration: timedelta | None
    status: str = ""
    transp: str = "OPAQUE"
    organizers: tuple[str, ...] = ()
    attendees: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ParsedObject:
    """One remote object (a VCALENDAR), checked and ready to expand.

    ``uid`` is the UID of its first VEVENT (or VTODO/VJOURNAL when it has no event; an ``.ics`` export with
    several UIDs is accepted too), ``summary`` the SUMMARY of its main event (``""`` if none), ``recurring``
    whether it has an RRULE or RDATE or several event components (overrides). ``repairs`` says what was
    repaired so that the object could be read (``_repair``: a derived UID, an empty RRULE dropped), each
    message once, in order; ``()`` for a valid object.

    The rest is internal. Exactly one of ``calendar`` and ``single`` is set. ``single`` is the one plain
    event of an object the fast path read (``_fast``: most objects of a real calendar); the others are
    read by icalendar into ``calendar``, whose date-times have been re-zoned by :func:`parse` (see
    ``_zones``), floating ones still naive. ``calendar_tz`` is the zone the object declares for floating
    times (``X-WR-TIMEZONE``), ``query`` the prepared recurrence expansion. ``mixes_floating`` says that an
    event mixes floating and zoned date-times (e.g. a floating DTSTART with EXDATEs in UTC), which
    recurring-ical-events would read by making the floating ones zoned: such objects are expanded on a copy
    whose floating times are first placed in the floating zone.
    """

    uid: str
    summary: str
    recurring: bool
    repairs: tuple[str, ...] = ()
    calendar: icalendar.Calendar | None = field(default=None, repr=False)
    single: SingleEvent | None = field(default=None, repr=False)
    calendar_tz: tzinfo | None = field(default=None, repr=False, compare=False)
    query: Any = field(default=None, repr=False, compare=False)
    mixes_floating: bool = field(default=False, repr=False, compare=False)


@dataclass(frozen=True, order=True)
class Occurrence:
    """One busy occurrence: ``[start, end)``, aware, in UTC, never empty.

    ``all_day`` occurrences came from DATE values and span local midnight to midnight of the floating zone.
    """

    start: datetime
    end: datetime
    all_day: bool

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)
