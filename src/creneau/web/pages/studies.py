"""Studies, sessions, their appointment settings and their bookings (the researcher's side)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from creneau.domain.intervals import Interval
from creneau.errors import NotFound, SlotUnavailable, ValidationFailed
from creneau.scheduling import booking as bookings
from creneau.scheduling.availability import offered_slots
from creneau.scheduling.rules import overrides_as_text, overrides_from_form, weekly_as_text, weekly_from_form
from creneau.scheduling.studies import (
    SessionSettings,
    create_session,
    create_study,
    destination_choices,
    form_manager,
    get_session,
    get_study,
    has_calendar,
    list_studies,
    sessions_without_destination,
    update_settings,
)
from creneau.scheduling.workspaces import ensure_workspace, members, pending_invitations
from creneau.store.models import Booking, Researcher, StudySession
from creneau.web.deps import CurrentResearcher, RuntimeDep, SessionDep
from creneau.web.errors import problem_for
from creneau.web.i18n import N_
from creneau.web.params import MAX_DB_ID, DbId
from creneau.web.render import flash, render, translator_for
from creneau.web.timezones import common_timezones

router = APIRouter()

WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)


@router.get("/studies")
def studies_page(request: Request, session: SessionDep, researcher: CurrentResearcher) -> Response:
    member = ensure_workspace(session, researcher=researcher)
    return render(
        request,
        "studies.html",
        workspace=member.workspace,
        studies=list_studies(session, workspace_id=member.workspace_id),
        lost=sessions_without_destination(session, workspace_id=member.workspace_id),
        pending=len(pending_invitations(session, researcher=researcher)),
        error=None,
    )


@router.post("/studies")
def new_study(
    request: Request,
    session: SessionDep,
    researcher: CurrentResearcher,
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    member = ensure_workspace(session, researcher=researcher)
    try:
        study = create_study(
            session, workspace_id=member.workspace_id, researcher_id=researcher.id, name=name
        )
    except ValidationFailed as exc:
        session.rollback()
        problem = problem_for(exc)
        flash(request, problem.message, kind="error", **problem.params)
        return RedirectResponse("/studies", status_code=303)
    return RedirectResponse(f"/studies/{study.id}", status_code=303)


@router.get("/studies/{study_id}")
def study_page(
    request: Request, study_id: DbId, session: SessionDep, researcher: CurrentResearcher
) -> Response:
    study = get_study(session, researcher_id=researcher.id, study_id=study_id)
    return render(request, "study.html", study=study, base_url=request.app.state.runtime.settings.base_url)


@router.post("/studies/{study_id}/sessions")
def new_session(
    request: Request,
    study_id: DbId,
    session: SessionDep,
    researcher: CurrentResearcher,
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    try:
        study_session = create_session(session, researcher=researcher, study_id=study_id, name=name)
    except ValidationFailed as exc:
        session.rollback()
        problem = problem_for(exc)
        flash(request, problem.message, kind="error", **problem.params)
        return RedirectResponse(f"/studies/{study_id}", status_code=303)
    return RedirectResponse(f"/sessions/{study_session.id}/settings", status_code=303)


def _settings_page(
    request: Request,
    session: Session,
    researcher: Researcher,
    study_session: StudySession,
    *,
    error: ValidationFailed | None = None,
    form: dict[str, str] | None = None,
    preselect: int | None = None,
) -> Response:
    raw_manager = (form or {}).get("manager_id", "")
    manager_id = form_manager(
        session,
        study_session=study_session,
        requested=int(raw_manager) if raw_manager.isdecimal() and int(raw_manager) <= MAX_DB_ID else None,
    )
    workspace_id = study_session.study.workspace_id
    choices = destination_choices(session, workspace_id=workspace_id, manager_id=manager_id)
    groups: dict[str, list[object]] = {}
    for choice in choices:
        groups.setdefault(choice.account_label, []).append(choice)
    selected = (
        preselect if preselect in {c.calendar_id for c in choices} else study_session.destination_calendar_id
    )
    t = translator_for(request)
    return render(
        request,
        "session_settings.html",
        status_code=422 if error else 200,
        s=study_session,
        members=members(session, workspace_id=workspace_id),
        manager_id=manager_id,
        groups=groups,
        choices=choices,
        selected_calendar=selected,
        can_connect=manager_id == researcher.id and not has_calendar(session, researcher_id=researcher.id),
        weekly=form_weekly(form) if form else weekly_as_text(study_session),
        exceptions=(form or {}).get("exceptions", overrides_as_text(study_session)),
        weekdays=[t.translate(d) for d in WEEKDAYS],
        timezones=common_timezones(study_session.timezone),
        error=problem_for(error).text(t) if error else "",
        error_field=error.field if error else None,
        form=form or {},
    )


def form_weekly(form: dict[str, str]) -> list[str]:
    return [form.get(f"weekly_{n}", "") for n in range(7)]


@router.get("/sessions/{session_id}/settings")
def settings_page(
    request: Request,
    session_id: DbId,
    session: SessionDep,
    researcher: CurrentResearcher,
    calendar: int | None = None,
) -> Response:
    study_session = get_session(session, researcher_id=researcher.id, session_id=session_id)
    return _settings_page(request, session, researcher, study_session, preselect=calendar)


def _minutes(form: dict[str, str], name: str, default: int) -> int:
    raw = form.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed("must be a whole number", field=name) from None
    if not -MAX_DB_ID <= value <= MAX_DB_ID:  # 10**30 minutes: no column (and no timedelta) holds it
        raise ValidationFailed(
            "must be between %(low)s and %(high)s", field=name, params={"low": 0, "high": MAX_DB_ID}
        )
    return value


@router.post("/sessions/{session_id}/settings")
async def save_settings(
    request: Request, session_id: DbId, session: SessionDep, researcher: CurrentResearcher
) -> Response:
    study_session = get_session(session, researcher_id=researcher.id, session_id=session_id)
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        destination = form.get("destination_calendar_id", "none")
        max_per_day = form.get("max_per_day", "").strip()
        settings = SessionSettings(
            name=form.get("name", ""),
            manager_id=_minutes(form, "manager_id", study_session.manager_id),
            destination_calendar_id=None
            if destination in ("", "none")
            else _minutes(form, "destination_calendar_id", 0),
            event_title=form.get("event_title", ""),
            duration_minutes=_minutes(form, "duration_minutes", 60),
            location_kind=form.get("location_kind", "remote"),
            address=form.get("address", ""),
            timezone=form.get("timezone", study_session.timezone),
            availability={
                "weekly": weekly_from_form(form_weekly(form)),
                "overrides": overrides_from_form(form.get("exceptions", "")),
            },
            slot_interval_minutes=_minutes(form, "slot_interval_minutes", 30),
            buffer_before_minutes=_minutes(form, "buffer_before_minutes", 0),
            buffer_after_minutes=_minutes(form, "buffer_after_minutes", 0),
            min_notice_minutes=_minutes(form, "min_notice_hours", 24) * 60,
            horizon_days=_minutes(form, "horizon_days", 60),
            max_per_day=_minutes(form, "max_per_day", 0) if max_per_day else None,
            booking_open=form.get("booking_open") == "on",
        )
        update_settings(session, researcher_id=researcher.id, session_id=session_id, settings=settings)
    except ValidationFailed as exc:
        session.rollback()
        study_session = get_session(session, researcher_id=researcher.id, session_id=session_id)
        return _settings_page(request, session, researcher, study_session, error=exc, form=form)
    flash(request, N_("The appointment settings are saved."))
    return RedirectResponse(f"/sessions/{session_id}/settings", status_code=303)


@router.get("/sessions/{session_id}/bookings")
def bookings_page(
    request: Request, session_id: DbId, session: SessionDep, researcher: CurrentResearcher
) -> Response:
    study_session = get_session(session, researcher_id=researcher.id, session_id=session_id)
    now = datetime.now(UTC)
    slots = offered_slots(
        session,
        study_session=study_session,
        window=Interval(now, now + timedelta(days=study_session.horizon_days)),
        now=now,
    )
    return render(
        request,
        "session_bookings.html",
        s=study_session,
        bookings=bookings.session_bookings(session, study_session=study_session),
        move_slots=slots[:200],
    )


def _own_booking(session: Session, researcher: Researcher, session_id: int, booking_id: int) -> Booking:
    booking = bookings.researcher_booking(session, researcher_id=researcher.id, booking_id=booking_id)
    if booking.session_id != session_id:
        raise NotFound("no such booking")
    return booking


@router.post("/sessions/{session_id}/bookings/{booking_id}/cancel")
def cancel_booking(
    request: Request,
    session_id: DbId,
    booking_id: DbId,
    session: SessionDep,
    researcher: CurrentResearcher,
    runtime: RuntimeDep,
) -> Response:
    _own_booking(session, researcher, session_id, booking_id)
    session.rollback()  # the service writes in its own transaction
    bookings.cancel(runtime.sched, booking_id=booking_id, by="researcher")
    flash(request, N_("The booking is cancelled; its calendar event is being removed."))
    return RedirectResponse(f"/sessions/{session_id}/bookings", status_code=303)


@router.post("/sessions/{session_id}/bookings/{booking_id}/move")
def move_booking(
    request: Request,
    session_id: DbId,
    booking_id: DbId,
    session: SessionDep,
    researcher: CurrentResearcher,
    runtime: RuntimeDep,
    start: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    _own_booking(session, researcher, session_id, booking_id)
    session.rollback()
    try:
        bookings.move(runtime.sched, booking_id=booking_id, start=bookings.parse_start(start))
    except (SlotUnavailable, ValidationFailed) as exc:
        problem = problem_for(exc)
        flash(request, problem.message, kind="error", **problem.params)
    else:
        flash(request, N_("The booking is moved; its calendar event follows."))
    return RedirectResponse(f"/sessions/{session_id}/bookings", status_code=303)
