"""Booking, cancelling and moving a participant's slot — and the guarantee that two never overlap.

How a booking is checked (each step can refuse with ``SlotUnavailable``; nothing is written before the last):

1. the slot must be offered by the session's rules against what the database knows (cheap, no network);
2. the manager's calendars are asked live for that slot, widened by the buffers (``calendars.freebusy``
   ``live_busy``, short timeout). An event added a moment ago that sync has not seen yet blocks the slot
   here (and its account is synced). A calendar that cannot answer is noted on the booking
   (``live_check="synced"``): the decision then rests on synced data;
3. in ONE transaction: the slot is checked again against the database, the booking and its outbox rows
   (calendar event, email) are inserted. On SQLite the transaction starts with a write so that it holds the
   database's write lock: booking transactions run one after another and each sees the previous one. On
   PostgreSQL an exclusion constraint over the manager's booked ranges (buffers included) refuses any
   overlap that two concurrent transactions could both have missed.

The calendar event and the email are written afterwards by the outbox (scheduling/outbox.py): the booking
is never lost because a calendar server is slow or down.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from creneau import validation
from creneau.calendars.freebusy import LiveBusy, live_busy
from creneau.domain.intervals import Interval, subtract
from creneau.errors import LinkInvalid, NotFound, SlotUnavailable, ValidationFailed
from creneau.identity import is_email
from creneau.scheduling.availability import slot_is_free
from creneau.scheduling.context import Scheduling
from creneau.scheduling.outbox import owe_calendar_event, owe_email
from creneau.scheduling.studies import public_session
from creneau.scheduling.workspaces import require_member
from creneau.store.models import Booking, StudySession
from creneau.validation import check_name

LOCALES = ("fr", "en")


@dataclass(frozen=True)
class Participant:
    name: str
    email: str
    locale: str
    timezone: str


def check_participant(*, name: str, email: str, locale: str, timezone: str) -> Participant:
    """:raises ValidationFailed: naming ``name``, ``email`` or ``timezone``."""
    name = check_name(name, field="name", message="give your name", collapse=True)
    email = email.strip()
    if not is_email(email):
        raise ValidationFailed("this email address is not valid", field="email")
    check_timezone(timezone)
    return Participant(
        name=name, email=email, locale=locale if locale in LOCALES else "fr", timezone=timezone
    )


def check_timezone(name: str) -> ZoneInfo:
    """:raises ValidationFailed: ``field="timezone"`` when the zone does not exist."""
    return validation.check_timezone(name, field="timezone")


def native_conferencing(study_session: StudySession) -> str | None:
    """The video link the session's destination calendar makes with each event ("google_meet", "teams"),
    or None when the session is not remote or its calendar makes none (a Jitsi link is used then)."""
    calendar = study_session.destination_calendar
    if study_session.location_kind != "remote" or calendar is None:
        return None
    return calendar.conferencing


def book(
    sched: Scheduling,
    *,
    token: str,
    start: datetime,
    participant: Participant,
    now: datetime | None = None,
) -> Booking:
    """Book the slot starting at ``start`` on the session behind the public link ``token``.

    :raises NotFound: unknown link or closed booking page.
    :raises SlotUnavailable: the slot is not (or no longer) free.
    """
    now = now or datetime.now(UTC)
    with sched.engine.sessions() as session:
        study_session = public_session(session, token=token)
        session_id = study_session.id
        slot = _slot(study_session, start)
        if not slot_is_free(session, study_session=study_session, slot=slot, now=now):
            raise SlotUnavailable("this slot is no longer free")
        blocked = _blocked(study_session, slot)
        manager_id = study_session.manager_id
    live = _live_check(sched, manager_id=manager_id, blocked=blocked, ignore_uid=None)

    uid = f"creneau-{uuid.uuid4().hex}@creneau"
    with _booking_transaction(sched) as session:
        locked = _lock(session, session_id=session_id, manager_id=manager_id)
        if locked is None or not locked.booking_open:
            raise NotFound("no such booking page")
        if locked.manager_id != manager_id or not slot_is_free(
            session, study_session=locked, slot=slot, now=now, extra_busy=live.busy
        ):
            raise SlotUnavailable("this slot is no longer free")
        conference = None
        native = native_conferencing(locked)
        if locked.location_kind == "remote" and native is None:
            conference = sched.conferencing.create(
                booking_key=uid, title=f"{locked.study.name} — {locked.name}"
            )
        booking = Booking(
            session_id=locked.id,
            manager_id=manager_id,
            start=slot.start,
            end=slot.end,
            blocked_start=blocked.start,
            blocked_end=blocked.end,
            participant_name=participant.name,
            participant_email=participant.email,
            participant_locale=participant.locale,
            participant_timezone=participant.timezone,
            uid=uid,
            link_nonce=secrets.token_urlsafe(12),
            # A native link (Meet, Teams) arrives with the calendar event; the outbox fills it in.
            join_url=conference.join_url if conference else "",
            conference_provider=conference.provider if conference else (native or ""),
            calendar_id=locked.destination_calendar_id,
            live_check="live" if live.complete else "synced",
            live_check_detail="; ".join(live.unanswered)[:2000],
        )
        session.add(booking)
        session.flush()
        owed = [owe_calendar_event(session, booking=booking, now=now)]
        owed.append(owe_email(session, booking=booking, kind="confirmed", now=now))
    sched.outbox_ready([i for i in owed if i is not None])
    return booking


def cancel(sched: Scheduling, *, booking_id: int, by: str, now: datetime | None = None) -> Booking:
    """Cancel a booking: its calendar event is deleted and the participant told (through the outbox).
    Cancelling a cancelled booking changes nothing."""
    now = now or datetime.now(UTC)
    with sched.engine.sessions() as session, session.begin():
        booking = session.get(Booking, booking_id)
        if booking is None:
            raise NotFound("no such booking")
        if booking.status == "cancelled":
            return booking
        booking.status = "cancelled"
        booking.cancelled_at = now
        booking.cancelled_by = by
        booking.sequence += 1
        booking.updated_at = now
        owed = [owe_calendar_event(session, booking=booking, now=now)]
        owed.append(owe_email(session, booking=booking, kind="cancelled", now=now))
    sched.outbox_ready([i for i in owed if i is not None])
    return booking


def move(sched: Scheduling, *, booking_id: int, start: datetime, now: datetime | None = None) -> Booking:
    """Move a confirmed booking to the slot starting at ``start`` (same checks as a new booking; the booking
    never collides with itself). The calendar event is updated, the participant gets new links.

    :raises SlotUnavailable: the new slot is not free.
    """
    now = now or datetime.now(UTC)
    with sched.engine.sessions() as session:
        booking = _confirmed(session, booking_id)
        study_session = booking.session
        slot = _slot(study_session, start)
        if not slot_is_free(session, study_session=study_session, slot=slot, now=now, ignore=booking):
            raise SlotUnavailable("this slot is no longer free")
        blocked = _blocked(study_session, slot)
        manager_id, session_id, uid = booking.manager_id, study_session.id, booking.uid
        own = Interval(booking.start, booking.end)
    live = _live_check(sched, manager_id=manager_id, blocked=blocked, ignore_uid=uid, own=own)
    with _booking_transaction(sched) as session:
        locked = _lock(session, session_id=session_id, manager_id=manager_id)
        booking = _confirmed(session, booking_id)
        if locked is None or not slot_is_free(
            session,
            study_session=locked,
            slot=slot,
            now=now,
            ignore=booking,
            extra_busy=live.busy,
        ):
            raise SlotUnavailable("this slot is no longer free")
        booking.start, booking.end = slot.start, slot.end
        booking.blocked_start, booking.blocked_end = blocked.start, blocked.end
        booking.sequence += 1
        booking.link_nonce = secrets.token_urlsafe(12)
        booking.updated_at = now
        booking.live_check = "live" if live.complete else "synced"
        booking.live_check_detail = "; ".join(live.unanswered)[:2000]
        session.flush()
        owed = [owe_calendar_event(session, booking=booking, now=now)]
        owed.append(owe_email(session, booking=booking, kind="rescheduled", now=now))
    sched.outbox_ready([i for i in owed if i is not None])
    return booking


def booking_for_link(
    sched: Scheduling, session: Session, *, token: str, now: datetime | None = None
) -> Booking:
    """The booking a participant's link points to.

    :raises LinkInvalid: tampered, replaced by a newer link, cancelled booking, or session over (``reason``).
    """
    now = now or datetime.now(UTC)
    target = sched.links.read(token)
    booking = session.get(Booking, target.booking_id)
    if booking is None:
        raise LinkInvalid("this booking no longer exists", reason="tampered")
    if not secrets.compare_digest(booking.link_nonce, target.nonce):
        raise LinkInvalid("a newer link was sent for this booking", reason="replaced")
    if booking.status == "cancelled":
        raise LinkInvalid("this booking is cancelled", reason="cancelled")
    if booking.end <= now:
        raise LinkInvalid("this session has already taken place", reason="past")
    return booking


def researcher_booking(session: Session, *, researcher_id: int, booking_id: int) -> Booking:
    """A booking of a session of the researcher's workspace. :raises NotFound: otherwise."""
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("no such booking")
    require_member(session, workspace_id=booking.session.study.workspace_id, researcher_id=researcher_id)
    return booking


