"""``pull_changes`` for Google: ``events.list`` with ``singleEvents=false``, paged, then sync tokens.

- Without a cursor: a full listing bounded below by ``timeMin`` (``past_days`` before now; never an upper
  bound, so far-future bookings are seen), ``maxResults`` = the batch size. Single events are handed over
  page by page as they arrive; recurring series (a master and its exceptions, which Google lists as
  separate items in no promised order) are handed over once the listing is complete. Objects whose etag
  equals the one we hold are listed in ``unchanged``, not rendered again. Remote ids are the *series* ids
  (the master's event id); a series' etag is the master's, or a digest of its items' etags.
- With a cursor: the same request with ``syncToken`` only (Google refuses ``timeMin`` with it). Deleted
  events come as ``cancelled`` items. A changed recurring series is fetched whole again with one
  ``events.list?iCalUID=…&showDeleted=true`` (plus one ``events.get`` when the changed item does not carry
  its iCalUID), so the VCALENDAR we hand over always holds every exception.
- ``410 fullSyncRequired`` → ``SyncCursorInvalid``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from creneau.calendars.providers.base import BadObject, ChangeSet, Progress, Received, RemoteEvent
from creneau.calendars.providers.google import cursor as cursors
from creneau.calendars.providers.google.api import GoogleSession, calendar_path, event_path
from creneau.calendars.providers.google.render import Unrenderable, render_series, series_etag, series_key
from creneau.errors import RemoteNotFound, TransientProviderError

Item = dict[str, Any]
MAX_PAGES = 10_000


@dataclass(frozen=True)
class PullOptions:
    page_size: int = 100
    past_days: int = 42
    progress: Progress | None = None
    received: Received | None = None


@dataclass
class _Pull:
    session: GoogleSession
    calendar_id: str
    options: PullOptions
    known: Mapping[str, str]
    changes: ChangeSet
    done: int = 0
    sync_token: str | None = None
    batch: list[RemoteEvent] = field(default_factory=list)

    def pages(self, params: dict[str, str]) -> Iterator[list[Item]]:
        """Each page's items; sets ``sync_token`` from the last page."""
        page_token: str | None = None
        for _ in range(MAX_PAGES):
            query = {**params, **({"pageToken": page_token} if page_token else {})}
            data = self.session.json("GET", f"{calendar_path(self.calendar_id)}/events", params=query)
            items = [i for i in data.get("items") or [] if isinstance(i, dict) and i.get("id")]
            page_token = data.get("nextPageToken") or None
            yield items
            self.done += len(items)
            self.flush()
            if self.options.progress is not None:
                estimate = self.done + (self.options.page_size if page_token else 0)
                self.options.progress(self.done, estimate)
            if page_token is None:
                self.sync_token = data.get("nextSyncToken")
                return
        raise TransientProviderError("Google kept answering with more pages; giving up")

    def take(self, items: list[Item]) -> None:
        """Hand over one series (or single event), unless we hold it already."""
        if all(i.get("status") == "cancelled" for i in items):
            return  # only cancelled instances of a series we do not see: nothing to hold
        key = series_key(items[0])
        etag = series_etag(items)
        if self.changes.full and self.known.get(key) == etag:
            self.changes.unchanged.append(key)
            return
        try:
            text = render_series(items)
        except Unrenderable as exc:
            self.changes.bad.append(BadObject(key, str(exc)))
            return
        event = RemoteEvent(remote_id=key, etag=etag, ical=text)
        self.changes.upserted.append(event)
        self.batch.append(event)

    def flush(self) -> None:
        if self.batch and self.options.received is not None:
            self.options.received(list(self.batch))
        self.batch.clear()

    def finish(self) -> ChangeSet:
        self.flush()
        if not self.sync_token:
            raise TransientProviderError("Google's event listing ended without a nextSyncToken")
        self.changes.cursor = cursors.encode(self.sync_token)
        return self.changes


def _recurring(item: Item) -> bool:
    return bool(item.get("recurringEventId") or item.get("recurrence"))


def pull(
    session: GoogleSession,
    calendar_id: str,
    *,
    cursor: str | None,
    known_etags: Mapping[str, str],
    options: PullOptions,
) -> ChangeSet:
    """See ``CalendarProvider.pull_changes``. :raises SyncCursorInvalid: for an expired or foreign cursor."""
    params = {"maxResults": str(options.page_size), "singleEvents": "false"}
    if cursor is None:
        since = datetime.now(UTC) - timedelta(days=options.past_days)
        params["timeMin"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        run = _Pull(session, calendar_id, options, known_etags, ChangeSet(cursor=None, full=True))
        series: dict[str, list[Item]] = {}
        for items in run.pages(params):
            for item in items:
                if _recurring(item):
                    series.setdefault(series_key(item), []).append(item)
                elif item.get("status") != "cancelled":
                    run.take([item])
        for members in series.values():
            run.take(members)
        return run.finish()
    params["syncToken"] = cursors.decode(cursor)
    run = _Pull(session, calendar_id, options, known_etags, ChangeSet(cursor=None, full=False))
    refetch: dict[str, str | None] = {}  # series id → its iCalUID when an item told us
    for items in run.pages(params):
        for item in items:
            if item.get("status") == "cancelled" and not item.get("recurringEventId"):
                run.changes.deleted.append(str(item["id"]))
            elif _recurring(item):
                key = series_key(item)
                refetch[key] = refetch.get(key) or item.get("iCalUID")
            else:
                run.take([item])
    for key, ical_uid in refetch.items():
        if key in run.changes.deleted:
            continue
        fetched = _series(session, calendar_id, key, ical_uid)
        if fetched is None:
            run.changes.deleted.append(key)
        else:
            run.take(fetched)
    return run.finish()


def _series(session: GoogleSession, calendar_id: str, key: str, ical_uid: str | None) -> list[Item] | None:
    """Every item of the series ``key`` (master first), or None when the series is gone."""
    if not ical_uid:
        try:
            master = session.json("GET", event_path(calendar_id, key))
        except RemoteNotFound:
            return None
        if master.get("status") == "cancelled":
            return None
        ical_uid = str(master.get("iCalUID") or "")
    params = {"iCalUID": ical_uid, "showDeleted": "true", "singleEvents": "false", "maxResults": "2500"}
    found: list[Item] = []
    page_token: str | None = None
    for _ in range(MAX_PAGES):
        query = {**params, **({"pageToken": page_token} if page_token else {})}
        data = session.json("GET", f"{calendar_path(calendar_id)}/events", params=query)
        found += [i for i in data.get("items") or [] if isinstance(i, dict) and series_key(i) == key]
        page_token = data.get("nextPageToken") or None
        if page_token is None:
            break
    masters = [i for i in found if not i.get("recurringEventId")]
    if not found or any(m.get("status") == "cancelled" for m in masters):
        return None
    return masters + [i for i in found if i.get("recurringEventId")]
