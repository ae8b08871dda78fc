"""Slot computation: worked examples (explicit expected lists, also around the 2026 DST changes), properties.

The property tests compare :func:`free_slots` with a brute-force reference written here: it walks the UTC
timeline a quarter of an hour at a time (every candidate lies on that grid: window bounds, durations and slot
intervals are drawn in quarters, and Paris, New York and UTC offsets are whole hours), reads each instant's
local wall clock, and checks every condition naively against every busy interval and every booking.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creneau.domain.availability import (
    AvailabilityRules,
    DateOverride,
    WeeklyWindow,
    free_slots,
    is_offered,
)
from creneau.domain.intervals import Interval

PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"
MINUTE = timedelta(minutes=1)
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEKDAYS = range(5)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def wall(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)


def t(text: str) -> time:
    return time.fromisoformat(text)


def every(days: Sequence[int], start: str, end: str) -> tuple[WeeklyWindow, ...]:
    return tuple(WeeklyWindow(weekday=day, start=t(start), end=t(end)) for day in days)


def rules_for(
    zone: str = PARIS,
    weekly: tuple[WeeklyWindow, ...] = every(WEEKDAYS, "09:00", "12:00"),
    duration: int = 60,
    interval: int | None = None,
    **extra: object,
) -> AvailabilityRules:
    return AvailabilityRules(
        timezone=zone,
        weekly=weekly,
        duration=timedelta(minutes=duration),
        slot_interval=timedelta(minutes=interval or duration),
        **extra,  # type: ignore[arg-type]
    )


# Monday 8 June 2026: Paris is on CEST (UTC+2) all week.
MONDAY = date(2026, 6, 8)
LONG_AGO = utc(2026, 5, 1)


def week_of(day: date) -> Interval:
    start = datetime.combine(day, time(), tzinfo=ZoneInfo(PARIS))
    return Interval(start, start + 7 * DAY)


def starts(
    rules: AvailabilityRules,
    *,
    busy: Sequence[Interval] = (),
    bookings: Sequence[Interval] = (),
    now: datetime | None = None,
    window: Interval | None = None,
) -> list[datetime]:
    """Starts of the offered slots; ``now`` defaults to a day before ``window`` (the week of MONDAY)."""
    window = window or week_of(MONDAY)
    now = now or window.start - DAY
    slots = free_slots(rules=rules, busy=busy, session_bookings=bookings, now=now, window=window)
    for slot in slots:
        assert slot.start.tzinfo is UTC and slot.end.tzinfo is UTC
        assert slot.end - slot.start == rules.duration
    return [slot.start for slot in slots]


def paris_june(day: int, *hours_minutes: tuple[int, int]) -> list[datetime]:
    return [utc(2026, 6, day, h - 2, m) for h, m in hours_minutes]  # CEST is UTC+2


# --- plain examples -----------------------------------------------------------------------------------------


def test_plain_week_offers_each_window_slot_in_utc() -> None:
    expected = [s for day in range(8, 13) for s in paris_june(day, (9, 0), (10, 0), (11, 0))]
    assert starts(rules_for()) == expected


def test_window_selects_slots_by_start() -> None:
    rules = rules_for()
    # Starts at 09:30 local: 09:00 is excluded, 11:00 (ends 12:00, after the window) is included.
    window = Interval(wall(PARIS, 2026, 6, 8, 9, 30), wall(PARIS, 2026, 6, 8, 11, 1))
    assert starts(rules, window=window) == paris_june(8, (10, 0), (11, 0))
    # Half-open: a window ending exactly at a start excludes it.
    window = Interval(wall(PARIS, 2026, 6, 8, 9), wall(PARIS, 2026, 6, 8, 10))
    assert starts(rules, window=window) == paris_june(8, (9, 0))
    assert starts(rules, window=Interval(window.start, window.start)) == []


def test_busy_removes_overlapping_slots_and_touching_is_free() -> None:
    rules = rules_for(duration=30)
    busy = [Interval(wall(PARIS, 2026, 6, 8, 10), wall(PARIS, 2026, 6, 8, 10, 30))]
    monday = Interval(wall(PARIS, 2026, 6, 8), wall(PARIS, 2026, 6, 9))
    assert starts(rules, busy=busy, window=monday) == paris_june(
        8, (9, 0), (9, 30), (10, 30), (11, 0), (11, 30)
    )
    # A single minute of overlap is enough to block.
    busy = [Interval(wall(PARIS, 2026, 6, 8, 9, 59), wall(PARIS, 2026, 6, 8, 10, 0))]
    assert starts(rules, busy=busy, window=monday) == paris_june(
        8, (9, 0), (10, 0), (10, 30), (11, 0), (11, 30)
    )
    # Empty busy intervals block nothing.
    busy = [Interval(wall(PARIS, 2026, 6, 8, 10, 10), wall(PARIS, 2026, 6, 8, 10, 10))]
    assert len(starts(rules, busy=busy, window=monday)) == 6


def test_buffers_widen_the_slot_over_touching_busy_times() -> None:
    busy = [Interval(wall(PARIS, 2026, 6, 8, 10), wall(PARIS, 2026, 6, 8, 10, 30))]
    monday = Interval(wall(PARIS, 2026, 6, 8), wall(PARIS, 2026, 6, 9))
    before = rules_for(duration=30, buffer_before=timedelta(minutes=15))
    assert starts(before, busy=busy, window=monday) == paris_june(8, (9, 0), (9, 30), (11, 0), (11, 30))
    after = rules_for(duration=30, buffer_after=timedelta(minutes=15))
    assert starts(after, busy=busy, window=monday) == paris_june(8, (9, 0), (10, 30), (11, 0), (11, 30))
    # A buffer that exactly reaches the busy time is still free (half-open).
    exact = rules_for(duration=30, buffer_before=timedelta(minutes=30), buffer_after=timedelta(minutes=30))
    assert starts(exact, busy=busy, window=monday) == paris_june(8, (9, 0), (11, 0), (11, 30))
    # Buffers may reach outside the window: a busy time just before the window blocks its first slot.
    early = [Interval(wall(PARIS, 2026, 6, 8, 8, 50), wall(PARIS, 2026, 6, 8, 8, 55))]
    assert starts(before, busy=early, window=monday)[0] == paris_june(8, (9, 30))[0]


def test_min_notice() -> None:
    rules = rules_for(duration=30, min_notice=timedelta(hours=1))
    monday = Interval(wall(PARIS, 2026, 6, 8), wall(PARIS, 2026, 6, 9))
    now = wall(PARIS, 2026, 6, 8, 9, 10)
    assert starts(rules, now=now, window=monday) == paris_june(8, (10, 30), (11, 0), (11, 30))
    # Exactly now + min_notice is allowed.
    now = wall(PARIS, 2026, 6, 8, 9, 30)
    assert starts(rules, now=now, window=monday) == paris_june(8, (10, 30), (11, 0), (11, 30))
    now = wall(PARIS, 2026, 6, 8, 9, 29)
    assert starts(rules, now=now, window=monday) == paris_june(8, (10, 30), (11, 0), (11, 30))
    now = wall(PARIS, 2026, 6, 8, 9, 0)
    assert starts(rules, now=now, window=monday) == paris_june(8, (10, 0), (10, 30), (11, 0), (11, 30))
    # Without notice, a slot starting right now is still offered, one that started a minute ago is not.
    assert starts(rules_for(duration=30), now=now, window=monday)[0] == paris_june(8, (9, 0))[0]
    now = wall(PARIS, 2026, 6, 8, 9, 1)
    assert starts(rules_for(duration=30), now=now, window=monday)[0] == paris_june(8, (9, 30))[0]


def test_horizon_is_exclusive() -> None:
    rules = rules_for(horizon=timedelta(days=2))
    now = wall(PARIS, 2026, 6, 8, 9)
    assert starts(rules, now=now) == [
        *paris_june(8, (9, 0), (10, 0), (11, 0)),
        *paris_june(9, (9, 0), (10, 0), (11, 0)),
    ]
    now = wall(PARIS, 2026, 6, 8, 9, 1)
    assert starts(rules, now=now)[-1] == paris_june(10, (9, 0))[0]


def test_max_per_day_counts_this_sessions_bookings_by_local_day() -> None:
    rules = rules_for(max_per_day=2)
    # 23:30 Monday and 00:30 Tuesday in Paris are both on Monday in UTC: the local day decides.
    bookings = [
        Interval(wall(PARIS, 2026, 6, 8, 23, 30), wall(PARIS, 2026, 6, 9, 0, 30)),
        Interval(wall(PARIS, 2026, 6, 9, 0, 30), wall(PARIS, 2026, 6, 9, 1, 30)),
        Interval(wall(PARIS, 2026, 6, 10, 7), wall(PARIS, 2026, 6, 10, 8)),
        Interval(wall(PARIS, 2026, 6, 10, 8), wall(PARIS, 2026, 6, 10, 9)),
    ]
    offered = starts(rules, bookings=bookings)
    by_day = Counter(s.astimezone(ZoneInfo(PARIS)).day for s in offered)
    assert by_day == {8: 3, 9: 3, 11: 3, 12: 3}  # Tuesday had one booking: still open; Wednesday is full
    assert starts(rules_for(max_per_day=0)) == []
    assert len(starts(rules_for(max_per_day=1), bookings=bookings[:1])) == 12


def test_day_off_extra_day_and_replacement() -> None:
    overrides = (
        DateOverride(day=date(2026, 6, 10)),  # Wednesday off
        DateOverride(day=date(2026, 6, 11), windows=((t("14:00"), t("15:00")),)),  # Thursday replaced
        DateOverride(day=date(2026, 6, 13), windows=((t("10:00"), t("12:00")),)),  # Saturday: extra day
    )
    assert starts(rules_for(overrides=overrides)) == [
        *paris_june(8, (9, 0), (10, 0), (11, 0)),
        *paris_june(9, (9, 0), (10, 0), (11, 0)),
        *paris_june(11, (14, 0)),
        *paris_june(12, (9, 0), (10, 0), (11, 0)),
        *paris_june(13, (10, 0), (11, 0)),
    ]


def test_several_overrides_for_one_date_are_a_union() -> None:
    overrides = (
        DateOverride(day=date(2026, 6, 9), windows=((t("08:00"), t("09:00")),)),
        DateOverride(day=date(2026, 6, 9), windows=((t("16:00"), t("17:00")), (t("18:00"), t("19:00")))),
        DateOverride(day=date(2026, 6, 9)),  # an empty one adds nothing to the others
    )
    tuesday = Interval(wall(PARIS, 2026, 6, 9), wall(PARIS, 2026, 6, 10))
    assert starts(rules_for(overrides=overrides), window=tuesday) == paris_june(9, (8, 0), (16, 0), (18, 0))


def test_slot_interval_differs_from_duration() -> None:
    rules = rules_for(weekly=every([0], "09:00", "11:00"), duration=45, interval=15)
    assert starts(rules) == paris_june(8, (9, 0), (9, 15), (9, 30), (9, 45), (10, 0), (10, 15))
    # Every 90 minutes, 30-minute slots: the grid starts at each window's start.
    rules = rules_for(
        weekly=(*every([0], "09:00", "11:00"), *every([0], "14:10", "17:00")), duration=30, interval=90
    )
    assert starts(rules) == paris_june(8, (9, 0), (10, 30), (14, 10), (15, 40))


def test_overlapping_windows_do_not_duplicate_slots() -> None:
    rules = rules_for(weekly=(*every([0], "09:00", "11:00"), *every([0], "10:00", "12:00")))
    assert starts(rules) == paris_june(8, (9, 0), (10, 0), (11, 0))


def test_busy_times_are_compared_as_instants() -> None:
    # 01:00-02:00 on 1 Nov 2026 in New York happens twice; the busy hour here is the second one (EST).
    busy = [Interval(wall(NEW_YORK, 2026, 11, 1, 1, fold=1), wall(NEW_YORK, 2026, 11, 1, 1, 59, fold=1))]
    rules = rules_for(zone="UTC", weekly=every([6], "04:00", "08:00"))
    window = Interval(utc(2026, 11, 1), utc(2026, 11, 2))
    assert starts(rules, busy=busy, window=window) == [
        utc(2026, 11, 1, 4),
        utc(2026, 11, 1, 5),
        utc(2026, 11, 1, 7),
    ]


# --- daylight saving time -----------------------------------------------------------------------------------


def test_paris_spring_forward_skips_missing_starts() -> None:
    # 29 March 2026, 01:00 UTC: 02:00 CET becomes 03:00 CEST.
    rules = rules_for(weekly=every([6], "01:00", "04:00"), duration=30)
    window = Interval(utc(2026, 3, 28), utc(2026, 3, 30))
    assert starts(rules, window=window) == [
        utc(2026, 3, 29, 0, 0),  # 01:00 CET
        utc(2026, 3, 29, 0, 30),  # 01:30 CET
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST (02:00 and 02:30 do not exist)
        utc(2026, 3, 29, 1, 30),  # 03:30 CEST
    ]
    # Duration is elapsed time: 01:30 CET + 90 min is 04:00 CEST, after the window's end at 03:30.
    rules = rules_for(weekly=every([6], "01:00", "03:30"), duration=90, interval=30)
    assert starts(rules, window=window) == [utc(2026, 3, 29, 0, 0)]
    rules = rules_for(weekly=every([6], "01:00", "03:30"), duration=60, interval=30)
    assert starts(rules, window=window) == [utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 0, 30)]


def test_paris_spring_forward_grid_stays_on_the_wall_clock() -> None:
    # Every 45 minutes from 00:00: 02:15 does not exist and is skipped, not moved to 03:15; the grid goes on
    # at 03:00, so 01:30 CET and 03:00 CEST are offered although they overlap in real time.
    rules = rules_for(weekly=every([6], "00:00", "04:00"), duration=45, interval=45)
    window = Interval(utc(2026, 3, 28), utc(2026, 3, 30))
    assert starts(rules, window=window) == [
        utc(2026, 3, 28, 23, 0),  # 00:00 CET
        utc(2026, 3, 28, 23, 45),  # 00:45 CET
        utc(2026, 3, 29, 0, 30),  # 01:30 CET, ends 03:15 CEST
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST (03:45 + 45 min would end after 04:00)
    ]


def test_paris_window_ending_inside_the_gap_ends_at_the_jump() -> None:
    # A window "until 02:30" on the night clocks jump from 02:00 to 03:00 ends at the jump (01:00 UTC).
    rules = rules_for(weekly=every([6], "00:00", "02:30"), duration=60, interval=30)
    window = Interval(utc(2026, 3, 28), utc(2026, 3, 30))
    assert starts(rules, window=window) == [
        utc(2026, 3, 28, 23, 0),
        utc(2026, 3, 28, 23, 30),
        utc(2026, 3, 29, 0, 0),
    ]


def test_paris_fall_back_uses_the_first_occurrence_only() -> None:
    # 25 October 2026, 01:00 UTC: 03:00 CEST becomes 02:00 CET; 02:00-03:00 happens twice.
    rules = rules_for(weekly=every([6], "01:00", "04:00"), duration=60, interval=30)
    window = Interval(utc(2026, 10, 24), utc(2026, 10, 26))
    assert starts(rules, window=window) == [
        utc(2026, 10, 24, 23, 0),  # 01:00 CEST
        utc(2026, 10, 24, 23, 30),  # 01:30 CEST
        utc(2026, 10, 25, 0, 0),  # 02:00 CEST (first occurrence)
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 2, 0),  # 03:00 CET; nothing starts in the repeated hour (01:00-02:00 UTC)
    ]
    second = Interval(utc(2026, 10, 25, 1), utc(2026, 10, 25, 2))  # 02:00-03:00 CET, the second 02:00
    assert not is_offered(rules=rules, busy=[], session_bookings=[], now=window.start, slot=second)


def test_new_york_spring_forward() -> None:
    # 8 March 2026, 07:00 UTC: 02:00 EST becomes 03:00 EDT.
    rules = rules_for(zone=NEW_YORK, weekly=every([6], "01:00", "04:00"), duration=60, interval=30)
    window = Interval(utc(2026, 3, 7), utc(2026, 3, 9))
    assert starts(rules, window=window) == [
        utc(2026, 3, 8, 6, 0),  # 01:00 EST
        utc(2026, 3, 8, 6, 30),  # 01:30 EST, ends at 03:30 EDT after one real hour
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT
    ]


def test_new_york_fall_back() -> None:
    # 1 November 2026, 06:00 UTC: 02:00 EDT becomes 01:00 EST; 01:00-02:00 happens twice.
    rules = rules_for(zone=NEW_YORK, weekly=every([6], "00:30", "02:30"), duration=60, interval=30)
    window = Interval(utc(2026, 10, 31), utc(2026, 11, 2))
    assert starts(rules, window=window) == [
        utc(2026, 11, 1, 4, 30),  # 00:30 EDT
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT (first occurrence)
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT
    ]
    busy = [Interval(utc(2026, 11, 1, 5, 15), utc(2026, 11, 1, 5, 20))]
    assert starts(rules, busy=busy, window=window) == [utc(2026, 11, 1, 5, 30)]
    # The same wall-clock hour on the second pass (EST) is never offered.
    for slot in (
        Interval(utc(2026, 11, 1, 6), utc(2026, 11, 1, 7)),
        Interval(utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 30)),
    ):
        assert not is_offered(rules=rules, busy=[], session_bookings=[], now=window.start, slot=slot)


# --- is_offered and validation ------------------------------------------------------------------------------


def test_is_offered_examples() -> None:
    rules = rules_for(duration=30, buffer_after=timedelta(minutes=10))
    busy = [Interval(wall(PARIS, 2026, 6, 8, 10, 35), wall(PARIS, 2026, 6, 8, 11))]

    def offered(slot: Interval) -> bool:
        return is_offered(rules=rules, busy=busy, session_bookings=[], now=LONG_AGO, slot=slot)

    assert offered(
        Interval(wall(PARIS, 2026, 6, 8, 9), wall(PARIS, 2026, 6, 8, 9, 30))
    )  # given in Paris time
    assert offered(Interval(utc(2026, 6, 8, 7), utc(2026, 6, 8, 7, 30)))
    assert not offered(Interval(utc(2026, 6, 8, 7), utc(2026, 6, 8, 7, 45)))  # wrong duration
    assert not offered(Interval(utc(2026, 6, 8, 7, 5), utc(2026, 6, 8, 7, 35)))  # off the grid
    assert not offered(
        Interval(wall(PARIS, 2026, 6, 8, 10), wall(PARIS, 2026, 6, 8, 10, 30))
    )  # buffer hits busy
    assert offered(Interval(wall(PARIS, 2026, 6, 8, 11), wall(PARIS, 2026, 6, 8, 11, 30)))
    assert not offered(Interval(wall(PARIS, 2026, 6, 13, 9), wall(PARIS, 2026, 6, 13, 9, 30)))  # Saturday


@pytest.mark.parametrize(
    "build",
    [
        lambda: WeeklyWindow(weekday=7, start=t("09:00"), end=t("10:00")),
        lambda: WeeklyWindow(weekday=0, start=t("10:00"), end=t("10:00")),
        lambda: WeeklyWindow(weekday=0, start=t("22:00"), end=t("02:00")),  # no overnight windows
        lambda: WeeklyWindow(weekday=0, start=time(9, tzinfo=UTC), end=t("10:00")),
        lambda: DateOverride(day=MONDAY, windows=((t("10:00"), t("09:00")),)),
        lambda: rules_for(zone="Europe/Pariss"),
        lambda: rules_for(zone="../etc/passwd"),
        lambda: rules_for(zone=""),
        lambda: rules_for(duration=0),
        lambda: AvailabilityRules(timezone=PARIS, weekly=(), duration=HOUR, slot_interval=timedelta(0)),
        lambda: rules_for(buffer_before=-MINUTE),
        lambda: rules_for(min_notice=-MINUTE),
        lambda: rules_for(max_per_day=-1),
    ],
)
def test_invalid_rules_are_refused(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        build()


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        free_slots(
            rules=rules_for(), busy=[], session_bookings=[], now=datetime(2026, 6, 1), window=week_of(MONDAY)
        )


# --- properties ---------------------------------------------------------------------------------------------

ZONE_NAMES = [PARIS, NEW_YORK, "UTC"]
SHOWN_IN = [UTC, ZoneInfo(PARIS), ZoneInfo(NEW_YORK)]
# The 2026 DST changes, per zone (UTC gets the days of both others).
DST_DAYS = {
    PARIS: [date(2026, 3, 29), date(2026, 10, 25)],
    NEW_YORK: [date(2026, 3, 8), date(2026, 11, 1)],
    "UTC": [date(2026, 3, 8), date(2026, 3, 29), date(2026, 10, 25), date(2026, 11, 1)],
}


def quarter(index: int) -> time:
    return time(index // 4, index % 4 * 15)


@st.composite
def day_windows(draw: st.DrawFn, *, night: bool = False) -> tuple[time, time]:
    """A window on the quarter grid; ``night``: starting 00:00-03:30, around the clock changes."""
    start = draw(st.integers(0, 14) if night else st.one_of(st.integers(0, 94), st.integers(0, 12)))
    low = min(95, start + 2)
    ends = st.integers(low, min(95, start + (20 if night else 40)))
    if night:  # often in or just after the 02:00-03:00 gap (both zones change at 02:00 local)
        ends = st.one_of(ends, st.integers(max(low, 9), max(low, 15)))
    return quarter(start), quarter(draw(ends))


def minutes(low: int, high: int) -> st.SearchStrategy[timedelta]:
    return st.integers(low, high).map(lambda m: m * MINUTE)


def quarters(low: int, high: int) -> st.SearchStrategy[timedelta]:
    return st.integers(low, high).map(lambda q: q * QUARTER)


def spans(low: int, high: int) -> st.SearchStrategy[timedelta]:
    """``low`` to ``high`` quarters: on the quarter grid half of the time, so that bounds often meet."""
    return st.one_of(quarters(low, high), minutes(low * 15, high * 15))


Scenario = tuple[AvailabilityRules, list[Interval], list[Interval], datetime, Interval]


@st.composite
def scenarios(draw: st.DrawFn, *, night: bool = False) -> Scenario:
    """Rules, busy times, bookings, now and a query window, dense enough that most draws offer slots.

    ``night``: only the night of a 2026 DST change in Paris or New York, with windows around 02:00.
    """
    zone = draw(st.sampled_from([PARIS, NEW_YORK] if night else ZONE_NAMES))
    anchor = draw(
        st.sampled_from(DST_DAYS[zone])
        if night
        else st.one_of(st.sampled_from(DST_DAYS[zone]), st.dates(date(2026, 1, 1), date(2026, 12, 31)))
    )
    weekly = [
        WeeklyWindow(weekday=day, start=start, end=end)
        for day in ([anchor.weekday()] if night else range(7))
        for start, end in draw(st.lists(day_windows(night=night), min_size=1, max_size=2))
        if draw(st.sampled_from([True, True, True, False]))  # a day is off one time in four
    ]
    override = st.builds(
        lambda offset, windows: DateOverride(day=anchor + timedelta(days=offset), windows=tuple(windows)),
        st.just(0) if night else st.integers(-2, 4),
        st.lists(day_windows(night=night), max_size=2),
    )
    zero = st.just(timedelta(0))
    rules = AvailabilityRules(
        timezone=zone,
        weekly=tuple(weekly),
        duration=draw(quarters(1, 8)),
        slot_interval=draw(quarters(1, 8)),
        overrides=tuple(draw(st.lists(override, max_size=1 if night else 3))),
        buffer_before=draw(st.one_of(zero, spans(1, 4))),
        buffer_after=draw(st.one_of(zero, spans(1, 4))),
        min_notice=draw(st.one_of(zero, zero, spans(1, 48), spans(1, 3 * 96)) if not night else zero),
        horizon=draw(st.one_of(st.just(timedelta(days=60)), spans(4, 5 * 96))),
        max_per_day=draw(st.sampled_from([None, None, None, 1, 2, 3, 0])),
    )
    # Query windows start around the anchor's night (the changes are at 01:00-07:00 UTC), last up to 4 days.
    tz = ZoneInfo(zone)
    if night:
        start = datetime.combine(anchor, time(), tzinfo=tz).astimezone(UTC) + draw(spans(-4 * 4, 2 * 4))
        window = Interval(start, start + draw(spans(4 * 4, 16 * 4)))
    else:
        start = datetime.combine(anchor, time(), tzinfo=UTC) + draw(spans(-36 * 4, 12 * 4))
        window = Interval(start, start + draw(st.one_of(spans(96, 4 * 96), spans(0, 96))))
    now = start - draw(st.one_of(spans(0, 48), spans(0, 2 * 96), spans(-24, 0)))

    def intervals(
        starts: st.SearchStrategy[datetime], length: st.SearchStrategy[timedelta], most: int
    ) -> list[Interval]:
        items = draw(st.lists(st.tuples(starts, length, st.sampled_from(SHOWN_IN)), max_size=most))
        return [Interval(begin.astimezone(shown), (begin + n).astimezone(shown)) for begin, n, shown in items]

    near_window = st.builds(lambda d: start + d, spans(-40, 4 * 96 + 40))
    # Bookings near local midnights, where the local day and the UTC day differ.
    near_midnight = st.builds(
        lambda days, d: (
            datetime.combine(anchor + timedelta(days=days), time(), tzinfo=tz).astimezone(UTC) + d
        ),
        st.integers(-2, 4),
        spans(-12, 12),
    )
    busy = intervals(near_window, st.one_of(minutes(0, 90), quarters(1, 6)), 4 if night else 12)
    bookings = intervals(st.one_of(near_window, near_midnight), st.just(rules.duration), 4)
    return rules, busy, bookings, now, window


def windows_of(rules: AvailabilityRules, day: date) -> list[tuple[time, time]]:
    if any(o.day == day for o in rules.overrides):
        return [w for o in rules.overrides if o.day == day for w in o.windows]
    return [(w.start, w.end) for w in rules.weekly if w.weekday == day.weekday()]


@cache
def reached(wall_time: datetime, zone: ZoneInfo) -> datetime:
    """First quarter-hour instant at which the local clock shows ``wall_time`` or later (exact here)."""
    instant = datetime.combine(wall_time.date(), time(), tzinfo=UTC) - 16 * HOUR
    while instant.astimezone(zone).replace(tzinfo=None) < wall_time:
        instant += QUARTER
    return instant


def in_a_window(rules: AvailabilityRules, start: datetime) -> bool:
    """``start`` is a first-occurrence grid start of a window of its local day, and the slot fits it."""
    zone = ZoneInfo(rules.timezone)
    local = start.astimezone(zone)
    if local.fold:
        return False
    clock = local.replace(tzinfo=None)
    for begin, end in windows_of(rules, clock.date()):
        begin_at = datetime.combine(clock.date(), begin)
        end_at = datetime.combine(clock.date(), end)
        if (
            begin_at <= clock
            and (clock - begin_at) % rules.slot_interval == timedelta(0)
            and clock + rules.duration <= end_at
            and start + rules.duration <= reached(end_at, zone)
        ):
            return True
    return False


def widened(rules: AvailabilityRules, slot: Interval) -> Interval:
    return Interval(slot.start - rules.buffer_before, slot.end + rules.buffer_after)


def reference(
    rules: AvailabilityRules, busy: list[Interval], bookings: list[Interval], now: datetime, window: Interval
) -> list[Interval]:
    """Brute force: every quarter-hour instant of ``window``, every condition checked naively."""
    zone = ZoneInfo(rules.timezone)
    instant = window.start.astimezone(UTC).replace(second=0, microsecond=0)
    instant -= (instant.minute % 15) * MINUTE
    found = []
    while instant < window.end:
        slot = Interval(instant, instant + rules.duration)
        day = instant.astimezone(zone).date()
        if (
            window.start <= instant
            and now + rules.min_notice <= instant < now + rules.horizon
            and in_a_window(rules, instant)
            and (
                rules.max_per_day is None
                or sum(b.start.astimezone(zone).date() == day for b in bookings) < rules.max_per_day
            )
            and not any(b.overlaps(widened(rules, slot)) for b in busy)
        ):
            found.append(slot)
        instant += QUARTER
    return found


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_free_slots(scenario: Scenario) -> None:
    rules, busy, bookings, now, window = scenario
    slots = free_slots(rules=rules, busy=busy, session_bookings=bookings, now=now, window=window)
    zone = ZoneInfo(rules.timezone)
    for slot in slots:
        assert slot.start.tzinfo is UTC and slot.end - slot.start == rules.duration
        assert not any(b.overlaps(widened(rules, slot)) for b in busy)
        assert in_a_window(rules, slot.start)
        assert window.start <= slot.start < window.end
        assert now + rules.min_notice <= slot.start < now + rules.horizon
    for a, b in pairwise(slots):
        assert a.start < b.start  # sorted and unique
    if rules.max_per_day is not None:
        taken = Counter(b.start.astimezone(zone).date() for b in bookings)
        for slot in slots:
            assert taken[slot.start.astimezone(zone).date()] < rules.max_per_day
    assert slots == reference(rules, busy, bookings, now, window)


@PROPERTY_SETTINGS
@given(scenarios())
def test_free_slots_properties(scenario: Scenario) -> None:
    check_free_slots(scenario)


@settings(PROPERTY_SETTINGS, max_examples=300)
@given(scenarios(night=True))
def test_free_slots_properties_on_dst_nights(scenario: Scenario) -> None:
    check_free_slots(scenario)


@PROPERTY_SETTINGS
@given(st.one_of(scenarios(), scenarios(night=True)), st.data())
def test_is_offered_agrees_with_free_slots(scenario: Scenario, data: st.DataObject) -> None:
    rules, busy, bookings, now, window = scenario
    slots = free_slots(rules=rules, busy=busy, session_bookings=bookings, now=now, window=window)

    def offered(slot: Interval) -> bool:
        return is_offered(rules=rules, busy=busy, session_bookings=bookings, now=now, slot=slot)

    for slot in slots[:: max(1, len(slots) // 5)]:
        assert offered(slot)
        assert offered(slot.astimezone(ZoneInfo(rules.timezone)))
        assert not offered(Interval(slot.start, slot.end + MINUTE))
    # Random candidates starting inside the window, mostly on the quarter grid (where slots live), some not.
    grid = window.start.replace(second=0, microsecond=0) - window.start.minute % 15 * MINUTE
    length = int((window.end - grid) / MINUTE)
    for _ in range(6):
        start = grid + data.draw(st.one_of(quarters(0, length // 15), minutes(0, length)))
        if window.start <= start < window.end:
            candidate = Interval(start, start + rules.duration)
            assert offered(candidate) == (candidate in slots)


def test_two_hundred_thousand_busy_intervals_over_four_weeks() -> None:
    """Must finish in a few seconds (sort once + bisect); the result is checked, the time is not asserted."""
    zone = ZoneInfo(PARIS)
    rules = AvailabilityRules(
        timezone=PARIS,
        weekly=every(range(7), "08:00", "20:00"),
        duration=30 * MINUTE,
        slot_interval=30 * MINUTE,
        horizon=40 * DAY,
    )
    days = [date(2026, 3, 9) + n * DAY for n in range(28)]  # includes Paris's spring-forward Sunday
    lunches = [
        (
            datetime.combine(d, t("12:00"), tzinfo=zone).astimezone(UTC),
            datetime.combine(d, t("14:00"), tzinfo=zone),
        )
        for d in days
    ]
    rng = random.Random(20260309)
    busy = [Interval(start, end) for start, end in lunches]  # each lunch fully covered once ...
    while len(busy) < 200_000:  # ... and by many overlapping pieces, shown in several zones
        start, _ = lunches[rng.randrange(len(lunches))]
        begin = start + rng.randrange(0, 120) * MINUTE
        piece = Interval(begin, min(begin + rng.randrange(0, 30) * MINUTE, start + 2 * HOUR))
        busy.append(piece.astimezone(rng.choice(SHOWN_IN)))
    rng.shuffle(busy)
    window = Interval(
        datetime.combine(days[0], time(), tzinfo=zone), datetime.combine(days[-1] + DAY, time(), tzinfo=zone)
    )
    now = utc(2026, 3, 1)

    slots = free_slots(rules=rules, busy=busy, session_bookings=[], now=now, window=window)

    expected = [
        datetime.combine(d, quarter(q), tzinfo=zone).astimezone(UTC)
        for d in days
        for q in range(32, 80, 2)
        if not 46 < q < 56  # 12:00, 12:30, 13:00 and 13:30 overlap lunch
    ]
    assert [s.start for s in slots] == expected
    assert len(slots) == 28 * 20
    lunch = Interval(lunches[3][0], lunches[3][0] + 30 * MINUTE)
    assert not is_offered(rules=rules, busy=busy, session_bookings=[], now=now, slot=lunch)
    assert is_offered(rules=rules, busy=busy, session_bookings=[], now=now, slot=slots[100])
