"""``busy_occurrences`` against an independent re-statement of the rules, over the whole corpus, and against
instants worked out by hand for the tricky cases.

The reference below uses recurring-ical-events too, but differently: it first turns every time of the object
into an aware datetime (DATE values into local midnights, floating times into the floating zone, TZIDs by its
own lookup, VTIMEZONEs through icalendar's dateutil zones) and then expands over the aware window, whereas the
code under test keeps floating times naive and expands over a padded naive window.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from icalendar.timezone import tzp
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from creneau.calendars.ical import Occurrence, busy_occurrences, parse
from creneau.domain.intervals import Interval
from tests.calendars.corpus import (
    OWNER,
    PARIS_RULES,
    CorpusCalendar,
    corpus,
    prop,
    timed,
    vcalendar,
    vevent,
    vtimezone,
    w,
    z,
)

pytestmark = pytest.mark.filterwarnings("ignore::icalendar.error.GloballyUniqueTZIDGuessed")

CASES = list(corpus())
IANA = zoneinfo.available_timezones()
DISPLAY_NAMES_IN_CORPUS = {
    "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna": "Europe/Amsterdam",
    "(UTC-05:00) Eastern Time (US & Canada)": "America/New_York",
}
Row = tuple[datetime, datetime, bool]


# --- the reference ------------------------------------------------------------------------------------------


def lookup_zone(tzid: str, vtimezones: dict[str, tzinfo]) -> tzinfo | None:
    """IANA name, else Windows name, else the object's VTIMEZONE, else an IANA name at the end of a vendor
    path, else a display name the corpus uses; ``None`` means "read it as floating"."""
    if tzid in IANA:
        return ZoneInfo(tzid)
    if tzid in WINDOWS_TO_OLSON:
        return ZoneInfo(WINDOWS_TO_OLSON[tzid])
    if tzid in vtimezones:
        return vtimezones[tzid]
    tail = "/".join(tzid.split("/")[-2:])
    if tzid.startswith("/") and tail in IANA:
        return ZoneInfo(tail)
    if tzid in DISPLAY_NAMES_IN_CORPUS:
        return ZoneInfo(DISPLAY_NAMES_IN_CORPUS[tzid])
    return None


def rfc_utc(moment: datetime) -> datetime:
    """RFC 5545 §3.3.5: a repeated wall time is the first one, a wall time in a gap uses the offset from
    before the gap."""
    zone = moment.tzinfo
    assert zone is not None
    wall = moment.replace(tzinfo=None, fold=0)
    if isinstance(zone, ZoneInfo):
        return wall.replace(tzinfo=zone).astimezone(UTC)  # PEP 495 fold=0 says the same as RFC 5545

    def offset_at(naive_utc: datetime) -> timedelta:
        offset = naive_utc.replace(tzinfo=UTC).astimezone(zone).utcoffset()
        assert offset is not None
        return offset

    before, after = offset_at(wall - timedelta(days=1)), offset_at(wall + timedelta(days=1))
    for offset in sorted({before, after}, reverse=True):  # the larger offset gives the earlier instant
        instant = wall - offset
        if instant + offset_at(instant) == wall:
            return instant.replace(tzinfo=UTC)
    return (wall - before).replace(tzinfo=UTC)


def address(value: object) -> str:
    text = str(value).strip().lower()
    return text.removeprefix("mailto:")


def not_busy(event: Any, owners: set[str]) -> bool:
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return True
    if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
        return True
    organizers = event.get("ORGANIZER", [])
    if any(address(o) in owners for o in (organizers if isinstance(organizers, list) else [organizers])):
        return False
    attendees = event.get("ATTENDEE", [])
    mine = [a for a in (attendees if isinstance(attendees, list) else [attendees]) if address(a) in owners]
    return bool(mine) and all(str(a.params.get("PARTSTAT", "")).upper() == "DECLINED" for a in mine)


def make_aware(
    event: Any, name: str, floating: tzinfo, calendar_zone: tzinfo | None, vtimezones: dict[str, tzinfo]
) -> None:
    def convert(value: Any, tzid: str | None) -> Any:
        if isinstance(value, tuple):
            return tuple(convert(v, tzid) if isinstance(v, date) else v for v in value)
        if not isinstance(value, datetime):
            return datetime.combine(value, time(), tzinfo=floating)
        if tzid is not None:
            return value.replace(tzinfo=lookup_zone(tzid, vtimezones) or floating)
        if value.tzinfo is None:
            return value.replace(tzinfo=floating)
        return value.astimezone(calendar_zone) if calendar_zone else value

    values = event.get(name)
    for value in values if isinstance(values, list) else [values]:
        if value is None:
            continue
        tzid = value.params.get("TZID")
        for item in value.dts if hasattr(value, "dts") else [value]:
            item.dt = convert(item.dt, tzid)


def reference(case: CorpusCalendar) -> list[Row]:
    calendar = icalendar.Calendar.from_ical(case.text)
    # dateutil zones, other code than ours; one per TZID, as recurring-ical-events computes lengths by wall
    # clock only between datetimes that share their tzinfo object
    vtimezones = {str(tz["TZID"]): tzp.create_timezone(tz) for tz in calendar.walk("VTIMEZONE")}
    declared = calendar.get("X-WR-TIMEZONE")
    calendar_zone = lookup_zone(str(declared), vtimezones) if declared else None
    floating = calendar_zone or ZoneInfo(case.default_tz)
    events: list[Any] = calendar.walk("VEVENT")
    for event in events:
        start = event["DTSTART"].dt
        if not isinstance(start, datetime):
            event["X-TEST-ALL-DAY"] = "yes"
            if "DTEND" not in event and "DURATION" not in event:
                event.add("DTEND", start + timedelta(days=1))  # RFC 5545: a DATE alone lasts one day
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE"):
            make_aware(event, name, floating, calendar_zone, vtimezones)
    window_start, window_end = case.window
    owners = {address(o) for o in case.owners}
    rows = set()
    for occurrence in recurring_ical_events.of(calendar).between(window_start, window_end):
        if not_busy(occurrence, owners):
            continue
        start, end = occurrence["DTSTART"].dt, occurrence["DTEND"].dt
        start_utc, end_utc = rfc_utc(start), rfc_utc(end)
        wall_length = end.replace(tzinfo=None) - start.replace(tzinfo=None)
        if end_utc <= start_utc and start.tzinfo is end.tzinfo and wall_length > timedelta(0):
            end_utc = start_utc + wall_length  # a DST gap ate the occurrence: it keeps its wall-clock length
        if max(start_utc, window_start) < min(end_utc, window_end):  # they share an instant
            rows.add((start_utc, end_utc, "X-TEST-ALL-DAY" in occurrence))
    return sorted(rows)


def under_test(case: CorpusCalendar) -> list[Row]:
    obj = parse(case.text)
    found = busy_occurrences(
        obj, window=Interval(*case.window), default_tz=ZoneInfo(case.default_tz), owner_addresses=case.owners
    )
    for occurrence in found:
        assert occurrence.start.utcoffset() == timedelta(0) and occurrence.end.utcoffset() == timedelta(0)
    return [(o.start, o.end, o.all_day) for o in found]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_matches_the_reference(case: CorpusCalendar) -> None:
    expected = reference(case)
    assert under_test(case) == expected
    if case.window[0] < case.window[1]:
        assert expected, "a corpus calendar with nothing busy in its window tests nothing"


def test_the_corpus_is_big_and_varied() -> None:
    assert len(CASES) >= 30
    text = "".join(case.text for case in CASES)
    for feature in (
        "RRULE",
        "RDATE",
        "EXDATE",
        "RECURRENCE-ID",
        "THISANDFUTURE",
        "VALUE=DATE",
        "DURATION",
        "TRANSP:TRANSPARENT",
        "STATUS:CANCELLED",
        "STATUS:TENTATIVE",
        "PARTSTAT=DECLINED",
        "COUNT=",
        "UNTIL=",
        "TZID=Customized Time Zone",
        "Romance Standard Time",
        "X-WR-TIMEZONE",
        "/mozilla.org/",
        "Lord_Howe",
    ):
        assert feature in text, feature


# --- by hand ------------------------------------------------------------------------------------------------

YEAR = Interval(datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
PARIS = ZoneInfo("Europe/Paris")


def busy(
    text: str, *, tz: str = "UTC", owners: Iterable[str] = (), window: Interval = YEAR
) -> list[Occurrence]:
    return busy_occurrences(parse(text), window=window, default_tz=ZoneInfo(tz), owner_addresses=list(owners))


def spans(occurrences: list[Occurrence]) -> list[tuple[str, str]]:
    return [(o.start.strftime("%Y-%m-%d %H:%M"), o.end.strftime("%H:%M")) for o in occurrences]


def test_weekly_meeting_across_both_paris_dst_changes() -> None:
    text = vcalendar(
        timed("w", w(2024, 3, 21, 9), w(2024, 3, 21, 10), "RRULE:FREQ=WEEKLY;COUNT=3", tzid="Europe/Paris"),
        timed("f", w(2024, 10, 17, 9), w(2024, 10, 17, 10), "RRULE:FREQ=WEEKLY;COUNT=3", tzid="Europe/Paris"),
    )
    assert spans(busy(text)) == [
        ("2024-03-21 08:00", "09:00"),
        ("2024-03-28 08:00", "09:00"),  # CET, UTC+1
        ("2024-04-04 07:00", "08:00"),  # CEST from 31 March, UTC+2
        ("2024-10-17 07:00", "08:00"),
        ("2024-10-24 07:00", "08:00"),
        ("2024-10-31 08:00", "09:00"),  # CET again from 27 October
    ]


def test_weekly_meeting_across_new_yorks_fall_back() -> None:
    text = vcalendar(
        timed(
            "ny",
            w(2024, 10, 28, 9),
            w(2024, 10, 28, 10),
            "RRULE:FREQ=WEEKLY;COUNT=2",
            tzid="America/New_York",
        )
    )
    assert spans(busy(text)) == [("2024-10-28 13:00", "14:00"), ("2024-11-04 14:00", "15:00")]


def test_windows_zone_names() -> None:
    text = vcalendar(
        timed("summer", w(2024, 7, 1, 14), w(2024, 7, 1, 15), tzid="Romance Standard Time"),
        timed("winter", w(2024, 1, 10, 9), w(2024, 1, 10, 9, 30), tzid="Eastern Standard Time"),
        timed("india", w(2024, 1, 11, 9), w(2024, 1, 11, 10), tzid="India Standard Time"),
    )
    assert spans(busy(text)) == [
        ("2024-01-10 14:00", "14:30"),
        ("2024-01-11 03:30", "04:30"),
        ("2024-07-01 12:00", "13:00"),
    ]


def test_floating_event_is_read_in_the_default_zone() -> None:
    text = vcalendar(timed("fl", w(2024, 1, 15, 10), w(2024, 1, 15, 11)))
    assert spans(busy(text, tz="America/New_York")) == [("2024-01-15 15:00", "16:00")]
    assert spans(busy(text, tz="Asia/Tokyo")) == [("2024-01-15 01:00", "02:00")]


def test_all_day_event_in_paris_starts_the_evening_before_in_utc() -> None:
    text = vcalendar(
        vevent("winter", prop("DTSTART", date(2024, 1, 15)), prop("DTEND", date(2024, 1, 16))),
        vevent("summer", prop("DTSTART", date(2024, 7, 15))),
        vevent("spring-forward", prop("DTSTART", date(2024, 3, 31)), prop("DTEND", date(2024, 4, 1))),
    )
    found = busy(text, tz="Europe/Paris")
    assert [(o.start, o.end, o.all_day) for o in found] == [
        (datetime(2024, 1, 14, 23, tzinfo=UTC), datetime(2024, 1, 15, 23, tzinfo=UTC), True),
        (datetime(2024, 3, 30, 23, tzinfo=UTC), datetime(2024, 3, 31, 22, tzinfo=UTC), True),  # a 23-hour day
        (datetime(2024, 7, 14, 22, tzinfo=UTC), datetime(2024, 7, 15, 22, tzinfo=UTC), True),
    ]


def test_dst_gap_and_fold() -> None:
    text = vcalendar(
        timed("gap", w(2024, 3, 31, 2, 30), w(2024, 3, 31, 3, 30), tzid="Europe/Paris"),
        timed("fold", w(2024, 11, 3, 1, 30), w(2024, 11, 3, 1, 45), tzid="America/New_York"),
        timed("gap-start", w(2024, 3, 10, 2, 0), w(2024, 3, 10, 4, 0), tzid="America/New_York"),
    )
    assert spans(busy(text)) == [
        ("2024-03-10 07:00", "08:00"),  # 02:00 does not exist: read as 03:00 EDT; 04:00 EDT is 08:00 UTC
        ("2024-03-31 01:30", "02:30"),  # 02:30 read as 03:30 CEST; the meeting keeps its hour
        ("2024-11-03 05:30", "05:45"),  # 01:30 happens twice: the first one, EDT
    ]


def test_each_object_uses_its_own_customized_time_zone() -> None:
    new_york = vtimezone(
        "Customized Time Zone",
        "-0500",
        "-0400",
        to_standard="FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
        to_daylight="FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
    )
    event = timed("c", w(2024, 7, 1, 9), w(2024, 7, 1, 10), tzid="Customized Time Zone")
    paris_text = vcalendar(vtimezone("Customized Time Zone", **PARIS_RULES), event)
    new_york_text = vcalendar(new_york, event)
    assert spans(busy(paris_text)) == [("2024-07-01 07:00", "08:00")]
    assert spans(busy(new_york_text)) == [("2024-07-01 13:00", "14:00")]
    assert spans(busy(paris_text)) == [("2024-07-01 07:00", "08:00")]


def test_declined_invitations_free_the_owner_unless_they_organise() -> None:
    boss = "ORGANIZER:mailto:boss@example.org"
    text = vcalendar(
        timed(
            "declined",
            z(2024, 5, 6, 9),
            z(2024, 5, 6, 10),
            boss,
            f"ATTENDEE;PARTSTAT=DECLINED:mailto:{OWNER}",
        ),
        timed(
            "mine",
            z(2024, 5, 7, 9),
            z(2024, 5, 7, 10),
            f"ORGANIZER:mailto:{OWNER}",
            f"ATTENDEE;PARTSTAT=DECLINED:mailto:{OWNER}",
        ),
        timed("unanswered", z(2024, 5, 8, 9), z(2024, 5, 8, 10), boss, f"ATTENDEE:mailto:{OWNER}"),
    )
    assert spans(busy(text, owners=["MAILTO:" + OWNER.upper()])) == [
        ("2024-05-07 09:00", "10:00"),
        ("2024-05-08 09:00", "10:00"),
    ]
    assert len(busy(text)) == 3  # owner unknown: every invitation counts


def test_overrides_move_and_cancel_single_occurrences() -> None:
    tz = "Europe/Paris"
    text = vcalendar(
        timed(
            "s",
            w(2024, 1, 8, 9),
            w(2024, 1, 8, 10),
            "RRULE:FREQ=DAILY;COUNT=4",
            prop("EXDATE", w(2024, 1, 9, 9), tzid=tz),
            tzid=tz,
        ),
        vevent(
            "s",
            prop("RECURRENCE-ID", w(2024, 1, 10, 9), tzid=tz),
            prop("DTSTART", w(2024, 1, 10, 14), tzid=tz),
            prop("DTEND", w(2024, 1, 10, 15), tzid=tz),
        ),
        vevent(
            "s",
            prop("RECURRENCE-ID", w(2024, 1, 11, 9), tzid=tz),
            prop("DTSTART", w(2024, 1, 11, 9), tzid=tz),
            prop("DTEND", w(2024, 1, 11, 10), tzid=tz),
            "STATUS:CANCELLED",
        ),
    )
    assert spans(busy(text)) == [("2024-01-08 08:00", "09:00"), ("2024-01-10 13:00", "14:00")]


def test_this_and_future_moves_the_rest_of_the_series() -> None:
    tz = "Europe/Paris"
    text = vcalendar(
        timed("t", w(2024, 1, 1, 9), w(2024, 1, 1, 10), "RRULE:FREQ=WEEKLY;COUNT=4", tzid=tz),
        vevent(
            "t",
            prop("RECURRENCE-ID", w(2024, 1, 15, 9), tzid=tz, range="THISANDFUTURE"),
            prop("DTSTART", w(2024, 1, 15, 14), tzid=tz),
            prop("DTEND", w(2024, 1, 15, 16), tzid=tz),
        ),
    )
    assert spans(busy(text)) == [
        ("2024-01-01 08:00", "09:00"),
        ("2024-01-08 08:00", "09:00"),
        ("2024-01-15 13:00", "15:00"),
        ("2024-01-22 13:00", "15:00"),
    ]


def test_zero_length_and_duration() -> None:
    text = vcalendar(
        timed("zero", z(2024, 2, 1, 9), z(2024, 2, 1, 9)),
        timed("no-end", z(2024, 2, 2, 9)),
        timed("duration", z(2024, 2, 3, 9), None, "DURATION:PT45M"),
    )
    assert spans(busy(text)) == [("2024-02-03 09:00", "09:45")]


def test_window_is_half_open_and_occurrences_are_not_clipped() -> None:
    window = Interval(z(2024, 6, 10, 8), z(2024, 6, 10, 12))
    text = vcalendar(
        timed("before", z(2024, 6, 10, 7), z(2024, 6, 10, 8)),
        timed("across", z(2024, 6, 10, 7), z(2024, 6, 10, 9)),
        timed("after", z(2024, 6, 10, 12), z(2024, 6, 10, 13)),
    )
    assert spans(busy(text, window=window)) == [("2024-06-10 07:00", "09:00")]


def test_google_recurrence_in_utc_follows_x_wr_timezone() -> None:
    text = vcalendar(
        timed("g", z(2024, 3, 25, 8), z(2024, 3, 25, 9), "RRULE:FREQ=WEEKLY;COUNT=2"),
        headers=["X-WR-TIMEZONE:Europe/Paris"],
    )
    # 08:00 UTC is 09:00 in Paris in March; the next week, after the DST change, 09:00 Paris is 07:00 UTC
    assert spans(busy(text)) == [("2024-03-25 08:00", "09:00"), ("2024-04-01 07:00", "08:00")]
