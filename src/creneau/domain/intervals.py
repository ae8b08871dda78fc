"""Half-open time intervals ``[start, end)`` over timezone-aware datetimes, and their algebra."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo


@dataclass(frozen=True, order=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Interval bounds must be timezone-aware")
        if self.end < self.start:
            raise ValueError(f"Interval ends before it starts: {self.start} > {self.end}")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def astimezone(self, tz: tzinfo) -> Interval:
        return Interval(self.start.astimezone(tz), self.end.astimezone(tz))


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of ``intervals``; touching intervals are joined, empty ones dropped."""
    merged: list[Interval] = []
    for iv in sorted(i for i in intervals if i.end > i.start):
        if merged and iv.start <= merged[-1].end:
            last = merged[-1]
            if iv.end > last.end:
                merged[-1] = Interval(last.start, iv.end)
        else:
            merged.append(iv)
    return merged


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """The parts of ``intervals`` that lie inside ``window`` (empty parts dropped)."""
    out: list[Interval] = []
    for iv in intervals:
        start, end = max(iv.start, window.start), min(iv.end, window.end)
        if end > start:
            out.append(Interval(start, end))
    return out


def subtract(base: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """``base`` minus ``holes``, both taken as unions; the result is merged and sorted."""
    result: list[Interval] = []
    cut = merge(holes)
    for iv in merge(base):
        start = iv.start
        for hole in cut:
            if hole.end <= start or hole.start >= iv.end:
                continue
            if hole.start > start:
                result.append(Interval(start, hole.start))
            start = max(start, hole.end)
            if start >= iv.end:
                break
        if start < iv.end:
            result.append(Interval(start, iv.end))
    return result
