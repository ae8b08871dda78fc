"""``pull_changes`` for CalDAV: RFC 6578 sync-collection, with a ctag/etag fallback.

With a sync token the server tells us which members changed (href + etag) or went away (a 404 status) since
that token; we download the changed ones with calendar-multiget. Without a cursor the same report with an
empty token lists every member, and members whose etag equals the one we hold are not downloaded.

Servers without sync-collection (detected from the error they answer) get the older scheme: compare the
collection's CalendarServer ``getctag`` with the cursor's, and when it moved list every member's etag with a
PROPFIND Depth 1 and download the differing ones.

An etag we hold normally means "this content": a member whose reported etag equals ours is not downloaded
(DAViCal's incremental reports list again members changed in the same second as the token). But SOGo's
etags are per-object version counters (``"gcs00000000"``): an event deleted and made again at the same href
gets the etag of the old one. So what an incremental report lists with such an etag (:func:`reused_etag`) is
downloaded even when we hold that etag; a full listing (no token) still skips it, since nothing says it moved.

Periodic verification: DAViCal and SOGo accept the token of a calendar that was deleted and made again at the
same URL and never report the old members as gone. So once the cursor's last full listing (``checked``) is
older than ``verify_every`` (``CRENEAU_CALDAV_VERIFY_HOURS``, default 24), the pull lists every member's etag
again (one report, no download when nothing differs) and hands it over as a full listing, from which the
engine removes what the server no longer has.

What servers answer for a token they no longer know (checked against the real servers by the contract
tests): Radicale 3.9 ``403`` and Xandikos 0.4 ``412``, both with a ``<DAV:valid-sync-token/>`` precondition
body; either becomes ``SyncCursorInvalid``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from creneau.calendars.providers.base import ChangeSet, Progress, Received
from creneau.calendars.providers.caldav import xml
from creneau.calendars.providers.caldav.cursor import Cursor, decode
from creneau.calendars.providers.caldav.dav import DavSession, canonical_path, failure, multistatus
from creneau.calendars.providers.caldav.fetch import is_member, list_etags, multiget, split_known
from creneau.calendars.providers.caldav.writes import reused_etag
from creneau.calendars.providers.http import redact
from creneau.errors import ProviderError, SyncCursorInvalid, TransientProviderError

# A truncated sync-collection answer (507) is followed with the token it returned; this bounds a server
# that keeps answering "truncated" without progress.
MAX_SYNC_PAGES = 1000


class SyncUnsupported(Exception):
    """The collection does not support the sync-collection REPORT."""


@dataclass
class SyncListing:
    token: str
    changed: dict[str, str | None] = field(default_factory=dict)  # path → etag (None when not given)
    deleted: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PullOptions:
    chunk_size: int = 100
    use_sync_collection: bool = True
    received: Received | None = None
    verify_every: timedelta | None = timedelta(hours=24)  # None: never list everything again by itself
    now: datetime | None = None  # the clock (tests); None: the current time

    def timestamp(self) -> int:
        return int((self.now or datetime.now(UTC)).timestamp())

    def due(self, previous: Cursor | None) -> bool:
        """Whether ``previous`` asks for a verification (a full etag listing) now."""
        if previous is None or self.verify_every is None:
            return False
        if previous.checked is None:  # written before the verification existed: its clock starts now
            return False
        return self.timestamp() - previous.checked >= self.verify_every.total_seconds()


def pull(
    session: DavSession,
    calendar_url: str,
    *,
    cursor: str | None,
    known_etags: Mapping[str, str],
    progress: Progress | None,
    options: PullOptions,
) -> ChangeSet:
    """See ``CalendarProvider.pull_changes``. :raises SyncCursorInvalid: when the token is refused."""
    previous = decode(cursor) if cursor is not None else None
    verify = options.due(previous)
    if options.use_sync_collection and (previous is None or previous.mode == "sync"):
        from_token = previous.token if previous is not None and not verify else None
        try:
            listing = sync_collection(session, calendar_url, from_token)
        except SyncUnsupported:
            previous = None  # a sync token is of no use to the ctag scheme: list everything once
        else:
            full = from_token is None
            held = previous.checked if previous is not None else None
            checked = options.timestamp() if full or held is None else held
            return _apply_listing(
                session,
                calendar_url,
                listing,
                full=full,
                checked=checked,
                known_etags=known_etags,
                progress=progress,
                options=options,
            )
    return _pull_by_ctag(session, calendar_url, previous, known_etags, progress, options)


def _apply_listing(
    session: DavSession,
    calendar_url: str,
    listing: SyncListing,
    *,
    full: bool,
    checked: int | None,
    known_etags: Mapping[str, str],
    progress: Progress | None,
    options: PullOptions,
) -> ChangeSet:
    if full:
        to_download, unchanged = split_known(listing.changed, known_etags)
    else:  # reported as changed: a version-counter etag we hold proves nothing (SOGo, see above)
        to_download, unchanged = split_known(listing.changed, known_etags)
        to_download += [p for p in unchanged if reused_etag(listing.changed[p])]
        unchanged = [p for p in unchanged if not reused_etag(listing.changed[p])]
    got = multiget(
        session,
        calendar_url,
        to_download,
        chunk_size=options.chunk_size,
        progress=progress,
        received=options.received,
    )
    deleted = sorted(listing.deleted | set(got.gone) | {p for p in got.skipped if p in known_etags})
    return ChangeSet(
        cursor=Cursor(mode="sync", token=listing.token, checked=checked).encode(),
        full=full,
        upserted=got.events,
        deleted=[] if full else deleted,
        unchanged=unchanged,
        bad=got.bad,
    )


def sync_collection(session: DavSession, calendar_url: str, token: str | None) -> SyncListing:
    """Run sync-collection from ``token`` (None: from the beginning), following truncated answers.

    :raises SyncCursorInvalid: when the server refuses ``token``
    :raises SyncUnsupported: when the collection has no sync-collection REPORT
    """
    own_path = canonical_path(calendar_url, calendar_url)
    listing = SyncListing(token=token or "")
    for _page in range(MAX_SYNC_PAGES):
        body = xml.sync_collection(listing.token or None, [xml.GETETAG])
        response = session.report(calendar_url, body, depth=0, accept=(501,))
        if response.status_code != 207:
            raise _sync_error(response, listing.token)
        answer = multistatus(response)
        truncated = _merge_page(listing, answer, calendar_url, own_path)
        if not answer.sync_token:
            raise ProviderError(f"sync-collection on {redact(calendar_url)} answered without a sync-token")
        moved = answer.sync_token != listing.token
        listing.token = answer.sync_token
        if not truncated:
            return listing
        if not moved:
            break
    raise TransientProviderError(f"sync-collection on {redact(calendar_url)} kept answering 'truncated'")


def _merge_page(listing: SyncListing, answer: xml.MultiStatus, calendar_url: str, own_path: str) -> bool:
    """Fold one page of a sync report into ``listing``; True when the server truncated it (507)."""
    truncated = False
    for item in answer.responses:
        path = canonical_path(calendar_url, item.href)
        if item.status == 507:
            truncated = True
            continue
        if not is_member(own_path, path):
            continue
        if item.status in (404, 410):
            listing.deleted.add(path)
            listing.changed.pop(path, None)
        else:
            listing.changed[path] = item.text(xml.GETETAG)
            listing.deleted.discard(path)
    return truncated


def _sync_error(response: httpx.Response, token: str) -> Exception:
    status = response.status_code
    conditions = xml.error_conditions(response.content)
    if status == 404:
        return failure(response, f"sync-collection on {redact(response.url)}")
    if token and (
        xml.dav("valid-sync-token") in conditions or (status in (403, 409, 412) and not conditions)
    ):
        return SyncCursorInvalid(
            f"the server no longer accepts our sync token for {redact(response.url)} (HTTP {status}); "
            "a full sync is needed"
        )
    if xml.dav("supported-report") in conditions or status in (400, 403, 405, 415, 501):
        return SyncUnsupported()
    return failure(response, f"sync-collection on {redact(response.url)}")


def _pull_by_ctag(
    session: DavSession,
    calendar_url: str,
    previous: Cursor | None,
    known_etags: Mapping[str, str],
    progress: Progress | None,
    options: PullOptions,
) -> ChangeSet:
    ctag = read_ctag(session, calendar_url)
    same = previous is not None and previous.mode == "ctag" and ctag is not None and previous.ctag == ctag
    if same and previous is not None and not options.due(previous):
        checked = previous.checked if previous.checked is not None else options.timestamp()
        return ChangeSet(cursor=Cursor(mode="ctag", ctag=ctag, checked=checked).encode(), full=False)
    cursor = Cursor(mode="ctag", ctag=ctag, checked=options.timestamp()).encode()
    listing = list_etags(session, calendar_url)
    to_download, unchanged = split_known(listing, known_etags)
    got = multiget(
        session,
        calendar_url,
        to_download,
        chunk_size=options.chunk_size,
        progress=progress,
        received=options.received,
    )
    return ChangeSet(cursor=cursor, full=True, upserted=got.events, unchanged=unchanged, bad=got.bad)


def read_ctag(session: DavSession, calendar_url: str) -> str | None:
    for item in session.propfind(calendar_url, [xml.GETCTAG], depth=0).responses:
        value = item.text(xml.GETCTAG)
        if value:
            return value
    return None
