"""Small builders that write iCalendar text by hand, the way calendar clients do.

Hand-written rather than produced by ``icalendar`` so the demo data looks like what real servers hold
(Apple- and Outlook-style VTIMEZONEs, unquoted Windows TZIDs, folded lines) instead of one library's
canonical output. Every object is one VCALENDAR; the VTIMEZONEs its TZIDs name are added automatically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"
TOKYO = "Asia/Tokyo"
UTC = "UTC"
WINDOWS_PARIS = "W. Europe Standard Time"  # what Outlook and Exchange write for Paris, Berlin, Rome...

PRODID = "-//creneau//Demo data 1.0//EN"
OUTLOOK_PRODID = "-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN"

_VTIMEZONES: dict[str, str] = {
    PARIS: """BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19810329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19961027T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE""",
    NEW_YORK: """BEGIN:VTIMEZONE
TZID:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE""",
    TOKYO: """BEGIN:VTIMEZONE
TZID:Asia/Tokyo
BEGIN:STANDARD
TZOFFSETFROM:+0900
TZOFFSETTO:+0900
TZNAME:JST
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE""",
    # Outlook's own rendering: no TZNAME, rules anchored in 1601, INTERVAL=1 spelled out.
    WINDOWS_PARIS: """BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE""",
}

_TZID_PARAM = re.compile(r";TZID=([^:;]+)[:;]")


class Days:
    """Dates relative to the demo's "today": ``day(week, weekday)`` with week 0 the current week and
    weekday 0 Monday, so the demo always shows a busy current and next week."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.monday = today - timedelta(days=today.weekday())
        # DTSTAMP/LAST-MODIFIED: yesterday morning, stable for the whole day.
        self.stamp = datetime.combine(today - timedelta(days=1), datetime.min.time()).replace(hour=8)
        self.created = self.stamp - timedelta(days=60)

    def day(self, week: int, weekday: int) -> date:
        return self.monday + timedelta(weeks=week, days=weekday)

    def at(self, week: int, weekday: int, hour: int, minute: int = 0) -> datetime:
        midnight = datetime.combine(self.day(week, weekday), datetime.min.time())
        return midnight.replace(hour=hour, minute=minute)


def when(name: str, value: date | datetime, tz: str | None = PARIS) -> str:
    """A DTSTART-like line. Dates are all-day; ``tz=None`` writes a floating time; ``"UTC"`` a Z time."""
    if not isinstance(value, datetime):
        return f"{name};VALUE=DATE:{value:%Y%m%d}"
    if tz is None:
        return f"{name}:{value:%Y%m%dT%H%M%S}"
    if tz == UTC:
        return f"{name}:{value:%Y%m%dT%H%M%S}Z"
    return f"{name};TZID={tz}:{value:%Y%m%dT%H%M%S}"


def dates(name: str, values: Iterable[date | datetime], tz: str | None = PARIS) -> str:
    """A multi-valued EXDATE/RDATE line."""
    items = list(values)
    first = when(name, items[0], tz)
    head = first.rsplit(":", 1)[0]
    rest = [when(name, item, tz).rsplit(":", 1)[1] for item in items]
    return f"{head}:{','.join(rest)}"


def utc(value: datetime) -> str:
    return f"{value:%Y%m%dT%H%M%S}Z"


def duration(value: timedelta) -> str:
    minutes = int(value.total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    text = (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return f"DURATION:P{text or 'T0S'}"


def text(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
    return f"{name}:{escaped}"


def attendee(email: str, name: str, partstat: str = "ACCEPTED", role: str = "REQ-PARTICIPANT") -> str:
    return f'ATTENDEE;CN="{name}";CUTYPE=INDIVIDUAL;ROLE={role};PARTSTAT={partstat}:mailto:{email}'


def organizer(email: str, name: str) -> str:
    return f'ORGANIZER;CN="{name}":mailto:{email}'


def vevent(
    days: Days,
    uid: str,
    summary: str,
    start: date | datetime,
    end: date | datetime | timedelta,
    *lines: str,
    tz: str | None = PARIS,
) -> list[str]:
    """One VEVENT ending at ``end``, or lasting ``end`` when it is a timedelta (written as DURATION).
    ``lines`` are further content lines (RRULE, EXDATE, ATTENDEE, TRANSP, ...)."""
    return [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{utc(days.stamp)}",
        f"CREATED:{utc(days.created)}",
        f"LAST-MODIFIED:{utc(days.stamp)}",
        when("DTSTART", start, tz),
        duration(end) if isinstance(end, timedelta) else when("DTEND", end, tz),
        text("SUMMARY", summary),
        *lines,
        "END:VEVENT",
    ]


def event_object(
    days: Days,
    uid: str,
    summary: str,
    start: date | datetime,
    end: date | datetime | timedelta,
    *lines: str,
    tz: str | None = PARIS,
) -> str:
    """A VCALENDAR holding a single VEVENT (see :func:`vevent`)."""
    return vcalendar(vevent(days, uid, summary, start, end, *lines, tz=tz))


def vtodo(days: Days, uid: str, summary: str, due: date, *lines: str) -> list[str]:
    return [
        "BEGIN:VTODO",
        f"UID:{uid}",
        f"DTSTAMP:{utc(days.stamp)}",
        when("DUE", due),
        text("SUMMARY", summary),
        *lines,
        "END:VTODO",
    ]


def alarm(minutes_before: int, description: str = "Reminder") -> list[str]:
    return [
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        text("DESCRIPTION", description),
        f"TRIGGER:-PT{minutes_before}M",
        "END:VALARM",
    ]


def vcalendar(*components: list[str], prodid: str = PRODID, header: Iterable[str] = ()) -> str:
    """One VCALENDAR holding ``components`` (e.g. a recurring master and its overrides), with the
    VTIMEZONE of every TZID they use, CRLF line ends and lines folded at 75 octets."""
    body = [line for component in components for line in component]
    tzids = sorted({match.group(1) for line in body for match in _TZID_PARAM.finditer(line)})
    timezones = [line for tzid in tzids for line in _VTIMEZONES[tzid].splitlines()]
    lines = ["BEGIN:VCALENDAR", f"PRODID:{prodid}", "VERSION:2.0", "CALSCALE:GREGORIAN", *header]
    lines += [*timezones, *body, "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)


def fold(line: str, limit: int = 75) -> str:
    """Fold a content line at ``limit`` octets without splitting a UTF-8 character (RFC 5545 §3.1)."""
    parts: list[str] = []
    current = ""
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append(current)
            current, size = " ", 1
        current += char
        size += width
    parts.append(current)
    return "\r\n".join(parts)
