"""The fast path of ``parse`` (``ical/_fast.py``) gives exactly what the icalendar path gives.

``parse`` reads a lone plain event with its own reader, ``parse_with_icalendar`` always with icalendar.
For every corpus object (one per UID, as a CalDAV server stores a calendar), benchmark objects and generated
single events, both give the same UID, summary and busy occurrences for several windows, floating zones and
owner sets, or refuse the object with the same message.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench_data import bench_event
from creneau.calendars.ical import MalformedObject, ParsedObject, busy_occurrences, parse
from creneau.calendars.ical._parse import parse_with_icalendar
from creneau.demo.icsgen import Days
from creneau.domain.intervals import Interval
from tests.calendars.corpus import (
    NEW_YORK_RULES,
    OWNER,
    OWNER_ALIAS,
    PARIS_RULES,
    YEAR_2024,
    corpus,
    vtimezone,
)

pytestmark = pytest.mark.filterwarnings("ignore::icalendar.error.GloballyUniqueTZIDGuessed")

ZONES = ("Europe/Paris", "UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu")
OWNER_SETS: tuple[tuple[str, ...], ...] = ((), (OWNER, OWNER_ALIAS), ("MAILTO:" + OWNER.upper(),), ("x@y.z",))
EVERYTHING = Interval(datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
_LOGICAL_LINE = re.compile(r"\r?\n(?![ \t])")


# --- comparing both paths -----------------------------------------------------------------------------------


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except MalformedObject as exc:
        return ("refused", str(exc))


def windows_around(found: list[Any]) -> list[Interval]:
    """Windows that end where an occurrence starts, start where it ends, or cut it: the edges of overlap."""
    windows = [EVERYTHING, Interval(*YEAR_2024)]
    for occurrence in found[:2]:
        start, end, second = occurrence.start, occurrence.end, timedelta(seconds=1)
        windows += [Interval(start - 3600 * second, start), Interval(end, end + 3600 * second)]
        windows += [Interval(start + second, start + 2 * second), Interval(end - second, end)]
    return windows


def assert_same(
    text: str, *, zones: tuple[str, ...] = ZONES, owner_sets: tuple[tuple[str, ...], ...] = OWNER_SETS
) -> bool:
    """Both paths agree on ``text``; returns whether the fast path read it."""
    fast, slow = outcome(lambda: parse(text)), outcome(lambda: parse_with_icalendar(text))
    if not isinstance(slow, ParsedObject):
        assert fast == slow
        return False
    assert isinstance(fast, ParsedObject), fast
    assert (fast.uid, fast.summary, fast.recurring) == (slow.uid, slow.summary, slow.recurring)
    assert fast.repairs == slow.repairs
    if fast.single is None:
        return False  # both went through icalendar: nothing more to compare
    assert fast.calendar is None
    for zone in zones:
        wide = busy(slow, EVERYTHING, zone, ())
        for window in windows_around(wide if isinstance(wide, list) else []):
            for owners in owner_sets:
                same = busy(fast, window, zone, owners) == busy(slow, window, zone, owners)
                assert same, (zone, window, owners)
    return True


def busy(obj: ParsedObject, window: Interval, zone: str, owners: tuple[str, ...]) -> Any:
    tz = ZoneInfo(zone)
    return outcome(lambda: busy_occurrences(obj, window=window, default_tz=tz, owner_addresses=owners))


# --- the corpus and the benchmark's objects -----------------------------------------------------------------


def split_by_uid(text: str) -> list[str]:
    """One object per UID, as a CalDAV server stores a calendar: the calendar's own properties, all its
    VTIMEZONEs, and the components of that UID (master and overrides); a component without UID is an object
    of its own."""
    lines = [line for line in _LOGICAL_LINE.split(text) if line.strip()]
    header: list[str] = []
    zones: list[str] = []
    by_uid: dict[str, list[str]] = {}
    block: list[str] = []
    depth = 0
    for line in lines:
        upper = line.upper()
        if upper.startswith("BEGIN:"):
            depth += 1
        if depth == 1 and not upper.startswith(("BEGIN:", "END:")):
            header.append(line)
        elif depth >= 2:
            block.append(line)
        if upper.startswith("END:"):
            depth -= 1
            if depth == 1:
                if block[0].upper().startswith("BEGIN:VTIMEZONE"):
                    zones += block
                else:
                    uid = next((b for b in block if b.upper().startswith("UID")), None)
                    key = uid.split(":", 1)[1] if uid else f"no UID #{len(by_uid)}"
                    by_uid.setdefault(key, []).extend(block)
                block = []
    return [
        "\r\n".join(["BEGIN:VCALENDAR", *header, *zones, *components, "END:VCALENDAR", ""])
        for components in by_uid.values()
    ]


CORPUS = list(corpus())
CORPUS_OBJECTS = [(f"{c.name}-{i}", text) for c in CORPUS for i, text in enumerate(split_by_uid(c.text))]


def bench_objects(today: date) -> list[str]:
    rng = random.Random(20240501)  # bench_data.seed's
    return [bench_event(Days(today), n, rng) for n in range(500)]


BENCH_OBJECTS = bench_objects(date(2024, 3, 20)) + bench_objects(date(2026, 10, 20))  # DST in windows


@pytest.mark.parametrize(("name", "text"), CORPUS_OBJECTS, ids=[name for name, _ in CORPUS_OBJECTS])
def test_every_corpus_object_reads_the_same_both_ways(name: str, text: str) -> None:
    assert_same(text)


def test_the_corpus_split_holds_many_fast_objects() -> None:
    assert len(CORPUS_OBJECTS) > 250
    assert sum(parse(text).single is not None for _, text in CORPUS_OBJECTS) > 100


def test_every_bench_object_reads_the_same_both_ways() -> None:
    fast = 0
    for text in BENCH_OBJECTS:
        fast += assert_same(text, zones=ZONES[:3], owner_sets=OWNER_SETS[:2])
    assert fast >= 0.85 * len(BENCH_OBJECTS)  # 90% of them are single events


# --- the fast path is taken, and only where it should be ----------------------------------------------------

TYPICAL = (
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Apple Inc.//macOS 14.0//EN\nCALSCALE:GREGORIAN\n"
    + vtimezone("Europe/Paris", **PARIS_RULES).replace("\r\n", "\n")
    + f"""BEGIN:VEVENT
