"""``parse`` (what it accepts, what it refuses and how it says so), big objects, and ``resolve_tzid``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from creneau.calendars.ical import MalformedObject, ParsedObject, busy_occurrences, parse, resolve_tzid
from creneau.calendars.ical._repair import EMPTY_RULE, NO_UID
from creneau.domain.intervals import Interval
from tests.calendars.corpus import PARIS_RULES, prop, timed, vcalendar, vevent, vtimezone, w, z

YEAR = Interval(datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
SECRET = "Confidential-meeting-with-participant-42"


def event_text(*lines: str, uid: str = "u1@example.org") -> str:
    return vcalendar(vevent(uid, *lines, summary=SECRET))


# --- malformed objects --------------------------------------------------------------------------------------

MALFORMED = {
    "empty": ("", "not an iCalendar object"),
    "html": ("<html><body>502 Bad Gateway</body></html>", "not an iCalendar object"),
    "bare VEVENT": ("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\n", "not a VCALENDAR"),
    "unterminated": ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n", "not an iCalendar object"),
    "two calendars": (vcalendar() + vcalendar(), "not an iCalendar object"),
    "no DTSTART": (event_text("DTEND:20240101T100000Z"), "no DTSTART"),
    "bad DTSTART": (event_text("DTSTART:2024-13-45"), "DTSTART has an invalid value"),
    "impossible date": (event_text("DTSTART:20240231T100000Z"), "DTSTART has an invalid value"),
    "two DTSTART": (event_text("DTSTART:20240101T100000Z", "DTSTART:20240102T100000Z"), "several DTSTART"),
    "bad DTEND": (event_text("DTSTART:20240101T100000Z", "DTEND:soon"), "DTEND has an invalid value"),
    "end before start": (event_text("DTSTART:20240101T100000Z", "DTEND:20240101T090000Z"), "DTEND is before"),
    "end before start, zoned": (
        event_text("DTSTART;TZID=Europe/Paris:20240101T100000", "DTEND:20240101T085900Z"),
        "DTEND is before",
    ),
    "negative duration": (event_text("DTSTART:20240101T100000Z", "DURATION:-PT1H"), "DURATION is negative"),
    "bad duration": (event_text("DTSTART:20240101T100000Z", "DURATION:an hour"), "DURATION has an invalid"),
    "bad RRULE frequency": (event_text("DTSTART:20240101T100000Z", "RRULE:FREQ=SOMETIMES"), "RRULE"),
    "RRULE without FREQ": (event_text("DTSTART:20240101T100000Z", "RRULE:COUNT=3"), "RRULE has no FREQ"),
    "RRULE garbage": (event_text("DTSTART:20240101T100000Z", "RRULE:every monday"), "RRULE"),
    "bad UNTIL": (event_text("DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY;UNTIL=tomorrow"), "RRULE"),
    "bad BYDAY": (event_text("DTSTART:20240101T100000Z", "RRULE:FREQ=WEEKLY;BYDAY=XX"), "RRULE"),
    "bad COUNT": (event_text("DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY;COUNT=many"), "RRULE"),
    "every second": (
        event_text("DTSTART:20240101T100000Z", "RRULE:FREQ=SECONDLY"),
        "more than 96 times a day",
    ),
    "every minute by BYSECOND": (
        event_text(
            "DTSTART:20240101T100000Z",
            "RRULE:FREQ=DAILY;BYHOUR=9,10;BYMINUTE=0,30;BYSECOND=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25",
        ),
        "more than 96 times a day",
    ),
    "bad EXDATE": (event_text("DTSTART:20240101T100000Z", "EXDATE:yesterday"), "EXDATE has an invalid value"),
    "bad RDATE": (
        event_text("DTSTART:20240101T100000Z", "RDATE:20240199T100000Z"),
        "RDATE has an invalid value",
    ),
    "bad RECURRENCE-ID": (
        event_text("DTSTART:20240101T100000Z", "RECURRENCE-ID:x"),
        "RECURRENCE-ID has an invalid",
    ),
    "no UID and no DTSTART": (
        vcalendar("BEGIN:VEVENT\r\nDTEND:20240101T100000Z\r\nSUMMARY:" + SECRET + "\r\nEND:VEVENT\r\n"),
        "a VEVENT without UID: no DTSTART",
    ),
    "no UID and a bad DTSTART": (
        vcalendar("BEGIN:VEVENT\r\nDTSTART:20240231T100000Z\r\nSUMMARY:" + SECRET + "\r\nEND:VEVENT\r\n"),
        "DTSTART has an invalid value",
    ),
    "empty RRULE and no DTSTART": (event_text("DTEND:20240101T100000Z", "RRULE:"), "no DTSTART"),
    "RRULE garbage beside an empty one": (
        event_text("DTSTART:20240101T100000Z", "RRULE:", "RRULE:every monday"),
        "RRULE has no FREQ",
    ),
    "nothing inside": (vcalendar(), "no VEVENT, VTODO or VJOURNAL"),
    "other calendar scale": (
        vcalendar(headers=["CALSCALE:HEBREW"]).replace(
            "END:VCALENDAR", vevent("h", "DTSTART:20240101T100000Z") + "END:VCALENDAR"
        ),
        "cannot read the object",
    ),
}


@pytest.mark.parametrize(("text", "says"), MALFORMED.values(), ids=list(MALFORMED))
def test_malformed_objects_are_refused_with_a_short_message(text: str, says: str) -> None:
    with pytest.raises(MalformedObject) as refused:
        parse(text)
    message = str(refused.value)
    assert says in message
    assert len(message) < 160
    assert SECRET not in message and "BEGIN:" not in message


def test_the_message_names_the_event() -> None:
    with pytest.raises(MalformedObject, match=r"VEVENT 'u1@example.org': no DTSTART"):
        parse(event_text("DTEND:20240101T100000Z"))


def test_malformed_object_is_a_value_error() -> None:
    assert issubclass(MalformedObject, ValueError)


def test_a_parse_error_from_a_long_line_is_cut_short() -> None:
    with pytest.raises(MalformedObject) as refused:
        parse("X" * 10_000)
    assert len(str(refused.value)) < 160


# --- what parse accepts -------------------------------------------------------------------------------------


def uidless(*lines: str) -> str:
    return "".join(f"{line}\r\n" for line in ["BEGIN:VEVENT", *lines, "END:VEVENT"])


def spans_of(text: str) -> list[tuple[datetime, datetime]]:
    found = busy_occurrences(parse(text), window=YEAR, default_tz=ZoneInfo("Europe/Paris"))
    return [(o.start, o.end) for o in found]


def test_an_event_without_uid_is_read_under_a_uid_derived_from_its_content() -> None:
    at9 = ["DTSTART:20240603T090000Z", "DTEND:20240603T100000Z", f"SUMMARY:{SECRET}"]
    text = vcalendar(uidless("DTSTAMP:20240101T000000Z", *at9))
    obj = parse(text)
    assert obj.repairs == (NO_UID,)
    assert obj.uid.startswith("creneau-derived-") and SECRET not in obj.uid
    assert spans_of(text) == [(z(2024, 6, 3, 9), z(2024, 6, 3, 10))]
    # Stable: what changes at every export (DTSTAMP, DESCRIPTION, alarms) does not change it; the event's
    # time does.
    again = vcalendar(uidless("DTSTAMP:20260101T120000Z", "DESCRIPTION:new notes", *at9))
    assert parse(again).uid == obj.uid
    moved = vcalendar(uidless("DTSTART:20240603T110000Z", "DTEND:20240603T120000Z", f"SUMMARY:{SECRET}"))
    assert parse(moved).uid != obj.uid
    # The same in an object that icalendar reads (not the fast path): the same UID.
    zoned = vcalendar(uidless(*at9, "X-WR-SOMETHING:1"), headers=["X-WR-TIMEZONE:UTC"])
    assert parse(zoned).uid == obj.uid and parse(zoned).single is None


def test_several_events_without_uid_in_one_object_stay_distinct() -> None:
    first = uidless("DTSTART:20240701T090000Z", "DTEND:20240701T100000Z")
    second = uidless("DTSTART:20240702T090000Z", "DTEND:20240702T100000Z")
    weekly = uidless("DTSTART:20240708T140000Z", "DURATION:PT1H", "RRULE:FREQ=WEEKLY;COUNT=2")
    text = vcalendar(first, second, weekly, first)  # the last one a twin of the first
    obj = parse(text)
    assert obj.repairs == (NO_UID,) and obj.recurring
    assert obj.calendar is not None
    uids = [str(e["UID"]) for e in obj.calendar.walk("VEVENT")]
    assert len(set(uids)) == 4
    assert spans_of(text) == [
        (z(2024, 7, 1, 9), z(2024, 7, 1, 10)),
        (z(2024, 7, 2, 9), z(2024, 7, 2, 10)),
        (z(2024, 7, 8, 14), z(2024, 7, 8, 15)),
        (z(2024, 7, 15, 14), z(2024, 7, 15, 15)),
    ]
    assert parse(text).uid == obj.uid  # identical content, identical UIDs


@pytest.mark.parametrize("rule", ["RRULE:", "RRULE:   ", "RRULE;X-A=b:"])
def test_an_empty_rrule_is_no_rule(rule: str) -> None:
    text = event_text("DTSTART:20240101T100000Z", "DTEND:20240101T110000Z", rule)
    obj = parse(text)
    assert obj.repairs == (EMPTY_RULE,) and not obj.recurring and obj.uid == "u1@example.org"
    assert spans_of(text) == [(z(2024, 1, 1, 10), z(2024, 1, 1, 11))]
    beside = event_text("DTSTART:20240101T100000Z", "DURATION:PT1H", rule, "RRULE:FREQ=DAILY;COUNT=2")
    assert parse(beside).recurring and spans_of(beside) == [
        (z(2024, 1, 1, 10), z(2024, 1, 1, 11)),
        (z(2024, 1, 2, 10), z(2024, 1, 2, 11)),
    ]


def test_a_valid_object_reports_no_repair() -> None:
    assert parse(event_text("DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY;COUNT=2")).repairs == ()
    assert parse(vcalendar(timed("one@x", z(2024, 1, 1, 9), z(2024, 1, 1, 10)))).repairs == ()


def test_uid_summary_and_recurring() -> None:
    single = parse(vcalendar(timed("one@x", z(2024, 1, 1, 9), z(2024, 1, 1, 10), summary="Réunion")))
    assert (single.uid, single.summary, single.recurring) == ("one@x", "Réunion", False)
    assert isinstance(single, ParsedObject)
    ruled = parse(vcalendar(timed("r@x", z(2024, 1, 1, 9), None, "RRULE:FREQ=DAILY;COUNT=2")))
    assert ruled.recurring
    dated = parse(vcalendar(timed("d@x", z(2024, 1, 1, 9), None, "RDATE:20240105T090000Z")))
    assert dated.recurring
    override = vevent(
        "o@x", prop("RECURRENCE-ID", z(2024, 1, 1, 9)), prop("DTSTART", z(2024, 1, 1, 11)), summary="moved"
    )
    with_override = parse(vcalendar(override, timed("o@x", z(2024, 1, 1, 9), None, summary="master")))
    assert with_override.recurring and with_override.summary == "master"


def test_an_object_with_only_a_todo_parses_and_is_never_busy() -> None:
    text = vcalendar(
        "BEGIN:VTODO\r\nUID:todo-1\r\nDTSTAMP:20240101T000000Z\r\nDUE:20240105T100000Z\r\nEND:VTODO\r\n"
    )
    obj = parse(text)
    assert (obj.uid, obj.recurring) == ("todo-1", False)
    assert busy_occurrences(obj, window=YEAR, default_tz=UTC) == []


def test_a_broken_vtimezone_is_ignored_and_its_times_are_read_as_floating() -> None:
    broken = "\r\n".join(
        [
            "BEGIN:VTIMEZONE",
            "TZID:Broken",
            "BEGIN:STANDARD",
            "DTSTART:garbage",
            "TZOFFSETTO:??",
            "END:STANDARD",
            "END:VTIMEZONE",
            "",
        ]
    )
    obj = parse(vcalendar(broken, timed("b", w(2024, 1, 10, 9), w(2024, 1, 10, 10), tzid="Broken")))
    found = busy_occurrences(obj, window=YEAR, default_tz=ZoneInfo("Europe/Paris"))
    assert [(o.start.hour, o.end.hour) for o in found] == [(8, 9)]


def test_an_unused_broken_vtimezone_does_not_spoil_the_object() -> None:
    broken = "\r\n".join(
        [
            "BEGIN:VTIMEZONE",
            "TZID:Unused",
            "BEGIN:DAYLIGHT",
            "TZOFFSETFROM:nonsense",
            "END:DAYLIGHT",
            "END:VTIMEZONE",
            "",
        ]
    )
    obj = parse(vcalendar(broken, timed("ok", z(2024, 1, 10, 9), z(2024, 1, 10, 10))))
    assert len(busy_occurrences(obj, window=YEAR, default_tz=UTC)) == 1


def test_a_folded_tzid_and_lowercase_names_are_read() -> None:
    zone = vtimezone("Customized Time Zone", **PARIS_RULES).replace(
        "TZID:Customized Time Zone", "TZID:Customized Ti\r\n me Zone"
    )
    text = vcalendar(
        zone.lower().replace("tzid:customized ti\r\n me zone", "tzid:Customized Ti\r\n me Zone"),
        timed("f", w(2024, 7, 1, 9), w(2024, 7, 1, 10), tzid="Customized Time Zone"),
    )
    found = busy_occurrences(parse(text), window=YEAR, default_tz=UTC)
    assert [(o.start.hour, o.end.hour) for o in found] == [(7, 8)]


def test_a_multi_uid_export_parses() -> None:
    text = vcalendar(*(timed(f"e{i}", z(2024, 1, 1 + i, 9), z(2024, 1, 1 + i, 10)) for i in range(5)))
    obj = parse(text)
    assert obj.uid == "e0" and obj.recurring
    assert len(busy_occurrences(obj, window=YEAR, default_tz=UTC)) == 5


def test_parse_is_repeatable_and_objects_do_not_share_state() -> None:
    text = vcalendar(timed("a", w(2024, 7, 1, 9), w(2024, 7, 1, 10), tzid="Europe/Paris"))
    first, second = parse(text), parse(text)
    assert first == second
    assert busy_occurrences(first, window=YEAR, default_tz=UTC) == busy_occurrences(
        second, window=YEAR, default_tz=UTC
    )


def test_an_unbounded_rule_far_in_the_past_expands_only_the_window() -> None:
    obj = parse(
        vcalendar(timed("old", w(1990, 1, 1, 9), w(1990, 1, 1, 10), "RRULE:FREQ=DAILY", tzid="Europe/Paris"))
    )
    window = Interval(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC))
    assert len(busy_occurrences(obj, window=window, default_tz=UTC)) == 7


def test_windows_near_the_ends_of_time_do_not_overflow() -> None:
    obj = parse(vcalendar(timed("t", z(2024, 1, 1, 9), z(2024, 1, 1, 10))))
    everything = Interval(datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    assert len(busy_occurrences(obj, window=everything, default_tz=UTC)) == 1


# --- big objects --------------------------------------------------------------------------------------------


def test_a_long_series_with_many_overrides_and_exceptions() -> None:
    tz = "Europe/Paris"
    start = w(2023, 1, 2, 9)
    exdates = [start + timedelta(days=7 * k) for k in range(0, 500, 2)]
    overrides = [
        vevent(
            "big",
            prop("RECURRENCE-ID", start + timedelta(days=7 * k), tzid=tz),
            prop("DTSTART", start + timedelta(days=7 * k, hours=5), tzid=tz),
            prop("DTEND", start + timedelta(days=7 * k, hours=6), tzid=tz),
        )
        for k in range(1, 500, 2)
    ]
    text = vcalendar(
        timed(
            "big",
            start,
            start + timedelta(hours=1),
            "RRULE:FREQ=DAILY;COUNT=3500",
            *(prop("EXDATE", d, tzid=tz) for d in exdates),
            tzid=tz,
        ),
        *overrides,
    )
    assert len(text) > 50_000
    found = busy_occurrences(parse(text), window=YEAR, default_tz=UTC)
    weekly_in_2024 = [o for o in found if o.start.weekday() == 0]
    assert len(found) == 366 - len([d for d in exdates if d.year == 2024])
    assert any(o.start.hour in (13, 12) for o in weekly_in_2024)  # overrides moved by 5 hours


def test_an_object_with_thousands_of_rdates() -> None:
    dates = [z(2024, 1, 1, 8) + timedelta(hours=6 * k) for k in range(4000)]
    text = vcalendar(
        vevent(
            "many",
            prop("DTSTART", z(2024, 1, 1, 8)),
            "DURATION:PT1H",
            *(prop("RDATE", *dates[i : i + 50]) for i in range(0, 4000, 50)),
        )
    )
    found = busy_occurrences(parse(text), window=YEAR, default_tz=UTC)
    assert len(found) == len([d for d in dates if d.year == 2024])


def test_an_all_day_event_spanning_years() -> None:
    obj = parse(
        vcalendar(vevent("sabbatical", prop("DTSTART", date(2023, 9, 1)), prop("DTEND", date(2025, 9, 1))))
    )
    (only,) = busy_occurrences(obj, window=YEAR, default_tz=ZoneInfo("Europe/Paris"))
    assert only.all_day and only.start == datetime(2023, 8, 31, 22, tzinfo=UTC)


# --- resolve_tzid -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "zone"),
    [
        ("Europe/Paris", "Europe/Paris"),
        ("europe/paris", "Europe/Paris"),
        (" America/New_York ", "America/New_York"),
        ("UTC", "UTC"),
        ("Etc/GMT-3", "Etc/GMT-3"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Romance Standard Time", "Europe/Paris"),
        ("Eastern Standard Time", "America/New_York"),
        ("eastern standard time", "America/New_York"),
        ("Lord Howe Standard Time", "Australia/Lord_Howe"),
        ("/mozilla.org/20050126_1/Europe/Paris", "Europe/Paris"),
        (
            "/freeassociation.sourceforge.net/Tzfile/America/Argentina/Buenos_Aires",
            "America/Argentina/Buenos_Aires",
        ),
        ("/citadel.org/20190914_1/Asia/Tokyo", "Asia/Tokyo"),
        ("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Amsterdam"),
        ("(UTC+01:00) Brussels, Copenhagen, Madrid, Paris", "Europe/Brussels"),
        ("(UTC-05:00) Eastern Time (US & Canada)", "America/New_York"),
        ("(GMT-08:00) Pacific Time (US & Canada)", "America/Los_Angeles"),
        ("(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi", "Asia/Kolkata"),
        ("(UTC+10:00) Canberra, Melbourne, Sydney", "Australia/Canberra"),
        ("(UTC) Coordinated Universal Time", "UTC"),
        ("(UTC+00:00) Dublin, Edinburgh, Lisbon, London", "Europe/Dublin"),
    ],
)
def test_resolve_tzid_knows(name: str, zone: str) -> None:
    assert resolve_tzid(name) == ZoneInfo(zone)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Customized Time Zone",
        "Mars/Olympus_Mons",
        "Europe",  # a directory of the tz database, not a zone
        "../../etc/passwd",
        "/etc/localtime",
        "localtime",
        "(UTC+01:00) Atlantis",
        "(UTC+03:00) Paris",  # a real city, but with the wrong offset
        "GMT+05:30 custom",
    ],
)
def test_resolve_tzid_does_not_guess_wildly(name: str) -> None:
    assert resolve_tzid(name) is None


def test_resolve_tzid_never_raises_on_odd_input() -> None:
    assert resolve_tzid(None) is None  # type: ignore[arg-type]
    assert resolve_tzid("\x00") is None
    assert resolve_tzid("(UTC+99:99) Nowhere") is None


def test_a_vtimezone_given_by_rdates() -> None:
    zone = "\r\n".join(
        [
            "BEGIN:VTIMEZONE",
            "TZID:Old style",
            "BEGIN:DAYLIGHT",
            "DTSTART:20240331T020000",
            "RDATE:20240331T020000,20250330T020000",
            "TZOFFSETFROM:+0100",
            "TZOFFSETTO:+0200",
            "TZNAME:CEST",
            "END:DAYLIGHT",
            "BEGIN:STANDARD",
            "DTSTART:20231029T030000",
            "RDATE:20241027T030000",
            "TZOFFSETFROM:+0200",
            "TZOFFSETTO:+0100",
            "TZNAME:CET",
            "END:STANDARD",
            "END:VTIMEZONE",
            "",
        ]
    )
    events = [
        timed(f"e{i}", w(*day, 12), w(*day, 13), tzid="Old style")
        for i, day in enumerate([(2024, 3, 30), (2024, 4, 1), (2024, 10, 28)])
    ]
    found = busy_occurrences(parse(vcalendar(zone, *events)), window=YEAR, default_tz=UTC)
    assert [o.start.hour for o in found] == [11, 10, 11]
