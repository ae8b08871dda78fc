"""The emails a participant receives (confirmed, rescheduled, cancelled), in their language and time zone,
with an .ics invitation and, while the booking stands, signed links to cancel or move it.
Sent by the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, cast
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_location

from creneau.mail.compose import booking_email
from creneau.mail.ics import invitation
from creneau.mail.sender import MailNotSent, send
from creneau.scheduling.context import Scheduling
from creneau.store.models import Booking

Kind = Literal["confirmed", "rescheduled", "cancelled"]


def participant_links(sched: Scheduling, booking: Booking) -> dict[str, str]:
    """The participant's links to their booking page, and to cancel or move it directly."""
    token = sched.links.sign(booking_id=booking.id, nonce=booking.link_nonce)
    base = f"{sched.settings.base_url.rstrip('/')}/booking/{token}"
    return {"manage": base, "cancel": f"{base}/cancel", "reschedule": f"{base}/reschedule"}


def send_booking_email(sched: Scheduling, *, booking: Booking, kind: str) -> None:
    """:raises MailNotSent: when the SMTP server could not take it (``transient`` says whether to retry)."""
    if sched.mail is None:
        raise MailNotSent("no SMTP server is configured (CRENEAU_SMTP_HOST)", transient=True)
    if kind not in ("confirmed", "rescheduled", "cancelled"):
        raise ValueError(f"unknown email kind {kind!r}")
    study_session = booking.session
    manager = study_session.manager
    locale = cast(
        Literal["fr", "en"], booking.participant_locale if booking.participant_locale == "en" else "fr"
    )
    zone = ZoneInfo(booking.participant_timezone)
    cancelled = kind == "cancelled"
    location = study_session.address if study_session.location_kind == "in_person" else ""
    links = participant_links(sched, booking)
    ics = invitation(
        uid=booking.uid,
        sequence=booking.sequence,
        method="CANCEL" if cancelled else "REQUEST",
        start=booking.start,
        end=booking.end,
        summary=f"{study_session.study.name} — {study_session.name}",
        description=booking.join_url if booking.join_url and not cancelled else "",
        location=location or (booking.join_url if not cancelled else ""),
        url="" if cancelled else booking.join_url,
        organizer_email=manager.email,
        organizer_name=manager.name,
        attendee_email=booking.participant_email,
        attendee_name=booking.participant_name,
        stamp=datetime.now(UTC),
    )
    message = booking_email(
        kind=cast(Kind, kind),
        locale=locale,
        to=booking.participant_email,
        sender=sched.mail.sender,
        participant_name=booking.participant_name,
        study_name=study_session.study.name,
        session_name=study_session.name,
        start_local=booking.start.astimezone(zone),
        end_local=booking.end.astimezone(zone),
        timezone_label=str(get_timezone_location(zone, locale=locale)),
        location=location,
        join_url=booking.join_url or None,
        cancel_url=None if cancelled else links["cancel"],
        reschedule_url=None if cancelled else links["reschedule"],
        ics=ics,
        reply_to=manager.email,
    )
    send(sched.mail, message)
