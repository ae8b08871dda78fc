"""calendarView delta rounds: pages (``$skiptoken``) and the state a ``$deltatoken`` stands for.

A delta token remembers, for one calendar and one window, the ``changeKey`` of every item it had listed.
Following it compares that snapshot with what the window holds now: new or changed items come whole, items
that went away come as ``{"@removed": {"reason": ...}, "id": ...}`` — ``deleted`` when the event (or the
occurrence) is gone, ``changed`` when it still exists but left the window (moved, or its series changed).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from creneau.emulators.msgraph.model import Json


@dataclass
class Snapshot:
    user_id: str
    calendar_id: str
    start: datetime
    end: datetime
    keys: dict[str, str]  # item id → changeKey


@dataclass
class PendingRound:
    """The rest of a round being paged through, and the snapshot its deltaLink will stand for."""

    items: list[Json]
    snapshot: Snapshot
    page_size: int


@dataclass
class DeltaBook:
    pending: dict[str, PendingRound] = field(default_factory=dict)  # skiptoken → rest of a round
    tokens: dict[str, Snapshot] = field(default_factory=dict)  # deltatoken → snapshot

    def start_round(self, items: list[Json], snapshot: Snapshot, page_size: int) -> str:
        token = secrets.token_urlsafe(24)
        self.pending[token] = PendingRound(items, snapshot, page_size)
        return token

    def take_page(self, skiptoken: str) -> tuple[list[Json], str | None, str | None] | None:
        """(page, next skiptoken, deltatoken): exactly one of the two tokens is set; None: unknown token."""
        round_ = self.pending.pop(skiptoken, None)
        if round_ is None:
            return None
        page, rest = round_.items[: round_.page_size], round_.items[round_.page_size :]
        if rest:
            following = secrets.token_urlsafe(24)
            self.pending[following] = PendingRound(rest, round_.snapshot, round_.page_size)
            return page, following, None
        deltatoken = secrets.token_urlsafe(24)
        self.tokens[deltatoken] = round_.snapshot
        return page, None, deltatoken

    def expire(self) -> int:
        """Forget every token (as when Exchange drops sync state); returns how many there were."""
        count = len(self.tokens) + len(self.pending)
        self.tokens.clear()
        self.pending.clear()
        return count


def diff(old: Snapshot, current: list[Json], still_exists: Callable[[str], bool]) -> list[Json]:
    """The items of a delta answer from ``old`` to ``current`` (the window's items now)."""
    now = {item["id"]: item for item in current}
    changed = [item for item_id, item in now.items() if old.keys.get(item_id) != item["changeKey"]]
    removed = [
        {"@removed": {"reason": "changed" if still_exists(item_id) else "deleted"}, "id": item_id}
        for item_id in old.keys
        if item_id not in now
    ]
    return changed + removed
