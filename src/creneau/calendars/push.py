"""Push: the calendar server tells us when a calendar changes, instead of us asking every few minutes.

Google (``events.watch`` channels) and Microsoft Graph (subscriptions) call creneau's webhooks under
``CRENEAU_PUSH_BASE_URL`` (a public HTTPS address). Without that setting, or for a calendar whose channel
could not be opened, the account is polled every ``sync_interval_seconds``; with every calendar on push it is
still checked every ``push_safety_sync_seconds`` in case a notification was lost.

- :func:`ensure_channels` (after each successful sync, and on demand) opens a channel per calendar, renews
  those expiring within ``push_renew_before_seconds`` (Google: a new channel, then the old one stopped; Graph:
  PATCH, or a new subscription when Graph forgot it) and drops those of calendars that are gone.
- :func:`google_notification` / :func:`graph_notifications` check a notification against the stored channel
  (the channel token / clientState, random per channel and encrypted at rest, compared in constant time) and
  say which account to sync; anything that does not match is refused and logged, and triggers nothing.
- :func:`stop_channels` stops an account's channels before it is deleted.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from creneau.calendars.context import EngineContext
from creneau.calendars.providers.base import CalendarProvider
from creneau.calendars.providers.google import GoogleProvider
from creneau.calendars.providers.google import push as google_push
from creneau.calendars.providers.msgraph import MicrosoftGraphProvider
from creneau.calendars.providers.msgraph import push as graph_push
from creneau.errors import ProviderError, RemoteNotFound
from creneau.store.models import Calendar, CalendarAccount, PushChannel

log = logging.getLogger(__name__)

PUSH_KINDS = ("google", "msgraph")
GOOGLE_PATH = "/webhooks/google"
GRAPH_PATH = "/webhooks/microsoft"
GRAPH_LIFECYCLE_PATH = "/webhooks/microsoft/lifecycle"
STOP_TIMEOUT = 5.0  # seconds per request when stopping channels of an account being deleted


def push_enabled(ctx: EngineContext, account: CalendarAccount) -> bool:
    return bool(ctx.settings.push_base_url) and account.provider in PUSH_KINDS


def account_mode(ctx: EngineContext, account: CalendarAccount, *, now: datetime | None = None) -> str:
    """ "push" when every calendar of the account has a live channel, else "polling"."""
    if not push_enabled(ctx, account) or not account.calendars:
        return "polling"
    now = now or datetime.now(UTC)
    live = {c.calendar_id for c in account.channels if c.expires_at > now}
    return "push" if all(cal.id in live for cal in account.calendars) else "polling"


@dataclass
class ChannelReport:
    opened: int = 0
    first_opened: int = 0  # calendars that had no channel: changes made before it opened were not announced
    renewed: int = 0
    stopped: int = 0
    failed: list[str] = field(default_factory=list)


def ensure_channels(ctx: EngineContext, account_id: int, *, renew_all: bool = False) -> ChannelReport:
    """Give every calendar of the account a live channel; renew those expiring soon (all, with
    ``renew_all``: Graph asked for reauthorization). Never raises for a server's failure: the account
    stays on polling and ``push_detail`` says why."""
    report = ChannelReport()
    with ctx.sessions() as session:
        account = session.scalar(
            select(CalendarAccount)
            .where(CalendarAccount.id == account_id)
            .options(selectinload(CalendarAccount.calendars), selectinload(CalendarAccount.channels))
        )
        if account is None or not push_enabled(ctx, account) or account.status == "reconnect_needed":
            return report
        now = datetime.now(UTC)
        horizon = now + timedelta(seconds=ctx.settings.push_renew_before_seconds)
        calendars = {c.id: c.remote_id for c in account.calendars}
        current = {ch.calendar_id: ch for ch in account.channels}
        to_stop = [ch for ch in account.channels if ch.calendar_id not in calendars]
        to_open = [
            cid for cid in calendars if cid not in current or renew_all or current[cid].expires_at <= horizon
        ]
        if not to_open and not to_stop:
            return report
        try:
            provider = ctx.provider_for(account)
        except ProviderError as exc:
            report.failed.append(f"{exc.code}: {exc}")
            return report
    try:
        for channel in to_stop:
            try:
                _stop(provider, channel.kind, channel.channel_id, channel.resource_id)
                report.stopped += 1
            except ProviderError as exc:  # its calendar is gone; the channel expires on its own
                log.info("channel %s not stopped: %s", channel.channel_id, exc)
            _delete_channel(ctx, channel.id)
        for calendar_id in to_open:
            old = current.get(calendar_id)
            try:
                _open_or_renew(ctx, provider, account_id, calendar_id, calendars[calendar_id], old, report)
            except ProviderError as exc:
                report.failed.append(f"{exc.code}: {exc}")
                log.warning("push for calendar %s of account %s not set up: %s", calendar_id, account_id, exc)
    finally:
        provider.close()
    _record(ctx, account_id, report)
    return report


def _open_or_renew(
    ctx: EngineContext,
    provider: CalendarProvider,
    account_id: int,
    calendar_id: int,
    remote_id: str,
    old: PushChannel | None,
    report: ChannelReport,
) -> None:
    if isinstance(provider, MicrosoftGraphProvider):
        if old is not None and _renew_subscription(ctx, provider, old):
            report.renewed += 1
            return
        row = _subscribe(ctx, provider, remote_id)
        row.account_id, row.calendar_id = account_id, calendar_id
        _replace(ctx, old, row)
    elif isinstance(provider, GoogleProvider):
        _watch(ctx, provider, account_id, calendar_id, remote_id)
        _replace(ctx, old, None)
        if old is not None:  # the new channel works: the old one can go
            try:
                _stop(provider, old.kind, old.channel_id, old.resource_id)
            except ProviderError as exc:
                log.info("old Google channel %s not stopped (it expires anyway): %s", old.channel_id, exc)
    else:
        return
    report.opened += 1
    if old is None:
        report.first_opened += 1


def _subscription_expiry(ctx: EngineContext) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=ctx.settings.microsoft_subscription_minutes)


def _renew_subscription(ctx: EngineContext, provider: MicrosoftGraphProvider, old: PushChannel) -> bool:
    """PATCH the subscription's expiry; False when Graph forgot it (subscribe again)."""
    try:
        renewed = provider.renew(old.channel_id, expires=_subscription_expiry(ctx))
    except RemoteNotFound:
        return False
    _save(ctx, old.id, expires=renewed.expires)
    return True


