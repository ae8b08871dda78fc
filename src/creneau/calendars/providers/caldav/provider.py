"""``CalDAVProvider``: iCloud and any CalDAV server, behind the ``CalendarProvider`` contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import ClassVar, Self

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
from creneau.calendars.providers.caldav import calendars, discovery, fetch, sync, writes
from creneau.calendars.providers.caldav.cursor import decode
from creneau.calendars.providers.caldav.dav import DavSession, collection_url
from creneau.calendars.providers.http import NetworkPolicy
from creneau.config import Settings
from creneau.domain.intervals import Interval


class CalDAVProvider(CalendarProvider):
    """One CalDAV account (``Connection.server_url`` is what the user typed, e.g. https://caldav.icloud.com).

    ``batch_size`` bounds the hrefs per calendar-multiget; ``use_sync_collection=False`` forces the
    ctag/etag scheme (for servers whose sync-collection is broken, and for tests); ``verify_every`` is how old
    the last full etag listing of a calendar may get before a pull lists everything again (None: never; see
    ``sync.py``); ``check_preconditions=True`` reads an object's etag before a create, an update or a delete,
    for servers that ignore ``If-None-Match`` / ``If-Match`` (None: only for servers seen doing so, see
    ``writes.py``); ``clock`` replaces the current time and ``transport`` the guarded HTTP transport (tests
    only).
    """

    name: ClassVar[str] = "caldav"
    capabilities: ClassVar[Capabilities] = Capabilities(
        incremental_sync=True, push=False, live_free_busy=True
    )

    def __init__(
        self,
        connection: Connection,
        *,
        policy: NetworkPolicy,
        batch_size: int = 100,
        use_sync_collection: bool = True,
        verify_every: timedelta | None = timedelta(hours=24),
        check_preconditions: bool | None = None,
        clock: Callable[[], datetime] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._connection = connection
        self._session = DavSession(connection, policy, transport=transport)
        self._chunk_size = batch_size
        self._use_sync_collection = use_sync_collection
        self._verify_every = verify_every
        self._check_preconditions = check_preconditions
        self._clock = clock
        self._account: AccountInfo | None = None
        self._scheduling: frozenset[str] | None = None  # the principal's scheduling Inbox/Outbox
        self._without_sync: set[str] = set()  # calendars known to lack sync-collection

    @classmethod
    def from_settings(cls, connection: Connection, *, policy: NetworkPolicy, settings: Settings) -> Self:
        hours = settings.caldav_verify_hours
        return cls(
            connection,
            policy=policy,
            batch_size=settings.multiget_chunk_size,
            verify_every=timedelta(hours=hours) if hours else None,
        )

    def discover(self) -> AccountInfo:
        principal = self._connection.principal_url or discovery.find_principal(
            self._session, self._connection.server_url
        )
        found = discovery.read_principal(self._session, principal)
        self._account, self._scheduling = found.account, found.scheduling
        return self._account

    def _home_url(self) -> str:
        if self._connection.home_url:
            return collection_url(self._connection.home_url)
        if self._account is None:
            self.discover()
        assert self._account is not None
        return self._account.home_url

    def list_calendars(self) -> list[RemoteCalendar]:
        home = self._home_url()
        if self._scheduling is None and self._connection.principal_url:
            self.discover()  # the principal names the scheduling collections to leave out (one PROPFIND)
        listed = calendars.list_calendars(self._session, home, scheduling=self._scheduling or frozenset())
        for item in listed:
            if item.sync_collection is False:
                self._without_sync.add(item.calendar.remote_id)
        return [item.calendar for item in listed]

    def pull_changes(
        self,
        calendar_id: str,
        *,
        cursor: str | None,
        known_etags: Mapping[str, str],
        progress: Progress | None = None,
        received: Received | None = None,
    ) -> ChangeSet:
        url = collection_url(calendar_id)
        options = sync.PullOptions(
            chunk_size=self._chunk_size,
            use_sync_collection=self._use_sync_collection and url not in self._without_sync,
            received=received,
            verify_every=self._verify_every,
            now=self._clock() if self._clock is not None else None,
        )
        changes = sync.pull(
            self._session, url, cursor=cursor, known_etags=known_etags, progress=progress, options=options
        )
        if any(writes.reused_etag(e.etag) for e in changes.upserted):
            writes.record_untrusted(url)  # SOGo: check objects before our writes (see writes.py)
        if options.use_sync_collection and changes.cursor and decode(changes.cursor).mode == "ctag":
            self._without_sync.add(url)  # learnt from the server's refusal: do not ask again
        return changes

    def busy_times(self, calendar_ids: list[str], window: Interval) -> list[RemoteEvent]:
        found: list[RemoteEvent] = []
        for calendar_id in calendar_ids:
            found.extend(
                fetch.events_in_window(self._session, collection_url(calendar_id), window.start, window.end)
            )
        return found

    def _check_first(self, calendar_id: str, etag: str | None = None) -> bool:
        if self._check_preconditions is not None:
            return self._check_preconditions
        return writes.is_untrusted(calendar_id) or writes.reused_etag(etag)

    def create_event(self, calendar_id: str, draft: EventDraft) -> WrittenEvent:
        url = collection_url(calendar_id)
        return writes.create(self._session, url, draft, check_first=self._check_first(url))

    def update_event(
        self, calendar_id: str, remote_id: str, draft: EventDraft, *, etag: str | None = None
    ) -> WrittenEvent:
        url = collection_url(calendar_id)
        return writes.update(
            self._session, url, remote_id, draft, etag=etag, check_first=self._check_first(url, etag)
        )

    def delete_event(self, calendar_id: str, remote_id: str, *, etag: str | None = None) -> None:
        url = collection_url(calendar_id)
        writes.delete(self._session, url, remote_id, etag=etag, check_first=self._check_first(url, etag))

    def close(self) -> None:
        self._session.close()
