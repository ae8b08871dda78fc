"""Time-zone choices for forms: every IANA ``Area/City`` zone, sorted, computed once."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

_AREAS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return tuple([*sorted(z for z in available_timezones() if z.split("/", 1)[0] in _AREAS), "UTC"])


def common_timezones(current: str | None = None) -> list[str]:
    """The zones a form offers; ``current`` is kept first-class even when it is not an ``Area/City`` name."""
    zones = list(_zones())
    if current and current not in zones:
        zones.insert(0, current)
    return zones
