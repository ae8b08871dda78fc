"""Deleting calendar accounts without losing bookings.

When an account goes, every session whose destination calendar was one of its calendars is flagged "no
destination calendar" (its settings and the dashboard say so until another is chosen), pending calendar
writes to its calendars stop, and the bookings stay — only their events are no longer ours to manage.
Push channels are stopped and, for Google, creneau's access is revoked (best effort) before the rows go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from creneau.calendars.accounts import (
    DeletionReport,
    delete_account,
    delete_all_accounts,
    get_account,
    list_accounts,
    release_remote,
)
from creneau.calendars.context import EngineContext
from creneau.scheduling.outbox import cancel_calendar_writes
from creneau.store.models import CalendarAccount, StudySession


@dataclass
class DisconnectReport:
    deletion: DeletionReport
    sessions_flagged: list[str] = field(default_factory=list)  # "Study — Session"
    bookings_detached: int = 0


def disconnect_account(
    session: Session, *, ctx: EngineContext, researcher_id: int, account_id: int
) -> DisconnectReport:
    account = get_account(session, researcher_id=researcher_id, account_id=account_id)
    release_remote(ctx, [account])
    flagged, detached = _before_deletion(session, [account])
    return DisconnectReport(
        deletion=delete_account(session, researcher_id=researcher_id, account_id=account_id),
        sessions_flagged=flagged,
        bookings_detached=detached,
    )


def disconnect_all(session: Session, *, ctx: EngineContext, researcher_id: int) -> DisconnectReport:
    accounts = list(list_accounts(session, researcher_id=researcher_id))
    release_remote(ctx, accounts)
    flagged, detached = _before_deletion(session, accounts)
    return DisconnectReport(
        deletion=delete_all_accounts(session, researcher_id=researcher_id),
        sessions_flagged=flagged,
        bookings_detached=detached,
    )


def _before_deletion(session: Session, accounts: list[CalendarAccount]) -> tuple[list[str], int]:
    calendar_ids = [c.id for a in accounts for c in a.calendars]
    if not calendar_ids:
        return [], 0
    flagged = []
    for study_session in session.scalars(
        select(StudySession).where(StudySession.destination_calendar_id.in_(calendar_ids))
    ):
        study_session.destination_lost = True
        study_session.destination_calendar_id = None
        flagged.append(f"{study_session.study.name} — {study_session.name}")
    detached = cancel_calendar_writes(session, calendar_ids=calendar_ids, now=datetime.now(UTC))
    session.flush()
    return flagged, detached
