"""Writing our events: POST with a ``transactionId`` (safe retries), PATCH and DELETE with ``If-Match``.

Graph lets no client choose an event's iCalUId, so our idempotency key travels twice: as the
``transactionId`` (a UUID derived from ``draft.uid``: Graph answers a repeated POST with the event the first
one created) and as a named extended property (:data:`UID_PROPERTY`) holding ``draft.uid`` itself, so the
event still says which booking it is. Teams: with ``draft.native_conference`` and a calendar whose
``allowedOnlineMeetingProviders`` has ``teamsForBusiness`` we ask for a Teams meeting; its join URL comes
back in ``WrittenEvent.join_url``. Personal accounts have no Teams for business: no link, no error.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from creneau.calendars.providers.base import EventDraft, WrittenEvent
from creneau.calendars.providers.msgraph.render import etag_of
from creneau.calendars.providers.msgraph.session import UTC_PREFERENCE, GraphSession, Json, segment
from creneau.errors import PreconditionFailed

# A named MAPI property in the PS_PUBLIC_STRINGS set, the documented way to store an app's own value.
UID_PROPERTY = "String {00020329-0000-0000-C000-000000000046} Name creneauUid"
_TXN_NAMESPACE = uuid.UUID("8f3c2b1e-5d1a-4c7e-9f0b-6a2d3e4f5a6b")
_HEADERS = {"Prefer": UTC_PREFERENCE}


def transaction_id(uid: str) -> str:
    """The ``transactionId`` of ``uid``: the same for every retry of one booking."""
    return str(uuid.uuid5(_TXN_NAMESPACE, uid))


def _time(value: datetime) -> Json:
    return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def body_of(draft: EventDraft, *, teams: bool) -> Json:
    text = "\n\n".join(part for part in (draft.description, draft.url) if part)
    body: dict[str, Any] = {
        "subject": draft.summary,
        "body": {"contentType": "text", "content": text},
        "start": _time(draft.start),
        "end": _time(draft.end),
        "location": {"displayName": draft.location},
        "showAs": "busy",
        "singleValueExtendedProperties": [{"id": UID_PROPERTY, "value": draft.uid}],
    }
    if teams:
        body.update(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
    return body


def written(event: Json) -> WrittenEvent:
    join_url = (event.get("onlineMeeting") or {}).get("joinUrl")
    return WrittenEvent(
        remote_id=str(event["id"]),
        etag=etag_of(event) or None,
        join_url=str(join_url) if join_url else None,
    )


def create(session: GraphSession, calendar_id: str, draft: EventDraft, *, teams: bool) -> WrittenEvent:
    """POST; a retry with the same ``draft.uid`` gets the event the first attempt created."""
    body = {**body_of(draft, teams=teams), "transactionId": transaction_id(draft.uid)}
    url = session.url(f"me/calendars/{segment(calendar_id)}/events")
    return written(session.json(session.send("POST", url, body=body, headers=_HEADERS)))


def update(
    session: GraphSession,
    calendar_id: str,
    remote_id: str,
    draft: EventDraft,
    *,
    etag: str | None,
    teams: bool,
) -> WrittenEvent:
    """PATCH. :raises PreconditionFailed: when ``etag`` no longer matches; RemoteNotFound when it is gone."""
    url = session.url(f"me/calendars/{segment(calendar_id)}/events/{segment(remote_id)}")
    headers = {**_HEADERS, **({"If-Match": etag} if etag else {})}
    response = session.send("PATCH", url, body=body_of(draft, teams=teams), headers=headers)
    return written(session.json(response))


def delete(session: GraphSession, calendar_id: str, remote_id: str, *, etag: str | None) -> None:
    """DELETE; an event already gone is fine. :raises PreconditionFailed: when ``etag`` no longer matches."""
    url = session.url(f"me/calendars/{segment(calendar_id)}/events/{segment(remote_id)}")
    response = session.send("DELETE", url, headers={"If-Match": etag} if etag else None, accept=(404, 410))
    if response.status_code == 412:  # pragma: no cover - send() raises it already
        raise PreconditionFailed("the event changed since we read it")