def session_bookings(session: Session, *, study_session: StudySession) -> list[Booking]:
    return list(
        session.scalars(
            select(Booking).where(Booking.session_id == study_session.id).order_by(Booking.start.desc())
        )
    )


# -- helpers ------------------------------------------------------------------------------------------------


def parse_start(value: str) -> datetime:
    """A slot's start as a form sends it (ISO 8601 with its offset). :raises ValidationFailed: otherwise."""
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("choose a slot", field="start") from None
    if start.tzinfo is None:
        raise ValidationFailed("choose a slot", field="start")
    # 0001-01-01T00:00:00+14:00 parses, but is before year 1 in UTC: refused before any arithmetic.
    return validation.check_instant(start, field="start", message="choose a slot")


def _slot(study_session: StudySession, start: datetime) -> Interval:
    if start.tzinfo is None:
        raise ValidationFailed("the slot's start must carry its time zone", field="start")
    start = start.astimezone(UTC)
    return Interval(start, start + timedelta(minutes=study_session.duration_minutes))


def _blocked(study_session: StudySession, slot: Interval) -> Interval:
    return Interval(
        slot.start - timedelta(minutes=study_session.buffer_before_minutes),
        slot.end + timedelta(minutes=study_session.buffer_after_minutes),
    )


def _live_check(
    sched: Scheduling,
    *,
    manager_id: int,
    blocked: Interval,
    ignore_uid: str | None,
    own: Interval | None = None,
) -> LiveBusy:
    """``own`` is the current time of a booking being moved: free/busy answers (Google's freebusy, Graph's
    getSchedule) carry no UID, so its own event is left out by its time. Another event overlapping that
    time is still caught by the synced data, which is checked by event."""
    live = live_busy(
        sched.engine,
        researcher_id=manager_id,
        window=blocked,
        timeout=sched.settings.live_check_timeout_seconds,
        ignore_uid=ignore_uid,
    )
    if own is not None:
        live.busy = subtract(live.busy, [own])
    if live.busy:
        # The calendars know something our synced copy does not: catch up, and refuse the slot.
        sched.sync_wanted(live.accounts_with_busy)
        raise SlotUnavailable("the researcher's calendar is busy at that time")
    return live


