"""CreateItem / UpdateItem / DeleteItem of creneau's bookings, sending no meeting invitations (the
participant gets creneau's own email).

Our booking UID is kept twice: as the item's ``UID`` (what Exchange writes in its iCalendar) and in a
string extended property of creneau's own property set, which FindItem can search with a restriction, so a
create whose answer was lost is found again and never duplicated. Updates send the ChangeKey we hold with
``NeverOverwrite``: a changed item answers ``ErrorIrresolvableConflict`` → ``PreconditionFailed``. DeleteItem
takes no ChangeKey in EWS, so a delete with an etag first reads the item's ChangeKey (GetItem, IdOnly) and
refuses when it differs.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from exchangelib import UTC as EWS_UTC  # type: ignore[import-untyped]
from exchangelib import EWSDateTime, ExtendedProperty
from exchangelib.folders import Calendar  # type: ignore[import-untyped]
from exchangelib.items import (  # type: ignore[import-untyped]
    ALWAYS_OVERWRITE,
    ID_ONLY,
    NEVER_OVERWRITE,
    SEND_TO_NONE,
    CalendarItem,
)
from exchangelib.services import GetItem  # type: ignore[import-untyped]

from creneau.calendars.providers.base import EventDraft, WrittenEvent
from creneau.calendars.providers.ews import errors
from creneau.calendars.providers.ews.session import EwsSession
from creneau.errors import PreconditionFailed, RemoteNotFound

# creneau's own property set (a fixed GUID of ours) and the property's name.
PROPERTY_SET = "8c6f1c5e-2d4b-4c39-9a57-6e0f3a1c2b7d"
PROPERTY_NAME = "creneau-booking-uid"
FIELD = "creneau_booking_uid"
_registered = threading.Lock()


class BookingUid(ExtendedProperty):  # type: ignore[misc]
    property_set_id = PROPERTY_SET
    property_name = PROPERTY_NAME
    property_type = "String"


def register() -> None:
    with _registered:
        if FIELD not in {f.name for f in CalendarItem.FIELDS}:
            CalendarItem.register(FIELD, BookingUid)


def ews_time(value: datetime) -> Any:
    """An aware datetime as exchangelib's (UTC)."""
    utc = value.astimezone(UTC)
    return EWSDateTime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, tzinfo=EWS_UTC)


def folder(session: EwsSession, calendar_id: str) -> Any:
    return Calendar(root=session.account.root, id=calendar_id)


def _fill(item: Any, draft: EventDraft) -> None:
    item.subject = draft.summary
    item.start = ews_time(draft.start)
    item.end = ews_time(draft.end)
    body = draft.description
    if draft.url:
        body = f"{body}\n\n{draft.url}" if body else draft.url
    item.body = body or None
    item.location = draft.location or None
    item.legacy_free_busy_status = "Busy"
    setattr(item, FIELD, draft.uid)


def find(session: EwsSession, calendar_id: str, uid: str) -> Any | None:
    """The item creneau wrote for ``uid`` in the calendar, or None."""
    register()

    def run() -> Any | None:
        found = list(folder(session, calendar_id).filter(**{FIELD: uid}).only("id", "changekey")[:2])
        return found[0] if found else None

    return session.call(run)


def create(session: EwsSession, calendar_id: str, draft: EventDraft) -> WrittenEvent:
    existing = find(session, calendar_id, draft.uid)
    if existing is not None:
        return WrittenEvent(remote_id=existing.id, etag=existing.changekey)

    def run() -> Any:
        item = CalendarItem(account=session.account, folder=folder(session, calendar_id), uid=draft.uid)
        _fill(item, draft)
        item.save(send_meeting_invitations=SEND_TO_NONE)
        return item

    item = session.call(run)
    return WrittenEvent(remote_id=item.id, etag=item.changekey)


def current_key(session: EwsSession, remote_id: str) -> str | None:
    """The item's ChangeKey now, or None when it is gone."""

    def run() -> Any:
        return list(
            GetItem(account=session.account).call(
                items=[(remote_id, None)], additional_fields=[], shape=ID_ONLY
            )
        )

    [got] = session.call(run)
    if isinstance(got, Exception):
        error = errors.translate(got)
        if isinstance(error, RemoteNotFound):
            return None
        raise error
    return str(got.changekey)


def update(
    session: EwsSession, calendar_id: str, remote_id: str, draft: EventDraft, *, etag: str | None
) -> WrittenEvent:
    register()
    key = etag or current_key(session, remote_id)
    if key is None:
        raise RemoteNotFound("the event is no longer on the Exchange server")

    def run() -> Any:
        item = CalendarItem(
            account=session.account, folder=folder(session, calendar_id), id=remote_id, changekey=key
        )
        _fill(item, draft)
        item.save(
            update_fields=["subject", "start", "end", "body", "location", "legacy_free_busy_status", FIELD],
            conflict_resolution=NEVER_OVERWRITE if etag else ALWAYS_OVERWRITE,
            send_meeting_invitations=SEND_TO_NONE,
        )
        return item

    item = session.call(run)
    return WrittenEvent(remote_id=str(item.id), etag=str(item.changekey))


def delete(session: EwsSession, calendar_id: str, remote_id: str, *, etag: str | None) -> None:
    key = current_key(session, remote_id)
    if key is None:
        return  # already gone
    if etag and key != etag:
        raise PreconditionFailed("the event changed on the Exchange server since we read it")

    def run() -> None:
        item = CalendarItem(
            account=session.account, folder=folder(session, calendar_id), id=remote_id, changekey=key
        )
        item.delete(send_meeting_cancellations=SEND_TO_NONE)

    try:
        session.call(run)
    except RemoteNotFound:
        return
