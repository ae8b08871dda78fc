"""``IcsProvider``: a read-only ICS feed behind the ``CalendarProvider`` contract.

``Connection.server_url`` is the feed's URL (``webcal://`` already read as ``https://``, see ``address``);
the account's only calendar has that URL as its remote id, and the account's ``username`` is the feed's name
(its X-WR-CALNAME when it has one, else the host), given at subscription. There are no credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, ClassVar, Self
from urllib.parse import urlsplit

import httpx

from creneau.calendars import ical
from creneau.calendars.providers import http
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
from creneau.calendars.providers.ics.feed import Cursor, Download, download
from creneau.calendars.providers.ics.split import split
from creneau.domain.intervals import Interval
from creneau.errors import ProviderError

if TYPE_CHECKING:
    from creneau.config import Settings

__all__ = ["DEFAULT_MAX_BYTES", "IcsProvider"]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# busy_times reads floating times in UTC to pick the events near the window; the caller then expands them in
# the calendar's zone, which may be up to 14 hours away: keep what is that close to the window.
_ZONE_SLACK = timedelta(hours=14)


class IcsProvider(CalendarProvider):
    """One feed. ``batch_size`` bounds the events handed over per ``received`` call; ``max_bytes`` is the
    largest feed read (``CRENEAU_ICS_MAX_BYTES``); ``transport`` replaces the guarded one (tests only)."""

    name: ClassVar[str] = "ics"
    # A feed has no change list: a sync is one conditional GET (304: nothing to do); no push, no writes.
    capabilities: ClassVar[Capabilities] = Capabilities(
        incremental_sync=True, push=False, live_free_busy=True, native_conferencing=None
    )

    def __init__(
        self,
        connection: Connection,
        *,
        policy: http.NetworkPolicy,
        batch_size: int = 100,
        max_bytes: int = DEFAULT_MAX_BYTES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._connection = connection
        self._policy = policy
        self._batch_size = batch_size
        self._max_bytes = max_bytes
        self._transport = transport
        self._client: httpx.Client | None = None
        self._name: str | None = None  # read by discover()

    @classmethod
    def from_settings(cls, connection: Connection, *, policy: http.NetworkPolicy, settings: Settings) -> Self:
        return cls(
            connection,
            policy=policy,
            batch_size=settings.multiget_chunk_size,
            max_bytes=settings.ics_max_bytes,
        )

    # -- reading -----------------------------------------------------------------------------------------

    def discover(self) -> AccountInfo:
        """Download the feed once: it must be iCalendar text within the size cap.

        :raises NotAFeed, ResponseTooLarge, AuthFailed, ServerUnreachable, AddressForbidden: see ``download``
        """
        url = self._connection.server_url
        got = self._download(url, None)
        assert got is not None  # no cursor: never 304
        self._name = split(got.text).name or _host(url)
        return AccountInfo(principal_url=url, home_url=url, display_name=self._name)

    def list_calendars(self) -> list[RemoteCalendar]:
        """The feed's one calendar, read-only; no request (the name was given at subscription)."""
        url = self._connection.server_url
        name = self._name or self._connection.username or _host(url)
        return [RemoteCalendar(remote_id=url, name=name, read_only=True)]

    def pull_changes(
        self,
        calendar_id: str,
        *,
        cursor: str | None,
        known_etags: Mapping[str, str],
        progress: Progress | None = None,
        received: Received | None = None,
    ) -> ChangeSet:
        """One conditional GET of the feed at ``calendar_id``. Not modified (304, or the same bytes as last
        time): an empty change set. Otherwise a full listing of the feed's events, of which only those whose
        etag differs from ``known_etags`` are handed over.

        :raises SyncCursorInvalid: for a cursor this provider did not write.
        """
        previous = Cursor.decode(cursor) if cursor is not None else None
        got = self._download(calendar_id, previous)
        if got is None:
            assert previous is not None
            return ChangeSet(cursor=cursor, full=False)
        if previous is not None and got.cursor.digest == previous.digest:
            return ChangeSet(cursor=got.cursor.encode(), full=False)
        feed = split(got.text)
        changes = ChangeSet(cursor=got.cursor.encode(), full=True, bad=list(feed.bad))
        for event in feed.events:
            if known_etags.get(event.remote_id) == event.etag:
                changes.unchanged.append(event.remote_id)
            else:
                changes.upserted.append(event)
        total = len(changes.upserted)
        for start in range(0, total, self._batch_size):
            batch = changes.upserted[start : start + self._batch_size]
            if received is not None:
                received(batch)
            if progress is not None:
                progress(start + len(batch), total)
        if progress is not None and total == 0:
            progress(0, 0)
        return changes

    def busy_times(self, calendar_ids: list[str], window: Interval) -> list[RemoteEvent]:
        """A fresh download of each feed, keeping the events that come near ``window`` (the caller expands
        them in the calendar's zone); objects the reader refuses are kept for the caller to skip."""
        near = Interval(window.start - _ZONE_SLACK, window.end + _ZONE_SLACK)
        found: list[RemoteEvent] = []
        for calendar_id in calendar_ids:
            got = self._download(calendar_id, None)
            assert got is not None
            found += [e for e in split(got.text).events if _comes_near(e, near)]
        return found

    # -- a feed is never written -------------------------------------------------------------------------

    def create_event(self, calendar_id: str, draft: EventDraft) -> WrittenEvent:
        raise self._read_only(calendar_id)

    def update_event(
        self, calendar_id: str, remote_id: str, draft: EventDraft, *, etag: str | None = None
    ) -> WrittenEvent:
        raise self._read_only(calendar_id)

    def delete_event(self, calendar_id: str, remote_id: str, *, etag: str | None = None) -> None:
        raise self._read_only(calendar_id)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- helpers -----------------------------------------------------------------------------------------

    def _download(self, url: str, cursor: Cursor | None) -> Download | None:
        if self._client is None:
            self._client = http.make_client(self._policy, auth=None, transport=self._transport)
        return download(self._client, url, policy=self._policy, max_bytes=self._max_bytes, cursor=cursor)

    def _read_only(self, calendar_id: str) -> ProviderError:
        # The same error a server's 403 on a read-only calendar gives (providers/http.StatusErrors).
        return ProviderError(
            f"{http.redact(httpx.URL(calendar_id))} is a read-only ICS feed (as a server's 403 would say): "
            "creneau never writes to it"
        )


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _comes_near(event: RemoteEvent, near: Interval) -> bool:
    try:
        return bool(ical.busy_occurrences(ical.parse(event.ical), window=near, default_tz=UTC))
    except ical.MalformedObject:
        return True  # the caller's reader refuses it and skips it, as sync reports it
