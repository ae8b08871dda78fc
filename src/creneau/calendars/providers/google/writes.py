"""Writing our events: insert with our own id (idempotent), patch with If-Match, delete, Meet links.

- The event id is derived from ``EventDraft.uid`` (``ids.event_id``); ``iCalUID`` is the uid itself and
  ``extendedProperties.private.creneauUid`` keeps it too (Google documents that only one of ``id`` and
  ``iCalUID`` should be given; should it ignore ``iCalUID``, the UID still comes back from the property).
  A ``409 duplicate`` answer means a previous attempt succeeded: we fetch that event and return it (and
  restore it when it had been deleted).
- Updates use ``events.patch`` on the fields we own, so a Meet conference already attached stays.
- Meet: ``conferenceDataVersion=1`` and ``conferenceData.createRequest`` (``hangoutsMeet``, a ``requestId``
  derived from the uid). Google may answer ``pending``; we then re-read the event with growing pauses
  (50 ms doubling, capped at 1 s) until ``success`` or ``conference_timeout``, and return the video entry
  point (or ``hangoutLink``) as ``WrittenEvent.join_url`` (None if it is still pending at the deadline).
"""

from __future__ import annotations

import time
from typing import Any

from creneau.calendars.providers.base import EventDraft, WrittenEvent
from creneau.calendars.providers.google import ids
from creneau.calendars.providers.google.api import GoogleSession, calendar_path, decode, event_path
from creneau.calendars.providers.google.render import video_uri
from creneau.errors import RemoteNotFound

Item = dict[str, Any]
FIRST_PAUSE = 0.05
MAX_PAUSE = 1.0


def _utc(draft_time: Any) -> dict[str, str]:
    return {"dateTime": draft_time.isoformat().replace("+00:00", "Z")}


def body_for(draft: EventDraft) -> Item:
    body: Item = {
        "summary": draft.summary,
        "description": draft.description,
        "location": draft.location,
        "start": _utc(draft.start),
        "end": _utc(draft.end),
        "extendedProperties": {"private": {"creneauUid": draft.uid}},
    }
    if draft.url:
        body["source"] = {"title": draft.summary, "url": draft.url}
    return body


def _conference(draft: EventDraft) -> Item:
    return {
        "createRequest": {
            "requestId": ids.conference_request_id(draft.uid),
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
        }
    }


def _params(draft: EventDraft) -> dict[str, str]:
    return {"conferenceDataVersion": "1"} if draft.native_conference else {}


def create(session: GoogleSession, calendar_id: str, draft: EventDraft, *, timeout: float) -> WrittenEvent:
    body = {**body_for(draft), "id": ids.event_id(draft.uid), "iCalUID": draft.uid}
    if draft.native_conference:
        body["conferenceData"] = _conference(draft)
    path = f"{calendar_path(calendar_id)}/events"
    response = session.call("POST", path, params=_params(draft), body=body, accept=(409,))
    if response.status_code == 409:  # a previous attempt made it
        event = session.json("GET", event_path(calendar_id, body["id"]))
        if event.get("status") == "cancelled":
            restore = {k: v for k, v in body.items() if k not in ("id", "iCalUID")}
            event = session.json(
                "PATCH",
                event_path(calendar_id, body["id"]),
                params=_params(draft),
                body={**restore, "status": "confirmed"},
            )
    else:
        event = decode(response)
    return _finish(session, calendar_id, event, draft, timeout)


def update(
    session: GoogleSession,
    calendar_id: str,
    remote_id: str,
    draft: EventDraft,
    *,
    etag: str | None,
    timeout: float,
) -> WrittenEvent:
    """:raises PreconditionFailed: when ``etag`` no longer matches; :raises RemoteNotFound: when gone."""
    body = body_for(draft)
    if draft.native_conference:
        body["conferenceData"] = _conference(draft)  # the same requestId keeps an existing conference
    event = session.json(
        "PATCH",
        event_path(calendar_id, remote_id),
        params=_params(draft),
        body=body,
        headers={"If-Match": etag} if etag else None,
    )
    return _finish(session, calendar_id, event, draft, timeout)


def delete(session: GoogleSession, calendar_id: str, remote_id: str, *, etag: str | None) -> None:
    """Already deleted (410) or unknown (404) is success. :raises PreconditionFailed: on a stale etag."""
    session.call(
        "DELETE",
        event_path(calendar_id, remote_id),
        headers={"If-Match": etag} if etag else None,
        accept=(404, 410),
    )


def _status(event: Item) -> str:
    create = (event.get("conferenceData") or {}).get("createRequest") or {}
    return str((create.get("status") or {}).get("statusCode") or "")


def _finish(
    session: GoogleSession, calendar_id: str, event: Item, draft: EventDraft, timeout: float
) -> WrittenEvent:
    if draft.native_conference:
        deadline = time.monotonic() + timeout
        pause = FIRST_PAUSE
        while _status(event) == "pending":
            try:
                event = session.json("GET", event_path(calendar_id, str(event["id"])))
            except RemoteNotFound:
                break
            if _status(event) != "pending" or time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
    join = None
    if draft.native_conference:
        join = video_uri(event) or event.get("hangoutLink")
    return WrittenEvent(remote_id=str(event["id"]), etag=event.get("etag"), join_url=join)
