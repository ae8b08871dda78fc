"""Connected calendar accounts: connect, list, delete, and the per-calendar conflict switch.

Every function takes the researcher's id and only ever touches that researcher's rows: another researcher's
ids raise ``NotFound``, exactly as ids that do not exist. Functions never commit: the caller's transaction
does, so a failure anywhere stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from creneau.calendars import push
from creneau.calendars.context import EngineContext
from creneau.calendars.oauth import TokenSet, connector_of, is_oauth
from creneau.calendars.oauth.tokens import revoke
from creneau.calendars.providers import load as load_provider
from creneau.calendars.providers import open_provider
from creneau.calendars.providers.base import CalendarProvider, Connection, RemoteCalendar
from creneau.calendars.providers.ics.address import feed_url
from creneau.calendars.providers.urls import check_server_url, without_user_info
from creneau.errors import CreneauError, InvalidServerUrl, NotFound, ValidationFailed
from creneau.store.models import Calendar, CalendarAccount, CalendarSyncState, SyncedEvent

PROVIDER_LABELS = {
    "exchange": "Exchange",
    "caldav": "CalDAV",
    "icloud": "iCloud",
    "google": "Google",
    "google_legacy": "Google",
    "office365": "Office 365",
    "outlook": "Outlook.com",
    "ics": "ICS",
}


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
    addresses = {username.lower()} if "@" in username else set()
    return _discover_and_store(
        session,
        ctx=ctx,
        researcher_id=researcher_id,
        remote=remote,
        provider=provider,
        server_url=url,
        username=username,
        password=password,
        addresses=addresses,
        duplicate_field="username",
        display_name=username,
    )


def _discover_and_store(
    session: Session,
    *,
    ctx: EngineContext,
    researcher_id: int,
    remote: CalendarProvider,
    provider: str,
    server_url: str | None,
    username: str,
    password: str,
    addresses: set[str],
    duplicate_field: str,
    display_name: str,
) -> CalendarAccount:
    """Discover the account behind ``remote`` and store it with its calendars, its password encrypted
    (``server_url`` None: the address discovery found; ``display_name`` when the server names none). Nothing
    is stored when discovery fails.

    :raises ValidationFailed: on ``duplicate_field`` when the researcher already connected this account."""
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
        raise ValidationFailed("this account is already connected", field=duplicate_field)
    account = CalendarAccount(
        researcher_id=researcher_id,
        provider=provider,
        display_name=info.display_name or display_name,
        server_url=server_url or info.home_url,
        username=username,
        principal_url=info.principal_url,
        home_url=info.home_url,
        owner_addresses="\n".join(sorted({a.lower() for a in info.email_addresses} | addresses)),
        timezone=info.timezone or ctx.settings.default_timezone,
        credentials=ctx.vault.encrypt(password),
        status="syncing",
    )
    account.calendars = [_new_calendar(rc) for rc in remote_calendars]
    session.add(account)
    session.flush()
    return account


def connect_feed(session: Session, *, ctx: EngineContext, researcher_id: int, url: str) -> CalendarAccount:
    """Subscribe to a read-only ICS feed (``webcal://`` is read as ``https://``): it is downloaded once
    (through the network guard, within ``ics_max_bytes``) and stored as an account with its one calendar,
    read-only, its events counted as busy.

    :raises ValidationFailed: a malformed address (field ``server_url``), or a feed already subscribed.
    :raises NotAFeed, ResponseTooLarge, ServerUnreachable, AddressForbidden, AuthFailed: nothing is stored.
    """
    address = _checked_url(feed_url(url))  # webcal:// → https://, then the check every server URL gets
    remote = load_provider("ics").from_settings(
        Connection(address, "", ""), policy=ctx.policy, settings=ctx.settings
    )
    try:
        info = remote.discover()
        remote_calendars = remote.list_calendars()
    finally:
        remote.close()
    duplicate = session.scalar(
        select(CalendarAccount.id).where(
            CalendarAccount.researcher_id == researcher_id,
            CalendarAccount.provider == "ics",
            CalendarAccount.server_url == address,
        )
    )
    if duplicate is not None:
        raise ValidationFailed("you are already subscribed to this feed", field="server_url")
    name = info.display_name or address
    account = CalendarAccount(
        researcher_id=researcher_id,
        provider="ics",
        display_name=name,
        server_url=address,
        username=name,  # what the pages show beside "ICS", and the calendar's name at every sync
        principal_url=info.principal_url,
        home_url=info.home_url,
        owner_addresses="",
        timezone=ctx.settings.default_timezone,
        credentials=ctx.vault.encrypt(""),
        status="syncing",
    )
    account.calendars = [_new_calendar(rc) for rc in remote_calendars]
    session.add(account)
    session.flush()
    return account


def connect_oauth_account(
    session: Session, *, ctx: EngineContext, researcher_id: int, connector: str, tokens: TokenSet
) -> tuple[CalendarAccount, bool]:
    """Store the account the researcher just consented to, with all its calendars; returns it and whether it
    is new. An account already connected (same connector, same e-mail) gets the new tokens instead (a
    reconnect), keeping its calendars and every session's choice.

    :raises ValidationFailed: an unknown connector. ``ProviderError`` from discovery: nothing is stored.
    """
    app = ctx.apps.get(connector)
    if app is None:
        raise ValidationFailed(f"{connector} accounts cannot be connected here", field="provider")
    remote = open_provider(app.provider, Connection(app.api_url, "", tokens.to_secret()), policy=ctx.policy)
    try:
        info = remote.discover()
        remote_calendars = remote.list_calendars()
    finally:
        remote.close()
    email = (info.email_addresses[0] if info.email_addresses else info.display_name or "").lower()
    existing = _oauth_account(session, researcher_id=researcher_id, connector=connector, email=email)
    if existing is not None:
        _renew_sign_in(ctx, existing, tokens)
        return existing, False
    if app.single_calendar:
        remote_calendars = [c for c in remote_calendars if c.remote_id == email]
    account = CalendarAccount(
        researcher_id=researcher_id,
        provider=app.provider,
        connector=None if connector == app.provider else connector,
        display_name=info.display_name or email,
        server_url=app.api_url,
        username=email,
        principal_url=info.principal_url,
        home_url=info.home_url,
        owner_addresses="\n".join(sorted({a.lower() for a in info.email_addresses} | {email})),
        timezone=info.timezone or ctx.settings.default_timezone,
        credentials=ctx.vault.encrypt(tokens.to_secret()),
        status="syncing",
    )
    account.calendars = [_new_calendar(rc) for rc in remote_calendars]
    session.add(account)
    session.flush()
    return account, True


def reconnect_oauth_account(
    session: Session, *, ctx: EngineContext, researcher_id: int, account_id: int, tokens: TokenSet
) -> CalendarAccount:
    """Give an account whose sign-in was revoked or expired its new tokens; its calendars, their conflict
    switches and every session's destination stay as they were.

    :raises ValidationFailed: when the researcher signed in with another account than this one.
    """
    account = get_account(session, researcher_id=researcher_id, account_id=account_id)
    app = ctx.apps.get(connector_of(account))
    if app is None:
        raise ValidationFailed("this kind of account cannot be reconnected here", field="provider")
    remote = open_provider(app.provider, Connection(app.api_url, "", tokens.to_secret()), policy=ctx.policy)
    try:
        info = remote.discover()
    finally:
        remote.close()
    emails = {a.lower() for a in info.email_addresses}
    if account.username.lower() not in emails:
        raise ValidationFailed(
            "you signed in as %(signed_in)s, but this account is %(expected)s; sign in with that account",
            field="account",
            params={"signed_in": ", ".join(sorted(emails)) or "?", "expected": account.username},
        )
    _renew_sign_in(ctx, account, tokens)
    return account


def _oauth_account(
    session: Session, *, researcher_id: int, connector: str, email: str
) -> CalendarAccount | None:
    candidates = session.scalars(
        select(CalendarAccount).where(
            CalendarAccount.researcher_id == researcher_id, func.lower(CalendarAccount.username) == email
        )
    )
    return next((a for a in candidates if connector_of(a) == connector), None)


def _renew_sign_in(ctx: EngineContext, account: CalendarAccount, tokens: TokenSet) -> None:
    account.credentials = ctx.vault.encrypt(tokens.to_secret())
    account.status, account.status_detail = "syncing", ""
    account.failures = 0
    account.next_sync_at = None


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
    return _checked_url(url)


def _checked_url(url: str, *, field: str = "server_url") -> str:
    """:raises ValidationFailed: on ``field`` when :func:`check_server_url` refuses ``url``."""
    try:
        return check_server_url(url)
    except InvalidServerUrl as exc:
        raise ValidationFailed(exc.message_id, field=field, params=exc.params) from None


def shown_server_url(url: str) -> str:
    """A server URL as pages and answers show it: never with a user name or password, which an account
    connected before the URL check (:func:`check_server_url`) may still carry in its row, and which a
    refused URL carries when its form is shown again."""
    return without_user_info(url)


def _new_calendar(remote: RemoteCalendar) -> Calendar:
    return Calendar(
        remote_id=remote.remote_id,
        name=remote.name,
        color=remote.color,
        read_only=remote.read_only,
        timezone=remote.timezone,
        conferencing=remote.conferencing,
        check_conflicts=True,
        sync_state=CalendarSyncState(),
    )


def list_accounts(session: Session, *, researcher_id: int) -> list[CalendarAccount]:
    return list(
        session.scalars(
            select(CalendarAccount)
            .where(CalendarAccount.researcher_id == researcher_id)
            .options(
                selectinload(CalendarAccount.calendars).selectinload(Calendar.sync_state),
                selectinload(CalendarAccount.channels),
            )
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


def release_remote(ctx: EngineContext, accounts: list[CalendarAccount]) -> None:
    """Before accounts are deleted: stop their push channels and, where the provider allows it (Google),
    revoke creneau's access. Best effort, never raises: the deletion must not depend on a remote server."""
    push.stop_channels(ctx, accounts)
    for account in accounts:
        app = ctx.apps.get(connector_of(account)) if is_oauth(account) else None
        if app is None or app.revoke_url is None:
            continue
        try:
            revoke(app, TokenSet.from_secret(ctx.vault.decrypt(account.credentials)))
        except CreneauError:
            continue  # unreadable credentials: nothing to revoke


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


# -- Exchange (EWS) ------------------------------------------------------------------------------------


def _ews_url(value: str | None, *, field: str) -> str:
    """A typed EWS address made absolute, or "" (Autodiscover).

    :raises ValidationFailed: on ``field`` when the shared server-URL check refuses it."""
    url = (value or "").strip()
    if not url:
        return ""
    if "://" not in url:
        url = "https://" + url
    return _checked_url(url, field=field)


def connect_exchange_account(
    session: Session,
    *,
    ctx: EngineContext,
    researcher_id: int,
    email: str,
    username: str,
    password: str,
    ews_url: str | None = None,
    url_field: str = "ews_url",
) -> CalendarAccount:
    """Connect an on-premises Exchange mailbox: Autodiscover from ``email`` when ``ews_url`` is empty, else
    that EWS address; then store the account (its password encrypted) and every calendar folder.

    :raises ValidationFailed: a missing or malformed field, or an account already connected.
    :raises AuthFailed, AutodiscoverFailed, NotExchange, TlsUntrusted, MailboxNotFound, ServerUnreachable,
        AddressForbidden, RateLimited: from discovery; nothing is stored.
    """
    email = email.strip()
    if "@" not in email or email.startswith("@") or email.endswith("@") or " " in email:
        raise ValidationFailed("Enter a valid email address.", field="email")
    username = username.strip() or email
    if not password:
        raise ValidationFailed("a password is required", field="password")
    url = _ews_url(ews_url, field=url_field)
    connection = Connection(url, username, password, principal_url=f"mailto:{email}")
    remote = open_provider(
        "exchange", connection, policy=ctx.policy, options={"ca_bundle": ctx.settings.ews_ca_bundle}
    )
    return _discover_and_store(
        session,
        ctx=ctx,
        researcher_id=researcher_id,
        remote=remote,
        provider="exchange",
        server_url=None,  # the EWS address, found by Autodiscover or typed
        username=username,
        password=password,
        addresses={email.lower()},
        duplicate_field="email",
        display_name=email,
    )