UID:7A1C3E0F-typical@example.org
DTSTAMP:20240301T080000Z
DTSTART;TZID=Europe/Paris:20240315T100000
DTEND;TZID=Europe/Paris:20240315T110000
SUMMARY:Interview\\, round 2
DESCRIPTION:Agenda: introductions\\, goals\\n
  and a folded line
ORGANIZER;CN="Martin, Alice":mailto:alice@example.org
ATTENDEE;CN=Ada;PARTSTAT=DECLINED;RSVP=TRUE:mailto:{OWNER}
ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.org
SEQUENCE:2
STATUS:CONFIRMED
TRANSP:OPAQUE
BEGIN:VALARM
TRIGGER:-PT15M
END:VALARM
END:VEVENT
END:VCALENDAR
"""
).replace("\n", "\r\n")


def test_a_typical_single_event_takes_the_fast_path() -> None:
    obj = parse(TYPICAL)
    assert obj.single is not None and obj.calendar is None
    assert (obj.uid, obj.summary, obj.recurring) == (
        "7A1C3E0F-typical@example.org",
        "Interview, round 2",
        False,
    )
    paris = ZoneInfo("Europe/Paris")
    assert busy_occurrences(obj, window=EVERYTHING, default_tz=paris, owner_addresses=[OWNER]) == []
    (busy,) = busy_occurrences(obj, window=EVERYTHING, default_tz=paris)
    assert (busy.start, busy.end) == (
        datetime(2024, 3, 15, 9, tzinfo=UTC),
        datetime(2024, 3, 15, 10, tzinfo=UTC),
    )
    assert assert_same(TYPICAL)


@pytest.mark.parametrize(
    "change",
    [
        ("SEQUENCE:2", "RRULE:FREQ=WEEKLY;COUNT=3"),
        ("SEQUENCE:2", "RDATE;TZID=Europe/Paris:20240322T100000"),
        ("SEQUENCE:2", "EXDATE;TZID=Europe/Paris:20240315T100000"),
        ("SEQUENCE:2", "RECURRENCE-ID;TZID=Europe/Paris:20240315T100000"),
        ("CALSCALE:GREGORIAN", "X-WR-TIMEZONE:Europe/Paris"),
        ("END:VEVENT", "END:VEVENT\r\nBEGIN:VTODO\r\nUID:t\r\nEND:VTODO"),
        ("DTEND;TZID=Europe/Paris:20240315T110000", "DTEND:20240315T110000Z"),  # zoned and UTC: fine
    ],
    ids=["RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "X-WR-TIMEZONE", "VTODO", "UTC end"],
)
def test_the_fast_path_is_not_taken_for_recurring_or_unusual_objects(change: tuple[str, str]) -> None:
    text = TYPICAL.replace(*change)
    assert text != TYPICAL
    fast = assert_same(text)
    assert fast == (change[1].startswith("DTEND"))


def test_recurring_bench_objects_do_not_take_the_fast_path() -> None:
    for text in BENCH_OBJECTS:
        assert (parse(text).single is None) == ("RECURRENCE-ID" in text)


# --- odd objects: the fast reader declines, or reads them right ---------------------------------------------


def event(*lines: str, header: tuple[str, ...] = ()) -> str:
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN", *header, "BEGIN:VEVENT", "UID:odd@x"]
    return "\r\n".join([*body, *lines, "END:VEVENT", "END:VCALENDAR", ""])


START = "DTSTART;TZID=Europe/Paris:20240331T023000"
AT10, HOUR = "DTSTART:20240101T100000Z", "DURATION:PT1H"
_CUSTOM_PARIS = vtimezone("Customized Time Zone", **PARIS_RULES)
ODD = {
    "DST gap": event(START, "DTEND;TZID=Europe/Paris:20240331T033000"),
    "DST fold": event("DTSTART;TZID=America/New_York:20241103T013000", "DURATION:PT30M"),
    "TZID naming a directory": event("DTSTART;TZID=Europe:20240101T100000", "DTEND:20240101T110000"),
    "TZID too long": event(f"DTSTART;TZID={'x' * 300}:20240101T100000"),
    "unknown TZID: floating": event("DTSTART;TZID=Nowhere/Land:20240101T100000", HOUR),
    "unknown TZID and UTC end": event("DTSTART;TZID=Nowhere:20240101T100000", "DTEND:20240101T120000Z"),
    "TZID with a trailing space": event("DTSTART;TZID=Europe/Paris :20240101T100000", HOUR),
    "quoted TZID": event('DTSTART;TZID="Europe/Paris":20240101T100000', HOUR),
    "quoted TZID with spaces": event('DTSTART;TZID=" Europe/Paris ":20240101T100000', HOUR),
    "empty TZID": event('DTSTART;TZID="":20240101T100000', HOUR),
    "TZID and Z": event("DTSTART;TZID=Europe/Paris:20240101T100000Z", HOUR),
    "TZID on a date": event("DTSTART;TZID=Europe/Paris:20240101", "DURATION:P1D"),
    "VALUE=DATE on a date-time": event("DTSTART;VALUE=DATE:20240101T100000", HOUR),
    "lower-case names": event("dtstart;value=date:20240101", "dtend;value=date:20240103").lower(),
    "date and date-time": event("DTSTART;VALUE=DATE:20240101", "DTEND:20240101T100000Z"),
    "end before start": event(AT10, "DTEND:20240101T090000Z"),
    "end before start, zoned": event(START, "DTEND:20240331T002900Z"),
    "negative duration": event(AT10, "DURATION:-PT1H"),
    "duration P": event(AT10, "DURATION:P"),
    "duration on a date": event("DTSTART;VALUE=DATE:20240101", "DURATION:PT25H"),
    "DTEND and DURATION": event(AT10, "DTEND:20240101T110000Z", "DURATION:PT3H"),
    "two DTSTART": event(AT10, "DTSTART:20240102T100000Z"),
    "no DTSTART": event("DTEND:20240101T100000Z"),
    "no UID": event(AT10).replace("UID:odd@x\r\n", ""),
    "no UID, an hour": event(AT10, HOUR).replace("UID:odd@x\r\n", ""),
    "no UID, no DTSTART": event(HOUR).replace("UID:odd@x\r\n", ""),
    "no UID, a bad DTSTART": event("DTSTART:20240231T100000Z", HOUR).replace("UID:odd@x\r\n", ""),
    "no UID, VTIMEZONE": event("DTSTART;TZID=Customized Time Zone:20240101T100000", HOUR)
    .replace("UID:odd@x\r\n", "")
    .replace("BEGIN:VEVENT", _CUSTOM_PARIS + "BEGIN:VEVENT"),
    "two events without UID": event(
        AT10, HOUR, "END:VEVENT", "BEGIN:VEVENT", "DTSTART:20240102T100000Z", HOUR
    ).replace("UID:odd@x\r\n", ""),
    "twin events without UID": event(AT10, HOUR, "END:VEVENT", "BEGIN:VEVENT", AT10, HOUR).replace(
        "UID:odd@x\r\n", ""
    ),
    "empty RRULE": event(AT10, HOUR, "RRULE:"),
    "RRULE of spaces": event(AT10, HOUR, "RRULE:   "),
    "empty RRULE beside a rule": event(AT10, HOUR, "RRULE:FREQ=DAILY;COUNT=3", "RRULE:"),
    "empty RRULE, no UID": event(AT10, HOUR, "RRULE:").replace("UID:odd@x\r\n", ""),
    "RRULE without FREQ": event(AT10, HOUR, "RRULE:COUNT=3"),
    "impossible date": event("DTSTART:20240231T100000Z"),
    "leap second": event("DTSTART:20241231T235960Z"),
    "two STATUS": event(AT10, HOUR, "STATUS:CANCELLED", "STATUS:CONFIRMED"),
    "STATUS with spaces": event(AT10, HOUR, "STATUS: cancelled "),
    "escaped TRANSP": event(AT10, HOUR, "TRANSP:TRANSPARENT\\n"),
    "SUMMARY escapes": event(AT10, "SUMMARY:a\\,b\\;c\\nd\\Ne\\\\f\\:g\\x:h"),
    "SUMMARY with VALUE": event(AT10, "SUMMARY;VALUE=DATE:20240101"),
    "PARTSTAT list": event(AT10, HOUR, f"ATTENDEE;PARTSTAT=DECLINED,ACCEPTED:mailto:{OWNER}"),
    "quoted PARTSTAT": event(AT10, HOUR, f'ATTENDEE;PARTSTAT="DECLINED":{OWNER}'),
    "PARTSTAT with a space": event(AT10, HOUR, f"ATTENDEE;PARTSTAT=DECLINED :mailto:{OWNER}"),
    "escaped address": event(AT10, HOUR, f"ATTENDEE;PARTSTAT=DECLINED:mailto:{OWNER}\\n"),
    "broken parameter": event(AT10, HOUR, 'ATTENDEE;CN="a"b;PARTSTAT=DECLINED:x'),
    "RFC 6868 parameter": event(AT10, "ATTENDEE;CN=a^'b;PARTSTAT=DECLINED:mailto:x@y"),
    "organizer who declined": event(AT10, HOUR, f"ORGANIZER:{OWNER}", f"ATTENDEE;PARTSTAT=DECLINED:{OWNER}"),
    "an empty second VEVENT": event(AT10, HOUR, "END:VEVENT", "BEGIN:VEVENT"),
    "a second UID": event(AT10, HOUR, "END:VEVENT", "BEGIN:VEVENT", "UID:b", AT10),
    "a component inside the event": event(AT10, "BEGIN:X-THING", "END:X-THING"),
    "a mismatched END": event(AT10).replace("END:VEVENT", "END:VTODO"),
    "a property before the calendar": "SUMMARY:x\r\n" + event(AT10),
    "two calendars": event(AT10) * 2,
    "a calendar property with a parameter": event(AT10, header=("VERSION;X-A=b:2.0",)),
    "parameters on text properties": event(AT10, "SUMMARY;LANGUAGE=fr:Réunion", "STATUS;X-A=b:CANCELLED"),
    "a parameter on the UID": event(AT10, HOUR).replace("UID:", "UID;X-B=c:"),
    "ENCODING on a text": event(AT10, "SUMMARY;ENCODING=BASE64:YWJj"),
    "a quoted organizer name": event(AT10, 'ORGANIZER;CN="a:b;c=d":mailto:boss@example.org'),
    "a quoted attendee name": event(AT10, f'ATTENDEE;CN="x:y";PARTSTAT=DECLINED:{OWNER}'),
    "a list parameter": event(AT10, f'ATTENDEE;PARTSTAT=DECLINED;DELEGATED-TO="mailto:a@b",b:{OWNER}'),
    "BEGIN with a parameter": event(AT10).replace("BEGIN:VEVENT", "BEGIN;X=1:VEVENT"),
    "CALSCALE gregorian": event(AT10, header=("CALSCALE:gregorian",)),
    "CALSCALE other": event(AT10, header=("CALSCALE:HEBREW",)),
    "X-WR-TIMEZONE": event(AT10, HOUR, header=("X-WR-TIMEZONE:Asia/Tokyo",)),
    "year 1": event("DTSTART:00010101T000000", "DTEND:00010101T010000"),
    "year 1 in Tokyo": event("DTSTART;TZID=Asia/Tokyo:00010101T000000", "DTEND:00010101T010000Z"),
    "year 9999": event("DTSTART;VALUE=DATE:99991231", "DURATION:P1D"),
    "a continuation line left": event(AT10, "SUMMARY:a\x0b b"),  # splitlines() splits
}


@pytest.mark.parametrize("text", ODD.values(), ids=list(ODD))
def test_odd_objects_read_the_same_both_ways(text: str) -> None:
    assert_same(text)


# --- generated single events --------------------------------------------------------------------------------

_DST_DAYS = [date(2024, 3, 10), date(2024, 3, 31), date(2024, 10, 27), date(2024, 11, 3), date(2025, 3, 30)]
# IANA, Windows, vendor path, display name, the object's own VTIMEZONE (or none), unknown, a tz directory
_TZIDS = ["Europe/Paris", "America/New_York", "europe/paris", "W. Europe Standard Time", "Nowhere/Land"]
_TZIDS += ["Eastern Standard Time", "/mozilla.org/20050126_1/Europe/Paris", "Customized Time Zone", "Etc"]
_TZIDS += ['"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"', '"Customized Time Zone"']
_CUSTOM = [vtimezone("Customized Time Zone", **rules) for rules in (PARIS_RULES, NEW_YORK_RULES)] + [""]
_STATUSES = ["STATUS:TENTATIVE", "STATUS:CANCELLED", "STATUS:cancelled"]
_TRANSPS = ["TRANSP:OPAQUE", "TRANSP:TRANSPARENT", "TRANSP:transparent "]
_NOISE = ["SEQUENCE:1", "DESCRIPTION:x\\, y", "X-MS-BUSY:FREE"]  # lines that strip_irrelevant drops, or not
_TEXT = st.lists(
    st.sampled_from([*"aé Z,;:\"'", "\\,", "\\;", "\\n", "\\N", "\\\\", "\\x"]), max_size=12
).map("".join)
_DURATIONS = ["P1D", "PT1H", "PT30M", "P1W", "PT0S", "PT1H30M", "P2DT3H", "-PT1H", "P1DT", "PT1H0S", "+PT2H"]
_PARTSTATS = ["", ";PARTSTAT=DECLINED", ";PARTSTAT=declined", ';PARTSTAT="DECLINED"', ";PARTSTAT=ACCEPTED"]


@st.composite
def when_values(draw: st.DrawFn) -> tuple[str, str]:
    """(parameters, value) of a DTSTART-like line: DATE, UTC, floating or zoned, near DST changes."""
    day = draw(st.sampled_from(_DST_DAYS)) + timedelta(days=draw(st.integers(-1, 1)))
    kind = draw(st.sampled_from(["date", "utc", "floating", "zoned", "zoned"]))
    if kind == "date":
        return draw(st.sampled_from(["", ";VALUE=DATE", ";value=date"])), f"{day:%Y%m%d}"
    moment = datetime.combine(day, datetime.min.time()) + timedelta(
        hours=draw(st.integers(0, 23)),
        minutes=draw(st.sampled_from([0, 15, 30, 45, 59])),
        seconds=draw(st.sampled_from([0, 30])),
    )
    value = f"{moment:%Y%m%dT%H%M%S}"
    value_param = draw(st.sampled_from(["", "", ";VALUE=DATE-TIME"]))
    if kind == "utc":
        return value_param, value + "Z"
    if kind == "floating":
        return value_param, value
    return f"{value_param};TZID={draw(st.sampled_from(_TZIDS))}", value


@st.composite
def single_events(draw: st.DrawFn) -> str:
    start_params, start = draw(when_values())
    lines = [f"DTSTART{start_params}:{start}"]
    ending = draw(st.sampled_from(["none", "dtend", "same zone", "duration"]))
    if ending == "dtend":
        end_params, end = draw(when_values())
        lines.append(f"DTEND{end_params}:{end}")
    elif ending == "same zone":  # an end in the start's own form, a few minutes to days later
        lines.append(f"DTEND{start_params}:{_later(start, draw(st.integers(-90, 3000)))}")
    elif ending == "duration":
        lines.append(f"DURATION:{draw(st.sampled_from(_DURATIONS))}")
    lines += [f"SUMMARY:{draw(_TEXT)}"] if draw(st.booleans()) else []
    lines += draw(st.lists(st.sampled_from(_STATUSES), max_size=1))
    lines += draw(st.lists(st.sampled_from(_TRANSPS), max_size=1))
    people = [f"mailto:{OWNER}", f"MAILTO:{OWNER_ALIAS.upper()}", "mailto:boss@example.org"]
    if draw(st.booleans()):
        lines.append(f'ORGANIZER;CN="Boss, The":{draw(st.sampled_from(people))}')
    for _ in range(draw(st.integers(0, 3))):
        partstat = draw(st.sampled_from(_PARTSTATS))
        lines.append(f"ATTENDEE;CN=Someone{partstat};RSVP=TRUE:{draw(st.sampled_from(people))}")
    lines += draw(st.lists(st.sampled_from(_NOISE), max_size=2))
    lines = draw(st.permutations(lines))
    uid = [f"UID:{draw(_TEXT)}@generated"] if draw(st.integers(0, 5)) else []  # some without (repaired)
    body = ["BEGIN:VEVENT", *uid, *lines, "END:VEVENT"]
    zone = draw(st.sampled_from(_CUSTOM)).rstrip("\r\n")
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//t//EN", *([zone] if zone else [])]
    return "\r\n".join([*head, *body, "END:VCALENDAR", ""])


def _later(value: str, minutes: int) -> str:
    """``value`` (a DATE or DATE-TIME as written) moved by ``minutes`` (by whole days for a DATE)."""
    if len(value) == 8:
        day = date(int(value[:4]), int(value[4:6]), int(value[6:8])) + timedelta(days=minutes // 1000)
        return f"{day:%Y%m%d}"
    moment = datetime.strptime(value[:15], "%Y%m%dT%H%M%S") + timedelta(minutes=minutes)  # noqa: DTZ007
    return f"{moment:%Y%m%dT%H%M%S}" + value[15:]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(single_events())
def test_generated_single_events_read_the_same_both_ways(text: str) -> None:
    assert_same(text, zones=("Europe/Paris", "America/New_York", "UTC"), owner_sets=OWNER_SETS[:3])


def test_the_generator_mostly_makes_fast_objects() -> None:
    """So that the property test above compares the fast reader with icalendar, not icalendar with itself."""
    fast: list[bool] = []

    @settings(max_examples=100, derandomize=True, database=None)
    @given(single_events())
    def draw(text: str) -> None:
        obj = outcome(lambda: parse(text))
        fast.append(isinstance(obj, ParsedObject) and obj.single is not None)

    draw()
    assert sum(fast) > 0.3 * len(fast)
