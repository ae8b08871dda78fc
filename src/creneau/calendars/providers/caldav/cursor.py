"""The CalDAV sync cursor: a small JSON string the sync engine stores per calendar and hands back.

::

    {"v": 1, "mode": "sync", "token": "<RFC 6578 sync-token>", "checked": 1796000000}
    {"v": 1, "mode": "ctag", "ctag": "<CalendarServer getctag, or null>", "checked": 1796000000}

``checked`` (Unix seconds) is when the last full listing compared every member's etag with ours: the periodic
verification (``CRENEAU_CALDAV_VERIFY_HOURS``, see ``sync.py``) lists everything again once it is that old.
A cursor without it (written before the verification existed) starts that clock at its next use.

``sync`` is used whenever the collection supports the sync-collection REPORT; ``ctag`` is the fallback for
servers without it. A cursor we cannot read raises ``SyncCursorInvalid``, like an expired token does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from creneau.errors import SyncCursorInvalid

VERSION = 1


@dataclass(frozen=True)
class Cursor:
    mode: Literal["sync", "ctag"]
    token: str | None = None  # mode "sync"
    ctag: str | None = None  # mode "ctag"
    checked: int | None = None  # when the last full listing was made (Unix seconds)

    def encode(self) -> str:
        data: dict[str, object] = {"v": VERSION, "mode": self.mode}
        if self.mode == "sync":
            data["token"] = self.token
        else:
            data["ctag"] = self.ctag
        if self.checked is not None:
            data["checked"] = self.checked
        return json.dumps(data, separators=(",", ":"))


def decode(text: str) -> Cursor:
    """:raises SyncCursorInvalid: when ``text`` is not a cursor this version wrote."""
    try:
        data = json.loads(text)
    except ValueError:
        raise SyncCursorInvalid(
            "the stored CalDAV sync cursor is unreadable; a full sync is needed"
        ) from None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise SyncCursorInvalid("the stored CalDAV sync cursor has an unknown format; a full sync is needed")
    mode = data.get("mode")
    checked = data.get("checked")
    if not isinstance(checked, int) or isinstance(checked, bool):
        checked = None
    if mode == "sync" and isinstance(data.get("token"), str) and data["token"]:
        return Cursor(mode="sync", token=data["token"], checked=checked)
    if mode == "ctag" and (data.get("ctag") is None or isinstance(data.get("ctag"), str)):
        return Cursor(mode="ctag", ctag=data.get("ctag"), checked=checked)
    raise SyncCursorInvalid("the stored CalDAV sync cursor is incomplete; a full sync is needed")
