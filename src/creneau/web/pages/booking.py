"""The participant's pages (no account): free slots of a session, booking, and the signed links to see,
cancel or move a booking. Shown in the participant's language and time zone; never says why a time is busy.

- ``GET /book/{token}``: a week of free slots (``?tz=`` the participant's zone, set by the page's script from
  the browser and changeable; ``?week=`` its Monday)
- ``GET /book/{token}/slots.json``: the same slots as JSON (the page's script and API clients)
- ``GET /book/{token}/confirm?start=``: name and email for the chosen slot; ``POST /book/{token}`` books
- ``/booking/{link}``: the booking; ``.../cancel`` and ``.../reschedule`` (GET shows, POST acts)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from creneau.domain.intervals import Interval
from creneau.errors import LinkInvalid, SlotUnavailable, ValidationFailed
from creneau.runtime import Runtime
from creneau.scheduling import booking as bookings
from creneau.scheduling.availability import offered_slots
from creneau.scheduling.notify import participant_links
from creneau.scheduling.studies import public_session
from creneau.store.models import Booking, StudySession
from creneau.web.deps import RuntimeDep, SessionDep
from creneau.web.errors import problem_for, respond
from creneau.web.render import render, translator_for
from creneau.web.timezones import common_timezones

router = APIRouter()

MAX_DAYS = 62  # the JSON endpoint's longest range


def _zone(tz: str | None, fallback: str) -> tuple[str, ZoneInfo]:
    """The participant's zone. :raises ValidationFailed: when ``tz`` names no zone."""
    name = tz or fallback
    return name, bookings.check_timezone(name)


def _week_start(week: str | None, zone: ZoneInfo, *, last: date) -> date:
    """The Monday of ``week`` (any ISO date of it), kept between this week and the one of ``last`` (the
    horizon's last day): ``week=9999-12-31`` or ``0001-01-01`` shows the nearest week that has slots."""
    today = datetime.now(zone).date()
    try:
        day = date.fromisoformat(week) if week else today
    except ValueError:
        day = today
    day = min(max(day, today), max(last, today))
    return day - timedelta(days=day.weekday())


def _local_days(first: date, days: int, zone: ZoneInfo, *, now: datetime, horizon_days: int) -> Interval:
    """``days`` local days from ``first``, cut to the bookable range (from a day before ``now`` to a day
    after the horizon): the slots are the same, and no date near year 1 or 9999 is computed with."""
    today = now.astimezone(zone).date()
    low, high = today - timedelta(days=1), today + timedelta(days=horizon_days + 1)
    # ``first + days`` is computed only when it stays before ``high`` (near 9999 it would overflow).
    end = high if (high - first).days < days else first + timedelta(days=days)
    start = min(max(first, low), end)
    return _local_window(start, max(0, (end - start).days), zone)


def _local_window(first: date, days: int, zone: ZoneInfo) -> Interval:
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(first + timedelta(days=days), time(0), zone)
    return Interval(start.astimezone(UTC), end.astimezone(UTC))


def _group_by_day(slots: Sequence[Interval], zone: ZoneInfo) -> list[tuple[date, list[Interval]]]:
    days: dict[date, list[Interval]] = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(zone).date(), []).append(slot.astimezone(zone))
    return sorted(days.items())


def _slots_page(
    request: Request,
    session: Session,
    study_session: StudySession,
    *,
    tz: str | None,
    week: str | None,
    action: str,
    status_code: int = 200,
    message: str = "",
    booking: Booking | None = None,
) -> Response:
    try:
        tz_name, zone = _zone(tz, study_session.timezone)
    except ValidationFailed as exc:
        return _problem_page(request, exc)
    now = datetime.now(UTC)
    horizon_end = (now + timedelta(days=study_session.horizon_days)).astimezone(zone).date()
    first = _week_start(week, zone, last=horizon_end)
    slots = offered_slots(session, study_session=study_session, window=_local_window(first, 7, zone), now=now)
    return render(
        request,
        "book.html",
        status_code=status_code,
        s=study_session,
        days=_group_by_day(slots, zone),
        week_days=[first + timedelta(days=n) for n in range(7)],
        tz=tz_name,
        zone=zone,
        timezones=common_timezones(tz_name),
        previous_week=(first - timedelta(days=7)).isoformat()
        if first > now.astimezone(zone).date()
        else None,
        next_week=(first + timedelta(days=7)).isoformat()
        if first + timedelta(days=7) <= horizon_end
        else None,
        week=first.isoformat(),
        action=action,
        message=message,
        booking=booking,
    )


