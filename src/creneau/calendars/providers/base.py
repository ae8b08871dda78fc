"""The contract every calendar provider implements.

A provider speaks one wire protocol (CalDAV, Google Calendar v3, Microsoft Graph, EWS) for ONE connected
account. It knows nothing of our tables: the sync engine (``calendars/sync.py``) hands it a cursor and the
etags it already holds, and stores what comes back. Every method may raise only the ``ProviderError`` tree of
``creneau.errors``; library exceptions are translated inside the provider.

Events cross this boundary as iCalendar text (one VCALENDAR per remote object, with its VTIMEZONEs). CalDAV
servers store exactly that; Google and Graph providers render their JSON into it, so that recurrence
expansion and the busy rules live in one place, ``calendars/ical.py``
(see docs/decisions/0002-icalendar-at-the-boundary.md).
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Self

from creneau.calendars.providers.http import NetworkPolicy
from creneau.calendars.providers.push import Channel, ChannelRequest, Webhook, WebhookReading
from creneau.domain.intervals import Interval
from creneau.errors import AuthFailed, ProviderError

if TYPE_CHECKING:
    from creneau.config import Settings


@dataclass(frozen=True)
class Capabilities:
    incremental_sync: bool = True  # pull_changes(cursor=...) returns only what changed
    # The server can notify us of changes (Graph subscriptions, Google channels): the provider implements
    # the push methods of CalendarProvider and names its ``webhooks``; the engine (calendars/push.py) reads
    # this flag, never the provider's type.
    push: bool = False
    live_free_busy: bool = True  # busy_times() asks the server, not our cache
    native_conferencing: str | None = None  # "google_meet", "teams", or None


@dataclass(frozen=True)
class Connection:
    """What a provider needs to reach one account. ``secret`` is the decrypted password or token blob."""

    server_url: str
    username: str
    secret: str
    principal_url: str | None = None  # known after the first discovery
    home_url: str | None = None

    def access_token(self) -> str:
        """The access token of an OAuth account's ``secret`` (``{"access_token": …, …}``, as
        ``calendars/oauth/tokens.TokenSet`` stores it). :raises AuthFailed: when the blob is unreadable."""
        try:
            data = json.loads(self.secret)
        except ValueError:
            data = None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthFailed("the stored sign-in is unreadable; reconnect the account")
        return token


@dataclass(frozen=True)
class AccountInfo:
    """What discovery learned about the account."""

    principal_url: str
    home_url: str
    display_name: str | None = None
    email_addresses: tuple[str, ...] = ()  # the owner's addresses, to recognise their PARTSTAT
    timezone: str | None = None


@dataclass(frozen=True)
class RemoteCalendar:
    remote_id: str  # CalDAV: the collection URL; Google: calendarId; Graph: calendar id
    name: str
    color: str | None = None  # "#rrggbb"
    read_only: bool = False
    timezone: str | None = None  # IANA name, when the server says
    # The video link the calendar can create with an event ("google_meet", "teams"); None: it cannot.
    conferencing: str | None = None


@dataclass(frozen=True)
class RemoteEvent:
    remote_id: str  # CalDAV: the object's href; stable across updates
    etag: str
    ical: str  # a whole VCALENDAR


@dataclass(frozen=True)
class BadObject:
    """An object the server returned that cannot be read; sync skips and reports it."""

    remote_id: str
    reason: str


@dataclass
class ChangeSet:
    """What changed in one calendar since ``cursor``.

    When ``full`` is true the set is a complete listing: every known object not in ``upserted``,
    ``unchanged`` or ``bad`` must be deleted locally. ``unchanged`` lists remote ids the provider saw with
    an etag equal to the one we hold, so they were not downloaded again.
    """

    cursor: str | None
    full: bool
    upserted: list[RemoteEvent] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    bad: list[BadObject] = field(default_factory=list)


@dataclass(frozen=True)
class EventDraft:
    """An event we write. ``uid`` is OUR idempotency key: writing the same uid twice yields one event."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    description: str = ""
    location: str = ""
    url: str = ""
    # Ask the calendar itself for a video link created with the event (Google Meet, Microsoft Teams). Only
    # meaningful when the provider's ``capabilities.native_conferencing`` is set; others ignore it.
    native_conference: bool = False


@dataclass(frozen=True)
class WrittenEvent:
    remote_id: str
    etag: str | None
    join_url: str | None = None  # the native video link, when one was asked for and the calendar made it


Progress = Callable[[int, int], None]  # (done, total) while a long pull downloads objects
# Each batch of downloaded events as it arrives, called while the next batch is being downloaded, so that the
# caller can parse during the wait. The same events are in the ChangeSet returned at the end.
Received = Callable[[Sequence[RemoteEvent]], None]


