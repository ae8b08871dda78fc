"""``to_utc`` follows RFC 5545 for every kind of zone, and ``TransitionZone`` behaves like ``zoneinfo``."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz
from hypothesis import given, settings
from hypothesis import strategies as st

from creneau.domain.timezones import Transition, TransitionZone, local_midnight_to_utc, offset_at, to_utc

NAMES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata"]
START = datetime(2023, 6, 1)
MINUTES = 60 * 24 * 365 * 2  # two years from START, on a 15-minute grid


def copy_of(name: str) -> TransitionZone:
    """A TransitionZone with the offsets zoneinfo gives ``name`` from 2023 to 2026, found every 15 minutes."""
    zone = ZoneInfo(name)
    instant = datetime(2023, 1, 1)
    offset = zone.utcoffset(instant.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None))
    assert offset is not None
    initial, transitions = offset, []
    while instant < datetime(2026, 1, 1):
        local = instant.replace(tzinfo=UTC).astimezone(zone)
        now = local.utcoffset()
        assert now is not None
        if now != offset:
            transitions.append(Transition(instant, now, local.dst() or timedelta(0), local.tzname() or ""))
            offset = now
        instant += timedelta(minutes=15)
    return TransitionZone(name, initial, transitions)


COPIES = {name: copy_of(name) for name in NAMES}
PARIS_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Paris
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""
walls = st.integers(0, MINUTES // 15).map(lambda k: START + timedelta(minutes=15 * k))


@settings(max_examples=400)
@given(st.sampled_from(NAMES), walls)
def test_to_utc_reads_a_transition_zone_like_zoneinfo(name: str, wall: datetime) -> None:
    assert to_utc(wall, COPIES[name]) == to_utc(wall, ZoneInfo(name))


@settings(max_examples=400)
@given(st.sampled_from(NAMES), walls, st.sampled_from([0, 1]))
def test_transition_zone_offsets_match_zoneinfo_for_both_folds(name: str, wall: datetime, fold: int) -> None:
    ours, theirs = (
        wall.replace(tzinfo=COPIES[name], fold=fold),
        wall.replace(tzinfo=ZoneInfo(name), fold=fold),
    )
    assert ours.utcoffset() == theirs.utcoffset()
    assert ours.dst() == theirs.dst()


@settings(max_examples=400)
@given(st.sampled_from(NAMES), walls)
def test_transition_zone_fromutc_matches_zoneinfo(name: str, instant: datetime) -> None:
    ours = instant.replace(tzinfo=UTC).astimezone(COPIES[name])
    theirs = instant.replace(tzinfo=UTC).astimezone(ZoneInfo(name))
    assert (ours.replace(tzinfo=None), ours.fold, ours.utcoffset()) == (
        theirs.replace(tzinfo=None),
        theirs.fold,
        theirs.utcoffset(),
    )


def other_implementations() -> list[tuple[str, tzinfo]]:
    """Zones ``to_utc`` reads through its generic path: dateutil's tz database and VTIMEZONE zones."""
    zones: list[tuple[str, tzinfo]] = []
    for name in NAMES:
        zone = dateutil_tz.gettz(name)
        assert zone is not None
        zones.append((name, zone))
    vtimezone = dateutil_tz.tzical(io.StringIO(PARIS_VTIMEZONE)).get()
    assert vtimezone is not None
    zones.append(("Europe/Paris", vtimezone))
    return zones


@settings(max_examples=300)
@given(st.sampled_from(other_implementations()), walls)
def test_to_utc_reads_any_zone_the_rfc_5545_way(named: tuple[str, tzinfo], wall: datetime) -> None:
    name, zone = named
    if wall.year >= 2025 and "VTIMEZONE" not in repr(zone) and name == "America/Santiago":
        return  # dateutil's copy of the tz database may predate Chile's latest rule changes
    assert to_utc(wall, zone) == to_utc(wall, ZoneInfo(name))


@pytest.mark.parametrize(
    ("name", "wall", "utc"),
    [
        ("America/New_York", datetime(2007, 11, 4, 1, 30), datetime(2007, 11, 4, 5, 30)),  # RFC 5545 example
        ("America/New_York", datetime(2007, 3, 11, 2, 30), datetime(2007, 3, 11, 7, 30)),  # RFC 5545 example
        ("Europe/Paris", datetime(2024, 3, 31, 2, 30), datetime(2024, 3, 31, 1, 30)),
        ("Europe/Paris", datetime(2024, 10, 27, 2, 30), datetime(2024, 10, 27, 0, 30)),
        ("Australia/Lord_Howe", datetime(2024, 10, 6, 2, 15), datetime(2024, 10, 5, 15, 45)),  # 30-minute gap
    ],
)
def test_rfc_5545_examples(name: str, wall: datetime, utc: datetime) -> None:
    expected = utc.replace(tzinfo=UTC)
    assert to_utc(wall, ZoneInfo(name)) == expected
    if 2023 <= wall.year <= 2025:  # the years COPIES cover
        assert to_utc(wall, COPIES[name]) == expected
    generic = dateutil_tz.gettz(name)
    assert generic is not None
    assert to_utc(wall, generic) == expected


def test_to_utc_ignores_the_tzinfo_and_fold_it_is_given() -> None:
    paris = ZoneInfo("Europe/Paris")
    wall = datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=UTC)
    assert to_utc(wall, paris) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)


def test_midnight_that_does_not_exist_starts_the_day_at_the_end_of_the_gap() -> None:
    santiago = ZoneInfo("America/Santiago")  # clocks go from 00:00 to 01:00 on 8 September 2024
    start = local_midnight_to_utc(date(2024, 9, 8), santiago)
    assert start == datetime(2024, 9, 8, 4, tzinfo=UTC)
    assert start.astimezone(santiago).replace(tzinfo=None) == datetime(2024, 9, 8, 1, 0)


def test_offset_at() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert offset_at(datetime(2024, 1, 1), paris) == timedelta(hours=1)
    assert offset_at(datetime(2024, 7, 1, tzinfo=UTC), COPIES["Europe/Paris"]) == timedelta(hours=2)


def test_transition_zone_names_and_repr() -> None:
    paris = COPIES["Europe/Paris"]
    assert datetime(2024, 7, 1, 12, tzinfo=paris).tzname() == "CEST"
    assert paris.tzname(None) == "Europe/Paris"
    assert "Europe/Paris" in repr(paris)
    with pytest.raises(ValueError, match="fromutc"):
        paris.fromutc(datetime(2024, 1, 1, tzinfo=UTC))
