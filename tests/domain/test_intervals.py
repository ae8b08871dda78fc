"""Property tests for the interval algebra (``merge``, ``clip``, ``subtract``).

Intervals are drawn on a minute grid around the night New York falls back from EDT to EST (2024-11-03, 06:00
UTC), and each bound is shown in one of several zones, so that the same wall-clock time can mean two instants.
The reference for "which instants are covered" is a brute-force set of minutes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creneau.domain.intervals import Interval, clip, merge, subtract

ORIGIN = datetime(2024, 11, 3, 4, 0, tzinfo=UTC)  # 00:00 EDT; the fold is 05:00-07:00 UTC
SPAN = 240  # minutes
ZONES = [UTC, ZoneInfo("America/New_York"), ZoneInfo("Europe/Paris"), ZoneInfo("Australia/Lord_Howe")]


def at(minute: int, zone_index: int = 0) -> datetime:
    return (ORIGIN + timedelta(minutes=minute)).astimezone(ZONES[zone_index])


@st.composite
def intervals(draw: st.DrawFn, *, same_zone: bool = False) -> Interval:
    start = draw(st.integers(0, SPAN))
    length = draw(st.integers(0, 90))
    zone = draw(st.integers(0, len(ZONES) - 1))
    end_zone = zone if same_zone else draw(st.integers(0, len(ZONES) - 1))
    return Interval(at(start, zone), at(min(start + length, SPAN + 90), end_zone))


interval_lists = st.lists(intervals(), max_size=12)
local_lists = st.lists(intervals(same_zone=True), max_size=12)


def minute(instant: datetime) -> int:
    return int((instant - ORIGIN) / timedelta(minutes=1))


def covered(items: Iterable[Interval]) -> set[int]:
    """The minutes ``[m, m+1)`` that the union of ``items`` covers (bounds are whole minutes)."""
    return {m for iv in items for m in range(minute(iv.start), minute(iv.end))}


def utc(iv: Interval) -> tuple[datetime, datetime]:
    return iv.start.astimezone(UTC), iv.end.astimezone(UTC)


def assert_normal(result: list[Interval]) -> None:
    """Sorted in real time, every interval non-empty, no two touching or overlapping."""
    for iv in result:
        assert utc(iv)[0] < utc(iv)[1]
    for a, b in pairwise(result):
        assert utc(a)[1] < utc(b)[0]


@settings(max_examples=300)
@given(interval_lists)
def test_merge_preserves_union_and_normalises(items: list[Interval]) -> None:
    result = merge(items)
    assert covered(result) == covered(items)
    assert_normal(result)


@settings(max_examples=300)
@given(local_lists)
def test_merge_in_one_local_zone_across_the_fold(items: list[Interval]) -> None:
    result = merge(items)
    assert covered(result) == covered(items)
    assert_normal(result)


@given(interval_lists, st.randoms(use_true_random=False))
def test_merge_is_idempotent_and_order_blind(items: list[Interval], rnd: object) -> None:
    once = merge(items)
    assert [utc(iv) for iv in merge(once)] == [utc(iv) for iv in once]
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert [utc(iv) for iv in merge(shuffled)] == [utc(iv) for iv in once]


@settings(max_examples=300)
@given(interval_lists, intervals())
def test_clip_keeps_exactly_what_is_inside_the_window(items: list[Interval], window: Interval) -> None:
    result = clip(items, window)
    assert covered(result) == covered(items) & covered([window])
    for iv in result:
        assert utc(window)[0] <= utc(iv)[0] < utc(iv)[1] <= utc(window)[1]
    assert covered(clip(result, window)) == covered(result)


@settings(max_examples=300)
@given(interval_lists, interval_lists)
def test_subtract_removes_holes_and_stays_inside_base(base: list[Interval], holes: list[Interval]) -> None:
    result = subtract(base, holes)
    assert covered(result) == covered(base) - covered(holes)
    assert_normal(result)
    for iv in result:
        assert not any(iv.overlaps(hole) for hole in holes)
        assert any(utc(b)[0] <= utc(iv)[0] and utc(iv)[1] <= utc(b)[1] for b in merge(base))


@given(interval_lists)
def test_subtract_nothing_is_merge_and_subtract_itself_is_empty(items: list[Interval]) -> None:
    assert [utc(iv) for iv in subtract(items, [])] == [utc(iv) for iv in merge(items)]
    assert subtract(items, items) == []


def test_an_interval_inside_the_fold_shown_in_local_time() -> None:
    """05:30-06:10 UTC is 01:30 EDT - 01:10 EST: the end's wall time is earlier, the interval is not."""
    iv = Interval(at(90), at(130)).astimezone(ZoneInfo("America/New_York"))
    assert iv.start.strftime("%H:%M %Z") == "01:30 EDT"
    assert iv.end.strftime("%H:%M %Z") == "01:10 EST"
    assert merge([iv]) == [iv]
    assert Interval(at(0), at(60)) < iv


def test_bounds_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValueError, match="aware"):
        Interval(datetime(2024, 1, 1), datetime(2024, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="ends before"):
        Interval(at(10), at(5))


@given(intervals(), intervals())
def test_overlaps_means_sharing_an_instant(a: Interval, b: Interval) -> None:
    assert a.overlaps(b) == bool(covered([a]) & covered([b])) == b.overlaps(a)
