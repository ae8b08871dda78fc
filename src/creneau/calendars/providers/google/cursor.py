"""The Google sync cursor: ``{"v": 1, "sync_token": "<nextSyncToken of events.list>"}``, one per calendar.

An unreadable cursor, or one of another version, raises ``SyncCursorInvalid`` like an expired token does
(Google answers ``410 fullSyncRequired`` for those), so the engine does a full sync.
"""

from __future__ import annotations

import json

from creneau.errors import SyncCursorInvalid

VERSION = 1


def encode(sync_token: str) -> str:
    return json.dumps({"v": VERSION, "sync_token": sync_token}, separators=(",", ":"))


def decode(text: str) -> str:
    """The sync token. :raises SyncCursorInvalid: when ``text`` is not a cursor this version wrote."""
    try:
        data = json.loads(text)
    except ValueError:
        raise SyncCursorInvalid(
            "the stored Google sync cursor is unreadable; a full sync is needed"
        ) from None
    token = data.get("sync_token") if isinstance(data, dict) and data.get("v") == VERSION else None
    if not isinstance(token, str) or not token:
        raise SyncCursorInvalid("the stored Google sync cursor has an unknown format; a full sync is needed")
    return token
