"""Deciding whether a calendar object the server sent is an event to hand over.

The text is kept exactly as the server sent it (``RemoteEvent.ical``): a recurring event with its
RECURRENCE-ID overrides is one resource and travels as one VCALENDAR. This is a cheap check of the text only:
parsing for real (and refusing what cannot be read: bad dates, a missing DTSTART...) happens once, in
``calendars/ical``, whose refusals the sync engine reports like the ``BadObject``s made here. Parsing here too
would double the cost of an initial sync (bench/RESULTS.md).
"""

from __future__ import annotations

import re

from creneau.calendars.providers.base import BadObject, RemoteEvent

_EVENT = re.compile(r"^BEGIN:VEVENT[ \t]*$", re.I | re.M)
_NOT_EVENT = re.compile(r"^BEGIN:(VTODO|VJOURNAL)[ \t]*$", re.I | re.M)


def classify(remote_id: str, etag: str, data: str | None) -> RemoteEvent | BadObject | None:
    """``RemoteEvent`` when ``data`` holds an event, ``BadObject`` with a reason when it is not iCalendar
    data or holds nothing usable, and ``None`` for a task or journal entry (skipped silently)."""
    if data is None or not data.strip():
        return BadObject(remote_id, "the server sent no calendar data for this object")
    text = data.lstrip("\ufeff \t\r\n").upper()
    if not text.startswith("BEGIN:VCALENDAR") or "END:VCALENDAR" not in text:
        return BadObject(remote_id, "the object is not iCalendar data (no BEGIN:VCALENDAR ... END:VCALENDAR)")
    if _EVENT.search(data):
        return RemoteEvent(remote_id=remote_id, etag=etag, ical=data)
    if _NOT_EVENT.search(data):
        return None
    return BadObject(remote_id, "the object contains no event (no VEVENT)")
