"""pull_changes for one calendar folder: SyncFolderItems (IdOnly) for what changed, GetItem in batches for
the bodies.

The cursor is the folder's SyncState, wrapped with a version (``{"v": 1, "folder": id, "state": ...}``).
A quiet resync is one SyncFolderItems call whatever the calendar's size (the state points into the
mailbox's change sequence). A full listing (no cursor) pages through every item with ``MaxChangesReturned``
512 (Exchange's maximum) and downloads only the items whose ChangeKey differs from the etag we hold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exchangelib.fields import FieldPath  # type: ignore[import-untyped]
from exchangelib.folders import FolderId  # type: ignore[import-untyped]
from exchangelib.items import ID_ONLY, CalendarItem  # type: ignore[import-untyped]
from exchangelib.services import GetItem, SyncFolderItems  # type: ignore[import-untyped]

from creneau.calendars.providers.base import BadObject, ChangeSet, Progress, Received, RemoteEvent
from creneau.calendars.providers.ews import errors, render
from creneau.calendars.providers.ews.session import EwsSession
from creneau.errors import SyncCursorInvalid

MAX_CHANGES = 512  # SyncFolderItems' MaxChangesReturned ceiling
BODY_FIELDS = ("mime_content", "my_response_type", "is_cancelled", "legacy_free_busy_status")
_VERSION = 1


@dataclass
class PullOptions:
    batch_size: int
    owner_emails: tuple[str, ...]
    progress: Progress | None = None
    received: Received | None = None


def encode_cursor(folder_id: str, state: str) -> str:
    return json.dumps({"v": _VERSION, "folder": folder_id, "state": state}, separators=(",", ":"))


def decode_cursor(cursor: str, folder_id: str) -> str:
    """:raises SyncCursorInvalid: for a cursor of another version, folder or shape."""
    try:
        data = json.loads(cursor)
    except ValueError:
        data = None
    if (
        not isinstance(data, dict)
        or data.get("v") != _VERSION
        or data.get("folder") != folder_id
        or not isinstance(data.get("state"), str)
        or not data["state"]
    ):
        raise SyncCursorInvalid("this sync cursor is not an Exchange sync state of this calendar")
    return str(data["state"])


def _changes(session: EwsSession, folder_id: str, state: str | None) -> tuple[dict[str, Any], str]:
    """Every change since ``state``: remote id → (kind, change key), and the new state."""
    latest: dict[str, Any] = {}
    account = session.account

    def run() -> str:
        current = state
        while True:
            service = SyncFolderItems(account=account)
            for kind, obj in service.call(
                folder=FolderId(id=folder_id),
                shape=ID_ONLY,
                additional_fields=None,
                sync_state=current,
                ignore=None,
                max_changes_returned=MAX_CHANGES,
                sync_scope="NormalItems",
            ):
                if isinstance(obj, Exception):
                    raise obj
                ident = obj[0] if isinstance(obj, tuple) else obj
                item_id = getattr(ident, "id", None)
                if not item_id or kind == SyncFolderItems.READ_FLAG_CHANGE:
                    continue
                latest[item_id] = (kind, getattr(ident, "changekey", None))
            current = service.sync_state
            if service.includes_last_item_in_range:
                return str(current)

    new_state = session.call(run)
    return latest, new_state


def fields() -> list[Any]:
    return [FieldPath(field=CalendarItem.get_field_by_fieldname(name)) for name in BODY_FIELDS]


def fetch(
    session: EwsSession, ids: list[tuple[str, str | None]], *, owner_emails: tuple[str, ...]
) -> tuple[list[RemoteEvent], list[BadObject], list[str]]:
    """GetItem of ``ids`` in one call: their events, the unreadable ones, the ids already gone."""
    account = session.account

    def run() -> list[Any]:
        service = GetItem(account=account, chunk_size=max(len(ids), 1))
        return list(service.call(items=ids, additional_fields=fields(), shape=ID_ONLY))

    got = session.call(run)
    events: list[RemoteEvent] = []
    bad: list[BadObject] = []
    gone: list[str] = []
    for (item_id, _), item in zip(ids, got, strict=True):
        if isinstance(item, Exception):
            error = errors.translate(item)
            if error.code == "remote_not_found":
                gone.append(item_id)
            elif error.code in ("rate_limited", "transient", "auth_expired", "auth_failed"):
                raise error
            else:
                bad.append(BadObject(item_id, f"Exchange refused to send the event: {error}"))
            continue
        try:
            text = render.from_mime(
                item.mime_content,
                owner_emails=owner_emails,
                my_response=item.my_response_type,
                cancelled=item.is_cancelled,
            )
        except render.Unreadable as exc:
            bad.append(BadObject(item_id, f"Exchange sent an event creneau cannot read: {exc}"))
            continue
        events.append(RemoteEvent(remote_id=item_id, etag=str(item.changekey or ""), ical=text))
    return events, bad, gone


def pull(
    session: EwsSession,
    folder_id: str,
    *,
    cursor: str | None,
    known_etags: Mapping[str, str],
    options: PullOptions,
) -> ChangeSet:
    state = decode_cursor(cursor, folder_id) if cursor is not None else None
    latest, new_state = _changes(session, folder_id, state)
    changes = ChangeSet(cursor=encode_cursor(folder_id, new_state), full=state is None)
    wanted: list[tuple[str, str | None]] = []
    for item_id, (kind, change_key) in latest.items():
        if kind == SyncFolderItems.DELETE:
            if state is not None:
                changes.deleted.append(item_id)
        elif change_key and known_etags.get(item_id) == change_key:
            changes.unchanged.append(item_id)
        else:
            wanted.append((item_id, change_key))
    total = len(wanted)
    done = 0
    if options.progress is not None:
        options.progress(0, total)
    for start in range(0, total, options.batch_size):
        batch = wanted[start : start + options.batch_size]
        events, bad, gone = fetch(session, batch, owner_emails=options.owner_emails)
        changes.upserted.extend(events)
        changes.bad.extend(bad)
        if state is not None:
            changes.deleted.extend(gone)
        if options.received is not None and events:
            options.received(events)
        done += len(batch)
        if options.progress is not None:
            options.progress(done, total)
    return changes
