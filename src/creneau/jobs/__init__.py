"""Background work. Job functions live in ``tasks.py`` and take plain ids, so that any runner can call them:
the in-process runner of ``inprocess.py`` (default, SQLite) or a distributed worker later (procrastinate on
PostgreSQL, see docs/decisions/0003-in-process-jobs-first.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class JobQueue(Protocol):
    def enqueue_sync(self, account_id: int) -> None:
        """Ask for a sync of the account soon; repeated asks while one is queued collapse into one."""

    def enqueue_outbox(self, item_ids: Iterable[int]) -> None:
        """Process these outbox items soon (calendar events and emails owed for bookings)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...
