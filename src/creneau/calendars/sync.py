"""Sync one account: reconcile its calendar list, pull each calendar's changes, store them, set the status.

Each calendar is pulled completely (all downloads done) before anything is written, then applied with its new
cursor in ONE transaction: a server failing mid-sync leaves the previous consistent state, and the next run
resumes from the last saved cursor. A refused login puts the account in "reconnect_needed" (its last synced
busy times keep counting); other failures set "error" and schedule a retry with exponential backoff.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from creneau.calendars import ical
from creneau.calendars.context import EngineContext
from creneau.calendars.oauth import connector_of, is_oauth
from creneau.calendars.occurrences import IN_CHUNK, calendar_timezone, owner_addresses, replace_occurrences
from creneau.calendars.providers.base import (
    CalendarProvider,
    ChangeSet,
    Progress,
    RemoteCalendar,
)
from creneau.calendars.reading import Reader, Reading
from creneau.domain.retry import backoff_delay
from creneau.errors import AuthExpired, AuthFailed, ProviderError, RateLimited, SyncCursorInvalid
from creneau.store.models import Calendar, CalendarAccount, CalendarSyncState, SyncedEvent

log = logging.getLogger(__name__)
MALFORMED_KEPT = 20  # how many "href: reason" lines the Integrations page can show per calendar


@dataclass(frozen=True)
class ObjectsReport:
    """What a calendar's syncs could not read (``skipped``: remote id → reason, the first
    :data:`MALFORMED_KEPT`) and what they read only once repaired (``repaired``: remote id → what was
    repaired, the first :data:`MALFORMED_KEPT`, of ``repaired_count``).

    Stored in ``calendar_sync_states.malformed_detail``: the JSON object ``{remote id: reason}`` of the
    skipped ones when nothing was repaired (as before repairs existed), else
    ``{"skipped": {...}, "repaired": {...}, "repaired_count": n}``. ``malformed_count`` counts the skipped.
    """

    skipped: dict[str, str]
    repaired: dict[str, str]
    repaired_count: int

    @classmethod
    def read(cls, detail: str) -> ObjectsReport | None:
        """The report stored as ``detail``; None when it is not one (free text of an older version)."""
        try:
            data = json.loads(detail or "{}")
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        if set(data) == {"skipped", "repaired", "repaired_count"} and isinstance(data["repaired"], dict):
            skipped, repaired = data["skipped"], data["repaired"]
            count = data["repaired_count"] if isinstance(data["repaired_count"], int) else len(repaired)
        else:
            skipped, repaired, count = data, {}, 0
        if not isinstance(skipped, dict):
            return None
        return cls(
            skipped={str(k): str(v) for k, v in skipped.items()},
            repaired={str(k): str(v) for k, v in repaired.items()},
            repaired_count=count,
        )

    def stored(self) -> str:
        skipped = dict(sorted(self.skipped.items())[:MALFORMED_KEPT])
        if not self.repaired_count:
            return json.dumps(skipped)
        repaired = dict(sorted(self.repaired.items())[:MALFORMED_KEPT])
        return json.dumps({"skipped": skipped, "repaired": repaired, "repaired_count": self.repaired_count})


@dataclass
class SyncReport:
    account_id: int
    status: str = "ok"
    calendars: int = 0
    fetched: int = 0
    deleted: int = 0
    unchanged: int = 0
    malformed: int = 0
    repaired: int = 0  # objects read only once repaired (ical ``ParsedObject.repairs``)
    full_resyncs: int = 0
    error: str = ""


def sync_account(
    ctx: EngineContext, *, account_id: int, progress: Progress | None = None
) -> SyncReport | None:
    """Sync every calendar of the account. Returns None when the account does not exist (any more)."""
    with ctx.sessions() as session, session.begin():
        account = session.get(CalendarAccount, account_id)
        if account is None:
            return None
        account.status, account.sync_done, account.sync_total = "syncing", 0, 0
        single = account.username if connector_of(account) == "google_legacy" else None
    report = SyncReport(account_id=account_id)
    tracker = _ProgressTracker(ctx, account_id, progress)
    try:
        try:
            _sync_all(ctx, account_id, report, tracker, single=single, fresh_token=False)
        except AuthExpired:
            # The server refused an access token we thought valid (revoked early, clock skew): refresh it
            # once and start again; a refused refresh raises AuthExpired again, and the account needs a
            # reconnect.
            with ctx.sessions() as session:
                if not _worth_refreshing(session, account_id):
                    raise
            _sync_all(ctx, account_id, report, tracker, single=single, fresh_token=True)
    except AuthFailed as exc:
        _finish(ctx, account_id, report, status="reconnect_needed", detail=f"{exc.code}: {exc}")
    except ProviderError as exc:
        detail = f"{exc.code}: {exc}"  # the code lets the pages say it in the reader's language
        _finish(ctx, account_id, report, status="error", detail=detail, retry_after=_retry_after(exc))
    else:
        _finish(ctx, account_id, report, status="ok", detail="")
    return report


def _worth_refreshing(session: Session, account_id: int) -> bool:
    """An OAuth account whose refresh was not already refused (the keeper marks that at once)."""
    account = session.get(CalendarAccount, account_id)
    return account is not None and is_oauth(account) and account.status != "reconnect_needed"


def _sync_all(
    ctx: EngineContext,
    account_id: int,
    report: SyncReport,
    tracker: _ProgressTracker,
    *,
    single: str | None,
    fresh_token: bool,
) -> None:
    with ctx.sessions() as session:
        account = session.get(CalendarAccount, account_id)
        if account is None:
            return
        provider = ctx.provider_for(account, fresh_token=fresh_token)
    try:
        remote_calendars = provider.list_calendars()
        if single is not None:  # the old Google integration kept one calendar: the primary one
            remote_calendars = [c for c in remote_calendars if c.remote_id == single]
        calendar_ids = _reconcile_calendars(ctx, account_id, remote_calendars)
        report.calendars = len(calendar_ids)
        for calendar_id in calendar_ids:
            _sync_calendar(ctx, provider, calendar_id, report, tracker)
    finally:
        provider.close()


def _retry_after(exc: ProviderError) -> float | None:
    return exc.retry_after if isinstance(exc, RateLimited) else None


def _finish(
    ctx: EngineContext,
    account_id: int,
    report: SyncReport,
    *,
    status: str,
    detail: str,
    retry_after: float | None = None,
) -> None:
    now = datetime.now(UTC)
    report.status, report.error = status, detail
    with ctx.sessions() as session, session.begin():
        account = session.get(CalendarAccount, account_id)
        if account is None:  # deleted while we synced; its rows are gone with it
            return
        account.status, account.status_detail = status, detail
        if status == "ok":
            account.failures = 0
            account.last_sync_at = now
            delay = float(ctx.settings.sync_interval_seconds)
        else:
            account.failures += 1
            delay = backoff_delay(
                failures=account.failures,
                base=ctx.settings.sync_retry_base_seconds,
                maximum=ctx.settings.sync_retry_max_seconds,
                retry_after=retry_after,
            )
            log.warning("sync of account %s failed (%s), retry in %.0fs", account_id, status, delay)
        account.next_sync_at = now + timedelta(seconds=delay)


def _reconcile_calendars(ctx: EngineContext, account_id: int, remote: list[RemoteCalendar]) -> list[int]:
    """Add calendars that appeared, refresh names/colours, drop calendars removed on the server."""
    with ctx.sessions() as session, session.begin():
        account = session.get(CalendarAccount, account_id)
        if account is None:
            return []
        by_remote = {c.remote_id: c for c in account.calendars}
        seen = set()
        for rc in remote:
            seen.add(rc.remote_id)
            cal = by_remote.get(rc.remote_id)
            if cal is None:
                cal = Calendar(remote_id=rc.remote_id, name=rc.name, sync_state=CalendarSyncState())
                account.calendars.append(cal)
            cal.name, cal.color, cal.read_only, cal.timezone = rc.name, rc.color, rc.read_only, rc.timezone
            cal.conferencing = rc.conferencing
        for remote_id, cal in by_remote.items():
            if remote_id not in seen:
                session.delete(cal)
        session.flush()
        return [c.id for c in account.calendars if c.remote_id in seen]


def _sync_calendar(
    ctx: EngineContext,
    provider: CalendarProvider,
    calendar_id: int,
    report: SyncReport,
    tracker: _ProgressTracker,
) -> None:
    with ctx.sessions() as session:
        calendar = session.get(Calendar, calendar_id)
        if calendar is None:
            return
        state = calendar.sync_state or CalendarSyncState()
        cursor, remote_id = state.cursor, calendar.remote_id
        tz, owners = calendar_timezone(calendar), owner_addresses(calendar)
    known = _KnownEtags(ctx, calendar_id)
    reader = Reader(window=ctx.sync_window(), tz=tz, owners=owners)
    try:
        changes = provider.pull_changes(
            remote_id, cursor=cursor, known_etags=known, progress=tracker.step, received=reader
        )
    except SyncCursorInvalid:
        report.full_resyncs += 1
        changes = provider.pull_changes(
            remote_id, cursor=None, known_etags=known, progress=tracker.step, received=reader
        )
    tracker.calendar_done()
    with ctx.sessions() as session, session.begin():
        _apply(session, calendar_id, changes, report, reader)


class _KnownEtags(Mapping[str, str]):
    """The ``remote_id → etag`` of the calendar's stored events, read from the database only when the
    provider first looks (a full listing, or changes to compare): a resync with nothing new never reads them,
    so its cost does not grow with the calendar."""

    def __init__(self, ctx: EngineContext, calendar_id: int) -> None:
        self._ctx, self._calendar_id = ctx, calendar_id
        self._etags: dict[str, str] | None = None

    def _loaded(self) -> dict[str, str]:
        if self._etags is None:
            with self._ctx.sessions() as session:
                rows = session.execute(
                    select(SyncedEvent.remote_id, SyncedEvent.etag).where(
                        SyncedEvent.calendar_id == self._calendar_id
                    )
                )
                self._etags = {remote: etag for remote, etag in rows}
        return self._etags

    def __getitem__(self, key: str) -> str:
        return self._loaded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def _apply(
    session: Session, calendar_id: int, changes: ChangeSet, report: SyncReport, reader: Reader
) -> None:
    calendar = session.scalar(
        select(Calendar).where(Calendar.id == calendar_id).options(selectinload(Calendar.account))
    )
    if calendar is None:  # deleted meanwhile
        return
    state = calendar.sync_state
    if state is None:
        state = calendar.sync_state = CalendarSyncState()
    window = reader.window
    # When the window moved, occurrences entering it must appear without any change on the server.
    window_moved = state.window_start != window.start or state.window_end != window.end
    before = None if changes.full else ObjectsReport.read(state.malformed_detail)
    malformed: dict[str, str] = dict(before.skipped) if before else {}
    repaired: dict[str, str] = dict(before.repaired) if before else {}
    gone = _delete_gone(session, calendar_id, changes, (malformed, repaired))
    events = _load_events(session, calendar_id, changes, everything=window_moved)
    for bad in changes.bad:
        malformed[bad.remote_id] = bad.reason
        repaired.pop(bad.remote_id, None)
    readings = _store_upserts(session, calendar_id, changes, events, malformed, repaired, reader)
    if window_moved:
        readings = {
            e.id: readings.get(e.id) or (e, _reread(e, reader, malformed, repaired)) for e in events.values()
        }
    _replace_occurrences(session, readings)
    state.cursor = changes.cursor
    state.window_start, state.window_end = window.start, window.end
    state.last_success_at = datetime.now(UTC)
    state.last_error = ""
    state.malformed_count = len(malformed)
    state.malformed_detail = ObjectsReport(malformed, repaired, len(repaired)).stored()
    report.fetched += len(changes.upserted)
    report.deleted += gone
    report.unchanged += len(changes.unchanged)
    report.malformed += len(malformed)
    report.repaired += len(repaired)


def _delete_gone(
    session: Session, calendar_id: int, changes: ChangeSet, reports: tuple[dict[str, str], ...]
) -> int:
    """Delete the events the server no longer has (their occurrences go by cascade), and forget them in
    ``reports`` (remote id → reason); returns how many."""
    gone = set(changes.deleted)
    if changes.full:
        keep = {e.remote_id for e in changes.upserted} | set(changes.unchanged)
        keep |= {b.remote_id for b in changes.bad}
        held = session.scalars(select(SyncedEvent.remote_id).where(SyncedEvent.calendar_id == calendar_id))
        gone |= set(held) - keep
    for remote_id in gone:
        for found in reports:
            found.pop(remote_id, None)
    ids = list(gone)
    deleted = 0
    for i in range(0, len(ids), IN_CHUNK):
        result = session.execute(
            delete(SyncedEvent).where(
                SyncedEvent.calendar_id == calendar_id, SyncedEvent.remote_id.in_(ids[i : i + IN_CHUNK])
            )
        )
        deleted += result.rowcount or 0  # type: ignore[attr-defined]
    return deleted


def _load_events(
    session: Session, calendar_id: int, changes: ChangeSet, *, everything: bool
) -> dict[str, SyncedEvent]:
    """The stored events this change touches (all of them when ``everything``), by remote id."""
    query = select(SyncedEvent).where(SyncedEvent.calendar_id == calendar_id)
    if everything:
        return {e.remote_id: e for e in session.scalars(query)}
    wanted = [e.remote_id for e in changes.upserted]
    found: dict[str, SyncedEvent] = {}
    for i in range(0, len(wanted), IN_CHUNK):
        for event in session.scalars(query.where(SyncedEvent.remote_id.in_(wanted[i : i + IN_CHUNK]))):
            found[event.remote_id] = event
    return found


def _replace_occurrences(session: Session, readings: dict[int, tuple[SyncedEvent, Reading | None]]) -> None:
    """Replace the busy occurrences of the events in ``readings`` by what was read."""
    rows = [
        {"event_id": event.id, "calendar_id": event.calendar_id, "start": o.start, "end": o.end,
         "all_day": o.all_day}
        for event, reading in readings.values()
        if reading is not None
        for o in reading.occurrences
    ]  # fmt: skip
    replace_occurrences(session, list(readings), rows)


def _store_upserts(
    session: Session,
    calendar_id: int,
    changes: ChangeSet,
    events: dict[str, SyncedEvent],
    malformed: dict[str, str],
    repaired: dict[str, str],
    reader: Reader,
) -> dict[int, tuple[SyncedEvent, Reading | None]]:
    """Write changed objects that can be read; returns them by event id with what was read. ``malformed``
    and ``repaired`` (remote id → reason) are updated with what reading them said."""
    now = datetime.now(UTC)
    pending: list[tuple[SyncedEvent, Reading]] = []
    for remote in changes.upserted:
        try:
            reading = reader.get(remote)
        except ical.MalformedObject as exc:  # the previous readable version, if any, is kept
            malformed[remote.remote_id] = str(exc)
            repaired.pop(remote.remote_id, None)
            continue
        malformed.pop(remote.remote_id, None)
        _note_repairs(repaired, remote.remote_id, reading)
        event = events.get(remote.remote_id)
        if event is None:
            event = SyncedEvent(calendar_id=calendar_id, remote_id=remote.remote_id)
            events[remote.remote_id] = event
            session.add(event)
        obj = reading.parsed
        event.etag, event.ical, event.updated_at = remote.etag, remote.ical, now
        event.uid, event.summary, event.recurring = obj.uid[:1000], obj.summary[:1000], obj.recurring
        pending.append((event, reading))
    session.flush()  # assigns ids to new events
    return {event.id: (event, reading) for event, reading in pending}


def _note_repairs(repaired: dict[str, str], remote_id: str, reading: Reading) -> None:
    if reading.parsed.repairs:
        repaired[remote_id] = "; ".join(reading.parsed.repairs)
    else:
        repaired.pop(remote_id, None)


def _reread(
    event: SyncedEvent, reader: Reader, malformed: dict[str, str], repaired: dict[str, str]
) -> Reading | None:
    try:
        reading = reader.read(event.ical)
    except ical.MalformedObject as exc:  # read once already; a library upgrade might change that
        malformed[event.remote_id] = str(exc)
        repaired.pop(event.remote_id, None)
        return None
    _note_repairs(repaired, event.remote_id, reading)
    return reading


class _ProgressTracker:
    """Counts downloaded objects across calendars; writes them to the account at most twice a second."""

    def __init__(self, ctx: EngineContext, account_id: int, progress: Progress | None) -> None:
        self._ctx, self._account_id, self._progress = ctx, account_id, progress
        self._base_done = self._base_total = self._done = self._total = 0
        self._last_write = 0.0

    def step(self, done: int, total: int) -> None:
        self._done, self._total = done, total
        self._publish(force=False)

    def calendar_done(self) -> None:
        self._base_done += self._done
        self._base_total += self._total
        self._done = self._total = 0
        self._publish(force=True)

    def _publish(self, *, force: bool) -> None:
        done, total = self._base_done + self._done, self._base_total + self._total
        if self._progress is not None:
            self._progress(done, total)
        now = time.monotonic()
        if not force and now - self._last_write < 0.5:
            return
        self._last_write = now
        with self._ctx.sessions() as session, session.begin():
            account = session.get(CalendarAccount, self._account_id)
            if account is not None:
                account.sync_done, account.sync_total = done, total
