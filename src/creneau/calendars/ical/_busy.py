"""Expanding a parsed object into the occurrences during which its owner is busy."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from copy import deepcopy
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import icalendar

from creneau.calendars.ical._model import (
    MalformedObject,
    Occurrence,
    ParsedObject,
    SingleEvent,
    reason,
    short,
)
from creneau.calendars.ical._parse import build_query
from creneau.domain.intervals import Interval
from creneau.domain.timezones import local_midnight_to_utc, to_utc

__all__ = ["busy_by_rules", "busy_occurrences", "is_busy", "normalize_address"]

# We query recurring-ical-events with a naive window, read in each series' own zone, so floating and zoned
# series are found alike; two days on each side cover every UTC offset (-12:00 to +14:00) with room to spare.
# The exact overlap test is then done in UTC.
_PAD = timedelta(days=2)
_EARLIEST = datetime.min + _PAD  # noqa: DTZ901 - naive on purpose, like the query bounds
_LATEST = datetime.max - _PAD  # noqa: DTZ901


def busy_occurrences(
    obj: ParsedObject,
    *,
    window: Interval,
    default_tz: tzinfo,
    owner_addresses: Collection[str] = (),
) -> list[Occurrence]:
    """The busy occurrences of ``obj`` that overlap ``window`` (half-open), whole (not clipped), sorted,
    without duplicates, in UTC.

    Busy rules (docs/providers/icalendar.md): an occurrence is *not* busy when it is ``STATUS:CANCELLED``,
    ``TRANSP:TRANSPARENT``, empty (zero length), or an invitation that every ``ATTENDEE`` entry of the owner
    (an address in ``owner_addresses``, compared without case and without ``mailto:``) has declined — unless
    the owner is its ``ORGANIZER``. Everything else is busy, tentative and unanswered invitations included.
    Overrides (RECURRENCE-ID) carry their own properties, so a cancelled override removes one occurrence.

    Floating times and DATE values are read in the object's ``X-WR-TIMEZONE`` when it names a known zone, else
    in ``default_tz``. A DATE value spans local midnight to local midnight (``all_day=True``).

    :raises MalformedObject: when the expansion fails on something :func:`parse` could not foresee.
    """
    if window.end.astimezone(UTC) <= window.start.astimezone(UTC):  # same-zone datetimes compare wall clocks
        return []
    floating = obj.calendar_tz or default_tz
    owners = frozenset(normalize_address(a) for a in owner_addresses)
    query = obj.query
    found: set[Occurrence] = set()
    try:
        if obj.single is not None:
            return _fast_single(obj.single, window, floating, owners)
        calendar = obj.calendar
        events = [c for c in calendar.subcomponents if c.name == "VEVENT"] if calendar is not None else []
        if calendar is None or not events:
            return []
        if obj.mixes_floating:
            query = build_query(_floating_placed(calendar, floating))
        elif query is None and not obj.recurring:
            return _single(events[0], window, floating, owners)
        elif query is None:
            query = build_query(calendar)
        for component, start, end in _expanded(query, window):
            if not is_busy(component, owners):
                continue
            occurrence = _occurrence(start, end, floating)
            if occurrence is not None and occurrence.start < window.end and window.start < occurrence.end:
                found.add(occurrence)
    except MalformedObject:
        raise
    except Exception as exc:
        raise MalformedObject(
            f"cannot expand {short(obj.uid)!r}: {type(exc).__name__}: {reason(exc)}"
        ) from exc
    return sorted(found)


def _single(event: Any, window: Interval, floating: tzinfo, owners: frozenset[str]) -> list[Occurrence]:
    """The one occurrence of a non-recurring event, with RFC 5545's defaults for a missing end: a DATE
    lasts one day, a DATE-TIME without DTEND or DURATION lasts no time (and so is not busy)."""
    if not is_busy(event, owners):
        return []
    end = event["DTEND"].dt if "DTEND" in event else None
    duration = event["DURATION"].dt if end is None and "DURATION" in event else None
    return _once(event["DTSTART"].dt, end, duration, window, floating)


def _fast_single(
    event: SingleEvent, window: Interval, floating: tzinfo, owners: frozenset[str]
) -> list[Occurrence]:
    """:func:`_single` for an event the fast path read (``_fast``): the same rules on the same values."""
    if not busy_by_rules(event.status, event.transp, event.organizers, event.attendees, owners):
        return []
    return _once(event.start, event.end, event.duration, window, floating)


def _once(
    start: date, end: date | None, duration: timedelta | None, window: Interval, floating: tzinfo
) -> list[Occurrence]:
    """The occurrence of a non-recurring event if it is not empty and overlaps ``window``; DTEND wins
    over DURATION."""
    if end is None and duration is not None:
        end = start + duration
    elif end is None:
        end = start if isinstance(start, datetime) else start + timedelta(days=1)
    occurrence = _occurrence(start, end, floating)
    if occurrence is None or not (occurrence.start < window.end and window.start < occurrence.end):
        return []
    return [occurrence]


def _expanded(query: Any, window: Interval) -> Iterator[tuple[Any, date, date]]:
    """``(source VEVENT, start, end)`` of each occurrence the query finds around ``window``.

    recurring-ical-events' public ``between()`` builds a copy of the VEVENT per occurrence, which is two
    thirds of the cost of expanding a long series; the busy rules only read properties that every copy
    shares with its source (STATUS, TRANSP, ORGANIZER, ATTENDEE), so we read its occurrence objects
    instead when this version of the library has them. test_busy_corpus checks the result against the
    public API.
    """
    start, stop = _naive_utc(window.start, -_PAD), _naive_utc(window.end, _PAD)
    occurrences_between = getattr(query, "_occurrences_between", None)
    if occurrences_between is None:  # another version of the library: the public, slower way
        for component in query.between(start, stop):
            yield component, component["DTSTART"].dt, component["DTEND"].dt
        return
    for occurrence in occurrences_between(query.to_datetime(start), query.to_datetime(stop)):
        source = getattr(getattr(occurrence, "_adapter", None), "_component", None)
        if source is None:
            source = occurrence.as_component(False)
        yield source, occurrence.start, occurrence.end


def _floating_placed(calendar: icalendar.Calendar, floating: tzinfo) -> icalendar.Calendar:
    """A copy of ``calendar`` whose floating date-times are in ``floating``: for objects that mix floating
    and zoned times in one event, which recurring-ical-events would read in the zone of the zoned ones."""
    copy = deepcopy(calendar)
    for event in copy.subcomponents:
        if event.name != "VEVENT":
            continue
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE"):
            values = event.get(name)
            for prop in values if isinstance(values, list) else [values] if values is not None else []:
                for item in prop.dts if hasattr(prop, "dts") else [prop]:
                    item.dt = _placed(item.dt, floating)
    return copy


def _placed(value: Any, floating: tzinfo) -> Any:
    if isinstance(value, tuple):
        return tuple(_placed(v, floating) for v in value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=floating)
    return value


def _naive_utc(instant: datetime, pad: timedelta) -> datetime:
    naive = instant.astimezone(UTC).replace(tzinfo=None)
    try:
        return min(max(naive + pad, _EARLIEST), _LATEST)
    except OverflowError:
        return _EARLIEST if pad < timedelta(0) else _LATEST


def normalize_address(address: object) -> str:
    """``"MAILTO:Ada@Example.org "`` → ``"ada@example.org"``: how we compare calendar user addresses."""
    text = str(address).strip().casefold()
    return text[len("mailto:") :].strip() if text.startswith("mailto:") else text


def is_busy(component: Any, owners: frozenset[str]) -> bool:
    """Whether one occurrence (a VEVENT as recurring-ical-events yields it) makes its owner busy, before
    looking at its length: see :func:`busy_occurrences` for the rules."""
    attendees = _as_list(component.get("ATTENDEE"))
    return busy_by_rules(
        component.get("STATUS", ""),
        component.get("TRANSP", "OPAQUE"),
        _as_list(component.get("ORGANIZER")),
        ((a, getattr(a, "params", {}).get("PARTSTAT", "NEEDS-ACTION")) for a in attendees),
        owners,
    )


def busy_by_rules(
    status: object,
    transp: object,
    organizers: Iterable[object],
    attendees: Iterable[tuple[object, object]],
    owners: frozenset[str],
) -> bool:
    """The busy rules on the values they read: STATUS, TRANSP (as written), the ORGANIZER addresses and
    the ATTENDEE (address, PARTSTAT) pairs. See :func:`busy_occurrences`."""
    if str(status).strip().upper() == "CANCELLED":
        return False
    if str(transp).strip().upper() == "TRANSPARENT":
        return False
    return not (owners and _declined(organizers, attendees, owners))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _declined(
    organizers: Iterable[object], attendees: Iterable[tuple[object, object]], owners: frozenset[str]
) -> bool:
    if any(normalize_address(o) in owners for o in organizers):
        return False  # the owner organises it: the meeting is theirs, whatever their attendee line says
    partstats = [str(partstat).upper() for a, partstat in attendees if normalize_address(a) in owners]
    return bool(partstats) and all(p == "DECLINED" for p in partstats)


def _instant(value: date, floating: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        return local_midnight_to_utc(value, floating)
    if value.tzinfo is None:
        return to_utc(value, floating)
    return to_utc(value, value.tzinfo)


def _occurrence(start: date, end: date, floating: tzinfo) -> Occurrence | None:
    """The UTC occurrence ``[start, end)`` means, or ``None`` when it is empty.

    Each bound is read by RFC 5545 (a wall time in a DST gap moves forward by the gap). When that collapses a
    timed occurrence that has a positive wall-clock length — a meeting 02:30-03:30 on the night the clocks go
    from 02:00 to 03:00 — it keeps its wall-clock length from its (moved) start instead of vanishing.
    """
    begins, ends = _instant(start, floating), _instant(end, floating)
    if (
        ends <= begins
        and isinstance(start, datetime)
        and isinstance(end, datetime)
        and start.tzinfo is end.tzinfo
    ):
        wall_length = end.replace(tzinfo=None) - start.replace(tzinfo=None)
        if wall_length > timedelta(0):
            ends = begins + wall_length
    if ends <= begins:
        return None
    return Occurrence(begins, ends, all_day=not isinstance(start, datetime))
