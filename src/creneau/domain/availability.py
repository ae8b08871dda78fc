"""Which slots a booking page may offer: availability rules + what is busy → free slots, in UTC.

Pure: standard library, :mod:`zoneinfo` and ``creneau.domain`` only. Nothing here knows about sessions,
databases or calendars; the caller gathers the data and passes it in.

Vocabulary
----------
``rules``
    An :class:`AvailabilityRules`: weekly wall-clock windows in ``rules.timezone`` (an IANA name), date
    overrides, the slot ``duration`` and the ``slot_interval`` between candidate starts, buffers, minimum
    notice, booking horizon, and an optional per-day limit.
``busy``
    Everything that blocks the researcher: their synced busy times AND their existing bookings in *every*
    session, each booking already widened by its own session's buffers by the caller. Unsorted, overlapping,
    possibly huge (200,000 intervals): it is filtered to the useful range, sorted and merged once, then each
    candidate is tested with a binary search, so a call costs O(n log n + m log n), never O(n × m).
``session_bookings``
    The bookings of *this* session only, used for ``max_per_day`` (not for conflicts: they are in ``busy``).

A candidate slot ``[s, s + duration)`` is offered when all of these hold:

1. it lies inside one availability window of its local day (see "Windows and candidates");
2. widened to ``[s - buffer_before, s + duration + buffer_after)`` it overlaps nothing in ``busy``
   (intervals are half-open: a busy time that ends exactly when the slot starts does not block it, unless a
   buffer widens the slot over it);
3. ``s >= now + min_notice`` and ``s < now + horizon``;
4. when ``max_per_day`` is set, fewer than ``max_per_day`` of ``session_bookings`` *start* on the local day
   (in ``rules.timezone``) of ``s``.

Windows and candidates
----------------------
The windows of a local date are the union of the :class:`DateOverride` windows given for that date if there
is at least one override for it (an override with no windows is a day off; an override on a normally-off
weekday adds an extra day), otherwise the :class:`WeeklyWindow` entries of its weekday. Windows are used one
by one, as given: two adjacent windows ``09:00-10:00`` and ``10:00-11:00`` do not make room for a 90-minute
slot, and each window has its own grid of starts.

For each window, candidate starts are ``start``, ``start + slot_interval``, ... while ``start + duration <=
end``, computed in LOCAL wall-clock time, then converted to UTC. Daylight-saving choices:

- a local start that does not exist (spring-forward gap) is skipped;
- a local start that exists twice (fall-back fold) means its FIRST occurrence only (``fold=0``, RFC 5545
  §3.3.5); the repeated hour gets no starts of its own;
- the duration is real elapsed time: the slot is ``[start_utc, start_utc + duration)``, and it must also end
  no later than the window's end instant, which is the first instant at which the local clock reaches the
  window's end: the first occurrence of an ambiguous end, and the moment the clocks jump for an end inside a
  gap (a window "until 02:30" on a night when clocks jump from 02:00 to 03:00 ends at the jump, not at 03:30).

Every comparison is made on instants (see :mod:`creneau.domain.intervals`); results are UTC-aware.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from creneau.domain.intervals import Interval
from creneau.domain.timezones import to_utc

__all__ = ["AvailabilityRules", "DateOverride", "WeeklyWindow", "free_slots", "is_offered", "zone_of"]

_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


def _check_window(start: time, end: time, what: str) -> None:
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError(f"{what}: window times are wall-clock times and must be naive, got {start}-{end}")
    if end <= start:
        raise ValueError(f"{what}: a window must end after it starts on the same day, got {start}-{end}")


@dataclass(frozen=True)
class WeeklyWindow:
    """A recurring window in the rules' time zone, wall-clock: ``weekday`` 0 = Monday ... 6 = Sunday.

    :raises ValueError: when ``weekday`` is not 0-6 or ``end`` is not after ``start`` (no overnight windows).
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        _check_window(self.start, self.end, "weekly window")


@dataclass(frozen=True)
class DateOverride:
    """A date exception: ``windows=()`` is a day off; otherwise they REPLACE that date's weekly windows.

    :raises ValueError: when a window does not end after it starts.
    """

    day: date
    windows: tuple[tuple[time, time], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple((start, end) for start, end in self.windows))
        for start, end in self.windows:
            _check_window(start, end, f"override of {self.day}")


