"""Graph event JSON → one VCALENDAR per remote item, so that ``calendars/ical`` judges it like CalDAV's.

calendarView (and its delta) lists single events, occurrences and exceptions, never series masters: each
item becomes its own VCALENDAR with one plain VEVENT (no RRULE, no RECURRENCE-ID), under the item's own id.
Graph has expanded the series already, and an occurrence stands for exactly one busy time; the series it
belongs to is kept in ``X-CRENEAU-GRAPH-SERIES`` for readers.

Mapping (docs/providers/msgraph.md): ``isAllDay`` → DATE values; ``showAs`` free / workingElsewhere →
``TRANSP:TRANSPARENT``, tentative → ``STATUS:TENTATIVE``, busy / oof → opaque; ``isCancelled`` →
``STATUS:CANCELLED``; the owner's ``responseStatus`` → an ``ATTENDEE`` line of the owner with its PARTSTAT
and the ``ORGANIZER`` (when the owner is not the organizer), so a declined invitation is free time.
Times are asked in UTC (``Prefer: outlook.timezone="UTC"``); another zone name is resolved like a TZID.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar

from creneau.calendars.ical import resolve_tzid
from creneau.calendars.providers.base import BadObject, RemoteEvent

PRODID = "-//creneau//Microsoft Graph//EN"
_PARTSTAT = {
    "accepted": "ACCEPTED",
    "tentativelyAccepted": "TENTATIVE",
    "declined": "DECLINED",
    "notResponded": "NEEDS-ACTION",
    "none": "NEEDS-ACTION",
}
_FREE = frozenset({"free", "workingElsewhere"})


class Unreadable(ValueError):
    """The item lacks something an event needs, or holds a value we cannot read."""


def etag_of(item: dict[str, Any]) -> str:
    return str(item.get("@odata.etag") or item.get("changeKey") or "")


def render_item(item: dict[str, Any], *, owner_emails: Sequence[str] = ()) -> RemoteEvent | BadObject:
    """One calendarView item as a ``RemoteEvent``, or a ``BadObject`` saying what is wrong with it."""
    remote_id = str(item.get("id") or "")
    try:
        if not remote_id:
            raise Unreadable("the item has no id")
        text = to_ical(item, owner_emails=owner_emails)
    except Unreadable as exc:
        return BadObject(remote_id or "(no id)", f"Microsoft sent an event creneau cannot read: {exc}")
    return RemoteEvent(remote_id=remote_id, etag=etag_of(item), ical=text)


def to_ical(item: dict[str, Any], *, owner_emails: Sequence[str] = ()) -> str:
    """:raises Unreadable: when a start or end is missing or cannot be read."""
    start, end = graph_time(item.get("start"), "start"), graph_time(item.get("end"), "end")
    event = icalendar.Event()
    event.add("uid", str(item.get("iCalUId") or item["id"]))
    event.add("dtstamp", _stamp(item.get("lastModifiedDateTime")))
    if item.get("isAllDay"):
        first = start.date()
        event.add("dtstart", first)
        event.add("dtend", max(end.date(), first + timedelta(days=1)))
    else:
        event.add("dtstart", start.astimezone(UTC))
        event.add("dtend", max(end, start).astimezone(UTC))
    add_common(event, item, owner_emails)
    return calendar_text(event)


def add_common(event: icalendar.Event, item: dict[str, Any], owner_emails: Sequence[str]) -> None:
    """Everything but the times: texts, busy status, the owner's answer, Graph's own markers."""
    if item.get("subject"):
        event.add("summary", str(item["subject"]))
    location = (item.get("location") or {}).get("displayName")
    if location:
        event.add("location", str(location))
    if item.get("bodyPreview"):
        event.add("description", str(item["bodyPreview"]))
    show_as = str(item.get("showAs") or "busy")
    event.add("transp", "TRANSPARENT" if show_as in _FREE else "OPAQUE")
    if item.get("isCancelled"):
        event.add("status", "CANCELLED")
    elif show_as == "tentative":
        event.add("status", "TENTATIVE")
    else:
        event.add("status", "CONFIRMED")
    event.add("x-microsoft-cdo-busystatus", show_as.upper())
    _add_people(event, item, owner_emails)
    join_url = (item.get("onlineMeeting") or {}).get("joinUrl")
    if join_url:
        event.add("x-microsoft-skypeteamsmeetingurl", str(join_url))
    if item.get("seriesMasterId"):
        event.add("x-creneau-graph-series", str(item["seriesMasterId"]))
    if item.get("type"):
        event.add("x-creneau-graph-type", str(item["type"]))


def _add_people(event: icalendar.Event, item: dict[str, Any], owner_emails: Sequence[str]) -> None:
    if item.get("isOrganizer", True) or not owner_emails:
        return
    organizer = ((item.get("organizer") or {}).get("emailAddress") or {}).get("address")
    if organizer:
        event.add("organizer", f"mailto:{organizer}")
    response = str((item.get("responseStatus") or {}).get("response") or "none")
    attendee = icalendar.vCalAddress(f"mailto:{owner_emails[0]}")
    attendee.params["PARTSTAT"] = _PARTSTAT.get(response, "NEEDS-ACTION")
    event.add("attendee", attendee)


def calendar_text(*events: icalendar.Event) -> str:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    for event in events:
        calendar.add_component(event)
    return bytes(calendar.to_ical()).decode()


def graph_time(value: Any, what: str) -> datetime:
    """A Graph ``dateTimeTimeZone`` as an aware datetime. :raises Unreadable: when it cannot be read."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise Unreadable(f"no {what} time")
    text = value["dateTime"].strip().rstrip("Z")
    head, _, fraction = text.partition(".")
    try:
        moment = datetime.fromisoformat(head + (f".{fraction[:6]}" if fraction else ""))
    except ValueError:
        raise Unreadable(f"the {what} time {value['dateTime']!r} is not a date-time") from None
    if moment.tzinfo is not None:
        return moment
    name = str(value.get("timeZone") or "UTC")
    if name.upper() in ("UTC", "ETC/UTC", "Z"):
        return moment.replace(tzinfo=UTC)
    zone = resolve_tzid(name)
    if zone is None:
        raise Unreadable(f"unknown time zone {name!r}")
    return moment.replace(tzinfo=zone)


def _stamp(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.astimezone(UTC).replace(microsecond=0)
    return datetime(2000, 1, 1, tzinfo=UTC)


def schedule_uid(*parts: object) -> str:
    return "graph-schedule-" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
