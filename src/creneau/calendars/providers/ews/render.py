"""Exchange calendar items → the iCalendar the engine reads (docs/decisions/0002).

Sync hands over each item's **MimeContent**: the iCalendar Exchange itself writes for the item -- a VTIMEZONE
named by the Windows zone id, the series' VEVENT with its RRULE and EXDATEs (deleted occurrences), one VEVENT
per modified occurrence (RECURRENCE-ID, with its own times, subject and busy status), ``TRANSP`` and
``X-MICROSOFT-CDO-BUSYSTATUS``. Rendering the item's XML ourselves would need a second GetItem per series
for its modified occurrences (a master lists only their ids and times) and our own RRULE writer for five
recurrence patterns; the MIME costs nothing more than the GetItem that fetches the item anyway (measured on
the emulator: docs/providers/exchange.md, "Why MimeContent").

What the MIME does not say, the item's own properties (fetched in the same GetItem) add:
``MyResponseType`` Decline → the owner's ``ATTENDEE;PARTSTAT=DECLINED`` (a declined meeting is free time),
``IsCancelled`` → ``STATUS:CANCELLED``, and a VEVENT without ``TRANSP`` gets it from
``X-MICROSOFT-CDO-BUSYSTATUS`` (Free → transparent; Tentative, Busy, OOF, WorkingElsewhere → busy).
The text is rewritten only when one of these applies; the rest goes through as Exchange wrote it.

Busy times (a live check, ``busy_times``) read occurrences from a CalendarView or periods from
GetUserAvailability: each becomes a plain VEVENT of its own (:func:`occurrence`, :func:`period`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar

PRODID = "-//creneau//Exchange//EN"
_BUSY_WORDS = {"FREE": "TRANSPARENT"}
_FREE = frozenset({"Free"})


class Unreadable(ValueError):
    """The item's MIME is not an iCalendar with an event."""


def _text(mime: bytes | str | None) -> str:
    if mime is None:
        raise Unreadable("Exchange sent no MimeContent for the item")
    text = mime.decode("utf-8", "replace") if isinstance(mime, bytes) else str(mime)
    if "BEGIN:VCALENDAR" not in text.upper() or "BEGIN:VEVENT" not in text.upper():
        raise Unreadable("the item's MimeContent holds no event")
    return text


def from_mime(
    mime: bytes | str | None,
    *,
    owner_emails: tuple[str, ...] = (),
    my_response: str | None = None,
    cancelled: bool | None = None,
) -> str:
    """The VCALENDAR of one item. :raises Unreadable: when the MIME holds no event."""
    text = _text(mime)
    declined = my_response == "Decline" and bool(owner_emails)
    cancel = bool(cancelled) and not re.search(r"^STATUS:CANCELLED", text, re.M | re.I)
    events = len(re.findall(r"^BEGIN:VEVENT", text, re.M | re.I))
    transps = len(re.findall(r"^TRANSP[:;]", text, re.M | re.I))
    if not declined and not cancel and transps >= events:
        return text
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise Unreadable(f"the item's MimeContent cannot be read: {exc}") from exc
    for event in calendar.walk("VEVENT"):
        if "TRANSP" not in event:
            word = str(event.get("X-MICROSOFT-CDO-BUSYSTATUS", "BUSY")).upper()
            event.add("transp", _BUSY_WORDS.get(word, "OPAQUE"))
        if cancel:
            event.pop("STATUS", None)
            event.add("status", "CANCELLED")
        if declined:
            _mark_declined(event, owner_emails)
    return bytes(calendar.to_ical()).decode()


def _mark_declined(event: icalendar.cal.Component, owner_emails: tuple[str, ...]) -> None:
    owners = {e.lower() for e in owner_emails}
    attendees = event.get("ATTENDEE")
    kept = [attendees] if attendees is not None and not isinstance(attendees, list) else list(attendees or [])
    kept = [a for a in kept if str(a).lower().removeprefix("mailto:") not in owners]
    event.pop("ATTENDEE", None)
    for attendee in kept:
        event.add("attendee", attendee)
    event.add("attendee", f"mailto:{owner_emails[0]}", parameters={"PARTSTAT": "DECLINED"})


def _event(uid: str, start: datetime | date, end: datetime | date, *, stamp: datetime) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    return event


def _calendar(*events: icalendar.Event) -> str:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    for event in events:
        calendar.add_component(event)
    return bytes(calendar.to_ical()).decode()


def occurrence(item: Any, *, owner_emails: tuple[str, ...] = ()) -> str:
    """One item of a CalendarView (a single event, an occurrence or an exception) as one plain VEVENT."""
    start, end = item.start, item.end
    if start is None or end is None:
        raise Unreadable("the item has no start or end")
    if getattr(item, "is_all_day", False):
        first = start.date() if isinstance(start, datetime) else start
        last = end.date() if isinstance(end, datetime) else end
        event = _event(str(item.uid or item.id), first, max(last, first + timedelta(days=1)), stamp=_now())
    else:
        event = _event(str(item.uid or item.id), _utc(start), _utc(end), stamp=_now())
    if item.subject:
        event.add("summary", str(item.subject))
    event.add("transp", "TRANSPARENT" if item.legacy_free_busy_status in _FREE else "OPAQUE")
    if item.is_cancelled:
        event.add("status", "CANCELLED")
    if item.my_response_type == "Decline" and owner_emails:
        _mark_declined(event, owner_emails)
    return _calendar(event)


def period(uid: str, start: datetime, end: datetime, status: str) -> str:
    """A busy period of GetUserAvailability (no details) as a VEVENT; only busy statuses are passed."""
    event = _event(uid, _utc(start), _utc(end), stamp=_now())
    event.add("summary", status)
    if status == "Tentative":
        event.add("status", "TENTATIVE")
    return _calendar(event)


def _utc(value: datetime) -> datetime:
    """A plain UTC datetime (exchangelib's EWSDateTime converts only to its own zones)."""
    return datetime.fromtimestamp(value.timestamp(), UTC)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