@dataclass(frozen=True)
class AvailabilityRules:
    """When a session can be booked; see the module docstring for the exact meaning of each field.

    :raises ValueError: on an unknown time zone, a non-positive ``duration`` or ``slot_interval``, a negative
        buffer, notice or horizon, or a negative ``max_per_day``.
    """

    timezone: str
    weekly: tuple[WeeklyWindow, ...]
    duration: timedelta
    slot_interval: timedelta
    overrides: tuple[DateOverride, ...] = ()
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    min_notice: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=60)
    max_per_day: int | None = None

    def __post_init__(self) -> None:
        zone_of(self)  # validates the name
        object.__setattr__(self, "weekly", tuple(self.weekly))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        if self.duration <= timedelta(0):
            raise ValueError(f"duration must be positive, got {self.duration}")
        if self.slot_interval <= timedelta(0):
            raise ValueError(f"slot_interval must be positive, got {self.slot_interval}")
        for name in ("buffer_before", "buffer_after", "min_notice", "horizon"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.max_per_day is not None and self.max_per_day < 0:
            raise ValueError(f"max_per_day must not be negative, got {self.max_per_day}")


def zone_of(rules: AvailabilityRules) -> ZoneInfo:
    """The :class:`~zoneinfo.ZoneInfo` of ``rules.timezone``.

    :raises ValueError: when it is not a known IANA time-zone name.
    """
    try:
        return ZoneInfo(rules.timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {rules.timezone!r} (expected an IANA name)") from exc


def free_slots(
    *,
    rules: AvailabilityRules,
    busy: Sequence[Interval],
    session_bookings: Sequence[Interval],
    now: datetime,
    window: Interval,
) -> list[Interval]:
    """Offered slots whose START lies in ``window`` (half-open), sorted, unique, in UTC.

    :raises ValueError: when ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    first = max(window.start.astimezone(UTC), now + rules.min_notice)  # earliest allowed start
    last = min(window.end.astimezone(UTC), now + rules.horizon)  # every start is before this
    if first >= last:
        return []
    tz = zone_of(rules)
    blocked = _Blocked(busy, first - rules.buffer_before, last + rules.duration + rules.buffer_after)
    per_day = _starts_per_day(session_bookings, tz) if rules.max_per_day is not None else Counter[date]()
    found: set[datetime] = set()
    for day, start in _candidates(rules, tz, first, last):
        if rules.max_per_day is not None and per_day[day] >= rules.max_per_day:
            continue
        if not blocked.overlaps(start - rules.buffer_before, start + rules.duration + rules.buffer_after):
            found.add(start)
    return [Interval(start, start + rules.duration) for start in sorted(found)]


def is_offered(
    *,
    rules: AvailabilityRules,
    busy: Sequence[Interval],
    session_bookings: Sequence[Interval],
    now: datetime,
    slot: Interval,
) -> bool:
    """True exactly when ``slot`` is among :func:`free_slots` for any window containing its start.

    Meant for the booking transaction, which re-checks one slot: it costs one pass over ``busy`` (no sort).
    ``slot`` may be given in any zone; it is compared by instants.
    """
    start = slot.start.astimezone(UTC)
    if slot.end.astimezone(UTC) - start != rules.duration:
        return False
    offered = free_slots(
        rules=rules,
        busy=busy,
        session_bookings=session_bookings,
        now=now,
        window=Interval(start, start + _TICK),
    )
    return slot in offered


class _Blocked:
    """The merged union of the busy intervals that reach ``[low, high)``, queried by binary search."""

    def __init__(self, busy: Sequence[Interval], low: datetime, high: datetime) -> None:
        spans: list[tuple[datetime, datetime]] = []
        for iv in busy:
            start, end = iv.start.astimezone(UTC), iv.end.astimezone(UTC)
            if start < end and end > low and start < high:  # empty ones block nothing
                spans.append((start, end))
        spans.sort()
        self._starts: list[datetime] = []
        self._ends: list[datetime] = []
        for start, end in spans:
            if self._ends and start <= self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], end)
            else:
                self._starts.append(start)
                self._ends.append(end)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether ``[start, end)`` (UTC) shares an instant with a busy interval."""
        index = bisect_right(self._ends, start)  # the first busy interval that ends after ``start``
        return index < len(self._starts) and self._starts[index] < end


def _starts_per_day(bookings: Sequence[Interval], tz: ZoneInfo) -> Counter[date]:
    return Counter(booking.start.astimezone(tz).date() for booking in bookings)


def _windows_by_day(rules: AvailabilityRules) -> dict[date, list[tuple[time, time]]]:
    by_day: dict[date, list[tuple[time, time]]] = {}
    for override in rules.overrides:
        by_day.setdefault(override.day, []).extend(override.windows)
    return by_day


def _candidates(
    rules: AvailabilityRules, tz: ZoneInfo, first: datetime, last: datetime
) -> Iterator[tuple[date, datetime]]:
    """``(local day, UTC start)`` of each grid start inside a window of its day, ``first <= start < last``."""
    overrides = _windows_by_day(rules)
    day = first.astimezone(tz).date()
    final = last.astimezone(tz).date()
    while day <= final:
        windows = overrides.get(day)
        if windows is None:
            windows = [(w.start, w.end) for w in rules.weekly if w.weekday == day.weekday()]
        for start, end in windows:
            for instant in _window_starts(rules, tz, day, start, end):
                if first <= instant < last:
                    yield day, instant
        day += _DAY


def _window_starts(
    rules: AvailabilityRules, tz: ZoneInfo, day: date, start: time, end: time
) -> Iterator[datetime]:
    """The UTC starts of the slots that fit in one window of ``day`` (DST rules: see the module docstring)."""
    wall = datetime.combine(day, start).replace(fold=0)
    wall_end = datetime.combine(day, end).replace(fold=0)
    end_instant = _reached(wall_end, tz)
    while wall + rules.duration <= wall_end:
        instant = to_utc(wall, tz)  # an ambiguous wall time gives its first occurrence
        exists = _wall(instant, tz) == wall
        if exists and instant + rules.duration <= end_instant:
            yield instant
        wall += rules.slot_interval


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock time in ``tz`` at ``instant``."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def _reached(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the local clock in ``tz`` shows ``wall`` or later."""
    instant = to_utc(wall, tz)
    if _wall(instant, tz) == wall:
        return instant  # the time exists; if it exists twice, ``to_utc`` gave the first occurrence
    # ``wall`` is in a gap: ``to_utc`` read it with the offset from before the gap, which lands after the
    # jump. The jump lies within a day before that (no zone skips more); transitions fall on whole seconds.
    low = int((instant - _DAY).timestamp())  # the clock shows less than ``wall`` here
    high = int(instant.timestamp())  # and at least ``wall`` here
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), tz) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
