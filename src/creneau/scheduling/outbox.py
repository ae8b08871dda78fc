"""The outbox: calendar events and emails owed for bookings, retried with backoff until done.

Rows are inserted in the booking's own transaction (:func:`owe_calendar_event`, :func:`owe_email`), so
nothing owed is lost when a server is down or the process dies. :func:`process` does one item; the job
runner calls it for new items at once and for due ones on its ticker.

A "calendar" item does not carry an action: it brings the calendar in line with the booking as it is when
processed (confirmed → the event holds its times; cancelled → no event). Several changes in a row therefore
collapse into one write, and replaying an item is harmless. Each booking has exactly one event: its UID is
the booking's ``uid``, creates are idempotent on it (calendars/writes.py), and ``event_write_attempted``
remembers that a create may have happened whose answer was lost.

Native video links (Google Meet, Teams) are made by the calendar with the event: the calendar item asks for
one and stores the link it gets on the booking; the confirmation email waits for it (up to
``native_link_wait_seconds``). When the calendar makes no link, or cannot be written in that time, the
booking falls back to a Jitsi link, which then goes into the event and the email.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from creneau.calendars import writes
from creneau.calendars.writes import EventDraft
from creneau.domain.retry import backoff_delay
from creneau.errors import NotFound, ProviderError, RateLimited, ValidationFailed
from creneau.mail.sender import MailNotSent
from creneau.scheduling.context import Scheduling
from creneau.scheduling.notify import send_booking_email
from creneau.scheduling.studies import event_title
from creneau.store.models import Booking, OutboxItem

log = logging.getLogger(__name__)

MAX_ERROR = 1000
NATIVE = frozenset({"google_meet", "teams"})
LINK_POLL_SECONDS = 3.0  # how soon a waiting confirmation email looks again for its native link


def owe_calendar_event(session: Session, *, booking: Booking, now: datetime) -> int | None:
    """Record that ``booking``'s calendar event must be brought in line; returns the item id (None when the
    booking has no destination calendar). A pending item for the booking is reused."""
    if booking.calendar_id is None:
        if booking.event_state in ("pending", "failing"):
            booking.event_state = "none"
        return None
    booking.event_state = "pending"
    booking.event_detail = ""
    item = session.scalars(
        select(OutboxItem).where(
            OutboxItem.booking_id == booking.id, OutboxItem.kind == "calendar", OutboxItem.state == "pending"
        )
    ).first()
    if item is None:
        item = OutboxItem(booking_id=booking.id, kind="calendar", next_attempt_at=now)
        session.add(item)
    else:
        item.next_attempt_at = now
    session.flush()
    return item.id


def owe_email(session: Session, *, booking: Booking, kind: str, now: datetime) -> int:
    item = OutboxItem(
        booking_id=booking.id,
        kind="email",
        payload={"kind": kind, "sequence": booking.sequence},
        next_attempt_at=now,
    )
    session.add(item)
    session.flush()
    return item.id


def due_items(sched: Scheduling, *, now: datetime | None = None, limit: int = 100) -> list[int]:
    now = now or datetime.now(UTC)
    with sched.engine.sessions() as session:
        return list(
            session.scalars(
                select(OutboxItem.id)
                .where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now)
                .order_by(OutboxItem.next_attempt_at)
                .limit(limit)
            )
        )


def process(sched: Scheduling, *, item_id: int, now: datetime | None = None) -> str:
    """Try one item once; returns its state afterwards ("done", "pending" (retry later), "failed", "gone").

    Never raises for a server's failure: the item records it and is retried with backoff."""
    now = now or datetime.now(UTC)
    with sched.engine.sessions() as session:
        item = session.get(OutboxItem, item_id)
        if item is None or item.state != "pending":
            return "gone" if item is None else item.state
        booking = session.get(Booking, item.booking_id)
        assert booking is not None  # cascade: an item dies with its booking
        try:
            if item.kind == "calendar":
                _bring_calendar_in_line(sched, session, booking)
            else:
                kind = str(item.payload.get("kind", "confirmed"))
                if _waits_for_link(sched, session, booking, now):
                    item.next_attempt_at = now + timedelta(seconds=LINK_POLL_SECONDS)
                    session.commit()
                    return item.state
                send_booking_email(sched, booking=booking, kind=kind)
        except (ProviderError, MailNotSent) as exc:
            _failed_attempt(sched, item, booking, exc, now)
        except NotFound:  # the destination calendar was deleted with its account: nothing more to do here
            item.state = "done"
            item.done_at = now
            booking.event_state = "abandoned"
            booking.event_detail = "destination_deleted"
        except ValidationFailed as exc:  # e.g. the calendar became read-only: a person must act
            item.state = "failed"
            item.last_error = str(exc)[:MAX_ERROR]
            booking.event_state = "failing"
            booking.event_detail = f"read_only: {exc}"[:MAX_ERROR]
        else:
            item.state = "done"
            item.done_at = now
            item.attempts += 1
            item.last_error = ""
        session.commit()
        return item.state


