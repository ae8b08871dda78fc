"""Push: the calendar server tells us when a calendar changes, instead of us asking every few minutes.

Providers whose ``capabilities.push`` is set (Google ``events.watch`` channels, Microsoft Graph subscriptions)
open channels whose notifications reach creneau's webhooks, ``/webhooks/<path>`` under
``CRENEAU_PUSH_BASE_URL`` (a public HTTPS address), each path declared by its provider. Without that setting,
or for a calendar whose channel could not be opened, the account is polled every ``sync_interval_seconds``;
with every calendar on push it is still checked every ``push_safety_sync_seconds`` in case a notification was
lost. This module speaks to providers through the contract only (``CalendarProvider.open_channel`` and its
siblings, ``providers/push.py``), never by their type.

- :func:`ensure_channels` (after each successful sync, and on demand) opens a channel per calendar, renews
  those expiring within ``push_renew_before_seconds`` (in place when the server can, as Graph's PATCH; else,
  or when the server forgot it, a new channel, then the old one stopped) and drops those of calendars that
  are gone.
- :func:`receive` reads a webhook request through its provider and checks each notification against the
  stored channel (the secret, random per channel and encrypted at rest, compared in constant time); it says
  which accounts to sync or renew. Anything that does not match is refused and logged, and triggers nothing.
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

from creneau.calendars import providers
from creneau.calendars.context import EngineContext
from creneau.calendars.providers.base import CalendarProvider
from creneau.calendars.providers.push import Channel, ChannelRequest, Notice, Webhook
from creneau.errors import ProviderError, RemoteNotFound
from creneau.store.models import Calendar, CalendarAccount, PushChannel

log = logging.getLogger(__name__)

WEBHOOKS = "/webhooks"  # every provider's webhook paths are below it


class UnknownWebhook(LookupError):
    """No provider receives notifications at that path."""


STOP_TIMEOUT = 5.0  # seconds per request when stopping channels of an account being deleted


def has_push(kind: str) -> bool:
    """Whether accounts of ``kind`` can be notified (the provider's ``capabilities.push``)."""
    try:
        return providers.load(kind).capabilities.push
    except providers.UnknownProvider:
        return False


def push_enabled(ctx: EngineContext, account: CalendarAccount) -> bool:
    return bool(ctx.settings.push_base_url) and has_push(account.provider)


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
        kind = account.provider
        horizon = datetime.now(UTC) + timedelta(seconds=ctx.settings.push_renew_before_seconds)
        calendars = {c.id: c.remote_id for c in account.calendars}
        # Should a calendar have two channels (one being replaced), the one that lives longer counts.
        current = {ch.calendar_id: ch for ch in sorted(account.channels, key=lambda ch: ch.expires_at)}
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
                _stop(provider, kind, channel)
                report.stopped += 1
            except ProviderError as exc:  # its calendar is gone; the channel expires on its own
                log.info("channel %s not stopped: %s", channel.channel_id, exc)
            _delete_channel(ctx, channel.id)
        for calendar_id in to_open:
            old = current.get(calendar_id)
            try:
                target = _Target(kind, account_id, calendar_id, calendars[calendar_id])
                _open_or_renew(ctx, provider, target, old, report)
            except ProviderError as exc:
                report.failed.append(f"{exc.code}: {exc}")
                log.warning("push for calendar %s of account %s not set up: %s", calendar_id, account_id, exc)
    finally:
        provider.close()
    _record(ctx, account_id, report)
    return report


@dataclass(frozen=True)
class _Target:
    """The calendar a channel is for."""

    kind: str  # the account's provider kind, stored as the channel's kind
    account_id: int
    calendar_id: int
    remote_id: str


def _open_or_renew(
    ctx: EngineContext,
    provider: CalendarProvider,
    target: _Target,
    old: PushChannel | None,
    report: ChannelReport,
) -> None:
    stop_old = old is not None
    if old is not None:
        try:
            renewed = provider.renew_channel(_channel(old))
        except RemoteNotFound:  # the server forgot it: there is nothing left to stop
            renewed, stop_old = None, False
        if renewed is not None:
            _save(ctx, old.id, renewed)
            report.renewed += 1
            return
    if not _open(ctx, provider, target):
        return  # the calendar went away meanwhile
    if old is not None:
        _delete_channel(ctx, old.id)
    if old is not None and stop_old:  # the new channel works: the old one can go on the server too
        try:
            provider.stop_channel(_channel(old))
        except ProviderError as exc:
            log.info("old channel %s not stopped (it expires anyway): %s", old.channel_id, exc)
    report.opened += 1
    if old is None:
        report.first_opened += 1


def _channel(row: PushChannel) -> Channel:
    return Channel(channel_id=row.channel_id, expires=row.expires_at, resource_id=row.resource_id)


def _open(ctx: EngineContext, provider: CalendarProvider, target: _Target) -> bool:
    """Open a channel; False when its calendar is gone. Its row is stored BEFORE the provider is asked: a
    server may notify at once, before the call has even answered us (Google's first "sync" message). Until
    the answer, the row assumes the lifetime the provider asks for (so that a sync finishing meanwhile does
    not open a second channel) and its resource id is unknown (the secret alone is checked)."""
    secret = secrets.token_urlsafe(32)
    row = PushChannel(
        account_id=target.account_id,
        calendar_id=target.calendar_id,
        kind=target.kind,
        channel_id=str(uuid.uuid4()),
        resource_id="",
        secret=ctx.vault.encrypt(secret),
        expires_at=datetime.now(UTC) + provider.channel_lifetime(),
    )
    with ctx.sessions() as session, session.begin():
        if session.get(Calendar, target.calendar_id) is None:
            return False
        session.add(row)
        session.flush()
        row_id, channel_id = row.id, row.channel_id
    base = ctx.settings.push_base_url.rstrip("/") + WEBHOOKS
    request = ChannelRequest(
        calendar_id=target.remote_id,
        channel_id=channel_id,
        secret=secret,
        address=f"{base}/{type(provider).webhooks[0]}",
        webhook_base=base,
    )
    try:
        opened = provider.open_channel(request)
    except ProviderError:
        _delete_channel(ctx, row_id)
        raise
    _save(ctx, row_id, opened)
    return True


def _save(ctx: EngineContext, channel_row_id: int, channel: Channel) -> None:
    """Store what the server answered: its id for the channel, its resource id, the expiry."""
    with ctx.sessions() as session, session.begin():
        row = session.get(PushChannel, channel_row_id)
        if row is not None:
            row.channel_id = channel.channel_id
            row.resource_id = channel.resource_id
            row.expires_at = channel.expires


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


def _stop(provider: CalendarProvider, kind: str, row: PushChannel) -> None:
    if row.kind == kind:  # a channel of another kind cannot belong to this account's server
        provider.stop_channel(_channel(row))


def stop_channels(ctx: EngineContext, accounts: list[CalendarAccount]) -> int:
    """Stop the channels of accounts about to be deleted (their rows go with the account). Best effort:
    a channel that cannot be stopped expires on its own and its notifications find no channel here."""
    stopped = 0
    for account in accounts:
        channels = list(account.channels)
        if not channels:
            continue
        try:
            provider = ctx.provider_for(account, timeout=STOP_TIMEOUT)
        except ProviderError as exc:
            log.info("channels of account %s not stopped: %s", account.id, exc)
            continue
        try:
            for channel in channels:
                try:
                    _stop(provider, account.provider, channel)
                    stopped += 1
                except ProviderError as exc:
                    log.info("channel %s of account %s not stopped: %s", channel.channel_id, account.id, exc)
        finally:
            provider.close()
    return stopped


# -- receiving ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a webhook request asks of us."""

    status: int  # the HTTP answer: the provider's on acceptance, 403 when everything was refused
    handshake: str | None = None  # answer this as text/plain (a validation request), nothing else to do
    sync: set[int] = field(default_factory=set)  # accounts to sync now
    renew: set[int] = field(default_factory=set)  # accounts whose channels must be renewed or made again
    refused: int = 0


def receive(
    ctx: EngineContext, *, path: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> Outcome:
    """Read a request to ``/webhooks/<path>`` through the provider that listens there, and check each of
    its notifications against the stored channel. Refused notifications are logged and trigger nothing.

    :raises UnknownWebhook: when no provider listens at ``path`` (answered 404).
    :raises ValueError: when the request is not a notification of that provider (answered 400).
    """
    try:
        kind = providers.kind_of_webhook(path)
    except providers.UnknownProvider as exc:
        raise UnknownWebhook(str(exc)) from None
    reading = providers.load(kind).read_webhook(Webhook(path=path, headers=headers, query=query, body=body))
    if reading.handshake is not None:
        return Outcome(status=200, handshake=reading.handshake)
    outcome = Outcome(status=reading.accepted_status, refused=reading.unreadable)
    if reading.unreadable:
        log.warning("push refused: %d part(s) of a request to %s/%s are not %s notifications",
                    reading.unreadable, WEBHOOKS, path, kind)  # fmt: skip
    accepted = 0
    with ctx.sessions() as session, session.begin():
        for notice in reading.notices:
            channel = session.scalar(
                select(PushChannel).where(
                    PushChannel.channel_id == notice.channel_id, PushChannel.kind == kind
                )
            )
            if channel is None or not _trusted(ctx, channel, notice):
                outcome.refused += 1
                log.warning("push refused: %s notification for channel %r with a wrong secret or resource",
                            kind, notice.channel_id)  # fmt: skip
                continue
            accepted += 1
            channel.last_message_at = datetime.now(UTC)
            if notice.renew:
                outcome.renew.add(channel.account_id)
            if notice.sync:
                outcome.sync.add(channel.account_id)
    if outcome.refused and not accepted:
        outcome.status = 403
    return outcome


def _trusted(ctx: EngineContext, channel: PushChannel, notice: Notice) -> bool:
    """The notice names the channel's resource (when both sides know it) and presents its secret."""
    if notice.resource_id is not None and channel.resource_id not in ("", notice.resource_id):
        return False
    expected = ctx.vault.decrypt(channel.secret)
    presented = notice.secret
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())
