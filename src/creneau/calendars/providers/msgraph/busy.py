"""``busy_times``: a live read of what occupies a window.

The account's default calendar of a work or school account is asked with ``POST /me/calendar/getSchedule``
(the mailbox's free/busy, what Outlook's scheduling assistant shows); other calendars, and every calendar of
a personal account (which has no getSchedule), are read with ``calendarView``. Both become VEVENTs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from urllib.parse import urlencode

import icalendar

from creneau.calendars.providers.base import RemoteEvent
from creneau.calendars.providers.msgraph.render import (
    calendar_text,
    graph_time,
    render_item,
    schedule_uid,
)
from creneau.calendars.providers.msgraph.session import UTC_PREFERENCE, GraphSession, Json, segment
from creneau.domain.intervals import Interval
from creneau.errors import TransientProviderError

MAX_PAGES = 1000
_STATUS = {"tentative": "TENTATIVE"}


def _z(window: Interval) -> tuple[str, str]:
    return tuple(t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (window.start, window.end))  # type: ignore[return-value]


def calendar_view(
    session: GraphSession, calendar_id: str, window: Interval, *, owner_emails: Sequence[str], page_size: int
) -> list[RemoteEvent]:
    start, end = _z(window)
    query = urlencode({"startDateTime": start, "endDateTime": end, "$top": str(page_size)})
    link: str | None = session.url(f"me/calendars/{segment(calendar_id)}/calendarView?{query}")
    headers = {"Prefer": UTC_PREFERENCE}
    found: list[RemoteEvent] = []
    for _page in range(MAX_PAGES):
        if not link:
            return found
        page = session.get_json(link, headers=headers)
        for item in page.get("value") or []:
            rendered = render_item(item, owner_emails=owner_emails) if isinstance(item, dict) else None
            if isinstance(rendered, RemoteEvent):
                found.append(rendered)
            # An unreadable item cannot be judged here; sync reports it (BadObject) and treats it there.
        following = page.get("@odata.nextLink")
        link = following if isinstance(following, str) else None
    raise TransientProviderError("Microsoft Graph kept sending nextLinks for a calendarView")


def schedule(session: GraphSession, email: str, window: Interval) -> list[RemoteEvent]:
    """The owner's free/busy items. :raises ProviderError: as ``GraphSession.send`` does."""
    start, end = _z(window)
    body = {
        "schedules": [email],
        "startTime": {"dateTime": start.rstrip("Z"), "timeZone": "UTC"},
        "endTime": {"dateTime": end.rstrip("Z"), "timeZone": "UTC"},
        "availabilityViewInterval": 15,
    }
    response = session.send(
        "POST",
        session.url("me/calendar/getSchedule"),
        body=body,
        headers={"Prefer": UTC_PREFERENCE},
        idempotent=True,  # it only reads
    )
    found: list[RemoteEvent] = []
    for info in session.json(response).get("value") or []:
        if not isinstance(info, dict):
            continue
        if info.get("error"):
            raise TransientProviderError(f"getSchedule could not read the mailbox: {info['error']}")
        for item in info.get("scheduleItems") or []:
            event = _schedule_event(item) if isinstance(item, dict) else None
            if event is not None:
                found.append(event)
    return found


def _schedule_event(item: Json) -> RemoteEvent | None:
    try:
        start, end = graph_time(item.get("start"), "start"), graph_time(item.get("end"), "end")
    except ValueError:
        return None
    status = str(item.get("status") or "busy")
    uid = schedule_uid(start.isoformat(), end.isoformat(), item.get("subject"), status)
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", start.astimezone(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", max(start, end).astimezone(UTC))
    event.add("summary", str(item.get("subject") or "Busy"))
    event.add("transp", "TRANSPARENT" if status in ("free", "workingElsewhere") else "OPAQUE")
    event.add("status", _STATUS.get(status, "CONFIRMED"))
    event.add("x-microsoft-cdo-busystatus", status.upper())
    return RemoteEvent(remote_id=uid, etag="", ical=calendar_text(event))
