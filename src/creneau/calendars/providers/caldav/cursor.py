"""The CalDAV sync cursor: a small JSON string the sync engine stores per calendar and hands back.

::

    {"v": 1, "mode": "sync", "token": "<RFC 6578 sync-token>"}
    {"v": 1, "mode": "ctag", "ctag": "<CalendarServer getctag, or null when the server has none>"}

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

    def encode(self) -> str:
        if self.mode == "sync":
            return json.dumps({"v": VERSION, "mode": "sync", "token": self.token}, separators=(",", ":"))
        return json.dumps({"v": VERSION, "mode": "ctag", "ctag": self.ctag}, separators=(",", ":"))


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
    if mode == "sync" and isinstance(data.get("token"), str) and data["token"]:
        return Cursor(mode="sync", token=data["token"])
    if mode == "ctag" and (data.get("ctag") is None or isinstance(data.get("ctag"), str)):
        return Cursor(mode="ctag", ctag=data.get("ctag"))
    raise SyncCursorInvalid("the stored CalDAV sync cursor is incomplete; a full sync is needed")