def _subscribe(ctx: EngineContext, provider: MicrosoftGraphProvider, remote_id: str) -> PushChannel:
    base = ctx.settings.push_base_url.rstrip("/")
    secret = secrets.token_urlsafe(32)
    subscription = provider.subscribe(
        remote_id,
        notification_url=base + GRAPH_PATH,
        lifecycle_url=base + GRAPH_LIFECYCLE_PATH,
        client_state=secret,
        expires=_subscription_expiry(ctx),
    )
    return PushChannel(
        kind="msgraph",
        channel_id=subscription.id,
        resource_id="",
        secret=ctx.vault.encrypt(secret),
        expires_at=subscription.expires,
    )


def _watch(
    ctx: EngineContext, provider: GoogleProvider, account_id: int, calendar_id: int, remote_id: str
) -> None:
    """Open a Google channel. Its row is stored BEFORE ``events.watch``: Google sends the channel's first
    message ("sync") at once, possibly before the watch call has even answered us."""
    ttl = timedelta(seconds=ctx.settings.google_channel_ttl_seconds)
    secret = secrets.token_urlsafe(32)
    row = PushChannel(
        account_id=account_id,
        calendar_id=calendar_id,
        kind="google",
        channel_id=str(uuid.uuid4()),
        resource_id="",  # known once Google answers; until then the token alone is checked
        secret=ctx.vault.encrypt(secret),
        expires_at=datetime.now(UTC) + ttl,
    )
    with ctx.sessions() as session, session.begin():
        session.add(row)
        session.flush()
        row_id, channel_id = row.id, row.channel_id
    address = ctx.settings.push_base_url.rstrip("/") + GOOGLE_PATH
    try:
        channel = provider.watch(remote_id, address=address, token=secret, channel_id=channel_id, ttl=ttl)
    except ProviderError:
        _delete_channel(ctx, row_id)
        raise
    with ctx.sessions() as session, session.begin():
        stored = session.get(PushChannel, row_id)
        if stored is not None:
            stored.resource_id = channel.resource_id
            stored.expires_at = channel.expiration or stored.expires_at


def _replace(ctx: EngineContext, old: PushChannel | None, new: PushChannel | None) -> None:
    """Drop ``old``'s row and store ``new`` (if its calendar still exists), in one transaction."""
    with ctx.sessions() as session, session.begin():
        if old is not None:
            stale = session.get(PushChannel, old.id)
            if stale is not None:
                session.delete(stale)
                session.flush()
        if new is not None and session.get(Calendar, new.calendar_id) is not None:
            session.add(new)


def _save(ctx: EngineContext, channel_row_id: int, *, expires: datetime) -> None:
    with ctx.sessions() as session, session.begin():
        channel = session.get(PushChannel, channel_row_id)
        if channel is not None:
            channel.expires_at = expires


def _delete_channel(ctx: EngineContext, channel_row_id: int) -> None:
    with ctx.sessions() as session, session.begin():
        channel = session.get(PushChannel, channel_row_id)
        if channel is not None:
            session.delete(channel)


