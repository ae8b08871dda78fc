"""Reading VTIMEZONE components ourselves.

We take every VTIMEZONE out of the text before icalendar parses it, because icalendar (7.x) builds a dateutil
zone for each one it meets and caches it *process-wide under its TZID*: the second Outlook object calling its
zone "Customized Time Zone" would get the first one's rules, and a broken VTIMEZONE, even one no event uses,
makes the whole object unreadable. Reading a VTIMEZONE needs little: TZID, and per STANDARD/DAYLIGHT part its
DTSTART, TZOFFSETFROM, TZOFFSETTO, RRULE, RDATE and TZNAME. The zone we build is a
:class:`~creneau.domain.timezones.TransitionZone`, fast and RFC 5545-exact at DST changes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from dateutil.rrule import rrulestr

from creneau.domain.timezones import Transition, TransitionZone

__all__ = ["split_vtimezones", "zone_from_vtimezone"]

_BLOCK = re.compile(r"^BEGIN:VTIMEZONE[ \t]*\r?\n.*?^END:VTIMEZONE[ \t]*(?:\r?\n|\Z)", re.I | re.M | re.S)
_FOLD = re.compile(r"\r?\n[ \t]")
_LINE = re.compile(r'^([A-Za-z0-9-]+)((?:;(?:[^";:]|"[^"]*")*)*):(.*)$')
_OFFSET = re.compile(r"^([+-])(\d\d)(\d\d)(\d\d)?$")
_LAST_YEAR = 2100  # rules are expanded up to here; later times keep the last offset


def split_vtimezones(text: str) -> tuple[str, dict[str, str]]:
    """``text`` without its VTIMEZONE blocks, and those blocks (unfolded) by TZID; the first one of a TZID
    wins."""
    if "VTIMEZONE" not in text and "vtimezone" not in text.lower():
        return text, {}
    blocks: dict[str, str] = {}

    def take(match: re.Match[str]) -> str:
        block = _FOLD.sub("", match.group(0))
        for line in block.splitlines():
            parsed = _LINE.match(line)
            if parsed and parsed.group(1).upper() == "TZID":
                blocks.setdefault(parsed.group(3).strip(), block)
                break
        return ""

    return _BLOCK.sub(take, text), blocks


@dataclass
class _Part:
    daylight: bool
    props: dict[str, list[str]] = field(default_factory=dict)


@functools.lru_cache(maxsize=512)
def zone_from_vtimezone(block: str) -> TransitionZone | None:
    """The zone an (unfolded) VTIMEZONE block defines, or ``None`` if it cannot be used. Never raises."""
    try:
        tzid, parts = _read(block)
        changes = sorted((c for part in parts for c in _changes(part)), key=lambda c: c[0].at)
    except (ValueError, OverflowError, KeyError, IndexError, TypeError):
        return None
    if not changes:
        return None
    standard = changes[0][1]  # the offset in force before the first change
    transitions = []
    for change, _, daylight in changes:  # daylight saving is measured from the last standard offset
        if daylight:
            transitions.append(Transition(change.at, change.offset, change.offset - standard, change.name))
        else:
            standard = change.offset
            transitions.append(change)
    return TransitionZone(tzid, changes[0][1], transitions)


def _read(block: str) -> tuple[str, list[_Part]]:
    tzid, parts, current = "", [], None
    for line in block.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        name, value = match.group(1).upper(), match.group(3).strip()
        if name == "BEGIN" and value.upper() in ("STANDARD", "DAYLIGHT"):
            current = _Part(daylight=value.upper() == "DAYLIGHT")
        elif name == "END" and current is not None:
            parts.append(current)
            current = None
        elif current is not None:
            current.props.setdefault(name, []).append(value)
        elif name == "TZID":
            tzid = value
    return tzid, parts


def _changes(part: _Part) -> Iterator[tuple[Transition, timedelta, bool]]:
    """(transition, offset before it, whether to daylight time) for each onset of a STANDARD/DAYLIGHT part."""
    start = _wall(part.props["DTSTART"][0])
    before, after = _offset(part.props["TZOFFSETFROM"][0]), _offset(part.props["TZOFFSETTO"][0])
    name = part.props.get("TZNAME", [""])[0]
    onsets = {start}
    for rule in part.props.get("RRULE", []):
        onsets.update(_onsets(rule, start, before))
    for rdates in part.props.get("RDATE", []):
        onsets.update(_wall(item.split("/")[0]) for item in rdates.split(","))
    for onset in onsets:  # an onset is a wall time read with the offset in force before it
        yield Transition(onset - before, after, timedelta(0), name), before, part.daylight


def _wall(value: str) -> datetime:
    value = value.strip().rstrip("Zz")
    return datetime.strptime(value, "%Y%m%dT%H%M%S" if "T" in value.upper() else "%Y%m%d")  # noqa: DTZ007


def _offset(value: str) -> timedelta:
    match = _OFFSET.match(value.strip())
    if not match:
        raise ValueError(f"bad UTC offset {value!r}")
    sign, hours, minutes, seconds = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
    return -offset if sign == "-" else offset


def _onsets(rule: str, start: datetime, before: timedelta) -> Iterator[datetime]:
    try:  # UNTIL is in UTC: give DTSTART its offset so that dateutil can compare them
        series = rrulestr(rule, dtstart=start.replace(tzinfo=timezone(before)))
    except ValueError:
        series = rrulestr(rule, dtstart=start)
    for onset in series:
        if onset.year > _LAST_YEAR:
            return
        yield onset.replace(tzinfo=None)
