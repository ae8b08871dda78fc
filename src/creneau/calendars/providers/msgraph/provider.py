"""``MicrosoftGraphProvider``: Office 365 (work/school) and Outlook.com (personal) through Microsoft Graph."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Self

import httpx

from creneau.calendars.providers.base import (
    AccountInfo,
    CalendarProvider,
    Capabilities,
    ChangeSet,
    Connection,
    EventDraft,
    Progress,
    Received,
    RemoteCalendar,
    RemoteEvent,
    WrittenEvent,
)
from creneau.calendars.providers.http import NetworkPolicy
from creneau.calendars.providers.msgraph import account, busy, push, sync, writes
from creneau.calendars.providers.msgraph.session import GraphSession
from creneau.calendars.providers.push import Channel, ChannelRequest, Notice, Webhook, WebhookReading
from creneau.domain.intervals import Interval
from creneau.errors import ProviderError, RateLimited

if TYPE_CHECKING:
    from creneau.config import Settings

# Lifecycle events that ask for the subscription to be renewed (and, once it was removed, a sync: changes
# made meanwhile were not announced). "missed" and plain changes only ask for a sync.
_RENEW = frozenset({"reauthorizationRequired", "subscriptionRemoved"})


class MicrosoftGraphProvider(CalendarProvider):
    """One Microsoft account. ``Connection.server_url`` is the Graph root (``https://graph.microsoft.com/v1.0``,
    or the emulator's), ``Connection.secret`` the token JSON (see ``session.py``).

    ``batch_size`` is the page size of delta rounds and calendarViews. The sync window is ``sync_window`` when
    given (tests), else ``days_back`` before and ``days_ahead`` after today's midnight (UTC).
    ``subscription_lifetime`` is asked for push subscriptions (Graph caps it at 7 days). ``transport``
    replaces the guarded HTTP transport (tests only).
    """

    name: ClassVar[str] = "msgraph"
    capabilities: ClassVar[Capabilities] = Capabilities(
        incremental_sync=True, push=True, live_free_busy=True, native_conferencing="teams"
    )
    # Change notifications, then lifecycle notifications (reauthorizationRequired, missed, removed).
    webhooks: ClassVar[tuple[str, ...]] = ("microsoft", "microsoft/lifecycle")

    def __init__(
        self,
        connection: Connection,
        *,
        policy: NetworkPolicy,
        batch_size: int = 100,
        days_back: int = 42,
        days_ahead: int = 201,
        sync_window: Interval | None = None,
        subscription_lifetime: timedelta = push.MAX_LIFETIME,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._session = GraphSession(connection, policy, transport=transport)
        self._page_size = min(batch_size, 1000)
        self._days = (days_back, days_ahead)
        self._fixed_window = sync_window
        self._account: account.Account | None = None
        # The signed-in user's address, for the owner's ATTENDEE line of each event: the one creneau stored
        # at connect time, so a sync does not read /me and /me/mailboxSettings again (2 of 4 requests).
        username = connection.username.strip().lower()
        self._owner: tuple[str, ...] = (username,) if "@" in username else ()
        self._calendars: dict[str, dict[str, object]] = {}  # id → Graph calendar JSON, as last read
        self._schedule_refused = False
        self._subscription_lifetime = subscription_lifetime

    @classmethod
    def from_settings(cls, connection: Connection, *, policy: NetworkPolicy, settings: Settings) -> Self:
        """The calendarView delta covers exactly the engine's sync window (``sync_days_back`` before today,
        ``sync_days_ahead`` after it, whole days in UTC); subscriptions live
        ``microsoft_subscription_minutes``."""
        return cls(
            connection,
            policy=policy,
            batch_size=settings.multiget_chunk_size,
            days_back=settings.sync_days_back,
            days_ahead=settings.sync_days_ahead + 1,  # up to the end of the last day, as the engine's window
            subscription_lifetime=timedelta(minutes=settings.microsoft_subscription_minutes),
        )

    # -- account -------------------------------------------------------------------------------------------

    def _me(self) -> account.Account:
        if self._account is None:
            self._account = account.discover(self._session)
        return self._account

    def discover(self) -> AccountInfo:
        self._account = account.discover(self._session)
        return self._account.info

    def list_calendars(self) -> list[RemoteCalendar]:
        items = account.calendar_items(self._session)
        self._calendars = {str(item["id"]): item for item in items if "id" in item}
        return [account.to_calendar(item) for item in items if "id" in item]

    def _calendar(self, calendar_id: str) -> dict[str, object]:
        if calendar_id not in self._calendars:
            self._calendars[calendar_id] = account.read_calendar(self._session, calendar_id)
        return self._calendars[calendar_id]

    def native_conference_available(self, calendar_id: str) -> bool:
        """Whether events written to ``calendar_id`` can get a Teams meeting (work/school calendars)."""
        allowed = self._calendar(calendar_id).get("allowedOnlineMeetingProviders") or []
        return isinstance(allowed, list) and account.TEAMS in allowed

    # -- reading -------------------------------------------------------------------------------------------

    def window(self) -> Interval:
        if self._fixed_window is not None:
            return self._fixed_window
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return Interval(today - timedelta(days=self._days[0]), today + timedelta(days=self._days[1]))

    def pull_changes(
        self,
        calendar_id: str,
        *,
        cursor: str | None,
        known_etags: Mapping[str, str],
        progress: Progress | None = None,
        received: Received | None = None,
    ) -> ChangeSet:
        options = sync.PullOptions(
            window=self.window(),
            page_size=self._page_size,
            owner_emails=self._owner or self._me().info.email_addresses,
            received=received,
            progress=progress,
        )
        return sync.pull(self._session, calendar_id, cursor=cursor, known_etags=known_etags, options=options)

    def busy_times(self, calendar_ids: list[str], window: Interval) -> list[RemoteEvent]:
        me = self._me()
        found: list[RemoteEvent] = []
        for calendar_id in calendar_ids:
            if self._use_schedule(me, calendar_id):
                try:
                    found.extend(busy.schedule(self._session, me.info.email_addresses[0], window))
                    continue
                except RateLimited:
                    raise
                except ProviderError as exc:
                    if type(exc) is not ProviderError:  # auth, 5xx...: not a refusal of getSchedule itself
                        raise
                    self._schedule_refused = True  # e.g. a personal account: use calendarView from now on
            found.extend(
                busy.calendar_view(
                    self._session,
                    calendar_id,
                    window,
                    owner_emails=me.info.email_addresses,
                    page_size=self._page_size,
                )
            )
        return found

    def _use_schedule(self, me: account.Account, calendar_id: str) -> bool:
        if me.personal or self._schedule_refused or not me.info.email_addresses:
            return False
        return bool(self._calendar(calendar_id).get("isDefaultCalendar"))

    # -- writing -------------------------------------------------------------------------------------------

    def create_event(self, calendar_id: str, draft: EventDraft) -> WrittenEvent:
        teams = draft.native_conference and self.native_conference_available(calendar_id)
        return writes.create(self._session, calendar_id, draft, teams=teams)

    def update_event(
        self, calendar_id: str, remote_id: str, draft: EventDraft, *, etag: str | None = None
    ) -> WrittenEvent:
        teams = draft.native_conference and self.native_conference_available(calendar_id)
        return writes.update(self._session, calendar_id, remote_id, draft, etag=etag, teams=teams)

    def delete_event(self, calendar_id: str, remote_id: str, *, etag: str | None = None) -> None:
        writes.delete(self._session, calendar_id, remote_id, etag=etag)

    # -- push ----------------------------------------------------------------------------------------------

    def subscribe(
        self,
        calendar_id: str,
        *,
        notification_url: str,
        lifecycle_url: str | None,
        client_state: str,
        expires: datetime,
    ) -> push.Subscription:
        """Ask Graph to notify ``notification_url`` of changes to the calendar's events (see ``push.py``)."""
        return push.subscribe(
            self._session,
            calendar_id,
            notification_url=notification_url,
            lifecycle_url=lifecycle_url,
            client_state=client_state,
            expires=min(expires, datetime.now(UTC) + push.MAX_LIFETIME - timedelta(minutes=1)),
        )

    def renew(self, subscription_id: str, *, expires: datetime) -> push.Subscription:
        """:raises RemoteNotFound: when the subscription is gone (subscribe again)."""
        expires = min(expires, datetime.now(UTC) + push.MAX_LIFETIME - timedelta(minutes=1))
        return push.renew(self._session, subscription_id, expires=expires)

    def unsubscribe(self, subscription_id: str) -> None:
        push.unsubscribe(self._session, subscription_id)

    # -- push, as the contract names it ----------------------------------------------------------------

    def channel_lifetime(self) -> timedelta:
        return min(self._subscription_lifetime, push.MAX_LIFETIME - timedelta(minutes=1))

    def _expiry(self) -> datetime:
        return datetime.now(UTC) + self._subscription_lifetime

    def open_channel(self, request: ChannelRequest) -> Channel:
        """A subscription on the calendar's events; Graph names it (``request.channel_id`` is not used)."""
        subscription = self.subscribe(
            request.calendar_id,
            notification_url=request.address,
            lifecycle_url=f"{request.webhook_base}/{self.webhooks[1]}",
            client_state=request.secret,
            expires=self._expiry(),
        )
        return Channel(channel_id=subscription.id, expires=subscription.expires)

    def renew_channel(self, channel: Channel) -> Channel | None:
        """PATCH the expiry. :raises RemoteNotFound: when Graph forgot the subscription."""
        renewed = self.renew(channel.channel_id, expires=self._expiry())
        return Channel(channel_id=renewed.id, expires=renewed.expires)

    def stop_channel(self, channel: Channel) -> None:
        self.unsubscribe(channel.channel_id)

    @classmethod
    def read_webhook(cls, webhook: Webhook) -> WebhookReading:
        """Graph's validation handshake, or a JSON body of change and lifecycle notifications.

        :raises ValueError: when the body is not a Graph notification."""
        token = push.validation_answer(dict(webhook.query))
        if token is not None:
            return WebhookReading(handshake=token)
        notices = [
            Notice(
                channel_id=item.subscription_id,
                secret=item.client_state,
                renew=item.lifecycle_event in _RENEW,
                sync=item.lifecycle_event != "reauthorizationRequired",
            )
            for item in push.parse_notifications(webhook.body)
        ]
        return WebhookReading(notices=notices, accepted_status=202)

    def close(self) -> None:
        self._session.close()
