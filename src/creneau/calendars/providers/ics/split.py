"""One feed file → one VCALENDAR per UID, as the engine stores objects.

A feed is one or several VCALENDARs holding every event at once; the engine wants objects keyed by a stable
id with an etag (``RemoteEvent``). Each UID becomes one object: all its VEVENTs (the master and its
RECURRENCE-ID overrides, even when a feed spreads them over several VCALENDARs), the VTIMEZONEs their TZIDs
name, and the calendar's X-WR-TIMEZONE (floating times are read in it). The etag is a hash of that text
without DTSTAMP, which generated feeds rewrite at every download: an unchanged event is not stored again.

Feeds are where broken iCalendar lives. What is read here is only the structure (BEGIN/END, UID, TZID);
the events themselves are judged once by ``calendars/ical`` in the engine, which repairs a missing UID or an
empty RRULE and reports them. A VEVENT without UID is its own object, under an id derived from its content.
A VEVENT whose END is missing, and every other event of its UID, is reported as a ``BadObject``; lines outside
any component are dropped; VTODO, VJOURNAL and VFREEBUSY are not events and are left out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from creneau.calendars.providers.base import BadObject, RemoteEvent

__all__ = ["Feed", "split"]

_MAX_ID = 500  # a longer UID is stored under its hash (remote ids are at most 2000 characters)
_MAX_NAME = 200  # the account's and the calendar's name
_TZID = re.compile(r";TZID=(\"[^\"]*\"|[^;:]*)", re.IGNORECASE)
_KEPT_HEADER = ("VERSION", "PRODID", "CALSCALE", "X-WR-TIMEZONE")


@dataclass
class _Block:
    kind: str  # VEVENT, VTODO, VTIMEZONE, ...
    line: int  # where it starts in the feed (1-based, after unfolding)
    lines: list[str] = field(default_factory=list)
    uid: str | None = None
    complete: bool = False


@dataclass
class _Calendar:
    header: dict[str, str] = field(default_factory=dict)  # the kept VCALENDAR properties, first wins
    name: str | None = None  # X-WR-CALNAME
    blocks: list[_Block] = field(default_factory=list)


@dataclass
class Feed:
    """What a feed file holds: its name (the first X-WR-CALNAME), its events and what could not be read."""

    name: str | None
    events: list[RemoteEvent]
    bad: list[BadObject]


def split(text: str) -> Feed:
    calendars = list(_calendars(_unfold(text)))
    zones: dict[str, list[str]] = {}
    for cal in calendars:
        for block in cal.blocks:
            if block.kind == "VTIMEZONE" and block.complete and block.uid and block.uid not in zones:
                zones[block.uid] = block.lines
    grouped: dict[str, tuple[_Calendar, list[_Block]]] = {}
    broken: dict[str, str] = {}
    no_uid: list[tuple[_Calendar, _Block]] = []
    for cal in calendars:
        for block in cal.blocks:
            if block.kind != "VEVENT":
                continue
            if not block.complete:
                key = block.uid or f"line-{block.line}"
                broken.setdefault(_remote_id(key), f"the VEVENT on line {block.line} has no END:VEVENT")
            elif block.uid is None:
                no_uid.append((cal, block))
            else:
                grouped.setdefault(block.uid, (cal, []))[1].append(block)
    events: list[RemoteEvent] = []
    for uid, (cal, blocks) in grouped.items():
        remote_id = _remote_id(uid)
        if remote_id not in broken:
            events.append(_event(remote_id, cal, blocks, zones))
    seen: dict[str, int] = {}
    for cal, block in no_uid:
        digest = _digest("\r\n".join(_without_dtstamp(block.lines)))
        rank = seen.get(digest, 0)
        seen[digest] = rank + 1
        remote_id = f"no-uid-{digest[:40]}" + (f"-{rank}" if rank else "")
        events.append(_event(remote_id, cal, [block], zones))
    bad = [BadObject(remote_id=r, reason=reason) for r, reason in broken.items()]
    name = next((c.name for c in calendars if c.name), None)
    return Feed(name=name, events=events, bad=bad)


def _unfold(text: str) -> Iterator[tuple[int, str]]:
    """Logical lines (RFC 5545 folding undone), numbered, without empty ones."""
    current: str | None = None
    start = 0
    for number, line in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if line[:1] in (" ", "\t") and current is not None:
            current += line[1:]
            continue
        if current:
            yield start, current
        current, start = line, number
    if current:
        yield start, current


def _calendars(lines: Iterator[tuple[int, str]]) -> Iterator[_Calendar]:
    """The VCALENDARs of the feed with their top-level components (nested ones, like VALARM, stay inside
    their component's lines). A component interrupted by a new one or by the end of its VCALENDAR is kept
    with ``complete=False``."""
    cal: _Calendar | None = None
    block: _Block | None = None
    depth = 0  # inside ``block``: how many nested components are open
    for number, line in lines:
        name, value = _name(line), line.partition(":")[2].strip()
        begin, end = name == "BEGIN", name == "END"
        kind = value.upper()
        if cal is None:
            if begin and kind == "VCALENDAR":
                cal = _Calendar()
            continue  # text outside any VCALENDAR
        if block is not None:
            if begin and depth == 0 and kind in ("VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE"):
                cal.blocks.append(block)  # a new component where this one should have ended
                block = None
            elif end and kind == "VCALENDAR":
                cal.blocks.append(block)
                block = None
            else:
                block.lines.append(line)
                if begin:
                    depth += 1
                elif end and depth:
                    depth -= 1
                elif end:
                    block.complete = kind == block.kind
                    cal.blocks.append(block)
                    block = None
                elif depth == 0 and block.uid is None and name == _OWN_ID.get(block.kind):
                    block.uid = value or None
                continue
        if begin and kind != "VCALENDAR":
            block, depth = _Block(kind=kind, line=number, lines=[line]), 0
        elif end and kind == "VCALENDAR":
            yield cal
            cal = None
        elif name in _KEPT_HEADER:
            cal.header.setdefault(name, line)
        elif name == "X-WR-CALNAME" and value and cal.name is None:
            cal.name = value[:_MAX_NAME]
    if cal is not None:  # the last VCALENDAR was not closed: keep what it holds
        if block is not None:
            cal.blocks.append(block)
        yield cal


_OWN_ID = {"VEVENT": "UID", "VTIMEZONE": "TZID"}


def _name(line: str) -> str:
    head = line.split(":", 1)[0]
    return head.split(";", 1)[0].strip().upper()


def _event(remote_id: str, cal: _Calendar, blocks: list[_Block], zones: dict[str, list[str]]) -> RemoteEvent:
    wanted: dict[str, None] = {}
    for block in blocks:
        for line in block.lines:
            for match in _TZID.finditer(line.split(":", 1)[0]):
                wanted[match.group(1).strip('"')] = None
    lines = ["BEGIN:VCALENDAR"]
    lines.append(cal.header.get("VERSION", "VERSION:2.0"))
    lines.append(cal.header.get("PRODID", "PRODID:-//creneau//ics feed//EN"))
    lines += [cal.header[name] for name in ("CALSCALE", "X-WR-TIMEZONE") if name in cal.header]
    for tzid in wanted:
        lines += zones.get(tzid, [])  # a TZID without its VTIMEZONE: the reader resolves the name
    for block in blocks:
        lines += block.lines
    lines.append("END:VCALENDAR")
    return RemoteEvent(
        remote_id=remote_id,
        etag=_digest("\r\n".join(_without_dtstamp(lines))),
        ical="\r\n".join(lines) + "\r\n",
    )


def _without_dtstamp(lines: list[str]) -> Iterator[str]:
    return (line for line in lines if _name(line) != "DTSTAMP")


def _remote_id(uid: str) -> str:
    return uid if len(uid) <= _MAX_ID else f"uid-sha256-{_digest(uid)}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()
