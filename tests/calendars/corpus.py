"""A generated corpus of iCalendar objects, as calendar servers and clients write them.

``corpus()`` yields :class:`CorpusCalendar` values: hand-shaped cases (DST changes in Europe/Paris, New York
and Lord Howe, Windows and Outlook TZIDs, VTIMEZONE-only custom TZIDs, overrides, EXDATE, RDATE, COUNT/UNTIL,
all-day, floating, transparent, cancelled, declined, tentative, DURATION, window edges, THISANDFUTURE), seeded
random calendars mixing all of that, and the hand-written exports under ``corpus/*.ics``.

``big_calendar(n)`` yields ``n`` one-event objects like a CalDAV calendar holds (the throughput measure:
``python -m tests.calendars.corpus``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

FIXTURES = Path(__file__).parent / "corpus"
YEAR_2024 = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
OWNER = "researcher@example.org"
OWNER_ALIAS = "r.search@lab.example.net"

Value = date | datetime


@dataclass(frozen=True)
class CorpusCalendar:
    name: str
    text: str
    default_tz: str = "Europe/Paris"
    owners: tuple[str, ...] = (OWNER, OWNER_ALIAS)
    window: tuple[datetime, datetime] = YEAR_2024


# --- writing iCalendar text ---------------------------------------------------------------------------------


def fmt(value: Value) -> str:
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is not None:
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%dT%H%M%S")


def _param(value: str) -> str:
    return f'"{value}"' if any(c in value for c in ":;,") else value


def prop(name: str, *values: Value, tzid: str | None = None, **params: str) -> str:
    """``DTSTART;TZID=Europe/Paris:20240101T090000``; several values make a list (EXDATE, RDATE)."""
    head = name
    if values and not isinstance(values[0], datetime):
        head += ";VALUE=DATE"
    if tzid:
        head += f";TZID={_param(tzid)}"
    for key, val in params.items():
        head += f";{key.replace('_', '-').upper()}={_param(val)}"
    return head + ":" + ",".join(fmt(v) for v in values)


def fold(line: str) -> str:
    """RFC 5545 line folding at 75 octets."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    rest = raw
    while rest:
        size = 75 if not parts else 74
        while size and (rest[size : size + 1] and (rest[size] & 0xC0) == 0x80):
            size -= 1  # never cut a UTF-8 sequence
        parts.append(rest[:size].decode())
        rest = rest[size:]
    return "\r\n ".join(parts)


def vcalendar(*blocks: str, headers: Sequence[str] = (), prodid: str = "-//creneau//corpus//EN") -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{prodid}", *headers]
    text = "\r\n".join(fold(line) for line in lines) + "\r\n"
    return text + "".join(blocks) + "END:VCALENDAR\r\n"


def vevent(uid: str, *lines: str, summary: str = "", stamp: str = "20240101T000000Z") -> str:
    body = [f"UID:{uid}", f"DTSTAMP:{stamp}", *lines]
    if summary:
        body.append(f"SUMMARY:{summary}")
    return "".join(fold(line) + "\r\n" for line in ["BEGIN:VEVENT", *body, "END:VEVENT"])


def timed(
    uid: str,
    start: datetime,
    end: datetime | None = None,
    *lines: str,
    tzid: str | None = None,
    summary: str = "",
) -> str:
    """An event with DTSTART (and DTEND) in ``tzid`` (naive wall times) or UTC/floating as given."""
    head = [prop("DTSTART", start, tzid=tzid)]
    if end is not None:
        head.append(prop("DTEND", end, tzid=tzid))
    return vevent(uid, *head, *lines, summary=summary or uid)


def vtimezone(
    tzid: str,
    standard: str,
    daylight: str | None = None,
    *,
    to_standard: str = "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    to_daylight: str = "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    standard_start: str = "16010101T030000",
    daylight_start: str = "16010101T020000",
) -> str:
    """A VTIMEZONE with one standard and an optional daylight rule, offsets like ``+0100``."""
    if daylight is None:
        parts = [
            "BEGIN:STANDARD",
            f"DTSTART:{standard_start}",
            f"TZOFFSETFROM:{standard}",
            f"TZOFFSETTO:{standard}",
            "END:STANDARD",
        ]
    else:
        parts = [
            "BEGIN:STANDARD",
            f"DTSTART:{standard_start}",
            f"TZOFFSETFROM:{daylight}",
            f"TZOFFSETTO:{standard}",
            f"RRULE:{to_standard}",
            "END:STANDARD",
            "BEGIN:DAYLIGHT",
            f"DTSTART:{daylight_start}",
            f"TZOFFSETFROM:{standard}",
            f"TZOFFSETTO:{daylight}",
            f"RRULE:{to_daylight}",
            "END:DAYLIGHT",
        ]
    return "".join(
        fold(line) + "\r\n" for line in ["BEGIN:VTIMEZONE", f"TZID:{tzid}", *parts, "END:VTIMEZONE"]
    )