@contextmanager
def _booking_transaction(sched: Scheduling) -> Iterator[Session]:
    """The transaction that re-checks a slot and writes the booking; a lost race is ``SlotUnavailable``."""
    with sched.engine.sessions() as session:
        try:
            with session.begin():
                yield session
        except IntegrityError as exc:
            if "bookings_no_overlap" in str(exc.orig):  # PostgreSQL's exclusion constraint
                raise SlotUnavailable("this slot was taken a moment ago") from None
            raise
        except OperationalError as exc:
            if "database is locked" in str(exc.orig):  # SQLite: the write lock could not be had in time
                raise SlotUnavailable("too many bookings at once; please choose again") from exc
            if "deadlock detected" in str(exc.orig) and "exclusion constraint" in str(exc.orig):
                # PostgreSQL: two overlapping inserts each waited for the other's constraint check; the
                # server aborted this one, the other goes on. This one lost the race.
                raise SlotUnavailable("this slot was taken a moment ago") from None
            raise


def _lock(session: Session, *, session_id: int, manager_id: int) -> StudySession | None:
    """Start the booking transaction so that concurrent ones cannot both pass the re-check."""
    if session.get_bind().dialect.name == "sqlite":
        # A write first: the transaction takes SQLite's write lock now (waiting for the current holder), so
        # the re-check below sees every booking committed before it.
        session.execute(text("UPDATE researchers SET id = id WHERE id = :id"), {"id": manager_id})
        return session.get(StudySession, session_id)
    # PostgreSQL: the exclusion constraint guards overlaps. A per-day limit is a count no constraint can
    # hold: lock the session's row so its bookings are made one after another.
    study_session = session.get(StudySession, session_id)
    if study_session is not None and study_session.max_per_day is not None:
        session.refresh(study_session, with_for_update=True)
    return study_session


def _confirmed(session: Session, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("no such booking")
    if booking.status != "confirmed":
        raise ValidationFailed("this booking is cancelled", field="booking")
    return booking
