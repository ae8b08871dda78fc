"""Pure time-zone helpers: local wall-clock times to UTC instants, the RFC 5545 way.

Python's own rules for a wall time that does not exist (a DST gap) or exists twice (a DST fold) depend on the
``tzinfo`` implementation: :mod:`zoneinfo` follows PEP 495 (``fold=0`` is the first of two, and a gap time
is read with the offset from before the gap), ``dateutil`` zones built from a VTIMEZONE do something else.
RFC 5545 §3.3.5 says exactly what calendars mean, so we implement that once, for any ``tzinfo``:

- a wall time that occurs twice means the **first** one (``TZID=America/New_York:20071104T013000`` is 01:30
  EDT, 05:30 UTC);
- a wall time inside a gap is read **with the offset from before the gap**, which puts it after the gap
  (``TZID=America/New_York:20070311T023000`` is 03:30 EDT, 07:30 UTC).

Nothing here imports creneau.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

__all__ = [
    "MAX_ZONE_NAME",
    "Transition",
    "TransitionZone",
    "is_utc",
    "local_midnight_to_utc",
    "offset_at",
    "to_utc",
    "zone_named",
]

# The longest IANA name has 32 characters ("America/Argentina/ComodRivadavia"); longer ones are none.
MAX_ZONE_NAME = 64

_DAY = timedelta(days=1)
_UTC_KEYS = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"})


def is_utc(tz: tzinfo | None) -> bool:
    """Whether ``tz`` is UTC (any implementation: ``datetime.UTC``, ``ZoneInfo("UTC")``, ``Etc/UTC``...)."""
    if tz is None:
        return False
    if tz is UTC:
        return True
    if isinstance(tz, ZoneInfo):
        return tz.key in _UTC_KEYS
    return isinstance(tz, timezone) and tz.utcoffset(None) == timedelta(0)


@lru_cache(maxsize=1)
def _zone_keys() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_named(name: object) -> ZoneInfo:
    """The IANA zone called ``name``: the one way creneau reads a zone name that came from outside.

    ``ZoneInfo(name)`` alone opens files: ``"Europe"`` or ``"__pycache__"`` (folders of the zone database)
    raise ``IsADirectoryError``, a 300-character name ``OSError``, a NUL ``ValueError``. Only the keys of the
    installed database are accepted, so none of these reaches the file system.

    :raises ValueError: when ``name`` is not a time-zone key (folders, paths, too long, not text).
    """
    if not isinstance(name, str) or not 0 < len(name) <= MAX_ZONE_NAME or name not in _zone_keys():
        raise ValueError(f"not an IANA time-zone name: {str(name)[:80]!r}")
    return ZoneInfo(name)


def offset_at(instant: datetime, tz: tzinfo) -> timedelta:
    """The UTC offset ``tz`` has at the UTC instant ``instant`` (naive UTC or aware)."""
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    local = tz.fromutc(instant.replace(tzinfo=tz))
    offset = local.utcoffset()
    assert offset is not None  # fromutc of a real zone always yields an offset
    return offset


def to_utc(wall: datetime, tz: tzinfo) -> datetime:
    """The aware UTC instant that the local wall-clock time ``wall`` in ``tz`` denotes, per RFC 5545 §3.3.5.

    ``wall`` is naive (any ``tzinfo`` or ``fold`` it carries is ignored). The result never raises for times in
    a DST gap or fold: see the module docstring for which instant is chosen.
    """
    wall = wall.replace(tzinfo=None, fold=0)
    if is_utc(tz):
        return wall.replace(tzinfo=UTC)
    if isinstance(tz, ZoneInfo | timezone | TransitionZone):
        # PEP 495 with fold=0 is exactly RFC 5545: first of two, offset before a gap.
        return wall.replace(tzinfo=tz).astimezone(UTC)
    return _generic_to_utc(wall, tz)


def _generic_to_utc(wall: datetime, tz: tzinfo) -> datetime:
    """RFC 5545 resolution for any ``tzinfo`` that implements ``fromutc`` correctly (dateutil's do)."""
    offsets: set[timedelta] = set()
    for fold in (0, 1):
        offset = wall.replace(tzinfo=tz, fold=fold).utcoffset()
        if offset is not None:
            offsets.add(offset)
    # The offsets in effect a day before and after bracket any DST change near ``wall``.
    offsets.add(offset_at(wall - _DAY, tz))
    offsets.add(offset_at(wall + _DAY, tz))
    candidates = sorted(wall - offset for offset in offsets)  # naive UTC instants
    for instant in candidates:  # earliest first: a repeated wall time means its first occurrence
        if instant + offset_at(instant, tz) == wall:
            return instant.replace(tzinfo=UTC)
    # A gap: read ``wall`` with the offset in effect before the gap, i.e. at the earliest candidate.
    return (wall - offset_at(candidates[0], tz)).replace(tzinfo=UTC)


def local_midnight_to_utc(day: date, tz: tzinfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``tz``.

    Where midnight does not exist (zones that change at 00:00, e.g. America/Santiago), the day begins at the
    end of the gap, which is what :func:`to_utc` yields.
    """
    return to_utc(datetime.combine(day, time()), tz)


@dataclass(frozen=True, slots=True)
class Transition:
    """From the naive UTC instant ``at`` on, the zone is ``offset`` ahead of UTC (``dst`` of it is daylight
    saving), and its abbreviation is ``name``."""

    at: datetime
    offset: timedelta
    dst: timedelta = timedelta(0)
    name: str = ""


class TransitionZone(tzinfo):
    """A zone given by its list of offset changes, e.g. the one a VTIMEZONE describes.

    It follows PEP 495 like :class:`zoneinfo.ZoneInfo` (``fold=0``: the first of two wall times, and the
    offset from before a gap), so :func:`to_utc` reads it the RFC 5545 way, and finds offsets by binary search
    (dateutil's VTIMEZONE zones replay every yearly rule from 1601 on each lookup, 1,000 times slower).
    """

    def __init__(self, key: str, initial: timedelta, transitions: Iterable[Transition]) -> None:
        self.key = key
        self._initial = Transition(datetime.min, initial)  # noqa: DTZ901 - transitions are naive UTC
        changes = sorted(transitions, key=lambda t: t.at)
        self._transitions = changes
        self._utc = [t.at for t in changes]
        before = [self._initial.offset, *(t.offset for t in changes)][: len(changes)]
        # The wall time at which each change happens, for fold=0 and fold=1 (as zoneinfo does it): in a gap,
        # fold=0 keeps the old offset up to the end of the gap; in a fold, fold=0 keeps it to the fold's end.
        self._wall = (
            [t.at + max(b, t.offset) for t, b in zip(changes, before, strict=True)],
            [t.at + min(b, t.offset) for t, b in zip(changes, before, strict=True)],
        )
        self._before = before

    def _at_wall(self, dt: datetime) -> Transition:
        index = bisect_right(self._wall[dt.fold], dt.replace(tzinfo=None)) - 1
        return self._transitions[index] if index >= 0 else self._initial

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None if dt is None else self._at_wall(dt).offset

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None if dt is None else self._at_wall(dt).dst

    def tzname(self, dt: datetime | None) -> str | None:
        return self.key if dt is None else (self._at_wall(dt).name or self.key)

    def fromutc(self, dt: datetime) -> datetime:
        if dt.tzinfo is not self:
            raise ValueError("fromutc: dt.tzinfo is not self")
        instant = dt.replace(tzinfo=None)
        index = bisect_right(self._utc, instant) - 1
        change = self._transitions[index] if index >= 0 else self._initial
        local = instant + change.offset
        # Just after a backward change, a wall time repeats one that already happened: the second (fold=1).
        second = (
            index >= 0 and self._before[index] > change.offset and local < change.at + self._before[index]
        )
        return local.replace(tzinfo=self, fold=1 if second else 0)

    def __repr__(self) -> str:
        return f"TransitionZone({self.key!r}, {len(self._transitions)} changes)"
