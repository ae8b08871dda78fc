"""Moving an account of the old Google integration to the new one, keeping every session's choice.

The old integration (connector ``google_legacy``) had its own OAuth application and synced one calendar, the
account's primary one. Moving runs the new integration's consent (the web layer), then in ONE transaction:
the new account is stored with all its calendars (or an already connected new account is reused), every
session and booking that pointed at the old account's calendar points at the same Google calendar in the new
account, the conflict switch is carried over, and the old account is deleted. Events we wrote keep their ids
(derived from the booking's UID), so later moves and cancellations reach them through the new account.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from creneau.calendars.accounts import connect_oauth_account, get_account
from creneau.calendars.context import EngineContext
from creneau.calendars.oauth import TokenSet, connector_of
from creneau.errors import ValidationFailed
from creneau.store.models import Booking, CalendarAccount, StudySession


@dataclass(frozen=True)
class MigrationReport:
    account: CalendarAccount
    sessions_moved: int
    bookings_moved: int


def move_to_new_integration(
    session: Session, *, ctx: EngineContext, researcher_id: int, legacy_account_id: int, tokens: TokenSet
) -> MigrationReport:
    """:raises ValidationFailed: the account is not a legacy one, or the researcher consented with another
    Google account (nothing changes then). ``ProviderError`` from the new account's discovery."""
    legacy = get_account(session, researcher_id=researcher_id, account_id=legacy_account_id)
    if connector_of(legacy) != "google_legacy":
        raise ValidationFailed("this account does not use the old Google integration", field="account")
    account, _created = connect_oauth_account(
        session, ctx=ctx, researcher_id=researcher_id, connector="google", tokens=tokens
    )
    if account.username.lower() != legacy.username.lower():
        raise ValidationFailed(
            "you signed in as %(signed_in)s, but this account is %(expected)s; sign in with that account",
            field="account",
            params={"signed_in": account.username, "expected": legacy.username},
        )
    by_remote = {c.remote_id: c for c in account.calendars}
    sessions_moved = bookings_moved = 0
    for old in legacy.calendars:
        new = by_remote.get(old.remote_id)
        if new is None:  # the calendar is gone from the Google account: its sessions lose it as on deletion
            continue
        new.check_conflicts = old.check_conflicts
        session.flush()
        moved = session.execute(
            update(StudySession)
            .where(StudySession.destination_calendar_id == old.id)
            .values(destination_calendar_id=new.id)
        )
        sessions_moved += int(moved.rowcount or 0)  # type: ignore[attr-defined]
        moved = session.execute(
            update(Booking).where(Booking.calendar_id == old.id).values(calendar_id=new.id)
        )
        bookings_moved += int(moved.rowcount or 0)  # type: ignore[attr-defined]
    session.delete(legacy)
    session.flush()
    return MigrationReport(account=account, sessions_moved=sessions_moved, bookings_moved=bookings_moved)
