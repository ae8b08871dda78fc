"""What a calendarView sees: single events, and the occurrences and exceptions of series, in a window.

Like Graph, a calendarView never lists a series master: it lists each occurrence (``type: occurrence``) and
each modified occurrence (``type: exception``) with ``seriesMasterId`` and ``originalStart``. Occurrence ids
are derived from the master id and the original start, so they are stable across calls.

Quirk of the emulator (documented in docs/providers/msgraph.md): occurrences carry the series' ``iCalUId``;
Exchange gives each occurrence its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from dateutil import rrule

from creneau.emulators.msgraph.model import Json, StoredEvent, change_key, iso_z, parse_dtz, zone

_DAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_FREQ = {
    "daily": rrule.DAILY,
    "weekly": rrule.WEEKLY,
    "absoluteMonthly": rrule.MONTHLY,
    "relativeMonthly": rrule.MONTHLY,
    "absoluteYearly": rrule.YEARLY,
    "relativeYearly": rrule.YEARLY,
}
# Series without an end are expanded up to this many occurrences past the window start.
_MAX_OCCURRENCES = 5000
_OCCURRENCE_ID = re.compile(r"(.+)_(\d{8}T\d{6})")


def _rule(recurrence: Json, start: datetime) -> rrule.rrule:
    pattern = recurrence.get("pattern") or {}
    rng = recurrence.get("range") or {}
    kind = pattern.get("type", "daily")
    options: dict[str, Any] = {"dtstart": start, "interval": int(pattern.get("interval") or 1)}
    days = [_DAYS[d.lower()] for d in pattern.get("daysOfWeek") or [] if d.lower() in _DAYS]
    if kind == "weekly":
        options["byweekday"] = days or [start.weekday()]
        options["wkst"] = _DAYS.get(str(pattern.get("firstDayOfWeek", "sunday")).lower(), rrule.SU)
    elif kind in ("absoluteMonthly", "absoluteYearly"):
        options["bymonthday"] = int(pattern.get("dayOfMonth") or start.day)
    elif kind in ("relativeMonthly", "relativeYearly"):
        options["byweekday"] = days or [start.weekday()]
        options["bysetpos"] = _INDEX.get(str(pattern.get("index", "first")), 1)
    if kind in ("absoluteYearly", "relativeYearly"):
        options["bymonth"] = int(pattern.get("month") or start.month)
    if rng.get("type") == "numbered":
        options["count"] = int(rng.get("numberOfOccurrences") or 1)
    elif rng.get("type") == "endDate" and rng.get("endDate"):
        end_day = datetime.fromisoformat(str(rng["endDate"])).date()
        options["until"] = datetime.combine(end_day, time(23, 59, 59), tzinfo=start.tzinfo)
    frequency: Any = _FREQ.get(kind, rrule.DAILY)
    return rrule.rrule(frequency, **options)


def occurrences(event: StoredEvent, window_start: datetime, window_end: datetime) -> Iterator[Json]:
    """The Graph objects a calendarView of ``[window_start, window_end)`` lists for ``event``."""
    data = event.data
    if event.corrupt:
        yield dict(data)
        return
    start = parse_dtz(data["start"])
    end = parse_dtz(data["end"])
    if data.get("type") != "seriesMaster" or not data.get("recurrence"):
        if _overlaps(start, end, window_start, window_end):
            yield dict(data)
        return
    length = end - start
    rule = _rule(data["recurrence"], start)
    seen = 0
    # Exceptions may have moved far from their original slot: look at every one of them explicitly.
    for original in rule.xafter(start, count=None, inc=True):
        seen += 1
        if original >= window_end + timedelta(days=366) or seen > _MAX_OCCURRENCES * 10:
            break
        key = iso_z(original)
        if key in event.deleted_occurrences:
            continue
        item = _occurrence(event, original, original + length, event.exceptions.get(key))
        if _overlaps(parse_dtz(item["start"]), parse_dtz(item["end"]), window_start, window_end):
            yield item


def series_keys(event: StoredEvent) -> set[str]:
    """Original starts (iso_z) that the series really has, to validate an exception's key."""
    data = event.data
    start = parse_dtz(data["start"])
    rule = _rule(data["recurrence"], start)
    return {iso_z(o) for o in rule.xafter(start, count=2000, inc=True)}


def occurrence(event: StoredEvent, key: str) -> Json | None:
    """The occurrence (or exception) of series ``event`` originally starting at ``key`` (iso_z), as
    ``GET /me/events/{occurrence id}`` answers it; None when the series has no such occurrence (any
    more)."""
    data = event.data
    if event.corrupt or data.get("type") != "seriesMaster" or not data.get("recurrence"):
        return None
    if key in event.deleted_occurrences or key not in series_keys(event):
        return None
    start = datetime.strptime(key, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    length = parse_dtz(data["end"]) - parse_dtz(data["start"])
    return _occurrence(event, start, start + length, event.exceptions.get(key))


def split_occurrence_id(item_id: str) -> tuple[str, str] | None:
    """(master id, original start as iso_z) for an occurrence id, None for any other id."""
    match = _OCCURRENCE_ID.fullmatch(item_id)
    if match is None:
        return None
    stamp = datetime.strptime(match.group(2), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return match.group(1), iso_z(stamp)


def _occurrence(event: StoredEvent, start: datetime, end: datetime, override: Json | None) -> Json:
    master = event.data
    item = {k: v for k, v in master.items() if k not in ("recurrence", "id", "changeKey", "transactionId")}
    tz_name = master["start"].get("timeZone", "UTC")
    key = iso_z(start)
    item.update(
        id=f"{master['id']}_{start.astimezone(UTC):%Y%m%dT%H%M%S}",
        type="occurrence",
        seriesMasterId=master["id"],
        originalStart=key,
        recurrence=None,
        start={
            "dateTime": start.astimezone(zone(tz_name)).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": tz_name,
        },
        end={
            "dateTime": end.astimezone(zone(tz_name)).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": tz_name,
        },
    )
    if override is not None:
        item.update({k: v for k, v in override.items() if k != "changeKey"})
        item["type"] = "exception"
    item["changeKey"] = change_key(event.series_key, key, str((override or {}).get("changeKey", "")))
    return item


def _overlaps(start: datetime, end: datetime, window_start: datetime, window_end: datetime) -> bool:
    if end <= start:  # zero-length events are seen when they start inside the window
        return window_start <= start < window_end
    return start < window_end and window_start < end