def _bring_calendar_in_line(sched: Scheduling, session: Session, booking: Booking) -> None:
    if booking.calendar_id is None:
        booking.event_state = "none"
        return
    where = writes.target(session, calendar_id=booking.calendar_id)
    draft = _draft(sched, booking)
    if booking.status == "confirmed":
        # A create whose answer was lost left an event holding the times of then; if the booking moved
        # since (sequence > 0), that event must be updated after the create finds it.
        stale = booking.event_write_attempted and booking.sequence > 0
        if booking.remote_id is None and not booking.event_write_attempted:
            booking.event_write_attempted = True
            session.commit()  # remembered before the create is sent: its answer may be lost
        written = writes.put_event(
            sched.engine, where, draft=draft, remote_id=booking.remote_id, maybe_created=stale
        )
        booking.remote_id, booking.remote_etag = written.remote_id, written.etag
        if draft.native_conference:
            if written.join_url:
                booking.join_url = written.join_url
            else:  # the calendar made no link (e.g. Teams not allowed any more): Jitsi, in the event too
                _fall_back_to_jitsi(sched, booking, reason="calendar_made_no_link")
                written = writes.put_event(
                    sched.engine, where, draft=_draft(sched, booking), remote_id=written.remote_id,
                    maybe_created=False,
                )  # fmt: skip
                booking.remote_etag = written.etag
        booking.event_state, booking.event_detail = "written", ""
    else:
        writes.remove_event(
            sched.engine,
            where,
            draft=draft,
            remote_id=booking.remote_id,
            maybe_created=booking.event_write_attempted,
        )
        booking.remote_id, booking.remote_etag = None, None
        booking.event_state, booking.event_detail = "deleted", ""


def _draft(sched: Scheduling, booking: Booking) -> EventDraft:
    study_session = booking.session
    lines = [
        f"{booking.participant_name} <{booking.participant_email}>",
        f"{study_session.study.name} — {study_session.name}",
    ]
    if booking.join_url:
        lines.append(booking.join_url)
    lines.append(f"{sched.settings.base_url.rstrip('/')}/sessions/{study_session.id}/bookings")
    location = booking.join_url if study_session.location_kind == "remote" else study_session.address
    return EventDraft(
        uid=booking.uid,
        summary=event_title(study_session, participant_name=booking.participant_name),
        start=booking.start,
        end=booking.end,
        description="\n".join(lines),
        location=location,
        url=booking.join_url,
        native_conference=booking.conference_provider in NATIVE,
    )


def _waits_for_link(sched: Scheduling, session: Session, booking: Booking, now: datetime) -> bool:
    """Whether the confirmation email must wait for the calendar's video link; after
    ``native_link_wait_seconds`` the booking falls back to Jitsi (the event is owed again, to carry it)
    and the email goes."""
    if booking.status != "confirmed" or booking.conference_provider not in NATIVE or booking.join_url:
        return False
    if now - booking.created_at < timedelta(seconds=sched.settings.native_link_wait_seconds):
        return True
    _fall_back_to_jitsi(sched, booking, reason="calendar_not_written_in_time")
    owe_calendar_event(session, booking=booking, now=now)
    return False


def _fall_back_to_jitsi(sched: Scheduling, booking: Booking, *, reason: str) -> None:
    """Give ``booking`` a Jitsi link instead of its native one (the caller brings the event in line)."""
    conference = sched.conferencing.create(
        booking_key=booking.uid, title=f"{booking.session.study.name} — {booking.session.name}"
    )
    log.warning("booking %s: no %s link (%s), %s used", booking.id, booking.conference_provider, reason,
                conference.provider)  # fmt: skip
    booking.join_url, booking.conference_provider = conference.join_url, conference.provider


def _failed_attempt(
    sched: Scheduling, item: OutboxItem, booking: Booking, exc: ProviderError | MailNotSent, now: datetime
) -> None:
    item.attempts += 1
    code = exc.code if isinstance(exc, ProviderError) else "mail_not_sent"
    item.last_error = f"{code}: {exc}"[:MAX_ERROR]
    if isinstance(exc, MailNotSent) and not exc.transient:
        item.state = "failed"  # the mail server refused the address: retrying will not help
        return
    delay = backoff_delay(
        failures=item.attempts,
        base=sched.settings.outbox_retry_base_seconds,
        maximum=sched.settings.outbox_retry_max_seconds,
        retry_after=exc.retry_after if isinstance(exc, RateLimited) else None,
    )
    item.next_attempt_at = now + timedelta(seconds=delay)
    if item.kind == "calendar":
        booking.event_state = "failing"
        booking.event_detail = item.last_error
    log.warning("outbox item %s (%s) failed, retry in %.0f s: %s", item.id, item.kind, delay, code)


def cancel_calendar_writes(session: Session, *, calendar_ids: list[int], now: datetime) -> int:
    """Stop writing to calendars about to be deleted: pending calendar items of their bookings end, and the
    bookings say why. Returns how many bookings were concerned."""
    if not calendar_ids:
        return 0
    bookings = list(session.scalars(select(Booking).where(Booking.calendar_id.in_(calendar_ids))))
    for booking in bookings:
        for item in session.scalars(
            select(OutboxItem).where(
                OutboxItem.booking_id == booking.id,
                OutboxItem.kind == "calendar",
                OutboxItem.state == "pending",
            )
        ):
            item.state = "done"
            item.done_at = now
            item.last_error = "destination_deleted"
        if booking.event_state in ("pending", "failing"):
            booking.event_state = "abandoned"
            booking.event_detail = "destination_deleted"
        booking.calendar_id = None
    session.flush()
    return len(bookings)
