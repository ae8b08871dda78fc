"""``CalDAVProvider``: iCloud and any CalDAV server, behind the ``CalendarProvider`` contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

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
from creneau.domain.intervals import Interval


class CalDAVProvider(CalendarProvider):
    """One CalDAV account (``Connection.server_url`` is what the user typed, e.g. https://caldav.icloud.com).

    ``batch_size`` bounds the hrefs per calendar-multiget; ``use_sync_collection=False`` forces the
    ctag/etag scheme (for servers whose sync-collection is broken, and for tests); ``transport`` replaces the
    guarded HTTP transport (tests only).
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._connection = connection
        self._session = DavSession(connection, policy, transport=transport)
        self._chunk_size = batch_size
        self._use_sync_collection = use_sync_collection
        self._account: AccountInfo | None = None
        self._without_sync: set[str] = set()  # calendars known to lack sync-collection

    def discover(self) -> AccountInfo:
        principal = self._connection.principal_url or discovery.find_principal(
            self._session, self._connection.server_url
        )
        self._account = discovery.read_account(self._session, principal)
        return self._account

    def _home_url(self) -> str:
        if self._connection.home_url:
            return collection_url(self._connection.home_url)
        if self._account is None:
            self.discover()
        assert self._account is not None
        return self._account.home_url

    def list_calendars(self) -> list[RemoteCalendar]:
        listed = calendars.list_calendars(self._session, self._home_url())
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
        )
        changes = sync.pull(
            self._session, url, cursor=cursor, known_etags=known_etags, progress=progress, options=options
        )
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

    def create_event(self, calendar_id: str, draft: EventDraft) -> WrittenEvent:
        return writes.create(self._session, collection_url(calendar_id), draft)

    def update_event(
        self, calendar_id: str, remote_id: str, draft: EventDraft, *, etag: str | None = None
    ) -> WrittenEvent:
        return writes.update(self._session, collection_url(calendar_id), remote_id, draft, etag=etag)

    def delete_event(self, calendar_id: str, remote_id: str, *, etag: str | None = None) -> None:
        writes.delete(self._session, collection_url(calendar_id), remote_id, etag=etag)

    def close(self) -> None:
        self._session.close()
