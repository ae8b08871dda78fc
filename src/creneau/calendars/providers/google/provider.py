"""``GoogleProvider``: Google Calendar API v3 behind the ``CalendarProvider`` contract."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self

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
from creneau.calendars.providers.google import push, sync, writes
from creneau.calendars.providers.google.api import GoogleSession
from creneau.calendars.providers.google.render import render_busy
from creneau.calendars.providers.http import NetworkPolicy
from creneau.calendars.providers.push import Channel, ChannelRequest, Notice, Webhook, WebhookReading
from creneau.domain.intervals import Interval
from creneau.errors import ProviderError, RemoteNotFound

if TYPE_CHECKING:
    from creneau.config import Settings

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_NOT_LISTED_ROLES = frozenset({"freeBusyReader", "none"})  # their events cannot be read, only free/busy
FREEBUSY_CHUNK = 50  # calendars per freebusy.query, Google's limit


class GoogleProvider(CalendarProvider):
    """One Google account. ``Connection.server_url`` is the API base (``https://www.googleapis.com/calendar/v3``
    in production, the emulator's ``…/calendar/v3`` in tests), ``Connection.secret`` the token JSON.

    ``batch_size`` is ``maxResults`` per page; ``past_days`` bounds the initial listing (``timeMin``);
    ``conference_timeout`` bounds the wait for a pending Meet conference; ``channel_ttl`` is the lifetime
    asked for a push channel; ``transport`` replaces the guarded HTTP transport (tests only).
    """

    name: ClassVar[str] = "google"
    capabilities: ClassVar[Capabilities] = Capabilities(
        incremental_sync=True, push=True, live_free_busy=True, native_conferencing="google_meet"
    )
    webhooks: ClassVar[tuple[str, ...]] = ("google",)

    def __init__(
        self,
        connection: Connection,
        *,
        policy: NetworkPolicy,
        batch_size: int = 100,
        past_days: int = 42,
        conference_timeout: float = 10.0,
        channel_ttl: timedelta = timedelta(days=7),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._connection = connection
        self._session = GoogleSession(connection, policy, transport=transport)
        self._page_size = min(batch_size, 2500)
        self._past_days = past_days
        self._conference_timeout = conference_timeout
        self._channel_ttl = channel_ttl

    @classmethod
    def from_settings(cls, connection: Connection, *, policy: NetworkPolicy, settings: Settings) -> Self:
        """The first listing starts ``sync_days_back`` ago (where the engine's window starts); channels
        live ``google_channel_ttl_seconds``."""
        return cls(
            connection,
            policy=policy,
            batch_size=settings.multiget_chunk_size,
            past_days=settings.sync_days_back,
            channel_ttl=timedelta(seconds=settings.google_channel_ttl_seconds),
        )

    def discover(self) -> AccountInfo:
        entry = self._session.json("GET", "users/me/calendarList/primary")
        email = str(entry.get("id") or "")
        if "@" not in email:
            email = self._connection.username
        timezone = entry.get("timeZone")
        if not timezone:
            timezone = self._session.json("GET", "users/me/settings/timezone").get("value")
        base = self._session.base
        return AccountInfo(
            principal_url=f"{base}/users/me",
            home_url=f"{base}/users/me/calendarList",
            display_name=entry.get("summaryOverride") or entry.get("summary") or email,
            email_addresses=(email.lower(),),
            timezone=str(timezone) if timezone else None,
        )

    def list_calendars(self) -> list[RemoteCalendar]:
        found: list[RemoteCalendar] = []
        page_token: str | None = None
        while True:
            params = {"maxResults": "250", **({"pageToken": page_token} if page_token else {})}
            data = self._session.json("GET", "users/me/calendarList", params=params)
            found += [_calendar(e) for e in data.get("items") or [] if _listed(e)]
            page_token = data.get("nextPageToken")
            if not page_token:
                return found

    def pull_changes(
        self,
        calendar_id: str,
        *,
        cursor: str | None,
        known_etags: Mapping[str, str],
        progress: Progress | None = None,
        received: Received | None = None,
    ) -> ChangeSet:
        options = sync.PullOptions(self._page_size, self._past_days, progress, received)
        return sync.pull(self._session, calendar_id, cursor=cursor, known_etags=known_etags, options=options)

    def busy_times(self, calendar_ids: list[str], window: Interval) -> list[RemoteEvent]:
        """Busy periods from ``freebusy.query`` (one request per 50 calendars), each as an opaque VEVENT.

        :raises RemoteNotFound: when Google reports a calendar unknown — never silently free.
        """
        found: list[RemoteEvent] = []
        for i in range(0, len(calendar_ids), FREEBUSY_CHUNK):
            chunk = calendar_ids[i : i + FREEBUSY_CHUNK]
            body = {
                "timeMin": _rfc3339(window.start),
                "timeMax": _rfc3339(window.end),
                "items": [{"id": c} for c in chunk],
            }
            answer = self._session.json("POST", "freeBusy", body=body, idempotent=True).get("calendars") or {}
            for calendar_id in chunk:
                found += _busy_events(calendar_id, answer.get(calendar_id))
        return found

    def create_event(self, calendar_id: str, draft: EventDraft) -> WrittenEvent:
        return writes.create(self._session, calendar_id, draft, timeout=self._conference_timeout)

    def update_event(
        self, calendar_id: str, remote_id: str, draft: EventDraft, *, etag: str | None = None
    ) -> WrittenEvent:
        return writes.update(
            self._session, calendar_id, remote_id, draft, etag=etag, timeout=self._conference_timeout
        )

    def delete_event(self, calendar_id: str, remote_id: str, *, etag: str | None = None) -> None:
        writes.delete(self._session, calendar_id, remote_id, etag=etag)

    # -- push ----------------------------------------------------------------------------------------------

    def open_channel(self, request: ChannelRequest) -> Channel:
        """``events.watch`` on the calendar, under our channel id, for ``channel_ttl``."""
        opened = self.watch(
            request.calendar_id,
            address=request.address,
            token=request.secret,
            channel_id=request.channel_id,
            ttl=self._channel_ttl,
        )
        expires = opened.expiration or datetime.now(UTC) + self._channel_ttl
        return Channel(channel_id=opened.id, expires=expires, resource_id=opened.resource_id)

    def channel_lifetime(self) -> timedelta:
        return self._channel_ttl

    # renew_channel: Google cannot extend a channel; the base class's None makes the engine open a new one.

    def stop_channel(self, channel: Channel) -> None:
        self.stop_watch(channel.channel_id, channel.resource_id)

    @classmethod
    def read_webhook(cls, webhook: Webhook) -> WebhookReading:
        """Google's ``X-Goog-*`` headers; a request without them is refused. The first message of a
        channel ("sync") only says that it works: nothing to sync."""
        note = push.parse_notification(webhook.headers)
        if note is None:
            return WebhookReading(unreadable=1, accepted_status=200)
        notice = Notice(
            channel_id=note.channel_id,
            secret=note.token,
            resource_id=note.resource_id,
            sync=note.state != "sync",
        )
        return WebhookReading(notices=[notice], accepted_status=200)

    # -- Google's own names for push (used by the methods above and by tests) --------------------------------

    def watch(
        self,
        calendar_id: str,
        *,
        address: str,
        token: str | None,
        channel_id: str,
        ttl: timedelta | None = None,
    ) -> push.Channel:
        """Open a push channel on the calendar's events; Google POSTs to ``address`` (HTTPS in production)
        with ``X-Goog-Channel-Token: token``. Renew it before ``Channel.expiration``."""
        return push.watch(
            self._session, calendar_id, address=address, token=token, channel_id=channel_id, ttl=ttl
        )

    def stop_watch(self, channel_id: str, resource_id: str) -> None:
        push.stop(self._session, channel_id, resource_id)

    def close(self) -> None:
        self._session.close()


def _listed(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and bool(entry.get("id"))
        and not entry.get("deleted")
        and (entry.get("accessRole") not in _NOT_LISTED_ROLES)
    )


def _calendar(entry: dict[str, Any]) -> RemoteCalendar:
    color = str(entry.get("backgroundColor") or "")
    read_only = entry.get("accessRole") not in ("writer", "owner")
    solutions = (entry.get("conferenceProperties") or {}).get("allowedConferenceSolutionTypes") or []
    return RemoteCalendar(
        remote_id=str(entry["id"]),
        name=str(entry.get("summaryOverride") or entry.get("summary") or entry["id"]),
        color=color.lower() if _COLOR.match(color) else None,
        read_only=read_only,
        timezone=entry.get("timeZone"),
        conferencing="google_meet" if "hangoutsMeet" in solutions and not read_only else None,
    )


def _rfc3339(moment: Any) -> str:
    return str(moment.isoformat())


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("no offset")
    return value


def _busy_events(calendar_id: str, answer: Any) -> list[RemoteEvent]:
    if not isinstance(answer, dict):
        raise ProviderError(f"Google's free/busy answer has nothing for calendar {calendar_id!r}")
    errors = answer.get("errors") or []
    if errors:
        reason = str(errors[0].get("reason", "unknown"))
        if reason == "notFound":
            raise RemoteNotFound(f"Google does not know the calendar {calendar_id!r} (free/busy)")
        raise ProviderError(f"Google could not give free/busy for {calendar_id!r}: {reason}")
    events = []
    for period in answer.get("busy") or []:
        try:
            start, end = _instant(period["start"]), _instant(period["end"])
        except (KeyError, TypeError, ValueError):
            raise ProviderError(f"Google's free/busy answer has an unreadable period: {period!r}") from None
        events.append(
            RemoteEvent(
                remote_id=f"freebusy:{calendar_id}:{period['start']}/{period['end']}",
                etag="",
                ical=render_busy(calendar_id, start, end),
            )
        )
    return events
