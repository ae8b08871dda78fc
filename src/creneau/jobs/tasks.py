"""Job functions: small, idempotent, keyed by ids. Safe to run twice; a runner may retry them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from creneau.calendars import push
from creneau.calendars.context import EngineContext
from creneau.calendars.sync import SyncReport, sync_account
from creneau.scheduling import outbox
from creneau.scheduling.context import Scheduling
from creneau.store.models import CalendarAccount


def sync_account_job(ctx: EngineContext, account_id: int) -> SyncReport | None:
    """Sync one account, then make sure its push channels are open and not about to expire. Returns None
    when the account no longer exists (deleted meanwhile)."""
    report = sync_account(ctx, account_id=account_id)
    if report is not None and report.status == "ok":
        channels = push.ensure_channels(ctx, account_id)
        if channels.first_opened:  # a change made between the sync and the new channel was not announced
            report = sync_account(ctx, account_id=account_id)
    return report


def renew_push_job(ctx: EngineContext, account_id: int) -> push.ChannelReport:
    """Renew (or open again) every push channel of the account now: Graph asked for it."""
    return push.ensure_channels(ctx, account_id, renew_all=True)


def due_account_ids(ctx: EngineContext, now: datetime | None = None) -> list[int]:
    """Accounts whose next sync time has come (periodic sync, and retries after a failure)."""
    now = now or datetime.now(UTC)
    with ctx.sessions() as session:
        rows = session.scalars(
            select(CalendarAccount.id).where(
                CalendarAccount.status != "reconnect_needed",
                (CalendarAccount.next_sync_at.is_(None)) | (CalendarAccount.next_sync_at <= now),
            )
        )
        return list(rows)


def outbox_job(sched: Scheduling, item_id: int) -> str:
    """Write one booking's calendar event or send one email; the item records failures and its next try."""
    return outbox.process(sched, item_id=item_id)


def due_outbox_items(sched: Scheduling, now: datetime | None = None) -> list[int]:
    return outbox.due_items(sched, now=now)