def _problem_page(request: Request, exc: Exception) -> Response:
    return respond(request, problem_for(exc))


def _maybe_refresh(runtime: Runtime, study_session: StudySession) -> None:
    """Opening a booking page asks for a sync of the manager's accounts whose last one is older than
    ``booking_page_sync_seconds``: what the researcher added to their calendar shows up within seconds."""
    limit = runtime.settings.booking_page_sync_seconds
    if limit <= 0:
        return
    now = datetime.now(UTC)
    for account in study_session.manager.accounts:
        if account.status == "reconnect_needed":
            continue
        if account.last_sync_at is None or (now - account.last_sync_at).total_seconds() >= limit:
            runtime.jobs.enqueue_sync(account.id)


@router.get("/book/{token}")
def slots_page(
    request: Request,
    token: str,
    session: SessionDep,
    runtime: RuntimeDep,
    tz: str | None = None,
    week: str | None = None,
) -> Response:
    study_session = public_session(session, token=token)
    _maybe_refresh(runtime, study_session)
    return _slots_page(request, session, study_session, tz=tz, week=week, action=f"/book/{token}/confirm")


@router.get("/book/{token}/slots.json")
def slots_json(
    token: str,
    session: SessionDep,
    start: date | None = None,
    days: int = 7,
    tz: str | None = None,
) -> Response:
    """Free slots of ``days`` local days from ``start`` (default: today) in ``tz`` (default: the
    session's zone)."""
    study_session = public_session(session, token=token)
    tz_name, zone = _zone(tz, study_session.timezone)
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(
            "must be between %(low)s and %(high)s", field="days", params={"low": 1, "high": MAX_DAYS}
        )
    now = datetime.now(UTC)
    first = start or now.astimezone(zone).date()
    window = _local_days(first, days, zone, now=now, horizon_days=study_session.horizon_days)
    slots = offered_slots(session, study_session=study_session, window=window, now=now)
    return JSONResponse(
        {
            "timezone": tz_name,
            "duration_minutes": study_session.duration_minutes,
            "slots": [
                {"start": s.start.astimezone(zone).isoformat(), "end": s.end.astimezone(zone).isoformat()}
                for s in slots
            ],
        }
    )


@router.get("/book/{token}/confirm")
def confirm_form(
    request: Request, token: str, session: SessionDep, start: str = "", tz: str | None = None
) -> Response:
    study_session = public_session(session, token=token)
    try:
        when = bookings.parse_start(start)
        tz_name, zone = _zone(tz, study_session.timezone)
    except ValidationFailed as exc:
        return _problem_page(request, exc)
    return _confirm_page(request, study_session, when=when, tz_name=tz_name, zone=zone)


def _confirm_page(
    request: Request,
    study_session: StudySession,
    *,
    when: datetime,
    tz_name: str,
    zone: ZoneInfo,
    form: dict[str, str] | None = None,
    error: ValidationFailed | None = None,
) -> Response:
    """The participant's name-and-email form for the slot starting at ``when``, again with ``error``."""
    return render(
        request,
        "book_confirm.html",
        status_code=422 if error else 200,
        s=study_session,
        start=when.astimezone(zone),
        end=(when + timedelta(minutes=study_session.duration_minutes)).astimezone(zone),
        start_value=when.isoformat(),
        tz=tz_name,
        form=form or {},
        error=problem_for(error).text(translator_for(request)) if error else "",
        error_field=error.field if error else None,
        action=f"/book/{study_session.public_token}",
    )


