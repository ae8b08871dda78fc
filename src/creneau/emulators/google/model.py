"""Reading Google event JSON inside the emulator: times, recurrence expansion, busy periods.

The emulator stores events as the JSON Google returns; these helpers answer the questions the API's
filters ask (does this event end after ``timeMin``? when is it busy?). Recurrences are expanded with
dateutil, which covers RRULE/EXRULE/RDATE/EXDATE in UTC or in the event's own ``timeZone``; the emulator is a
test double, so an unreadable rule makes the master count as its first occurrence only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule

Event = dict[str, Any]
Period = tuple[datetime, datetime]
_MAX_OCCURRENCES = 5000


def rfc3339(moment: datetime) -> str:
    """``2030-03-04T10:00:00.000Z``, the way Google writes ``updated`` and ``created``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def zone(name: str | None, default: tzinfo) -> tzinfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def parse_instant(text: str) -> datetime:
    """An RFC 3339 timestamp with its offset. :raises ValueError: otherwise."""
    value = datetime.fromisoformat(text.replace("z", "Z"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone offset")
    return value


def event_time(when: Any, default: tzinfo) -> datetime:
    """The instant of a ``start``/``end``/``originalStartTime`` object; a ``date`` is midnight in the
    event's (else the calendar's) zone. :raises ValueError: when it is neither."""
    if not isinstance(when, dict):
        raise ValueError("missing time")
    tz = zone(when.get("timeZone"), default)
    if isinstance(when.get("dateTime"), str):
        value = datetime.fromisoformat(when["dateTime"].replace("z", "Z"))
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(when.get("date"), str):
        day = date.fromisoformat(when["date"])
        return datetime(day.year, day.month, day.day, tzinfo=tz)
    raise ValueError("a time needs dateTime or date")


def span(event: Event, default: tzinfo) -> Period:
    start = event_time(event.get("start"), default)
    end = event_time(event.get("end"), default)
    return start, end


def is_valid_time(when: Any) -> bool:
    try:
        event_time(when, UTC)
    except (ValueError, TypeError):
        return False
    return True


def _local_start(event: Event, default: tzinfo) -> datetime:
    """The master's start in its own zone (wall-clock rules repeat in local time, across DST)."""
    start = event["start"]
    tz = zone(start.get("timeZone"), default)
    return event_time(start, default).astimezone(tz)


def occurrence_starts(master: Event, default: tzinfo, until: datetime) -> list[datetime]:
    """Starts of a recurring master's occurrences up to ``until`` (bounded), its exceptions not applied."""
    first = _local_start(master, default)
    lines = [line for line in master.get("recurrence") or [] if isinstance(line, str)]
    try:
        rules = rrule.rrulestr("\n".join(lines), dtstart=first, forceset=True, unfold=True)
        found: list[datetime] = []
        for start in rules:
            if start > until or len(found) >= _MAX_OCCURRENCES:
                break
            found.append(start if start.tzinfo else start.replace(tzinfo=first.tzinfo))
        return found
    except (ValueError, TypeError):
        return [first]


def last_end(master: Event, default: tzinfo) -> datetime | None:
    """The end of a recurring master's last occurrence, or None when the rule never ends."""
    lines = " ".join(master.get("recurrence") or []).upper()
    if "COUNT=" not in lines and "UNTIL=" not in lines:
        return None
    start, end = span(master, default)
    far = datetime.now(UTC) + timedelta(days=365 * 50)
    starts = occurrence_starts(master, default, far)
    return (starts[-1] if starts else start) + (end - start)


def busy_periods(events: Iterable[Event], owner: str, default: tzinfo, window: Period) -> list[Period]:
    """What freebusy.query answers for one calendar: merged busy periods overlapping ``window``."""
    by_id = {e["id"]: e for e in events}
    exceptions: dict[str, list[Event]] = {}
    for event in by_id.values():
        if event.get("recurringEventId"):
            exceptions.setdefault(event["recurringEventId"], []).append(event)
    periods: list[Period] = []
    for event in by_id.values():
        try:
            periods += _event_periods(event, by_id, exceptions, owner, default, window)
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # an event the emulator cannot read blocks nothing
    hits = sorted(
        (s.astimezone(UTC), e.astimezone(UTC)) for s, e in periods if s < window[1] and window[0] < e
    )
    merged: list[Period] = []
    for begin, end in hits:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def _busy(event: Event, owner: str) -> bool:
    if event.get("transparency") == "transparent":
        return False
    for attendee in event.get("attendees") or []:
        if attendee.get("self") or str(attendee.get("email", "")).lower() == owner.lower():
            return bool(attendee.get("responseStatus") != "declined")
    return True


def ends_after(event: Event, series: Event | None, moment: datetime, default: tzinfo) -> bool:
    """The ``timeMin`` filter: does the event (or, for a recurring master, any occurrence) end after it?"""
    target = series if series is not None else event
    try:
        if target.get("recurrence"):
            last = last_end(target, default)
            return last is None or last > moment
        return span(target, default)[1] > moment
    except (ValueError, TypeError, KeyError):
        return True  # an event the emulator cannot read is listed, as Google lists what it stores


def starts_before(event: Event, series: Event | None, moment: datetime, default: tzinfo) -> bool:
    target = series if series is not None else event
    try:
        return span(target, default)[0] < moment
    except (ValueError, TypeError, KeyError):
        return True


def _event_periods(
    event: Event,
    by_id: dict[str, Event],
    exceptions: dict[str, list[Event]],
    owner: str,
    default: tzinfo,
    window: Period,
) -> list[Period]:
    """The busy periods of one stored item (a recurring master: its occurrences not moved or cancelled)."""
    if event.get("status") == "cancelled" or not _busy(event, owner):
        return []
    master = by_id.get(event.get("recurringEventId") or "")
    if master is not None and master.get("status") == "cancelled":
        return []
    if not event.get("recurrence"):
        return [span(event, default)]
    start, end = span(event, default)
    moved = {
        event_time(x.get("originalStartTime"), default).astimezone(UTC)
        for x in exceptions.get(event["id"], [])
    }
    return [
        (begin, begin + (end - start))
        for begin in occurrence_starts(event, default, window[1])
        if begin.astimezone(UTC) not in moved
    ]
