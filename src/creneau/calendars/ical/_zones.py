"""Time-zone identifiers as calendar clients write them, and the zones they mean.

We resolve every TZID ourselves instead of trusting icalendar's resolution, because icalendar caches the
zone built from a VTIMEZONE *per TZID string, process-wide* (see ``_vtimezone``). Here a VTIMEZONE is only
ever used for the object that carries it (built zones are cached by their exact text, which is safe).

Order, for a TZID found in an object:

1. an IANA name (``Europe/Paris``, also ``UTC``/``GMT``; case-insensitive),
2. a Windows name (``W. Europe Standard Time``; CLDR's mapping shipped by icalendar),
3. the object's own VTIMEZONE with that TZID (``Customized Time Zone``, ``/mozilla.org/.../Europe/Paris``),
4. guesses: an IANA name at the end of a vendor path (``/mozilla.org/20050126_1/Europe/Paris``), an
   Outlook display name (``(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna``),
5. otherwise unknown: the caller treats the time as floating.

IANA and Windows names win over the object's VTIMEZONE because the tz database also knows past and future
rule changes, which VTIMEZONEs (often cut down to the current rule) do not.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from creneau.calendars.ical._vtimezone import zone_from_vtimezone

__all__ = ["ObjectZones", "resolve_tzid"]

# Keys that zoneinfo lists but that are not zones a calendar could mean.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_AREAS = (
    "Europe/",
    "America/",
    "Asia/",
    "Africa/",
    "Australia/",
    "Pacific/",
    "Atlantic/",
    "Indian/",
    "Antarctica/",
)

_WINDOWS = {name.casefold(): olson for name, olson in WINDOWS_TO_OLSON.items()}

# Outlook display names without a city that names an IANA zone: "(UTC-05:00) Eastern Time (US & Canada)".
_DISPLAY_NAMES = {
    "coordinated universal time": "UTC",
    "greenwich mean time": "Etc/GMT",
    "eastern time (us & canada)": "America/New_York",
    "central time (us & canada)": "America/Chicago",
    "mountain time (us & canada)": "America/Denver",
    "pacific time (us & canada)": "America/Los_Angeles",
    "alaska": "America/Anchorage",
    "hawaii": "Pacific/Honolulu",
    "arizona": "America/Phoenix",
    "atlantic time (canada)": "America/Halifax",
    "newfoundland": "America/St_Johns",
    "saskatchewan": "America/Regina",
    "indiana (east)": "America/Indiana/Indianapolis",
    "central america": "America/Guatemala",
    "brasilia": "America/Sao_Paulo",
    "greenland": "America/Nuuk",
}
_DISPLAY = re.compile(
    r"^\(\s*(?:UTC|GMT)\s*(?:([+-])\s*(\d{1,2})(?::?(\d{2}))?)?\s*\)\s*(.*)$", re.IGNORECASE
)


@functools.cache
def _iana_index() -> tuple[dict[str, str], dict[str, str]]:
    """(casefolded full name → name, casefolded city → name in a continental area), built once."""
    names = sorted(zoneinfo.available_timezones() - _NOT_ZONES)
    full = {name.casefold(): name for name in names}
    cities: dict[str, str] = {}
    for name in names:
        if name.startswith(_AREAS):
            cities.setdefault(name.rsplit("/", 1)[1].casefold(), name)
    return full, cities


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError; "Europe" is a directory
        return None


def _iana(name: str) -> ZoneInfo | None:
    """``name`` if it is an IANA zone name, compared without case."""
    canonical = _iana_index()[0].get(name.casefold())
    return _zone(canonical) if canonical else None


@functools.lru_cache(maxsize=1024)
def _exact(name: str) -> ZoneInfo | None:
    """Steps 1 and 2: an IANA or a Windows name."""
    name = name.strip()
    found = _iana(name)
    if found is None and name.casefold() in _WINDOWS:
        found = _zone(_WINDOWS[name.casefold()])
    return found


def _offsets(zone: tzinfo) -> set[timedelta]:
    """The offsets ``zone`` has in January and in July of a recent year (standard and daylight time)."""
    offsets = set()
    for month in (1, 7):
        offset = datetime(2025, month, 1, tzinfo=zone).utcoffset()
        if offset is not None:
            offsets.add(offset)
    return offsets


def _display_name(name: str) -> ZoneInfo | None:
    """An Outlook display name: "(UTC+01:00) Brussels, Copenhagen, Madrid, Paris"."""
    match = _DISPLAY.match(name)
    if not match:
        return None
    sign, hours, minutes, rest = match.groups()
    offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0)) * (-1 if sign == "-" else 1)
    rest = rest.strip()
    if not rest or rest.casefold() in _DISPLAY_NAMES:
        return _zone(_DISPLAY_NAMES.get(rest.casefold(), "UTC"))
    cities = _iana_index()[1]
    for part in re.split(r"[,;/]| - ", rest):
        city = re.sub(r"\s*\(.*?\)\s*", "", part).strip().replace(" ", "_").casefold()
        candidate = _zone(cities[city]) if city in cities else None
        if candidate is not None and offset in _offsets(candidate):
            return candidate
    return None


@functools.lru_cache(maxsize=1024)
def _guess(name: str) -> ZoneInfo | None:
    """Step 4: an IANA name ending a vendor path, or an Outlook display name."""
    name = name.strip()
    parts = [part for part in name.split("/") if part]
    for start in range(1, len(parts)):  # longest suffix first: America/Argentina/Buenos_Aires
        found = _iana("/".join(parts[start:]))
        if found is not None and "/" in found.key:
            return found
    return _display_name(name)


def resolve_tzid(name: str) -> ZoneInfo | None:
    """The IANA zone a TZID (or a calendar's time-zone setting) names, or ``None`` if we cannot tell.

    Understands IANA names (any case), Windows names (``W. Europe Standard Time``), IANA names at the end of a
    vendor path (``/mozilla.org/20050126_1/Europe/Paris``) and, as a best effort, Outlook display names
    (``(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna``; a city must name an IANA zone with
    that offset in winter or summer). Never raises.
    """
    if not isinstance(name, str):
        return None
    return _exact(name) or _guess(name)


class ObjectZones:
    """Resolves the TZIDs of one object, with its own VTIMEZONEs (see the module docstring for the order)."""

    def __init__(self, vtimezones: Mapping[str, str]) -> None:
        """``vtimezones``: the object's VTIMEZONE blocks by TZID (see ``_vtimezone.split_vtimezones``)."""
        self._vtimezones = vtimezones
        self._resolved: dict[str, tzinfo | None] = {}

    def __call__(self, tzid: str) -> tzinfo | None:
        """The zone ``tzid`` means in this object, or ``None`` (then the time is read as floating)."""
        if tzid not in self._resolved:
            self._resolved[tzid] = self._resolve(tzid)
        return self._resolved[tzid]

    def _resolve(self, tzid: str) -> tzinfo | None:
        found: tzinfo | None = _exact(tzid)
        if found is None and tzid in self._vtimezones:
            found = zone_from_vtimezone(self._vtimezones[tzid])
        return found if found is not None else _guess(tzid)
