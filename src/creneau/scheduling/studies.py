"""Studies and their sessions, with the sessions' appointment settings.

Everything here is seen through a researcher: a study or session of another workspace raises ``NotFound``,
exactly as if it did not exist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from creneau.errors import NotFound, ValidationFailed
from creneau.scheduling.rules import DEFAULT_AVAILABILITY
from creneau.scheduling.titles import check_template, render_title
from creneau.scheduling.workspaces import require_member
from creneau.store.models import (
    Calendar,
    CalendarAccount,
    Researcher,
    Study,
    StudySession,
    WorkspaceMember,
)
from creneau.validation import check_name, check_timezone

LOCATION_KINDS = ("remote", "in_person")
TITLE_FIELDS = ("{study}", "{session}", "{first_name}", "{name}")


def create_study(session: Session, *, workspace_id: int, researcher_id: int, name: str) -> Study:
    require_member(session, workspace_id=workspace_id, researcher_id=researcher_id)
    name = check_name(name, field="name", message="give the study a name (up to 200 characters)")
    study = Study(workspace_id=workspace_id, name=name, created_by_id=researcher_id)
    session.add(study)
    session.flush()
    return study


def list_studies(session: Session, *, workspace_id: int) -> list[Study]:
    return list(
        session.scalars(
            select(Study)
            .where(Study.workspace_id == workspace_id)
            .options(selectinload(Study.sessions))
            .order_by(Study.created_at.desc(), Study.id.desc())
        )
    )


def get_study(session: Session, *, researcher_id: int, study_id: int) -> Study:
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound("no such study")
    require_member(session, workspace_id=study.workspace_id, researcher_id=researcher_id)
    return study


def create_session(session: Session, *, researcher: Researcher, study_id: int, name: str) -> StudySession:
    """A new session managed by its creator, with default availability (weekdays 9–12 and 14–17)."""
    study = get_study(session, researcher_id=researcher.id, study_id=study_id)
    name = check_name(name, field="name", message="give the session a name (up to 200 characters)")
    study_session = StudySession(
        study_id=study.id,
        name=name,
        public_token=secrets.token_urlsafe(18),
        manager_id=researcher.id,
        timezone=researcher.timezone,
        availability=DEFAULT_AVAILABILITY,
        event_title="{study} — {first_name}",
    )
    session.add(study_session)
    session.flush()
    return study_session


def get_session(session: Session, *, researcher_id: int, session_id: int) -> StudySession:
    study_session = session.get(StudySession, session_id)
    if study_session is None:
        raise NotFound("no such session")
    require_member(session, workspace_id=study_session.study.workspace_id, researcher_id=researcher_id)
    return study_session


def public_session(session: Session, *, token: str) -> StudySession:
    """The session behind a public booking link. :raises NotFound: unknown link or booking closed."""
    study_session = session.scalars(select(StudySession).where(StudySession.public_token == token)).first()
    if study_session is None or not study_session.booking_open:
        raise NotFound("no such booking page")
    return study_session


@dataclass(frozen=True)
class DestinationChoice:
    calendar_id: int
    calendar_name: str
    account_id: int
    account_label: str
    color: str | None
    provider: str = ""  # the account's provider kind
    conferencing: str | None = None  # the video link the calendar makes itself ("google_meet", "teams")


def is_member(session: Session, *, workspace_id: int, researcher_id: int) -> bool:
    """Whether the researcher accepted membership of the workspace (a pending invitation does not count)."""
    return (
        session.scalars(
            select(WorkspaceMember.id).where(
                WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.researcher_id == researcher_id
            )
        ).first()
        is not None
    )


def form_manager(session: Session, *, study_session: StudySession, requested: int | None) -> int:
    """The manager the settings form shows: ``requested`` (what the form sent) when that researcher is a
    member of the session's workspace, else the session's own manager. A form never makes a non-member's
    calendars appear."""
    workspace_id = study_session.study.workspace_id
    if requested is not None and is_member(session, workspace_id=workspace_id, researcher_id=requested):
        return requested
    return study_session.manager_id


def destination_choices(session: Session, *, workspace_id: int, manager_id: int) -> list[DestinationChoice]:
    """The manager's writable calendars, grouped by account (ordered by account, then calendar name).

    Empty when ``manager_id`` is not a member of ``workspace_id``: calendars of a researcher outside the
    team (or only invited to it) are never listed.
    """
    if not is_member(session, workspace_id=workspace_id, researcher_id=manager_id):
        return []
    rows = session.execute(
        select(Calendar, CalendarAccount)
        .join(CalendarAccount, CalendarAccount.id == Calendar.account_id)
        .where(CalendarAccount.researcher_id == manager_id, Calendar.read_only.is_(False))
        .order_by(CalendarAccount.id, Calendar.name)
    )
    return [
        DestinationChoice(
            calendar_id=calendar.id,
            calendar_name=calendar.name,
            account_id=account.id,
            account_label=f"{account.display_name} — {account.username}",
            color=calendar.color,
            provider=account.provider,
            conferencing=calendar.conferencing,
        )
        for calendar, account in rows
    ]


def has_calendar(session: Session, *, researcher_id: int) -> bool:
    return (
        session.scalars(
            select(CalendarAccount.id).where(CalendarAccount.researcher_id == researcher_id).limit(1)
        ).first()
        is not None
    )


@dataclass(frozen=True)
class SessionSettings:
    """The appointment settings form, validated by :func:`update_settings`."""

    name: str
    manager_id: int
    destination_calendar_id: int | None
    event_title: str
    duration_minutes: int
    location_kind: str
    address: str
    timezone: str
    availability: dict[str, Any]
    slot_interval_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_notice_minutes: int
    horizon_days: int
    max_per_day: int | None
    booking_open: bool


def _bounded(value: int, low: int, high: int, field: str) -> int:
    if not low <= value <= high:
        raise ValidationFailed(
            "must be between %(low)s and %(high)s", field=field, params={"low": low, "high": high}
        )
    return value


def update_settings(
    session: Session, *, researcher_id: int, session_id: int, settings: SessionSettings
) -> StudySession:
    """Apply the appointment settings.

    :raises ValidationFailed: naming the field — a manager outside the workspace, a destination calendar
        that is not one of the manager's writable calendars, an unknown time zone, numbers out of range, an
        in-person session without an address, an event title with an unknown field.
    """
    study_session = get_session(session, researcher_id=researcher_id, session_id=session_id)
    workspace_id = study_session.study.workspace_id
    if not is_member(session, workspace_id=workspace_id, researcher_id=settings.manager_id):
        raise ValidationFailed("the manager must be a member of the workspace", field="manager_id")
    if settings.destination_calendar_id is not None:
        allowed = {
            c.calendar_id
            for c in destination_choices(session, workspace_id=workspace_id, manager_id=settings.manager_id)
        }
        if settings.destination_calendar_id not in allowed:
            raise ValidationFailed(
                "choose one of the manager's writable calendars", field="destination_calendar_id"
            )
    name = check_name(settings.name, field="name", message="give the session a name (up to 200 characters)")
    check_timezone(settings.timezone, field="timezone")
    if settings.location_kind not in LOCATION_KINDS:
        raise ValidationFailed("choose remote or in person", field="location_kind")
    if settings.location_kind == "in_person" and not settings.address.strip():
        raise ValidationFailed("give the address of an in-person session", field="address")
    title = check_template(settings.event_title)
    if settings.max_per_day is not None:
        _bounded(settings.max_per_day, 1, 100, "max_per_day")

    study_session.name = name
    if settings.manager_id != study_session.manager_id:
        study_session.manager_id = settings.manager_id
    study_session.destination_calendar_id = settings.destination_calendar_id
    if settings.destination_calendar_id is not None:
        study_session.destination_lost = False
    study_session.event_title = title
    study_session.duration_minutes = _bounded(settings.duration_minutes, 5, 12 * 60, "duration_minutes")
    study_session.location_kind = settings.location_kind
    study_session.address = settings.address.strip()[:2000]
    study_session.timezone = settings.timezone
    study_session.availability = settings.availability
    study_session.slot_interval_minutes = _bounded(
        settings.slot_interval_minutes, 5, 12 * 60, "slot_interval_minutes"
    )
    study_session.buffer_before_minutes = _bounded(
        settings.buffer_before_minutes, 0, 240, "buffer_before_minutes"
    )
    study_session.buffer_after_minutes = _bounded(
        settings.buffer_after_minutes, 0, 240, "buffer_after_minutes"
    )
    study_session.min_notice_minutes = _bounded(
        settings.min_notice_minutes, 0, 60 * 24 * 60, "min_notice_minutes"
    )
    study_session.horizon_days = _bounded(settings.horizon_days, 1, 365, "horizon_days")
    study_session.max_per_day = settings.max_per_day
    study_session.booking_open = settings.booking_open
    session.flush()
    return study_session


def event_title(study_session: StudySession, *, participant_name: str) -> str:
    """The calendar event's title, from the session's template (privacy: the researcher chooses what
    shows)."""
    first = participant_name.strip().split(" ")[0] if participant_name.strip() else ""
    return render_title(
        study_session.event_title,
        {
            "study": study_session.study.name,
            "session": study_session.name,
            "first_name": first,
            "name": participant_name,
        },
    )


def sessions_without_destination(session: Session, *, workspace_id: int) -> list[StudySession]:
    """Sessions whose destination calendar was deleted with its account: shown on the dashboard."""
    return list(
        session.scalars(
            select(StudySession)
            .join(Study, Study.id == StudySession.study_id)
            .where(Study.workspace_id == workspace_id, StudySession.destination_lost.is_(True))
        )
    )
