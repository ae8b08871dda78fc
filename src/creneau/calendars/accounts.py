"""Connected calendar accounts: connect, list, delete, and the per-calendar conflict switch.

Every function takes the researcher's id and only ever touches that researcher's rows: another researcher's
ids raise ``NotFound``, exactly as ids that do not exist. Functions never commit: the caller's transaction
does, so a failure anywhere stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from creneau.calendars.context import EngineContext
from creneau.calendars.providers import open_provider
from creneau.calendars.providers.base import Connection, RemoteCalendar
from creneau.errors import NotFound, ValidationFailed
from creneau.store.models import Calendar, CalendarAccount, CalendarSyncState, SyncedEvent

PROVIDER_LABELS = {"caldav": "CalDAV", "icloud": "iCloud"}


@dataclass(frozen=True)
class DeletionReport:
    accounts: list[str]
    calendars: int
    events: int


def connect_account(
    session: Session,
    *,
    ctx: EngineContext,
    researcher_id: int,
    provider: str,
    server_url: str | None,
    username: str,
    password: str,
) -> CalendarAccount:
    """Check the credentials against the server, then store the account and all its event calendars.

    :raises ValidationFailed: a missing or malformed field, or an account already connected.
    :raises AuthFailed, ServerUnreachable, NotCalDAV, AddressForbidden: from discovery; nothing is stored.
    """
    url = _server_url_for(ctx, provider=provider, server_url=server_url)
    username = username.strip()
    if not username:
        raise ValidationFailed("a username is required", field="username")
    if not password:
        raise ValidationFailed("a password is required", field="password")
    remote = open_provider(provider, Connection(url, username, password), policy=ctx.policy)
    try:
        info = remote.discover()
        remote_calendars = remote.list_calendars()
    finally:
        remote.close()
    duplicate = session.scalar(
        select(CalendarAccount.id).where(
            CalendarAccount.researcher_id == researcher_id,
            CalendarAccount.principal_url == info.principal_url,
        )
    )
    if duplicate is not None:
        raise ValidationFailed("this account is already connected", field="username")
    addresses = {a.lower() for a in info.email_addresses}
    if "@" in username:
        addresses.add(username.lower())
    account = CalendarAccount(
        researcher_id=researcher_id,
        provider=provider,
        display_name=info.display_name or username,
        server_url=url,
        username=username,
        principal_url=info.principal_url,
        home_url=info.home_url,
        owner_addresses="\n".join(sorted(addresses)),
        timezone=info.timezone or ctx.settings.default_timezone,
        credentials=ctx.vault.encrypt(password),
        status="syncing",
    )
    account.calendars = [_new_calendar(rc) for rc in remote_calendars]
    session.add(account)
    session.flush()
    return account


def _server_url_for(ctx: EngineContext, *, provider: str, server_url: str | None) -> str:
    if provider == "icloud":
        if server_url:
            raise ValidationFailed("the iCloud server cannot be changed", field="server_url")
        return ctx.settings.icloud_caldav_url
    if provider != "caldav":
        raise ValidationFailed(f"unknown provider {provider!r}", field="provider")
    url = (server_url or "").strip()
    if not url:
        raise ValidationFailed("a server URL is required", field="server_url")
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed("the server URL must start with https:// or http://", field="server_url")
    return url


def _new_calendar(remote: RemoteCalendar) -> Calendar:
    return Calendar(
        remote_id=remote.remote_id,
        name=remote.name,
        color=remote.color,
        read_only=remote.read_only,
        timezone=remote.timezone,
        check_conflicts=True,
        sync_state=CalendarSyncState(),
    )


def list_accounts(session: Session, *, researcher_id: int) -> list[CalendarAccount]:
    return list(
        session.scalars(
            select(CalendarAccount)
            .where(CalendarAccount.researcher_id == researcher_id)
            .options(selectinload(CalendarAccount.calendars).selectinload(Calendar.sync_state))
            .order_by(CalendarAccount.created_at, CalendarAccount.id)
        )
    )


def get_account(session: Session, *, researcher_id: int, account_id: int) -> CalendarAccount:
    account = session.scalar(
        select(CalendarAccount)
        .where(CalendarAccount.id == account_id, CalendarAccount.researcher_id == researcher_id)
        .options(selectinload(CalendarAccount.calendars).selectinload(Calendar.sync_state))
    )
    if account is None:
        raise NotFound(f"no calendar account {account_id}")
    return account


def delete_account(session: Session, *, researcher_id: int, account_id: int) -> DeletionReport:
    """Remove the account, its encrypted credentials and every cached event, in the caller's transaction."""
    return _delete(session, [get_account(session, researcher_id=researcher_id, account_id=account_id)])


def delete_all_accounts(session: Session, *, researcher_id: int) -> DeletionReport:
    return _delete(session, list_accounts(session, researcher_id=researcher_id))


def _delete(session: Session, accounts: list[CalendarAccount]) -> DeletionReport:
    calendar_ids = [c.id for a in accounts for c in a.calendars]
    events = 0
    if calendar_ids:
        events = (
            session.scalar(
                select(func.count()).select_from(SyncedEvent).where(SyncedEvent.calendar_id.in_(calendar_ids))
            )
            or 0
        )
    report = DeletionReport(
        accounts=[f"{PROVIDER_LABELS.get(a.provider, a.provider)} — {a.display_name}" for a in accounts],
        calendars=len(calendar_ids),
        events=events,
    )
    for account in accounts:
        session.delete(account)  # the database cascades to calendars, events, occurrences, sync state
    session.flush()
    return report


def set_check_conflicts(session: Session, *, researcher_id: int, calendar_id: int, enabled: bool) -> Calendar:
    calendar = session.scalar(
        select(Calendar)
        .join(CalendarAccount)
        .where(Calendar.id == calendar_id, CalendarAccount.researcher_id == researcher_id)
    )
    if calendar is None:
        raise NotFound(f"no calendar {calendar_id}")
    calendar.check_conflicts = enabled
    session.flush()
    return calendar
