"""Half-open time intervals ``[start, end)`` over timezone-aware datetimes, and their algebra.

Bounds keep the zone they were given in, but every comparison here is made on the instants they denote (in
UTC). Python compares two datetimes that share a ``tzinfo`` by wall-clock time, ignoring ``fold``: in New York
on the night clocks fall back, 01:30 EDT would compare *after* 01:10 EST although it is 40 minutes earlier.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)


@dataclass(frozen=True, slots=True, eq=False)
class Interval:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Interval bounds must be timezone-aware")
        if _utc(self.end) < _utc(self.start):
            raise ValueError(f"Interval ends before it starts: {self.start} > {self.end}")

    def _key(self) -> tuple[datetime, datetime]:
        return _utc(self.start), _utc(self.end)

    # Equality and order compare instants (see the module docstring), first by start, then by end.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interval) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: Interval) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Interval) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Interval) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Interval) -> bool:
        return self._key() >= other._key()

    def overlaps(self, other: Interval) -> bool:
        """Whether the two share at least one instant (an empty interval overlaps nothing)."""
        return max(_utc(self.start), _utc(other.start)) < min(_utc(self.end), _utc(other.end))

    def astimezone(self, tz: tzinfo) -> Interval:
        return Interval(self.start.astimezone(tz), self.end.astimezone(tz))


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of ``intervals``; touching intervals are joined, empty ones dropped."""
    merged: list[Interval] = []
    for iv in sorted(i for i in intervals if _utc(i.end) > _utc(i.start)):
        if merged and _utc(iv.start) <= _utc(merged[-1].end):
            last = merged[-1]
            if _utc(iv.end) > _utc(last.end):
                merged[-1] = Interval(last.start, iv.end)
        else:
            merged.append(iv)
    return merged


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """The parts of ``intervals`` that lie inside ``window`` (empty parts dropped)."""
    out: list[Interval] = []
    for iv in intervals:
        start = max(iv.start, window.start, key=_utc)
        end = min(iv.end, window.end, key=_utc)
        if _utc(end) > _utc(start):
            out.append(Interval(start, end))
    return out


def subtract(base: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """``base`` minus ``holes``, both taken as unions; the result is merged and sorted."""
    result: list[Interval] = []
    cut = merge(holes)
    for iv in merge(base):
        start = iv.start
        for hole in cut:
            if _utc(hole.end) <= _utc(start) or _utc(hole.start) >= _utc(iv.end):
                continue
            if _utc(hole.start) > _utc(start):
                result.append(Interval(start, hole.start))
            start = max(start, hole.end, key=_utc)
            if _utc(start) >= _utc(iv.end):
                break
        if _utc(start) < _utc(iv.end):
            result.append(Interval(start, iv.end))
    return result
