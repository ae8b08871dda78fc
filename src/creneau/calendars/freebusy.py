"""Free/busy: from synced data (:func:`busy_periods`), and live from the servers (:func:`live_busy`) for the
last-second check made while a participant books.

Accounts whose credentials were refused ("reconnect needed") still count with their last synced busy times:
a broken account is never silently dropped from conflict checks.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from creneau.calendars import ical
from creneau.calendars.context import EngineContext
from creneau.calendars.occurrences import calendar_timezone, owner_addresses
from creneau.domain.intervals import Interval, clip, merge
from creneau.errors import AuthFailed, ProviderError
from creneau.store.models import BusyOccurrence, Calendar, CalendarAccount, SyncedEvent

log = logging.getLogger(__name__)


def busy_periods(
    session: Session,
    *,
    researcher_id: int,
    window: Interval,
    ignore_uid: str | None = None,
    ignore_event: tuple[int, str] | None = None,
    merged: bool = True,
) -> list[Interval]:
    """Merged busy intervals (UTC) inside ``window`` for the researcher's conflict-checked calendars.

    ``ignore_uid`` leaves out the events of that iCalendar UID, ``ignore_event`` the event ``(calendar id,
    remote id)`` — a booking being moved must not collide with its own calendar event, which Microsoft Graph
    lists under Exchange's UID, not ours. ``merged=False`` returns the occurrences overlapping ``window`` as
    they are (unsorted, not clipped), for callers that merge on their own (the slot computation does)."""
    query = (
        select(BusyOccurrence.start, BusyOccurrence.end)
        .join(Calendar, Calendar.id == BusyOccurrence.calendar_id)
        .join(CalendarAccount, CalendarAccount.id == Calendar.account_id)
        .where(
            CalendarAccount.researcher_id == researcher_id,
            Calendar.check_conflicts.is_(True),
            BusyOccurrence.start < window.end,
            BusyOccurrence.end > window.start,
        )
    )
    if ignore_uid is not None or ignore_event is not None:
        query = query.join(SyncedEvent, SyncedEvent.id == BusyOccurrence.event_id)
    if ignore_uid is not None:
        query = query.where(SyncedEvent.uid != ignore_uid)
    if ignore_event is not None:
        calendar_id, remote_id = ignore_event
        query = query.where(
            ~((SyncedEvent.calendar_id == calendar_id) & (SyncedEvent.remote_id == remote_id))
        )
    rows = session.execute(query)
    if not merged:
        return [Interval(start, end) for start, end in rows]
    return merge(clip((Interval(start, end) for start, end in rows), window))


@dataclass
class LiveBusy:
    """What the servers said about a window. ``unanswered`` names the accounts that could not answer (and
    why): for those, only synced data is known."""

    busy: list[Interval] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    accounts_with_busy: list[int] = field(default_factory=list)  # worth a sync: we did not know yet

    @property
    def complete(self) -> bool:
        return not self.unanswered


def live_busy(
    ctx: EngineContext,
    *,
    researcher_id: int,
    window: Interval,
    timeout: float,
    ignore_uid: str | None = None,
) -> LiveBusy:
    """Ask every account of the researcher, in parallel, for the events overlapping ``window`` in its
    conflict-checked calendars, and expand them with our busy rules.

    Waits at most about ``timeout`` seconds in all; an account that fails, is too slow or needs
    reconnecting is listed in ``unanswered`` (never raises for a provider's failure).

    What the questions need is read first, in one short database session closed before any network call.
    Each provider is then opened in the pool, under the same timeout: opening an OAuth account may refresh
    its access token at the token endpoint, which can be refused, fail or hang like any server. A refused
    sign-in (refresh refused, old Google integration past its removal date, application not configured)
    flags the account "reconnect_needed" as sync does; the booking goes on against synced data."""
    result = LiveBusy()
    asked: list[_Question] = []
    with ctx.sessions() as session:
        accounts = session.scalars(
            select(CalendarAccount)
            .where(CalendarAccount.researcher_id == researcher_id)
            .options(selectinload(CalendarAccount.calendars))
        )
        for account in accounts:
            calendars = [c for c in account.calendars if c.check_conflicts]
            if not calendars:
                continue
            if account.status == "reconnect_needed":
                result.unanswered.append(f"{account.username}: reconnect_needed")
                continue
            asked.append(
                _Question(
                    account=account,
                    account_id=account.id,
                    label=account.username,
                    remote_ids=[c.remote_id for c in calendars],
                    # The provider answers per object without saying which calendar: read floating times in
                    # the first calendar's zone (the account's, in practice).
                    default_tz=calendar_timezone(calendars[0]),
                    owners=owner_addresses(calendars[0]),
                )
            )
    # Closing the session detached the accounts with every column loaded: the pool reads them without the
    # database (nothing left to load lazily).
    if not asked:
        return result
    pool = ThreadPoolExecutor(max_workers=min(8, len(asked)), thread_name_prefix="creneau-live")
    try:
        futures = {
            pool.submit(_ask, ctx, question, window, ignore_uid, timeout): question for question in asked
        }
        done, late = wait(futures, timeout=timeout + 1.0)
        for future in late:
            result.unanswered.append(f"{futures[future].label}: timeout")
        for future in done:
            question = futures[future]
            try:
                intervals = future.result()
            except ProviderError as exc:
                result.unanswered.append(f"{question.label}: {exc.code}")
                continue
            except Exception as exc:  # a bug must not block bookings: fall back to synced data, loudly
                log.exception("live free/busy of account %s crashed", question.account_id)
                result.unanswered.append(f"{question.label}: {type(exc).__name__}")
                continue
            if intervals:
                result.accounts_with_busy.append(question.account_id)
            result.busy.extend(intervals)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    result.busy = merge(result.busy)
    return result


@dataclass
class _Question:
    account: CalendarAccount  # detached, its columns loaded: what ``provider_for`` reads
    account_id: int
    label: str
    remote_ids: list[str]
    default_tz: tzinfo
    owners: frozenset[str]


def _ask(
    ctx: EngineContext, question: _Question, window: Interval, ignore_uid: str | None, timeout: float
) -> list[Interval]:
    try:
        provider = ctx.provider_for(question.account, timeout=timeout)
    except AuthFailed as exc:
        _reconnect_needed(ctx, question.account_id, exc)
        raise
    try:
        remote = provider.busy_times(question.remote_ids, window)
    finally:
        provider.close()
    found: list[Interval] = []
    for event in remote:
        try:
            obj = ical.parse(event.ical)
            if ignore_uid is not None and obj.uid == ignore_uid:
                continue
            occurrences = ical.busy_occurrences(
                obj, window=window, default_tz=question.default_tz, owner_addresses=question.owners
            )
        except ical.MalformedObject:
            continue  # sync reports it; a live check cannot do better
        found.extend(o.interval for o in occurrences)
    return clip(found, window)


def _reconnect_needed(ctx: EngineContext, account_id: int, exc: AuthFailed) -> None:
    """Flag the account as sync does when its sign-in is refused (the token keeper already did it for a
    refused refresh)."""
    try:
        with ctx.sessions() as session, session.begin():
            account = session.get(CalendarAccount, account_id)
            if account is not None and account.status != "reconnect_needed":
                account.status, account.status_detail = "reconnect_needed", f"{exc.code}: {exc}"
    except Exception:  # the booking must go on; the next sync flags it again
        log.exception("could not flag account %s as needing a reconnect", account_id)
    log.warning("account %s: live check refused (%s); reconnect needed", account_id, exc.code)
