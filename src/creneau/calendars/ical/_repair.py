"""Repairs that let a readable event be placed in time instead of being skipped with its busy time.

Real calendars hold events that RFC 5545 calls invalid but that icalendar and recurring-ical-events read
without trouble (old exports, hand-made feeds):

- a VEVENT without UID gets one derived from its content (:func:`derived_uid`): stable across syncs (the
  lines the busy rules read, not DTSTAMP or DESCRIPTION), identical for identical content, distinct for
  distinct events of one object (and for identical twins in one object, by their rank);
- an empty ``RRULE:`` (nothing, or only spaces, after the colon) is read as no rule: the event happens once.

What cannot be placed in time (no DTSTART, an unreadable date, a rule without FREQ) is still refused. Both
readers (``_fast`` and the icalendar path in ``_parse``) repair the same way and report the same messages
(:data:`NO_UID`, :data:`EMPTY_RULE`), which sync shows per calendar like skipped objects.
"""

from __future__ import annotations

import hashlib

__all__ = ["DERIVED_PREFIX", "EMPTY_RULE", "NO_UID", "derived_uid", "empty_rules", "vevent_blocks"]

DERIVED_PREFIX = "creneau-derived-"
NO_UID = "a VEVENT without UID was read under a UID derived from its content"
EMPTY_RULE = "an empty RRULE was read as no rule"


def vevent_blocks(text: str) -> list[str]:
    """The lines of each VEVENT directly inside the VCALENDAR, in the order of ``text`` (unfolded and
    stripped by ``strip_irrelevant``, so that what changes at every export — DTSTAMP, alarms — is not
    there)."""
    blocks: list[str] = []
    current: list[str] | None = None
    depth = 0
    for line in text.splitlines():
        name, _, value = line.partition(":")
        name, value = name.strip().upper(), value.strip().upper()
        if name == "BEGIN":
            if depth == 1 and value == "VEVENT" and current is None:
                current = []
            depth += 1
        if current is not None:
            current.append(line)
        if name == "END":
            depth -= 1
            if depth == 1 and current is not None:
                blocks.append("\r\n".join(current))
                current = None
    return blocks


def derived_uid(blocks: list[str], index: int) -> str:
    """The UID of the ``index``-th VEVENT of ``blocks`` (:func:`vevent_blocks`), which has none."""
    block = blocks[index]
    twins = blocks[:index].count(block)  # identical events in one object stay distinct
    digest = hashlib.sha256(f"{block}\r\n#{twins}".encode()).hexdigest()[:40]
    return f"{DERIVED_PREFIX}{digest}@creneau"


def empty_rules(block: str) -> int:
    """How many ``RRULE`` lines of ``block`` have nothing but spaces after the colon (icalendar reads those,
    and garbage too, as a rule of no part: only the text tells them apart)."""
    count = 0
    for line in block.split("\r\n"):
        head, colon, value = line.partition(":")
        if colon and head.split(";", 1)[0].strip().upper() == "RRULE" and not value.strip():
            count += 1
    return count
