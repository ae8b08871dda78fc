"""``MimeContent`` of a calendar item: the iCalendar Exchange writes for it — a VTIMEZONE named by the
Windows id with yearly STANDARD/DAYLIGHT rules, the series' VEVENT (RRULE, EXDATE for deleted occurrences,
Exchange's ``X-MICROSOFT-CDO-*`` busy status) and one VEVENT per exception (RECURRENCE-ID)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, tzinfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vRecur

from creneau.emulators.ews import recurrence, timezones
from creneau.emulators.ews.model import Item, zone_of
from creneau.emulators.ews.model import zone as zone_of_id
from creneau.emulators.ews.soap import Element, local, text_of

_DAYS = {
    "Monday": "MO",
    "Tuesday": "TU",
    "Wednesday": "WE",
    "Thursday": "TH",
    "Friday": "FR",
    "Saturday": "SA",
    "Sunday": "SU",
}
_GROUPS = {"Day": list(_DAYS.values()), "Weekday": ["MO", "TU", "WE", "TH", "FR"], "WeekendDay": ["SA", "SU"]}
_INDEX = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_BUSY = {
    "Free": "FREE",
    "Tentative": "TENTATIVE",
    "Busy": "BUSY",
    "OOF": "OOF",
    "WorkingElsewhere": "WORKINGELSEWHERE",
}


def _days(text: str | None) -> list[str]:
    out: list[str] = []
    for word in (text or "").split():
        out.extend(_GROUPS.get(word, [_DAYS.get(word, "MO")]))
    return out


def rrule(rule: Element, tz: tzinfo, first: datetime) -> vRecur:
    pattern, range_ = recurrence.pattern_range(rule)
    kind = local(pattern)
    out: dict[str, object] = {}
    interval = int(text_of(pattern, "t:Interval", "1") or "1")
    if kind == "DailyRecurrence":
        out["FREQ"] = "DAILY"
    elif kind == "WeeklyRecurrence":
        out["FREQ"] = "WEEKLY"
        out["BYDAY"] = _days(text_of(pattern, "t:DaysOfWeek"))
        out["WKST"] = _DAYS.get(text_of(pattern, "t:FirstDayOfWeek", "Sunday") or "Sunday", "SU")
    elif kind.endswith("MonthlyRecurrence"):
        out["FREQ"] = "MONTHLY"
    else:
        out["FREQ"] = "YEARLY"
        interval = 1
        out["BYMONTH"] = _MONTHS.index(text_of(pattern, "t:Month", "January") or "January") + 1
    if kind.startswith("Absolute"):
        out["BYMONTHDAY"] = int(text_of(pattern, "t:DayOfMonth", "1") or "1")
    elif kind.startswith("Relative"):
        out["BYDAY"] = _days(text_of(pattern, "t:DaysOfWeek"))
        out["BYSETPOS"] = _INDEX.get(text_of(pattern, "t:DayOfWeekIndex", "First") or "First", 1)
    if interval != 1:
        out["INTERVAL"] = interval
    if local(range_) == "NumberedRecurrence":
        out["COUNT"] = int(text_of(range_, "t:NumberOfOccurrences", "1") or "1")
    elif local(range_) == "EndDateRecurrence":
        end_date = datetime.fromisoformat((text_of(range_, "t:EndDate", "") or "")[:10])
        last_local = datetime.combine(end_date.date(), first.astimezone(tz).time()).replace(tzinfo=tz)
        out["UNTIL"] = last_local.astimezone(UTC)
    return vRecur(out)


@functools.lru_cache(maxsize=64)
def _vtimezone(windows_id: str, year: int) -> Timezone:
    """A VTIMEZONE as Exchange writes one: TZID is the Windows id, one yearly rule per period."""
    definition = timezones.definition(windows_id, year=year)
    component = Timezone()
    component.add("tzid", windows_id)
    if definition is None:
        return component
    zone = zone_of_id(windows_id)
    changes = timezones.transitions(zone, year)
    if len(changes) != 2:
        standard = TimezoneStandard()
        offset = datetime(year, 1, 1, tzinfo=UTC).astimezone(zone).utcoffset() or timedelta()
        standard.add("dtstart", datetime(1601, 1, 1))  # noqa: DTZ001 - VTIMEZONE rules are floating
        standard.add("tzoffsetfrom", offset)
        standard.add("tzoffsetto", offset)
        component.add_component(standard)
        return component
    for wall, before, after in changes:
        part = TimezoneDaylight() if after > before else TimezoneStandard()
        month, day, occurrence, minutes = timezones.rule(wall)
        part.add("dtstart", datetime(1601, 1, 1) + timedelta(minutes=minutes))  # noqa: DTZ001 - floating
        part.add("rrule", {"FREQ": "YEARLY", "BYMONTH": month, "BYDAY": f"{occurrence}{_DAYS[day]}"})
        part.add("tzoffsetfrom", before)
        part.add("tzoffsetto", after)
        component.add_component(part)
    return component


def _event(item: Item, props: dict[str, Element], start: datetime, end: datetime, tz: tzinfo) -> Event:
    def text(name: str, default: str = "") -> str:
        element = props.get(name)
        return (element.text or default).strip() if element is not None else default

    event = Event()
    event.add("uid", item.text("UID") or item.id)
    event.add("summary", text("Subject"))
    all_day = text("IsAllDayEvent", "false") == "true"
    if all_day:
        event.add("dtstart", start.astimezone(tz).date())
        event.add("dtend", end.astimezone(tz).date())
    else:
        event.add("dtstart", start.astimezone(tz))
        event.add("dtend", end.astimezone(tz))
    event.add("dtstamp", item.modified)
    if text("Location"):
        event.add("location", text("Location"))
    cancelled = text("IsCancelled", "false") == "true"
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    busy = text("LegacyFreeBusyStatus", "Busy")
    event.add("transp", "TRANSPARENT" if busy == "Free" else "OPAQUE")
    event.add("X-MICROSOFT-CDO-BUSYSTATUS", _BUSY.get(busy, "BUSY"))
    event.add("X-MICROSOFT-CDO-ALLDAYEVENT", "TRUE" if all_day else "FALSE")
    return event


def ical(item: Item, exception_times: dict[datetime, tuple[datetime, datetime]]) -> bytes:
    """The iCalendar of ``item`` (``exception_times``: each exception's start and end, by original start)."""
    start_zone = item.props.get("StartTimeZone")
    windows_id = start_zone.get("Id") if start_zone is not None else None
    tz = zone_of(item.props.get("StartTimeZone")) or UTC
    calendar = Calendar()
    calendar.add("method", "PUBLISH")
    calendar.add("prodid", "Microsoft Exchange Server 2010")
    calendar.add("version", "2.0")
    if windows_id and windows_id != "UTC":
        calendar.add_component(_vtimezone(windows_id, item.start.year))
    master = _event(item, item.props, item.start, item.end, tz)
    rule = recurrence.element_of(item.props.get("Recurrence"))
    if rule is not None:
        master.add("rrule", rrule(rule, tz, item.start))
        for original in sorted(item.deleted):
            master.add("exdate", original.astimezone(tz))
    calendar.add_component(master)
    for original, occurrence in sorted(item.exceptions.items()):
        merged = {**item.props, **occurrence.props}
        begin, finish = exception_times[original]
        event = _event(item, merged, begin, finish, tz)
        event.add("recurrence-id", original.astimezone(tz))
        calendar.add_component(event)
    text: bytes = calendar.to_ical()
    return text
