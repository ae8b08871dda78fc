"""Dropping what busy times never read, before icalendar parses an object.

icalendar spends most of its time per content line and per parameter. A typical event carries a
description, a location, alarms, attendees' display names, vendor X- properties...: none of them changes when
its owner is busy. We unfold the text, drop VALARM blocks and every property outside :data:`KEPT`, and parse
the rest. The stored object (``synced_events.ical``) keeps the server's full text.

Attendees matter only to find the owner's declined invitations: when no line of the object says
``DECLINED``, its ``ATTENDEE`` lines are dropped too (a meeting has tens of attendees; each costs a
parameter parse). When one does, all of them are kept, since the owner may appear under several addresses.
"""

from __future__ import annotations

import re

__all__ = ["KEPT", "strip_irrelevant"]

# Everything the busy rules, the expansion and the checks in _parse read; VTIMEZONEs are split off before.
KEPT = frozenset(
    {
        "BEGIN", "END", "VERSION", "PRODID", "CALSCALE", "X-WR-TIMEZONE",
        "UID", "SUMMARY", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "EXRULE",
        "RECURRENCE-ID", "SEQUENCE", "STATUS", "TRANSP", "ATTENDEE", "ORGANIZER",
    }
)  # fmt: skip
_FOLD = re.compile(r"\r?\n[ \t]")
_NAME = re.compile(r"[A-Za-z0-9-]+")
_IGNORED_BLOCKS = ("VALARM",)


def strip_irrelevant(text: str) -> str:
    """``text`` unfolded, without VALARM blocks and without properties outside :data:`KEPT`."""
    out: list[str] = []
    skipping: str | None = None
    attendees_matter = "DECLINED" in text.upper()
    for line in _FOLD.sub("", text).splitlines():
        match = _NAME.match(line)
        if match is None:
            if line.strip():
                out.append(line)  # not a content line: let the parser judge it
            continue
        name = match.group(0).upper()
        if skipping is not None:
            if name == "END" and line[4:].strip().upper() == skipping:
                skipping = None
            continue
        if name == "BEGIN" and line[6:].strip().upper() in _IGNORED_BLOCKS:
            skipping = line[6:].strip().upper()
            continue
        if name in KEPT and (name != "ATTENDEE" or attendees_matter):
            out.append(line)
    out.append("")
    return "\r\n".join(out)