def _record(ctx: EngineContext, account_id: int, report: ChannelReport) -> None:
    """Remember why push failed (shown on Integrations), and space syncs out when push covers everything."""
    with ctx.sessions() as session, session.begin():
        account = session.get(CalendarAccount, account_id)
        if account is None:
            return
        account.push_detail = report.failed[0][:1000] if report.failed else ""
        if account_mode(ctx, account) == "push" and account.status == "ok":
            account.next_sync_at = datetime.now(UTC) + timedelta(
                seconds=ctx.settings.push_safety_sync_seconds
            )


def _stop(provider: CalendarProvider, kind: str, channel_id: str, resource_id: str) -> None:
    if kind == "google" and isinstance(provider, GoogleProvider):
        provider.stop_watch(channel_id, resource_id)
    elif kind == "msgraph" and isinstance(provider, MicrosoftGraphProvider):
        provider.unsubscribe(channel_id)


def stop_channels(ctx: EngineContext, accounts: list[CalendarAccount]) -> int:
    """Stop the channels of accounts about to be deleted (their rows go with the account). Best effort:
    a channel that cannot be stopped expires on its own and its notifications find no channel here."""
    stopped = 0
    for account in accounts:
        channels = [(c.kind, c.channel_id, c.resource_id) for c in account.channels]
        if not channels:
            continue
        try:
            provider = ctx.provider_for(account, timeout=STOP_TIMEOUT)
        except ProviderError as exc:
            log.info("channels of account %s not stopped: %s", account.id, exc)
            continue
        try:
            for kind, channel_id, resource_id in channels:
                try:
                    _stop(provider, kind, channel_id, resource_id)
                    stopped += 1
                except ProviderError as exc:
                    log.info("channel %s of account %s not stopped: %s", channel_id, account.id, exc)
        finally:
            provider.close()
    return stopped


# -- receiving ---------------------------------------------------------------------------------------------


def _check(ctx: EngineContext, channel: PushChannel, presented: str | None) -> bool:
    expected = ctx.vault.decrypt(channel.secret)
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


@dataclass(frozen=True)
class GoogleOutcome:
    accepted: bool
    sync: int | None = None  # the account to sync (None for the "sync" handshake)


def google_notification(ctx: EngineContext, headers: Mapping[str, str]) -> GoogleOutcome:
    """What a Google push request asks: refused (and logged) unless it names a channel of ours with its token
    and resource id."""
    note = google_push.parse_notification(headers)
    if note is None:
        log.warning("push refused: a request to the Google webhook without Google's headers")
        return GoogleOutcome(accepted=False)
    with ctx.sessions() as session, session.begin():
        channel = session.scalar(
            select(PushChannel).where(PushChannel.channel_id == note.channel_id, PushChannel.kind == "google")
        )
        resource_ok = channel is not None and channel.resource_id in ("", note.resource_id)
        if channel is None or not resource_ok or not _check(ctx, channel, note.token):
            log.warning("push refused: Google notification for channel %r with a wrong token or resource",
                        note.channel_id)  # fmt: skip
            return GoogleOutcome(accepted=False)
        channel.last_message_at = datetime.now(UTC)
        return GoogleOutcome(accepted=True, sync=None if note.state == "sync" else channel.account_id)


@dataclass
class GraphOutcome:
    sync: set[int] = field(default_factory=set)  # accounts to sync now
    renew: set[int] = field(default_factory=set)  # accounts whose subscriptions must be renewed/recreated
    refused: int = 0


def graph_notifications(ctx: EngineContext, body: bytes) -> GraphOutcome:
    """What a Graph notification POST asks of us; items with an unknown subscription or a wrong clientState
    are refused and logged. :raises ValueError: when the body is not a Graph notification."""
    outcome = GraphOutcome()
    items = graph_push.parse_notifications(body)
    with ctx.sessions() as session, session.begin():
        for item in items:
            channel = session.scalar(
                select(PushChannel).where(
                    PushChannel.channel_id == item.subscription_id, PushChannel.kind == "msgraph"
                )
            )
            if channel is None or not _check(ctx, channel, item.client_state):
                outcome.refused += 1
                log.warning("push refused: Graph notification for subscription %r with a wrong clientState",
                            item.subscription_id)  # fmt: skip
                continue
            channel.last_message_at = datetime.now(UTC)
            if item.lifecycle_event in ("reauthorizationRequired", "subscriptionRemoved"):
                outcome.renew.add(channel.account_id)
                if item.lifecycle_event == "subscriptionRemoved":
                    outcome.sync.add(channel.account_id)  # changes may have been missed meanwhile
            else:  # a change, or "missed": either way, sync
                outcome.sync.add(channel.account_id)
    return outcome