PARIS_RULES = {"standard": "+0100", "daylight": "+0200"}
NEW_YORK_RULES = {
    "standard": "-0500",
    "daylight": "-0400",
    "to_standard": "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
    "to_daylight": "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
    "standard_start": "16010101T020000",
    "daylight_start": "16010101T020000",
}
LORD_HOWE_RULES = {  # +10:30, and +11:00 in summer: the DST shift is half an hour
    "standard": "+1030",
    "daylight": "+1100",
    "to_standard": "FREQ=YEARLY;BYMONTH=4;BYDAY=1SU",
    "to_daylight": "FREQ=YEARLY;BYMONTH=10;BYDAY=1SU",
    "standard_start": "16010101T020000",
    "daylight_start": "16010101T020000",
}


def w(y: int, m: int, day: int, h: int, mi: int = 0) -> datetime:
    """A naive wall-clock time (to be written with a TZID, or floating)."""
    return datetime(y, m, day, h, mi)


def d(y: int, m: int, day: int) -> date:
    return date(y, m, day)


def z(y: int, m: int, day: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, m, day, h, mi, tzinfo=UTC)


def attendee(address: str, partstat: str) -> str:
    return f"ATTENDEE;CN=Someone;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};RSVP=TRUE:mailto:{address}"


# --- hand-shaped cases --------------------------------------------------------------------------------------


