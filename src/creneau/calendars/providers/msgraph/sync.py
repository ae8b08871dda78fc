"""``pull_changes`` for Graph: calendarView delta rounds over the sync window.

Without a cursor (or when the window moved on, see ``cursor.py``) a new round lists every item of the window:
the ChangeSet is ``full`` and items whose etag (``@odata.etag``, i.e. the changeKey) equals the one we hold
are reported ``unchanged``. With a cursor we follow its deltaLink and get only what changed: items whole,
removals as ``{"@removed": {"reason": "deleted" | "changed"}, "id": ...}``. Both reasons mean the item is no
longer in our window — deleted, or still existing but moved out of the window (or its series changed) — so
both delete the item locally; a later round brings it back if it returns. Pages hold ``batch_size`` items
(``Prefer: odata.maxpagesize``); each page's events are handed to ``received`` as they arrive.

An expired or unknown delta token answers 410 Gone (``syncStateNotFound``): ``SyncCursorInvalid``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from creneau.calendars.providers.base import BadObject, ChangeSet, Progress, Received, RemoteEvent
from creneau.calendars.providers.msgraph.cursor import Cursor, decode
from creneau.calendars.providers.msgraph.render import etag_of, render_item
from creneau.calendars.providers.msgraph.session import UTC_PREFERENCE, GraphSession, segment
from creneau.domain.intervals import Interval
from creneau.errors import TransientProviderError

MAX_PAGES = 10_000  # bounds a server that keeps sending nextLinks


@dataclass(frozen=True)
class PullOptions:
    window: Interval
    page_size: int = 100
    owner_emails: Sequence[str] = ()
    received: Received | None = None
    progress: Progress | None = None


def first_link(session: GraphSession, calendar_id: str, window: Interval) -> str:
    query = urlencode(
        {
            "startDateTime": window.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endDateTime": window.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    return session.url(f"me/calendars/{segment(calendar_id)}/calendarView/delta?{query}")


@dataclass
class _Round:
    """What the pages of one round said so far; a later page wins over an earlier one for the same id."""

    known_etags: Mapping[str, str]
    owner_emails: Sequence[str]
    upserted: dict[str, RemoteEvent] = field(default_factory=dict)
    bad: dict[str, BadObject] = field(default_factory=dict)
    unchanged: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)

    def add(self, item: dict[str, Any]) -> RemoteEvent | None:
        """Fold one item in; returns the event to hand over now, if it is one."""
        item_id = str(item.get("id") or "")
        self.upserted.pop(item_id, None)
        self.bad.pop(item_id, None)
        self.unchanged.discard(item_id)
        self.deleted.discard(item_id)
        etag = etag_of(item)
        if "@removed" in item:
            self.deleted.add(item_id)
        elif item_id and etag and self.known_etags.get(item_id) == etag:
            self.unchanged.add(item_id)
        else:
            rendered = render_item(item, owner_emails=self.owner_emails)
            if isinstance(rendered, BadObject):
                self.bad[rendered.remote_id] = rendered
            else:
                self.upserted[rendered.remote_id] = rendered
                return rendered
        return None

    def changes(self, cursor: str, *, full: bool) -> ChangeSet:
        return ChangeSet(
            cursor=cursor,
            full=full,
            upserted=list(self.upserted.values()),
            deleted=[] if full else sorted(self.deleted),
            unchanged=sorted(self.unchanged),
            bad=list(self.bad.values()),
        )


def pull(
    session: GraphSession,
    calendar_id: str,
    *,
    cursor: str | None,
    known_etags: Mapping[str, str],
    options: PullOptions,
) -> ChangeSet:
    """See ``CalendarProvider.pull_changes``. :raises SyncCursorInvalid: when the delta token is refused."""
    previous = decode(cursor) if cursor is not None else None
    if previous is not None and previous.covers(options.window):
        link, window, full = previous.delta_link, previous.window, False
    else:
        link, window, full = first_link(session, calendar_id, options.window), options.window, True
    headers = {"Prefer": f"odata.maxpagesize={options.page_size}, {UTC_PREFERENCE}"}
    round_ = _Round(known_etags, options.owner_emails)
    done = 0
    for _page in range(MAX_PAGES):
        page = session.get_json(link, headers=headers)
        items = [item for item in page.get("value") or [] if isinstance(item, dict)]
        batch = [event for event in map(round_.add, items) if event is not None]
        done += len(items)
        following = page.get("@odata.nextLink")
        if batch and options.received is not None:
            options.received(batch)
        if options.progress is not None:
            # Graph does not say how many items a round holds: while pages follow, the total is an estimate.
            options.progress(done, done + options.page_size if following else done)
        if isinstance(following, str) and following:
            link = following
            continue
        delta_link = page.get("@odata.deltaLink")
        if not isinstance(delta_link, str) or not delta_link:
            raise TransientProviderError("Microsoft Graph ended a delta round without a deltaLink")
        return round_.changes(Cursor(delta_link, window).encode(), full=full)
    raise TransientProviderError("Microsoft Graph kept sending nextLinks for one delta round")