@router.post("/book/{token}")
def book(
    request: Request,
    token: str,
    session: SessionDep,
    runtime: RuntimeDep,
    start: Annotated[str, Form(max_length=64)] = "",
    tz: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    study_session = public_session(session, token=token)
    t = translator_for(request)
    try:  # hidden fields: wrong only when tampered with
        when = bookings.parse_start(start)
        tz_name, zone = _zone(tz or None, study_session.timezone)
    except ValidationFailed as exc:
        return _problem_page(request, exc)
    try:
        participant = bookings.check_participant(name=name, email=email, locale=t.locale, timezone=tz_name)
    except ValidationFailed as exc:
        form = {"name": name, "email": email}
        return _confirm_page(
            request, study_session, when=when, tz_name=tz_name, zone=zone, form=form, error=exc
        )
    session.rollback()  # the booking is written in its own transaction
    try:
        booking = bookings.book(runtime.sched, token=token, start=when, participant=participant)
    except SlotUnavailable as exc:
        # The participant who lost a race sees the other free slots, not an error page.
        return _slots_page(
            request,
            session,
            study_session,
            tz=participant.timezone,
            week=when.astimezone(zone).date().isoformat(),
            action=f"/book/{token}/confirm",
            status_code=409,
            message=problem_for(exc).text(t),
        )
    link = participant_links(runtime.sched, booking)["manage"]
    return RedirectResponse(
        link.removeprefix(runtime.settings.base_url.rstrip("/")) + "?new=1", status_code=303
    )


# -- the participant's links ----------------------------------------------------------------------------


def _booking(runtime: Runtime, session: Session, link: str) -> Booking:
    return bookings.booking_for_link(runtime.sched, session, token=link)


@router.get("/booking/{link}")
def booking_page(
    request: Request, link: str, session: SessionDep, runtime: RuntimeDep, new: int = 0
) -> Response:
    return _booking_view(request, runtime, session, link, "booking.html", new=bool(new))


@router.get("/booking/{link}/cancel")
def cancel_form(request: Request, link: str, session: SessionDep, runtime: RuntimeDep) -> Response:
    return _booking_view(request, runtime, session, link, "booking_cancel.html")


def _booking_view(
    request: Request, runtime: Runtime, session: Session, link: str, template: str, *, new: bool = False
) -> Response:
    """A participant's page about their booking, in their time zone; a bad link gets the problem page."""
    try:
        booking = _booking(runtime, session, link)
    except LinkInvalid as exc:
        return _problem_page(request, exc)
    zone = ZoneInfo(booking.participant_timezone)
    return render(
        request,
        template,
        b=booking,
        s=booking.session,
        start=booking.start.astimezone(zone),
        end=booking.end.astimezone(zone),
        tz=booking.participant_timezone,
        link=link,
        new=new,
    )


@router.post("/booking/{link}/cancel")
def cancel(request: Request, link: str, session: SessionDep, runtime: RuntimeDep) -> Response:
    try:
        booking = _booking(runtime, session, link)
    except LinkInvalid as exc:
        return _problem_page(request, exc)
    session.rollback()
    bookings.cancel(runtime.sched, booking_id=booking.id, by="participant")
    return render(request, "booking_cancelled.html", s=booking.session)


@router.get("/booking/{link}/reschedule")
def reschedule_page(
    request: Request, link: str, session: SessionDep, runtime: RuntimeDep, week: str | None = None
) -> Response:
    try:
        booking = _booking(runtime, session, link)
    except LinkInvalid as exc:
        return _problem_page(request, exc)
    return _slots_page(
        request,
        session,
        booking.session,
        tz=booking.participant_timezone,
        week=week,
        action=f"/booking/{link}/reschedule",
        booking=booking,
    )


@router.post("/booking/{link}/reschedule")
def reschedule(
    request: Request,
    link: str,
    session: SessionDep,
    runtime: RuntimeDep,
    start: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        booking = _booking(runtime, session, link)
        when = bookings.parse_start(start)
    except (LinkInvalid, ValidationFailed) as exc:
        return _problem_page(request, exc)
    session.rollback()
    try:
        moved = bookings.move(runtime.sched, booking_id=booking.id, start=when)
    except SlotUnavailable as exc:
        return _slots_page(
            request,
            session,
            booking.session,
            tz=booking.participant_timezone,
            week=None,
            action=f"/booking/{link}/reschedule",
            status_code=409,
            message=problem_for(exc).text(translator_for(request)),
            booking=booking,
        )
    new_link = participant_links(runtime.sched, moved)["manage"]
    return RedirectResponse(
        new_link.removeprefix(runtime.settings.base_url.rstrip("/")) + "?new=1", status_code=303
    )
