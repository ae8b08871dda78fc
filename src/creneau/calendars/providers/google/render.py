"""Google event JSON → one VCALENDAR per series (docs/decisions/0002), and free/busy periods → VCALENDARs.

A *series* is a master event and its exceptions (items whose ``recurringEventId`` is the master's id); a
single event is a series of one. Rendering rules:

- ``start``/``end``: ``date`` → ``VALUE=DATE``; ``dateTime`` with a ``timeZone`` → local time with
  ``TZID=<IANA name>`` (wall-clock recurrences stay right across DST; ``calendars/ical`` resolves IANA
  names, so no VTIMEZONE is written); ``dateTime`` alone → UTC.
- ``recurrence`` lines (RRULE, EXRULE, RDATE, EXDATE) are copied; a *cancelled* exception becomes an
  EXDATE of the master, a live one a VEVENT with ``RECURRENCE-ID`` (from ``originalStartTime``, written in
  the master's form) carrying its own times, status, transparency and attendees.
- ``transparency: transparent`` → ``TRANSP:TRANSPARENT``; ``status`` → ``STATUS``; attendees (with the
  owner's ``responseStatus`` as ``PARTSTAT``) and the organizer → ``ATTENDEE``/``ORGANIZER``, so the busy
  rules of ``calendars/ical`` judge Google events like CalDAV ones.
- ``UID``: our own uid when we wrote the event (``extendedProperties.private.creneauUid``), else
  ``iCalUID``, else the id. A Meet link goes into ``X-GOOGLE-CONFERENCE`` (as Google's own ICS export).

An item that cannot be rendered (no start, an unreadable time, a foreign recurrence line) raises
:class:`Unrenderable`; the sync reports it as a ``BadObject`` and goes on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Item = dict[str, Any]
PRODID = "-//creneau//Google Calendar v3//EN"
_RECURRENCE = re.compile(r"^(RRULE|EXRULE|RDATE|EXDATE)[;:]", re.IGNORECASE)
_PARTSTAT = {
    "needsAction": "NEEDS-ACTION",
    "declined": "DECLINED",
    "tentative": "TENTATIVE",
    "accepted": "ACCEPTED",
}


class Unrenderable(ValueError):
    """An item we cannot turn into iCalendar; the message says why."""


def series_key(item: Item) -> str:
    return str(item.get("recurringEventId") or item.get("id") or "")


def series_etag(items: Sequence[Item]) -> str:
    """One etag for a whole series: the master's when it is alone, else a digest of every item's."""
    if len(items) == 1:
        return str(items[0].get("etag") or "")
    parts = sorted(f"{i.get('id')}:{i.get('etag')}" for i in items)
    return '"' + hashlib.sha1("\n".join(parts).encode(), usedforsecurity=False).hexdigest() + '"'


def render_series(items: Sequence[Item]) -> str:
    """One VCALENDAR for a series. :raises Unrenderable: when an item cannot be read."""
    masters = [i for i in items if not i.get("recurringEventId")]
    exceptions = [i for i in items if i.get("recurringEventId")]
    if len(masters) > 1:
        raise Unrenderable("more than one master event in a series")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    master = masters[0] if masters else None
    form = master.get("start") if master else None
    if master is not None:
        exdates = [
            _when("EXDATE", e.get("originalStartTime"), form)
            for e in exceptions
            if e.get("status") == "cancelled"
        ]
        lines += _vevent(master, None, exdates)
    for exception in exceptions:
        if exception.get("status") != "cancelled":
            override = _when("RECURRENCE-ID", exception.get("originalStartTime"), form)
            lines += _vevent(exception, override, [], uid_from=master)
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def render_busy(calendar_id: str, start: datetime, end: datetime) -> str:
    """A free/busy period as a VCALENDAR with one opaque VEVENT (the UID names the calendar and times)."""
    stamp = f"{_utc(start)}/{_utc(end)}"
    digest = hashlib.sha1(f"{calendar_id} {stamp}".encode(), usedforsecurity=False).hexdigest()[:20]
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "BEGIN:VEVENT",
        f"UID:freebusy-{digest}@creneau",
        f"DTSTAMP:{_utc(datetime.now(UTC))}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        "SUMMARY:Busy",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(line + "\r\n" for line in lines)


def _vevent(
    item: Item, recurrence_id: str | None, exdates: list[str], uid_from: Item | None = None
) -> list[str]:
    if "start" not in item or "end" not in item:
        raise Unrenderable(f"event {item.get('id')!r} has no {'start' if 'start' not in item else 'end'}")
    lines = ["BEGIN:VEVENT", f"UID:{_text(_uid(uid_from or item))}"]
    stamp = _stamp(item.get("updated"))
    lines.append(f"DTSTAMP:{stamp}")
    if recurrence_id:
        lines.append(recurrence_id)
    lines.append(_when("DTSTART", item["start"], None))
    lines.append(_when("DTEND", item["end"], None))
    for line in item.get("recurrence") or []:
        if not isinstance(line, str) or not _RECURRENCE.match(line):
            raise Unrenderable(f"event {item.get('id')!r} has a recurrence line we do not read: {line!r}")
        lines.append(line.strip())
    lines += exdates
    for name, key in (("SUMMARY", "summary"), ("DESCRIPTION", "description"), ("LOCATION", "location")):
        if item.get(key):
            lines.append(f"{name}:{_text(str(item[key]))}")
    status = str(item.get("status") or "confirmed").upper()
    lines.append(f"STATUS:{status if status in ('CONFIRMED', 'TENTATIVE', 'CANCELLED') else 'CONFIRMED'}")
    lines.append("TRANSP:" + ("TRANSPARENT" if item.get("transparency") == "transparent" else "OPAQUE"))
    if isinstance(item.get("sequence"), int):
        lines.append(f"SEQUENCE:{item['sequence']}")
    if item.get("updated"):
        lines.append(f"LAST-MODIFIED:{stamp}")
    lines += _people(item)
    link = item.get("hangoutLink") or video_uri(item)
    if link:
        lines.append(f"X-GOOGLE-CONFERENCE:{link}")
    source = item.get("source")
    if isinstance(source, dict) and source.get("url"):
        lines.append(f"URL:{source['url']}")
    lines.append("END:VEVENT")
    return lines


def _uid(item: Item) -> str:
    private = (item.get("extendedProperties") or {}).get("private") or {}
    return str(private.get("creneauUid") or item.get("iCalUID") or item.get("id") or "")


def video_uri(item: Item) -> str | None:
    for entry in (item.get("conferenceData") or {}).get("entryPoints") or []:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    return None


def _people(item: Item) -> list[str]:
    lines = []
    organizer = item.get("organizer") or {}
    if organizer.get("email"):
        lines.append(f"ORGANIZER{_cn(organizer)}:mailto:{organizer['email']}")
    for attendee in item.get("attendees") or []:
        if not attendee.get("email"):
            continue
        partstat = _PARTSTAT.get(str(attendee.get("responseStatus")), "NEEDS-ACTION")
        lines.append(f"ATTENDEE{_cn(attendee)};PARTSTAT={partstat}:mailto:{attendee['email']}")
    return lines


def _cn(person: dict[str, Any]) -> str:
    name = str(person.get("displayName") or "").replace('"', "'")
    return f';CN="{name}"' if name else ""


def _zone(name: object) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _when(name: str, when: Any, form: Any) -> str:
    """A DTSTART-like line for ``when``; ``form`` (the master's start) sets the value type and zone of a
    RECURRENCE-ID or EXDATE so that it matches the master's DTSTART."""
    if not isinstance(when, dict):
        raise Unrenderable(f"{name} is missing")
    try:
        if isinstance(when.get("date"), str) and not when.get("dateTime"):
            return f"{name};VALUE=DATE:{date.fromisoformat(when['date']).strftime('%Y%m%d')}"
        moment = datetime.fromisoformat(str(when["dateTime"]).replace("z", "Z"))
    except (KeyError, ValueError, TypeError) as exc:
        raise Unrenderable(f"{name} has an unreadable time: {when!r}") from exc
    if isinstance(form, dict) and isinstance(form.get("date"), str) and not form.get("dateTime"):
        return f"{name};VALUE=DATE:{moment.strftime('%Y%m%d')}"
    own = _zone(when.get("timeZone"))
    zone = _zone(form.get("timeZone")) if isinstance(form, dict) else own
    if moment.tzinfo is None:
        anchor = own or zone
        if anchor is None:
            raise Unrenderable(f"{name} has neither an offset nor a time zone: {when!r}")
        moment = moment.replace(tzinfo=anchor)
    if zone is not None:
        return f"{name};TZID={zone.key}:{moment.astimezone(zone).strftime('%Y%m%dT%H%M%S')}"
    return f"{name}:{_utc(moment)}"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _stamp(updated: object) -> str:
    try:
        return _utc(datetime.fromisoformat(str(updated).replace("z", "Z")))
    except ValueError:
        return "19700101T000000Z"


def _text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 5545 folding: lines of at most 75 octets, never splitting a UTF-8 character."""
    if len(line.encode()) <= 75:
        return line
    parts: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode())
        if size + width > (75 if not parts else 74):
            parts.append(current)
            current, size = "", 0
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)
