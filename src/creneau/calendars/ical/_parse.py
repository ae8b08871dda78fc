"""Reading one remote object: parse, check, re-zone, prepare the expansion."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import icalendar
import icalendar.error
import recurring_ical_events

from creneau.calendars.ical._fast import read_simple
from creneau.calendars.ical._model import MalformedObject, ParsedObject, reason, short
from creneau.calendars.ical._repair import EMPTY_RULE, NO_UID, derived_uid, empty_rules, vevent_blocks
from creneau.calendars.ical._strip import strip_irrelevant
from creneau.calendars.ical._vtimezone import split_vtimezones
from creneau.calendars.ical._zones import ObjectZones
from creneau.domain.timezones import is_utc, to_utc

__all__ = ["build_query", "parse", "parse_with_icalendar"]

# icalendar (7.x) warns when it strips a vendor prefix from a TZID; we re-resolve every TZID ourselves.
_GUESSED = getattr(icalendar.error, "GloballyUniqueTZIDGuessed", None)
if _GUESSED is not None:
    warnings.filterwarnings("ignore", category=_GUESSED)

_COMPONENTS_WITH_UID = ("VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY")
_SINGLE_TIMES = ("DTSTART", "DTEND", "RECURRENCE-ID")
_TIME_LISTS = ("EXDATE", "RDATE")
_FREQ_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600}
_MAX_PER_DAY = 96  # an unbounded rule firing more often than every 15 minutes is not a calendar event
_MAX_COUNT = 20_000


def parse(text: str) -> ParsedObject:
    """Parse one VCALENDAR object and check what expansion will need.

    Repairs first what does not prevent placing an event in time (``_repair``): a VEVENT without UID gets
    one derived from its content, an empty RRULE is dropped; ``ParsedObject.repairs`` says so.

    Checks: it is exactly one VCALENDAR; every VEVENT has exactly one valid DTSTART, valid
    DTEND/DURATION/RECURRENCE-ID/EXDATE/RDATE/RRULE values; DTEND is not before DTSTART; DURATION is not
    negative; an unbounded RRULE does not fire more than 96 times a day. Every TZID is resolved by our own
    rules (``_zones``); a TZID nobody knows leaves the time floating.

    A lone plain event (most objects of a calendar) is read by our own fast reader (``_fast``), anything
    else by icalendar (:func:`parse_with_icalendar`); both give the same result.

    :raises MalformedObject: when any of that fails; the message names the component and the property.
    """
    return _parse(text, fast=True)


def parse_with_icalendar(text: str) -> ParsedObject:
    """:func:`parse` without the fast path: the reference the fast path is tested against."""
    return _parse(text, fast=False)


def _parse(text: str, *, fast: bool) -> ParsedObject:
    try:
        rest, vtimezones = split_vtimezones(text)
        stripped = strip_irrelevant(rest)
    except Exception as exc:
        raise MalformedObject(f"not an iCalendar object: {reason(exc)}") from exc
    zones = ObjectZones(vtimezones)
    if fast:
        simple = read_simple(stripped, zones)
        if simple is not None:
            return simple
    try:
        calendar = icalendar.Calendar.from_ical(stripped)
    except Exception as exc:
        raise MalformedObject(f"not an iCalendar object: {reason(exc)}") from exc
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise MalformedObject("not a VCALENDAR object")
    try:
        return _prepare(calendar, zones, stripped)
    except MalformedObject:
        raise
    except Exception as exc:  # anything icalendar or recurring-ical-events chokes on
        raise MalformedObject(f"cannot read the object: {type(exc).__name__}: {reason(exc)}") from exc


def _prepare(calendar: icalendar.Calendar, zones: ObjectZones, text: str) -> ParsedObject:
    scale = str(calendar.get("CALSCALE", "GREGORIAN")).strip().upper()
    if scale != "GREGORIAN":
        raise MalformedObject(f"cannot read the object: calendar scale {short(scale)} is not supported")
    declared = calendar.get("X-WR-TIMEZONE")
    calendar_tz = zones(str(declared).strip()) if declared is not None else None
    events = [c for c in calendar.subcomponents if c.name == "VEVENT"]
    repairs, derived = _repair_events(events, text)
    mixed = [_check_event(e, zones, calendar_tz, derived=d) for e, d in zip(events, derived, strict=True)]
    with_uid = [c for c in calendar.subcomponents if c.name in _COMPONENTS_WITH_UID and "UID" in c]
    if not events and not with_uid:
        raise MalformedObject("no VEVENT, VTODO or VJOURNAL with a UID")
    first = events[0] if events else with_uid[0]
    masters = [e for e in events if "RECURRENCE-ID" not in e]
    summary = (masters or events or [first])[0].get("SUMMARY", "")
    recurring = len(events) > 1 or any("RRULE" in e or "RDATE" in e for e in events)
    # A single non-recurring event is placed directly by busy_occurrences (no expansion machinery).
    query = build_query(calendar) if recurring else None
    return ParsedObject(
        uid=str(first.get("UID", "")),
        summary=str(summary),
        recurring=recurring,
        repairs=repairs,
        calendar=calendar,
        calendar_tz=calendar_tz,
        query=query,
        mixes_floating=any(mixed),
    )


def build_query(calendar: icalendar.Calendar) -> Any:
    """The recurring-ical-events query over the VEVENTs of ``calendar`` (builds and checks every RRULE)."""
    return recurring_ical_events.of(calendar, components=("VEVENT",))


def _repair_events(events: list[icalendar.Component], text: str) -> tuple[tuple[str, ...], list[bool]]:
    """Repair in place what ``_repair`` repairs; returns the messages (each once, in order) and which
    events got a derived UID. ``text`` is the stripped text ``events`` were read from (derived UIDs are
    computed from it, as the fast path does)."""
    repairs: dict[str, None] = {}
    derived = [False] * len(events)
    found: list[str] | None = None

    def blocks() -> list[str]:  # read only for the objects that need a repair
        nonlocal found
        if found is None:
            found = vevent_blocks(text)
            if len(found) != len(events):  # a layout our line scan reads otherwise than icalendar
                found = [event.to_ical().decode(errors="replace") for event in events]
        return found

    for index, event in enumerate(events):
        rules = _as_list(event.get("RRULE"))
        kept = [rule for rule in rules if not _empty_rule(rule)]
        # icalendar reads "RRULE:" and "RRULE:garbage" alike: drop them only when the text is empty.
        if kept != rules and len(rules) - len(kept) == empty_rules(blocks()[index]):
            del event["RRULE"]
            if kept:
                event["RRULE"] = kept if len(kept) > 1 else kept[0]
            repairs[EMPTY_RULE] = None
        if "UID" not in event:
            event["UID"] = icalendar.vText(derived_uid(blocks(), index))
            derived[index] = True
            repairs[NO_UID] = None
    return tuple(repairs), derived


def _empty_rule(rule: Any) -> bool:
    """``RRULE:`` with nothing (or only spaces) after the colon: icalendar reads it as a rule of no part."""
    return isinstance(rule, icalendar.vRecur) and len(rule) == 0


def _check_event(
    event: icalendar.Component, zones: ObjectZones, calendar_tz: tzinfo | None, *, derived: bool
) -> bool:
    """Check one VEVENT and re-zone its date-times in place; tell whether it mixes floating and zoned
    date-times among DTSTART, DTEND, EXDATE and RDATE. ``derived``: its UID is ours (``_repair``), not
    worth naming in a message."""
    where = "a VEVENT without UID" if derived else f"VEVENT {short(event['UID'])!r}"
    for name in _SINGLE_TIMES:
        prop = event.get(name)
        if prop is None:
            continue
        if isinstance(prop, list):
            raise MalformedObject(f"{where}: several {name} properties")
        value = _value(prop, name, where)
        if not isinstance(value, date):  # datetime is a date
            raise MalformedObject(f"{where}: {name} is not a date or date-time")
        prop.dt = _rezone(value, prop.params.get("TZID"), zones, calendar_tz)
    for name in _TIME_LISTS:
        for prop in _as_list(event.get(name)):
            for item in _value_list(prop, name, where):
                item.dt = _rezone_item(item.dt, prop.params.get("TZID"), zones, calendar_tz, name, where)
    if "DTSTART" not in event:
        raise MalformedObject(f"{where}: no DTSTART")
    start = _value(event["DTSTART"], "DTSTART", where)
    if "DTEND" in event:
        _check_order(start, _value(event["DTEND"], "DTEND", where), where)
    elif "DURATION" in event:
        duration = _value(event["DURATION"], "DURATION", where)
        if not isinstance(duration, timedelta):
            raise MalformedObject(f"{where}: DURATION is not a duration")
        if duration < timedelta(0):
            raise MalformedObject(f"{where}: DURATION is negative")
    for rule in _as_list(event.get("RRULE")):
        _check_rule(rule, where)
    kinds = {value.tzinfo is None for value in _datetimes(event, ("DTSTART", "DTEND", *_TIME_LISTS))}
    return len(kinds) == 2


def _datetimes(event: icalendar.Component, names: tuple[str, ...]) -> Iterator[datetime]:
    """The date-times (not dates, not durations) of properties ``names``, period starts and ends included."""
    for name in names:
        for prop in _as_list(event.get(name)):
            for item in prop.dts if hasattr(prop, "dts") else [prop]:
                values = item.dt if isinstance(item.dt, tuple) else (item.dt,)
                yield from (v for v in values if isinstance(v, datetime))


def _value(prop: Any, name: str, where: str) -> Any:
    try:
        return prop.dt
    except Exception as exc:  # icalendar raises BrokenCalendarProperty on first access to a bad value
        raise MalformedObject(f"{where}: {name} has an invalid value") from exc


def _value_list(prop: Any, name: str, where: str) -> list[Any]:
    try:
        items = list(prop.dts)
        for item in items:
            _ = item.dt
    except Exception as exc:
        raise MalformedObject(f"{where}: {name} has an invalid value") from exc
    return items


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _rezone(value: date, tzid: object, zones: ObjectZones, calendar_tz: tzinfo | None) -> date:
    """``value`` with the zone its TZID means to us (see ``_zones``); UTC times move to X-WR-TIMEZONE."""
    if not isinstance(value, datetime):
        return value
    if tzid is not None:
        zone = zones(str(tzid))
        wall = value.replace(tzinfo=None)
        return wall.replace(tzinfo=zone) if zone is not None else wall
    if calendar_tz is not None and value.tzinfo is not None and is_utc(value.tzinfo):
        # Google exports recurring events in UTC and means them in the calendar's zone (X-WR-TIMEZONE):
        # read in UTC, a weekly 09:00 Paris meeting would move by an hour at each DST change.
        return value.astimezone(calendar_tz)
    return value


def _rezone_item(
    value: Any, tzid: object, zones: ObjectZones, calendar_tz: tzinfo | None, name: str, where: str
) -> Any:
    if isinstance(value, tuple):  # an RDATE period: (start, end or duration)
        start, end = value
        if not isinstance(start, date) or not isinstance(end, date | timedelta):
            raise MalformedObject(f"{where}: {name} has an invalid period")
        if isinstance(end, date):
            end = _rezone(end, tzid, zones, calendar_tz)
        return (_rezone(start, tzid, zones, calendar_tz), end)
    if not isinstance(value, date):
        raise MalformedObject(f"{where}: {name} is not a date or date-time")
    return _rezone(value, tzid, zones, calendar_tz)


def _check_order(start: date, end: Any, where: str) -> None:
    if not isinstance(end, date):
        raise MalformedObject(f"{where}: DTEND is not a date or date-time")
    if isinstance(start, datetime) != isinstance(end, datetime):
        return  # mixed DATE and DATE-TIME: tolerated, the expansion reads both as date-times
    if isinstance(start, datetime) and isinstance(end, datetime):
        if (start.tzinfo is None) != (end.tzinfo is None):
            return  # floating start, zoned end (or the reverse): order depends on the floating zone
        if start.tzinfo is not None and end.tzinfo is not None:
            start, end = to_utc(start, start.tzinfo), to_utc(end, end.tzinfo)
        if end < start:
            raise MalformedObject(f"{where}: DTEND is before DTSTART")
    elif end < start:
        raise MalformedObject(f"{where}: DTEND is before DTSTART")


def _rule_parts(rule: Any) -> Iterator[tuple[str, list[Any]]]:
    for key, values in rule.items():
        yield str(key).upper(), values if isinstance(values, list) else [values]


def _check_rule(rule: Any, where: str) -> None:
    """A rule needs a FREQ; an unbounded one may not fire more than ``_MAX_PER_DAY`` times a day."""
    try:
        parts = dict(_rule_parts(rule))
        if not parts.get("FREQ"):
            raise MalformedObject(f"{where}: RRULE has no FREQ")
        freq = str(parts["FREQ"][0]).upper()
        seconds = _FREQ_SECONDS.get(freq, 86_400)
        interval = max(int(parts.get("INTERVAL", [1])[0] or 1), 1)
        count = int(parts.get("COUNT", [0])[0] or 0)
    except MalformedObject:
        raise
    except Exception as exc:
        raise MalformedObject(f"{where}: RRULE has an invalid value") from exc
    per_day = max(86_400 / (seconds * interval), 1.0)
    for by, unit in (("BYHOUR", 3600), ("BYMINUTE", 60), ("BYSECOND", 1)):
        if seconds > unit:  # a BYxxx finer than FREQ multiplies the occurrences
            per_day *= max(len(parts.get(by, [])), 1)
    if per_day > _MAX_PER_DAY and (count == 0 or count > _MAX_COUNT):
        raise MalformedObject(f"{where}: RRULE FREQ={freq} repeats more than {_MAX_PER_DAY} times a day")
