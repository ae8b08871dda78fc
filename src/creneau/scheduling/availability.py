"""Offered slots of a session: its rules (domain/availability.py) applied to what the database knows of the
manager's time — synced busy times of every conflict-checked calendar of every account (accounts needing
reconnection included) and the manager's confirmed bookings in every session, each widened by its buffers.

Never answered from a cache: every call reads the database (a stale slot would be offered and then refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from creneau.calendars.freebusy import busy_periods
from creneau.domain.availability import free_slots, is_offered
from creneau.domain.intervals import Interval
from creneau.scheduling.rules import rules_of
from creneau.store.models import Booking, StudySession


@dataclass
class BusyPicture:
    """What blocks a session's slots inside a window."""

    busy: list[Interval] = field(default_factory=list)  # synced busy + all bookings widened by their buffers
    session_bookings: list[Interval] = field(default_factory=list)  # this session's, for the per-day limit


def _own_event(booking: Booking | None) -> tuple[int, str] | None:
    if booking is None or booking.calendar_id is None or booking.remote_id is None:
        return None
    return booking.calendar_id, booking.remote_id


def picture(
    session: Session,
    *,
    study_session: StudySession,
    window: Interval,
    ignore: Booking | None = None,
    extra_busy: list[Interval] | None = None,
) -> BusyPicture:
    """Read the busy times around ``window`` (widened so slots starting inside it are judged whole).

    ``ignore`` is a booking being moved: neither it nor its own calendar event block its new time.
    ``extra_busy`` adds what a live read of the calendars found."""
    margin = (
        timedelta(minutes=study_session.duration_minutes + study_session.buffer_before_minutes)
        + timedelta(minutes=study_session.buffer_after_minutes)
        + timedelta(days=2)  # the per-day limit counts whole local days (25 hours long in autumn)
    )
    wide = Interval(window.start - margin, window.end + margin)
    synced = busy_periods(
        session,
        researcher_id=study_session.manager_id,
        window=wide,
        ignore_uid=ignore.uid if ignore is not None else None,
        ignore_event=_own_event(ignore),
        merged=False,  # the domain sorts and merges once, on plain pairs
    )
    query = select(
        Booking.id, Booking.session_id, Booking.start, Booking.end, Booking.blocked_start, Booking.blocked_end
    ).where(
        Booking.manager_id == study_session.manager_id,
        Booking.status == "confirmed",
        Booking.blocked_start < wide.end,
        Booking.blocked_end > wide.start,
    )
    if ignore is not None:
        query = query.where(Booking.id != ignore.id)
    booked = []
    own = []
    for _id, session_id, start, end, blocked_start, blocked_end in session.execute(query):
        booked.append(Interval(blocked_start, blocked_end))
        if session_id == study_session.id:
            own.append(Interval(start, end))
    return BusyPicture(busy=[*synced, *booked, *(extra_busy or [])], session_bookings=own)


def offered_slots(
    session: Session, *, study_session: StudySession, window: Interval, now: datetime
) -> list[Interval]:
    """Slots starting inside ``window`` that a participant may book now, in UTC."""
    seen = picture(session, study_session=study_session, window=window)
    return free_slots(
        rules=rules_of(study_session),
        busy=seen.busy,
        session_bookings=seen.session_bookings,
        now=now,
        window=window,
    )


def slot_is_free(
    session: Session,
    *,
    study_session: StudySession,
    slot: Interval,
    now: datetime,
    ignore: Booking | None = None,
    extra_busy: list[Interval] | None = None,
) -> bool:
    """Whether ``slot`` is one the page would offer now (the booking transaction's re-check)."""
    seen = picture(
        session,
        study_session=study_session,
        window=Interval(slot.start, slot.start + timedelta(seconds=1)),
        ignore=ignore,
        extra_busy=extra_busy,
    )
    return is_offered(
        rules=rules_of(study_session),
        busy=seen.busy,
        session_bookings=seen.session_bookings,
        now=now,
        slot=slot,
    )
