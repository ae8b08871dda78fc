"""Deciding whether a calendar object the server sent is an event we can use.

The text is kept exactly as the server sent it (``RemoteEvent.ical``): a recurring event with its
RECURRENCE-ID overrides is one resource and travels as one VCALENDAR. We only *check* it here; parsing for
real (expansion, busy rules) happens in ``calendars/ical.py``.
"""

from __future__ import annotations

import icalendar

from creneau.calendars.providers.base import BadObject, RemoteEvent

# Properties an event cannot be placed in time without; an error on any of them makes the object bad.
_TIME_PROPERTIES = frozenset({"DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "RRULE", "RDATE", "EXDATE"})
_NOT_EVENTS = frozenset({"VTODO", "VJOURNAL"})
_MAX_REASON = 200


def classify(remote_id: str, etag: str, data: str | None) -> RemoteEvent | BadObject | None:
    """``RemoteEvent`` when ``data`` is a usable event, ``BadObject`` with a reason when it is broken, and
    ``None`` when it is a valid object that is not an event (a task or journal entry, skipped silently)."""
    reason = _text_problem(data)
    if reason is not None:
        return BadObject(remote_id, reason)
    assert data is not None
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as exc:  # icalendar raises ValueError, KeyError, IndexError... on broken input
        return BadObject(remote_id, _short(f"unreadable iCalendar data: {exc}"))
    names = {component.name for component in calendar.subcomponents}
    events = [c for c in calendar.subcomponents if c.name == "VEVENT"]
    if not events:
        if names & _NOT_EVENTS:
            return None
        return BadObject(remote_id, "the object contains no event (no VEVENT)")
    for event in events:
        reason = _event_problem(event)
        if reason is not None:
            return BadObject(remote_id, reason)
    return RemoteEvent(remote_id=remote_id, etag=etag, ical=data)


def _text_problem(data: str | None) -> str | None:
    if data is None or not data.strip():
        return "the server sent no calendar data for this object"
    text = data.lstrip("\ufeff \t\r\n").upper()
    if not text.startswith("BEGIN:VCALENDAR") or "END:VCALENDAR" not in text:
        return "the object is not iCalendar data (no BEGIN:VCALENDAR ... END:VCALENDAR)"
    return None


def _event_problem(event: icalendar.cal.Component) -> str | None:
    if "DTSTART" not in event:
        return "an event has no start time (DTSTART)"
    for prop, message in getattr(event, "errors", []):
        if prop in _TIME_PROPERTIES:
            return _short(f"an event has an unreadable {prop}: {message}")
    return None


def _short(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"