class CalendarProvider(abc.ABC):
    """One connected account, seen through one protocol.

    Implementations must be cheap to construct, must close what they open in :meth:`close`, and raise only
    ``creneau.errors.ProviderError`` subclasses:

    - ``AuthFailed`` when credentials are refused,
    - ``ServerUnreachable`` / ``NotCalDAV`` / ``AddressForbidden`` during discovery,
    - ``SyncCursorInvalid`` when a cursor can no longer be used (the caller then passes ``cursor=None``),
    - ``RateLimited``, ``TransientProviderError`` for what is worth retrying,
    - ``PreconditionFailed`` / ``RemoteNotFound`` for writes on changed or missing events.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    # With ``capabilities.push``: the paths under ``/webhooks/`` where the server posts notifications (the
    # first is where :meth:`open_channel` points the channel); the registry (``providers/__init__.py``)
    # routes them here without importing other providers.
    webhooks: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def __init__(self, connection: Connection, *, policy: NetworkPolicy, batch_size: int = 100) -> None:
        """Open nothing yet. ``batch_size`` bounds the objects one bulk request carries (CalDAV multiget,
        a Google or Graph page)."""

    @classmethod
    def from_settings(cls, connection: Connection, *, policy: NetworkPolicy, settings: Settings) -> Self:
        """The provider as the running application configures it (Radicale's ``storage.load``): each
        provider reads the settings it needs here, so the engine builds every provider the same way.
        Subclasses with options of their own override it."""
        return cls(connection, policy=policy, batch_size=settings.multiget_chunk_size)

    @abc.abstractmethod
    def discover(self) -> AccountInfo:
        """Check the credentials and find the account's calendar home."""

    @abc.abstractmethod
    def list_calendars(self) -> list[RemoteCalendar]:
        """Every calendar of the account that can hold events (VEVENT)."""

    @abc.abstractmethod
    def pull_changes(
        self,
        calendar_id: str,
        *,
        cursor: str | None,
        known_etags: Mapping[str, str],
        progress: Progress | None = None,
        received: Received | None = None,
    ) -> ChangeSet:
        """Changes since ``cursor`` (``None``: everything).

        ``known_etags`` maps remote id to the etag we hold, so a full listing downloads only what differs.

        :raises SyncCursorInvalid: when ``cursor`` expired; call again with ``cursor=None``.
        """

    @abc.abstractmethod
    def busy_times(self, calendar_ids: list[str], window: Interval) -> list[RemoteEvent]:
        """Live read of the events overlapping ``window`` in the given calendars, for a last-second check.
        The caller expands them with ``calendars/ical.py``."""

    @abc.abstractmethod
    def create_event(self, calendar_id: str, draft: EventDraft) -> WrittenEvent:
        """Create ``draft``; if an event with ``draft.uid`` exists already, return it (idempotent)."""

    @abc.abstractmethod
    def update_event(
        self, calendar_id: str, remote_id: str, draft: EventDraft, *, etag: str | None = None
    ) -> WrittenEvent:
        """Replace the event. :raises PreconditionFailed: when ``etag`` no longer matches."""

    @abc.abstractmethod
    def delete_event(self, calendar_id: str, remote_id: str, *, etag: str | None = None) -> None:
        """Delete the event; deleting one that is already gone is not an error."""

    # -- push (only with ``capabilities.push``) -----------------------------------------------------------

    def open_channel(self, request: ChannelRequest) -> Channel:
        """Ask the server to notify ``request.address`` of changes to one calendar, presenting
        ``request.secret`` with each notification. The provider chooses the channel's lifetime (from its
        settings, capped by the server's maximum).

        The engine stores the channel under ``request.channel_id`` BEFORE this call, because a server may
        notify before it has answered (Google's first "sync" message); the returned ``Channel.channel_id``
        replaces it when the server names its channels itself (Graph).

        :raises ProviderError: when the server refuses (e.g. our webhook failed its validation handshake).
        """
        raise ProviderError(f"{self.name} has no push notifications")

    def channel_lifetime(self) -> timedelta:
        """How long the channels :meth:`open_channel` asks for live; the engine assumes it for a channel
        whose opening has not answered yet, so that nobody opens a second one meanwhile."""
        raise ProviderError(f"{self.name} has no push notifications")

    def renew_channel(self, channel: Channel) -> Channel | None:
        """Extend ``channel`` in place; None when this server cannot (the engine then opens a new channel
        and stops the old one, as Google requires).

        :raises RemoteNotFound: when the server forgot the channel (the engine opens a new one).
        """
        return None

    def stop_channel(self, channel: Channel) -> None:
        """Stop a channel; one the server no longer knows is already stopped."""
        raise ProviderError(f"{self.name} has no push notifications")

    @classmethod
    def read_webhook(cls, webhook: Webhook) -> WebhookReading:
        """What a request to one of :attr:`webhooks` says (nothing is trusted yet: the engine checks each
        notice's secret against the stored channel). Needs no account, hence a class method.

        :raises ValueError: when the request is not a notification of this server at all (answered 400).
        """
        raise ValueError(f"{cls.name} has no push notifications")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