def _dst_weekly() -> Iterator[CorpusCalendar]:
    """A weekly meeting across both DST changes of each zone, in every way of naming the zone."""
    styles: list[tuple[str, str, str, str]] = [
        ("iana-paris", "Europe/Paris", "", "America/New_York"),
        ("iana-new-york", "America/New_York", "", "Europe/Paris"),
        ("iana-lord-howe", "Australia/Lord_Howe", "", "UTC"),
        ("windows-romance", "Romance Standard Time", "", "UTC"),
        ("windows-eastern", "Eastern Standard Time", "", "Asia/Tokyo"),
        ("windows-lord-howe", "Lord Howe Standard Time", "", "UTC"),
        (
            "outlook-custom-paris",
            "Customized Time Zone",
            vtimezone("Customized Time Zone", **PARIS_RULES),
            "UTC",
        ),
        (
            "outlook-custom-new-york",
            "Customized Time Zone",
            vtimezone("Customized Time Zone", **NEW_YORK_RULES),
            "UTC",
        ),
        ("custom-lord-howe", "Lord Howe (custom)", vtimezone("Lord Howe (custom)", **LORD_HOWE_RULES), "UTC"),
        (
            "mozilla-paris",
            "/mozilla.org/20050126_1/Europe/Paris",
            vtimezone("/mozilla.org/20050126_1/Europe/Paris", **PARIS_RULES),
            "UTC",
        ),
        ("outlook-display-name", "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "", "UTC"),
    ]
    for name, tzid, zone_block, default in styles:
        events = [
            timed(
                f"{name}-weekly",
                w(2024, 1, 4, 9),
                w(2024, 1, 4, 10),
                "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=52",
                tzid=tzid,
            ),
            timed(
                f"{name}-night",
                w(2024, 3, 1, 1, 30),
                w(2024, 3, 1, 3, 30),
                "RRULE:FREQ=DAILY;COUNT=280",
                tzid=tzid,
            ),
            timed(f"{name}-single", w(2024, 7, 14, 12), w(2024, 7, 14, 13, 15), tzid=tzid),
        ]
        yield CorpusCalendar(f"dst-{name}", vcalendar(zone_block, *events), default_tz=default)


def _overrides() -> Iterator[CorpusCalendar]:
    tz = "Europe/Paris"
    master = timed(
        "series",
        w(2024, 3, 4, 10),
        w(2024, 3, 4, 11),
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=30",
        prop("EXDATE", w(2024, 3, 6, 10), w(2024, 4, 1, 10), tzid=tz),
        "SEQUENCE:1",
        tzid=tz,
    )
    moved = vevent(
        "series",
        prop("RECURRENCE-ID", w(2024, 3, 11, 10), tzid=tz),
        prop("DTSTART", w(2024, 3, 12, 15), tzid=tz),
        prop("DTEND", w(2024, 3, 12, 17), tzid=tz),
        "SEQUENCE:2",
        summary="moved to Tuesday afternoon",
    )
    moved_out = vevent(
        "series",
        prop("RECURRENCE-ID", w(2024, 3, 13, 10), tzid=tz),
        prop("DTSTART", w(2024, 9, 2, 10), tzid=tz),
        prop("DTEND", w(2024, 9, 2, 11), tzid=tz),
        summary="moved months later, past the rule's end",
    )
    cancelled = vevent(
        "series",
        prop("RECURRENCE-ID", w(2024, 3, 18, 10), tzid=tz),
        prop("DTSTART", w(2024, 3, 18, 10), tzid=tz),
        prop("DTEND", w(2024, 3, 18, 11), tzid=tz),
        "STATUS:CANCELLED",
        summary="cancelled occurrence",
    )
    freed = vevent(
        "series",
        prop("RECURRENCE-ID", w(2024, 3, 20, 10), tzid=tz),
        prop("DTSTART", w(2024, 3, 20, 10), tzid=tz),
        prop("DTEND", w(2024, 3, 20, 11), tzid=tz),
        "TRANSP:TRANSPARENT",
        summary="this one marked free",
    )
    in_utc = vevent(
        "series",
        prop("RECURRENCE-ID", z(2024, 4, 3, 8)),
        prop("DTSTART", z(2024, 4, 3, 12)),
        prop("DTEND", z(2024, 4, 3, 13)),
        summary="override whose RECURRENCE-ID is in UTC",
    )
    yield CorpusCalendar(
        "overrides-moved-cancelled", vcalendar(master, moved, moved_out, cancelled, freed, in_utc)
    )

    future = vevent(
        "tf",
        prop("RECURRENCE-ID", w(2024, 5, 20, 9), tzid=tz, range="THISANDFUTURE"),
        prop("DTSTART", w(2024, 5, 20, 14), tzid=tz),
        prop("DTEND", w(2024, 5, 20, 16), tzid=tz),
        summary="from now on in the afternoon",
    )
    yield CorpusCalendar(
        "this-and-future",
        vcalendar(
            timed("tf", w(2024, 5, 6, 9), w(2024, 5, 6, 10), "RRULE:FREQ=WEEKLY;COUNT=8", tzid=tz), future
        ),
    )

    cancelled_series = timed(
        "gone", w(2024, 2, 1, 9), w(2024, 2, 1, 10), "RRULE:FREQ=DAILY;COUNT=5", "STATUS:CANCELLED", tzid=tz
    )
    revived = vevent(
        "gone",
        prop("RECURRENCE-ID", w(2024, 2, 3, 9), tzid=tz),
        prop("DTSTART", w(2024, 2, 3, 9), tzid=tz),
        prop("DTEND", w(2024, 2, 3, 10), tzid=tz),
        "STATUS:CONFIRMED",
        summary="the one day still on",
    )
    yield CorpusCalendar("cancelled-series-one-override-confirmed", vcalendar(cancelled_series, revived))


def _rules() -> Iterator[CorpusCalendar]:
    tz = "America/New_York"
    events = [
        timed("count", w(2024, 10, 28, 9), w(2024, 10, 28, 9, 45), "RRULE:FREQ=DAILY;COUNT=10", tzid=tz),
        timed(
            "until-utc",
            w(2024, 3, 1, 8),
            w(2024, 3, 1, 9),
            "RRULE:FREQ=WEEKLY;UNTIL=20240405T120000Z",
            tzid=tz,
        ),
        timed(
            "monthly-last-friday",
            w(2024, 1, 26, 16),
            w(2024, 1, 26, 17),
            "RRULE:FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20241231T235959Z",
            tzid=tz,
        ),
        timed(
            "every-other-week",
            w(2024, 2, 6, 13),
            w(2024, 2, 6, 14, 30),
            "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=20",
            tzid=tz,
        ),
        timed(
            "rdate",
            w(2024, 6, 3, 11),
            w(2024, 6, 3, 12),
            prop("RDATE", w(2024, 6, 10, 11), w(2024, 6, 17, 15), tzid=tz),
            tzid=tz,
        ),
        timed(
            "rdate-with-rule",
            w(2024, 9, 2, 10),
            w(2024, 9, 2, 11),
            "RRULE:FREQ=WEEKLY;COUNT=3",
            prop("RDATE", w(2024, 9, 5, 16), tzid=tz),
            prop("EXDATE", w(2024, 9, 9, 10), tzid=tz),
            tzid=tz,
        ),
        vevent(
            "rdate-period",
            prop("DTSTART", z(2024, 8, 1, 9)),
            prop("DTEND", z(2024, 8, 1, 10)),
            "RDATE;VALUE=PERIOD:20240805T090000Z/20240805T120000Z,20240806T090000Z/PT30M",
            summary="RDATE periods",
        ),
        timed(
            "hourly-workday",
            w(2024, 5, 15, 9),
            w(2024, 5, 15, 9, 20),
            "RRULE:FREQ=HOURLY;BYHOUR=9,10,11,14,15;COUNT=12",
            tzid=tz,
        ),
        timed(
            "exdate-in-utc",
            w(2024, 7, 1, 10),
            w(2024, 7, 1, 11),
            "RRULE:FREQ=DAILY;COUNT=5",
            prop("EXDATE", z(2024, 7, 3, 14)),
            tzid=tz,
        ),
    ]
    yield CorpusCalendar("rules-count-until-rdate-exdate", vcalendar(*events), default_tz="America/New_York")


def _all_day() -> Iterator[CorpusCalendar]:
    events = [
        vevent("one-day", prop("DTSTART", d(2024, 1, 15)), prop("DTEND", d(2024, 1, 16))),
        vevent("no-dtend", prop("DTSTART", d(2024, 7, 15)), summary="a DATE without DTEND lasts one day"),
        vevent(
            "three-days",
            prop("DTSTART", d(2024, 3, 30)),
            prop("DTEND", d(2024, 4, 2)),
            summary="over the DST change: 71 hours",
        ),
        vevent("birthday", prop("DTSTART", d(2020, 10, 27)), "RRULE:FREQ=YEARLY", "TRANSP:OPAQUE"),
        vevent("leap", prop("DTSTART", d(2020, 2, 29)), prop("DTEND", d(2020, 3, 1)), "RRULE:FREQ=YEARLY"),
        vevent(
            "holiday-free", prop("DTSTART", d(2024, 5, 1)), prop("DTEND", d(2024, 5, 2)), "TRANSP:TRANSPARENT"
        ),
        vevent("duration-day", prop("DTSTART", d(2024, 8, 12)), "DURATION:P2D"),
        vevent(
            "weekly-all-day",
            prop("DTSTART", d(2024, 10, 21)),
            "RRULE:FREQ=WEEKLY;COUNT=4",
            prop("EXDATE", d(2024, 10, 28)),
        ),
    ]
    for tz in ("Europe/Paris", "America/New_York", "Pacific/Chatham"):
        yield CorpusCalendar(f"all-day-in-{tz.replace('/', '-')}", vcalendar(*events), default_tz=tz)


def _floating_and_status() -> Iterator[CorpusCalendar]:
    events = [
        timed("floating", w(2024, 3, 10, 1, 30), w(2024, 3, 10, 3, 30), summary="floating over the NY gap"),
        timed("floating-weekly", w(2024, 10, 29, 18), w(2024, 10, 29, 19), "RRULE:FREQ=WEEKLY;COUNT=3"),
        timed("transparent", z(2024, 4, 2, 9), z(2024, 4, 2, 10), "TRANSP:TRANSPARENT"),
        timed("cancelled", z(2024, 4, 3, 9), z(2024, 4, 3, 10), "STATUS:CANCELLED"),
        timed("tentative", z(2024, 4, 4, 9), z(2024, 4, 4, 10), "STATUS:TENTATIVE"),
        timed(
            "confirmed-lowercase", z(2024, 4, 5, 9), z(2024, 4, 5, 10), "STATUS:confirmed", "TRANSP:opaque"
        ),
        timed("duration", z(2024, 4, 8, 9), None, "DURATION:PT1H30M"),
        timed("zero-length", z(2024, 4, 9, 9), z(2024, 4, 9, 9), summary="DTEND = DTSTART: not busy"),
        timed("no-end", z(2024, 4, 10, 9), None, summary="date-time without DTEND: zero length, not busy"),
        timed("zero-duration", z(2024, 4, 11, 9), None, "DURATION:PT0S"),
        timed("long", z(2024, 4, 12, 22), z(2024, 4, 14, 6), summary="a weekend away"),
        timed(
            "floating-utc-exdates",
            w(2024, 4, 15, 10),
            w(2024, 4, 15, 11),
            "RRULE:FREQ=DAILY;COUNT=4",
            "EXDATE:20240416T140000Z,20240417T043000Z",
            summary="EXDATEs in UTC: 10:00 in New York, in Kolkata",
        ),
    ]
    for tz in ("America/New_York", "Asia/Kolkata"):
        yield CorpusCalendar(f"floating-status-{tz.replace('/', '-')}", vcalendar(*events), default_tz=tz)


def _invitations() -> Iterator[CorpusCalendar]:
    organizer_other = "ORGANIZER;CN=Boss:mailto:boss@example.org"
    events = [
        timed("declined", z(2024, 5, 6, 9), z(2024, 5, 6, 10), organizer_other, attendee(OWNER, "DECLINED")),
        timed(
            "declined-upper",
            z(2024, 5, 6, 11),
            z(2024, 5, 6, 12),
            organizer_other,
            "ATTENDEE;PARTSTAT=DECLINED:MAILTO:Researcher@Example.ORG",
        ),
        timed("accepted", z(2024, 5, 7, 9), z(2024, 5, 7, 10), organizer_other, attendee(OWNER, "ACCEPTED")),
        timed(
            "tentative-reply",
            z(2024, 5, 8, 9),
            z(2024, 5, 8, 10),
            organizer_other,
            attendee(OWNER, "TENTATIVE"),
        ),
        timed(
            "needs-action",
            z(2024, 5, 9, 9),
            z(2024, 5, 9, 10),
            organizer_other,
            attendee(OWNER, "NEEDS-ACTION"),
        ),
        timed(
            "someone-else-declined",
            z(2024, 5, 10, 9),
            z(2024, 5, 10, 10),
            organizer_other,
            attendee("other@example.org", "DECLINED"),
            attendee(OWNER, "ACCEPTED"),
        ),
        timed(
            "organizer-declined-line",
            z(2024, 5, 13, 9),
            z(2024, 5, 13, 10),
            f"ORGANIZER:mailto:{OWNER}",
            attendee(OWNER, "DECLINED"),
        ),
        timed(
            "two-addresses-one-declined",
            z(2024, 5, 14, 9),
            z(2024, 5, 14, 10),
            organizer_other,
            attendee(OWNER, "DECLINED"),
            attendee(OWNER_ALIAS, "ACCEPTED"),
        ),
        timed(
            "alias-declined",
            z(2024, 5, 15, 9),
            z(2024, 5, 15, 10),
            organizer_other,
            attendee(OWNER_ALIAS, "DECLINED"),
        ),
        timed(
            "declined-series",
            z(2024, 6, 3, 9),
            z(2024, 6, 3, 10),
            "RRULE:FREQ=DAILY;COUNT=5",
            organizer_other,
            attendee(OWNER, "DECLINED"),
        ),
        vevent(
            "declined-series",
            prop("RECURRENCE-ID", z(2024, 6, 5, 9)),
            prop("DTSTART", z(2024, 6, 5, 9)),
            prop("DTEND", z(2024, 6, 5, 10)),
            organizer_other,
            attendee(OWNER, "ACCEPTED"),
            summary="accepted this one only",
        ),
    ]
    yield CorpusCalendar("invitations", vcalendar(*events))
    yield CorpusCalendar("invitations-no-owner-known", vcalendar(*events), owners=())


def _window_edges() -> Iterator[CorpusCalendar]:
    window = (datetime(2024, 6, 10, 8, tzinfo=UTC), datetime(2024, 6, 17, 8, tzinfo=UTC))
    events = [
        timed("crosses-start", z(2024, 6, 10, 7), z(2024, 6, 10, 9)),
        timed("ends-at-start", z(2024, 6, 10, 6), z(2024, 6, 10, 8)),
        timed("starts-at-end", z(2024, 6, 17, 8), z(2024, 6, 17, 9)),
        timed("crosses-end", z(2024, 6, 17, 7, 30), z(2024, 6, 17, 10)),
        timed("covers-all", z(2024, 6, 1, 0), z(2024, 7, 1, 0)),
        timed("daily-through", z(2024, 6, 1, 7), z(2024, 6, 1, 8, 30), "RRULE:FREQ=DAILY;COUNT=30"),
        vevent("all-day-at-edge", prop("DTSTART", d(2024, 6, 17)), prop("DTEND", d(2024, 6, 18))),
        timed("far-future", z(2031, 1, 1, 9), z(2031, 1, 1, 10)),
        timed(
            "long-ago-series",
            w(2019, 1, 7, 8),
            w(2019, 1, 7, 9),
            "RRULE:FREQ=WEEKLY;BYDAY=MO",
            tzid="Europe/Paris",
        ),
    ]
    yield CorpusCalendar("window-edges", vcalendar(*events), window=window)
    empty = (window[0], window[0])
    yield CorpusCalendar("empty-window", vcalendar(*events), window=empty)


def _dst_edges() -> Iterator[CorpusCalendar]:
    events = [
        timed("paris-gap", w(2024, 3, 31, 2, 30), w(2024, 3, 31, 3, 30), tzid="Europe/Paris"),
        timed("paris-gap-start", w(2024, 3, 31, 2, 0), w(2024, 3, 31, 4, 0), tzid="Europe/Paris"),
        timed("paris-fold", w(2024, 10, 27, 2, 30), w(2024, 10, 27, 3, 0), tzid="Europe/Paris"),
        timed("ny-gap", w(2024, 3, 10, 2, 15), w(2024, 3, 10, 2, 45), tzid="America/New_York"),
        timed("ny-fold", w(2024, 11, 3, 1, 30), w(2024, 11, 3, 2, 30), tzid="America/New_York"),
        timed(
            "ny-daily-0230",
            w(2024, 3, 8, 2, 30),
            w(2024, 3, 8, 3, 30),
            "RRULE:FREQ=DAILY;COUNT=5",
            tzid="America/New_York",
        ),
        timed("lord-howe-gap", w(2024, 10, 6, 2, 10), w(2024, 10, 6, 2, 50), tzid="Australia/Lord_Howe"),
        timed("custom-gap", w(2024, 3, 31, 2, 30), w(2024, 3, 31, 3, 30), tzid="Customized Time Zone"),
        timed("custom-fold", w(2024, 10, 27, 2, 30), w(2024, 10, 27, 3, 0), tzid="Customized Time Zone"),
    ]
    zone = vtimezone("Customized Time Zone", **PARIS_RULES)
    yield CorpusCalendar("dst-gaps-and-folds", vcalendar(zone, *events), default_tz="UTC")


def _odd_zones() -> Iterator[CorpusCalendar]:
    events = [
        timed(
            "kathmandu",
            w(2024, 2, 1, 9),
            w(2024, 2, 1, 10),
            "RRULE:FREQ=MONTHLY;COUNT=6",
            tzid="Asia/Kathmandu",
        ),
        timed(
            "chatham",
            w(2024, 4, 7, 3, 30),
            w(2024, 4, 7, 4, 30),
            "RRULE:FREQ=DAILY;COUNT=3",
            tzid="Pacific/Chatham",
        ),
        timed("india-windows", w(2024, 5, 1, 9), w(2024, 5, 1, 10), tzid="India Standard Time"),
        timed("fixed-custom", w(2024, 5, 2, 9), w(2024, 5, 2, 10), tzid="GMT+05:30 custom"),
        timed("utc-name", w(2024, 5, 3, 9), w(2024, 5, 3, 10), tzid="UTC"),
        timed(
            "unknown-no-vtimezone",
            w(2024, 5, 6, 9),
            w(2024, 5, 6, 10),
            tzid="Mars/Olympus_Mons",
            summary="unknown TZID without VTIMEZONE: read as floating",
        ),
        timed(
            "eastern-display",
            w(2024, 5, 7, 9),
            w(2024, 5, 7, 10),
            tzid="(UTC-05:00) Eastern Time (US & Canada)",
        ),
    ]
    zone = vtimezone("GMT+05:30 custom", "+0530")
    yield CorpusCalendar("odd-zones", vcalendar(zone, *events), default_tz="Europe/Berlin")


def _google_like() -> Iterator[CorpusCalendar]:
    """Google's export: X-WR-TIMEZONE, recurring events written in UTC but meant in that zone."""
    headers = ["CALSCALE:GREGORIAN", "METHOD:PUBLISH", "X-WR-CALNAME:Lab", "X-WR-TIMEZONE:Europe/Paris"]
    events = [
        timed("g-weekly", z(2024, 3, 19, 8), z(2024, 3, 19, 9), "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4"),
        timed("g-single", z(2024, 3, 20, 8), z(2024, 3, 20, 9)),
        timed("g-floating", w(2024, 3, 21, 8), w(2024, 3, 21, 9)),
        vevent("g-all-day", prop("DTSTART", d(2024, 3, 22)), prop("DTEND", d(2024, 3, 23))),
        timed("g-override", z(2024, 10, 21, 7), z(2024, 10, 21, 8), "RRULE:FREQ=DAILY;COUNT=10"),
        vevent(
            "g-override",
            prop("RECURRENCE-ID", z(2024, 10, 29, 8)),
            prop("DTSTART", z(2024, 10, 29, 12)),
            prop("DTEND", z(2024, 10, 29, 13)),
        ),
    ]
    yield CorpusCalendar("google-x-wr-timezone", vcalendar(*events, headers=headers), default_tz="Asia/Tokyo")


def _uidless(*lines: str, summary: str = "", stamp: str = "20240101T000000Z") -> str:
    """A VEVENT without UID (old exports, hand-made feeds)."""
    body = [f"DTSTAMP:{stamp}", *lines, *([f"SUMMARY:{summary}"] if summary else [])]
    return "".join(fold(line) + "\r\n" for line in ["BEGIN:VEVENT", *body, "END:VEVENT"])


def _repairable() -> Iterator[CorpusCalendar]:
    """Events that RFC 5545 calls invalid but that can be placed in time: no UID, an empty RRULE (nothing or
    only spaces after the colon), several events without UID in one object (a hand-made feed)."""
    events = [
        _uidless(prop("DTSTART", z(2024, 6, 3, 9)), prop("DTEND", z(2024, 6, 3, 10)), summary="no UID"),
        _uidless(
            prop("DTSTART", w(2024, 6, 4, 9), tzid="Europe/Paris"),
            prop("DTEND", w(2024, 6, 4, 10), tzid="Europe/Paris"),
            summary="no UID either, in Paris",
        ),
        _uidless(prop("DTSTART", d(2024, 6, 5)), prop("DTEND", d(2024, 6, 6)), summary="no UID, all day"),
        _uidless(
            prop("DTSTART", z(2024, 6, 10, 14)),
            prop("DTEND", z(2024, 6, 10, 15)),
            "RRULE:FREQ=WEEKLY;COUNT=3",
            summary="no UID, weekly",
        ),
        _uidless(prop("DTSTART", z(2024, 6, 3, 9)), "DURATION:PT30M", summary="no UID, same start"),
        timed("empty-rule", z(2024, 6, 11, 9), z(2024, 6, 11, 10), "RRULE:", summary="RRULE: (once)"),
        timed("spaces-rule", z(2024, 6, 12, 9), z(2024, 6, 12, 10), "RRULE:   ", summary="RRULE of spaces"),
        vevent("empty-rule-date", prop("DTSTART", d(2024, 6, 13)), "RRULE:", summary="all day, empty RRULE"),
        timed(
            "empty-rule-cancelled",
            z(2024, 6, 14, 9),
            z(2024, 6, 14, 10),
            "RRULE:",
            "STATUS:CANCELLED",
            summary="cancelled: still not busy",
        ),
    ]
    yield CorpusCalendar("repairable", vcalendar(*events), default_tz="Europe/Paris")
    # A feed whose events all lack a UID, as one object.
    feed = [
        _uidless(prop("DTSTART", z(2024, 7, 1 + i, 9)), prop("DTEND", z(2024, 7, 1 + i, 11)), summary=f"f{i}")
        for i in range(4)
    ]
    yield CorpusCalendar("uidless-feed", vcalendar(*feed, prodid="-//hand made//EN"), default_tz="UTC")


# --- random calendars ---------------------------------------------------------------------------------------

_RANDOM_ZONES = [
    ("Europe/Paris", ""),
    ("America/New_York", ""),
    ("Australia/Lord_Howe", ""),
    ("W. Europe Standard Time", ""),
    ("Pacific Standard Time", ""),
    ("Customized Time Zone", vtimezone("Customized Time Zone", **NEW_YORK_RULES)),
    ("/freeassociation.sourceforge.net/Tzfile/Europe/London", ""),
    (None, ""),  # floating
    ("utc", ""),  # written with Z
]


def _random_calendar(seed: int) -> CorpusCalendar:
    rnd = random.Random(seed)
    blocks: list[str] = []
    zones_used: set[str] = set()
    for n in range(rnd.randint(5, 14)):
        tzid, zone_block = rnd.choice(_RANDOM_ZONES)
        if zone_block and tzid and tzid not in zones_used:
            zones_used.add(tzid)
            blocks.insert(0, zone_block)
        uid = f"r{seed}-{n}"
        start = datetime(2024, 1, 1) + timedelta(days=rnd.randint(-40, 380), minutes=15 * rnd.randint(0, 95))
        length = timedelta(minutes=15 * rnd.randint(0, 12))

        def at(value: datetime, zone: str | None = tzid) -> str:
            return fmt(value.replace(tzinfo=UTC)) if zone == "utc" else fmt(value)

        tz_param = f";TZID={tzid}" if tzid not in (None, "utc") else ""
        lines = [f"DTSTART{tz_param}:{at(start)}"]
        all_day = rnd.random() < 0.12
        if all_day:
            lines = [f"DTSTART;VALUE=DATE:{fmt(start.date())}"]
            if rnd.random() < 0.7:
                lines.append(f"DTEND;VALUE=DATE:{fmt(start.date() + timedelta(days=rnd.randint(1, 3)))}")
        elif rnd.random() < 0.25:
            lines.append(f"DURATION:PT{int(length.total_seconds() // 60)}M")
        else:
            lines.append(f"DTEND{tz_param}:{at(start + length)}")
        step = None
        kind = rnd.choice(["none", "none", "daily", "weekly", "monthly", "yearly"])
        if kind == "daily":
            step = timedelta(days=rnd.choice([1, 2]))
            lines.append(f"RRULE:FREQ=DAILY;INTERVAL={step.days};COUNT={rnd.randint(2, 40)}")
        elif kind == "weekly":
            step = timedelta(weeks=1)
            end = (
                "COUNT=" + str(rnd.randint(2, 30))
                if rnd.random() < 0.5
                else "UNTIL=" + fmt((start + timedelta(days=rnd.randint(20, 200))).replace(tzinfo=UTC))
            )
            lines.append(f"RRULE:FREQ=WEEKLY;{end}")
        elif kind == "monthly":
            lines.append(f"RRULE:FREQ=MONTHLY;BYMONTHDAY={start.day if start.day <= 28 else 28};COUNT=8")
        elif kind == "yearly":
            lines.append("RRULE:FREQ=YEARLY")
        status = rnd.choice(["", "", "", "STATUS:TENTATIVE", "STATUS:CONFIRMED", "STATUS:CANCELLED"])
        if status:
            lines.append(status)
        if rnd.random() < 0.15:
            lines.append("TRANSP:TRANSPARENT")
        if rnd.random() < 0.2:
            lines += [
                "ORGANIZER:mailto:someone@example.org",
                attendee(rnd.choice([OWNER, OWNER_ALIAS]), rnd.choice(["ACCEPTED", "DECLINED", "TENTATIVE"])),
            ]
        overrides: list[str] = []
        if step is not None and not all_day:
            k = rnd.randint(1, 2)
            picked = start + k * step
            if rnd.random() < 0.5:
                lines.append(f"EXDATE{tz_param}:{at(picked)}")
            if rnd.random() < 0.6:
                rid = start + (k + 1) * step
                moved = rid + timedelta(hours=rnd.randint(-30, 30))
                extra = rnd.choice(["", "STATUS:CANCELLED", "TRANSP:TRANSPARENT"])
                overrides.append(
                    vevent(
                        uid,
                        f"RECURRENCE-ID{tz_param}:{at(rid)}",
                        f"DTSTART{tz_param}:{at(moved)}",
                        f"DTEND{tz_param}:{at(moved + length)}",
                        *([extra] if extra else []),
                        summary="override",
                    )
                )
        blocks.append(vevent(uid, *lines, summary=f"random {uid}"))
        blocks.extend(overrides)
    default = rnd.choice(["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"])
    return CorpusCalendar(f"random-{seed}", vcalendar(*blocks), default_tz=default)


def corpus() -> Iterator[CorpusCalendar]:
    """Every corpus calendar: generated cases, seeded random calendars, then the hand-written exports."""
    for family in (
        _dst_weekly,
        _overrides,
        _rules,
        _all_day,
        _floating_and_status,
        _invitations,
        _window_edges,
        _dst_edges,
        _odd_zones,
        _google_like,
        _repairable,
    ):
        yield from family()
    for seed in range(12):
        yield _random_calendar(seed)
    for path in sorted(FIXTURES.glob("*.ics")):
        default = {"outlook": "Europe/Paris", "icloud": "America/New_York", "google": "UTC"}.get(
            path.stem, "UTC"
        )
        yield CorpusCalendar(f"file-{path.stem}", path.read_bytes().decode("utf-8"), default_tz=default)


# --- the throughput measure ---------------------------------------------------------------------------------


def big_calendar(n: int, *, seed: int = 5000) -> list[str]:
    """``n`` one-event objects with a realistic mix: a VTIMEZONE in most, one in eight recurring (some with
    overrides and EXDATEs), some all-day, some Outlook custom zones, some invitations."""
    rnd = random.Random(seed)
    paris = vtimezone("Europe/Paris", **PARIS_RULES)
    custom = vtimezone("Customized Time Zone", **PARIS_RULES)
    objects = []
    for i in range(n):
        start = datetime(2024, 1, 1, 8) + timedelta(
            days=rnd.randint(-60, 300), minutes=30 * rnd.randint(0, 20)
        )
        end = start + timedelta(minutes=30 * rnd.randint(1, 4))
        style = rnd.random()
        tzid, zone = ("Customized Time Zone", custom) if style < 0.1 else ("Europe/Paris", paris)
        extra: list[str] = []
        blocks = []
        if style > 0.95:
            blocks.append(
                vevent(f"big-{i}", prop("DTSTART", start.date()), prop("DTEND", start.date() + timedelta(1)))
            )
        else:
            if i % 8 == 0:
                extra += [
                    "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;COUNT=40",
                    prop("EXDATE", start + timedelta(weeks=2), tzid=tzid),
                ]
            if rnd.random() < 0.2:
                extra += [
                    "ORGANIZER:mailto:boss@example.org",
                    attendee(OWNER, "ACCEPTED"),
                    attendee("other@example.org", "NEEDS-ACTION"),
                ]
            blocks.append(zone)
            blocks.append(
                timed(
                    f"big-{i}",
                    start,
                    end,
                    *extra,
                    "DESCRIPTION:" + "Agenda. " * 20,
                    tzid=tzid,
                    summary=f"Meeting {i}",
                )
            )
            if i % 16 == 0:
                rid = start + timedelta(weeks=1)
                blocks.append(
                    vevent(
                        f"big-{i}",
                        prop("RECURRENCE-ID", rid, tzid=tzid),
                        prop("DTSTART", rid + timedelta(hours=2), tzid=tzid),
                        prop("DTEND", rid + timedelta(hours=3), tzid=tzid),
                    )
                )
        objects.append(vcalendar(*blocks, prodid="-//Apple Inc.//macOS 14.0//EN"))
    return objects


def main() -> None:  # pragma: no cover - a measure, run by hand
    from zoneinfo import ZoneInfo

    from creneau.calendars import ical
    from creneau.domain.intervals import Interval

    objects = big_calendar(5000)
    window = Interval(
        datetime(2024, 1, 1, tzinfo=UTC) - timedelta(days=42),
        datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=201),
    )
    tz = ZoneInfo("Europe/Paris")
    started = time.perf_counter()
    parsed = [ical.parse(text) for text in objects]
    parsed_at = time.perf_counter()
    count = sum(
        len(ical.busy_occurrences(o, window=window, default_tz=tz, owner_addresses=[OWNER])) for o in parsed
    )
    done = time.perf_counter()
    size = sum(len(text) for text in objects) / 1e6
    print(f"{len(objects)} objects ({size:.1f} MB), {count} busy occurrences in a 243-day window")
    for label, seconds in (("parse", parsed_at - started), ("busy_occurrences", done - parsed_at)):
        print(f"{label + ':':18}{seconds:6.2f} s  ({seconds / len(objects) * 1e3:.2f} ms/object)")
    print(f"total:            {done - started:6.2f} s  ({len(objects) / (done - started):.0f} objects/s)")


if __name__ == "__main__":  # pragma: no cover
    main()
