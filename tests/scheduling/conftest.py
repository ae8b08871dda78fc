"""A researcher with a Radicale account, a study and a session whose destination is the "work" calendar."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from creneau.calendars import accounts
from creneau.calendars.sync import sync_account
from creneau.runtime import Runtime
from creneau.scheduling.booking import Participant
from creneau.scheduling.studies import create_session, create_study
from creneau.scheduling.workspaces import ensure_workspace
from creneau.store.models import Researcher, StudySession
from tests.mail.conftest import smtp_server, tls_files  # noqa: F401 - fixtures used by this package's tests
from tests.servers import RunningServer, start_radicale

PASSWORD = "alice-password"
EVERY_DAY = {
    "weekly": [{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)],
    "overrides": [],
}
PARTICIPANT = Participant(name="Ada Lovelace", email="ada@example.org", locale="fr", timezone="Europe/Paris")


def day_ahead(days: int) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def ics(uid: str, start: datetime, minutes: int = 60) -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//creneau tests//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{start.strftime(fmt)}",
            f"DTEND:{(start + timedelta(minutes=minutes)).strftime(fmt)}",
            f"SUMMARY:{uid}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )


@dataclass
class Setup:
    runtime: Runtime
    researcher: Researcher
    radicale: RunningServer
    account_id: int
    work_calendar_id: int
    session_id: int
    token: str

    def sync(self) -> None:
        sync_account(self.runtime.ctx, account_id=self.account_id)

    def work_events(self) -> list[str]:
        return self.radicale.stored_events("alice", "work")

    def session(self) -> StudySession:
        with self.runtime.ctx.sessions() as db:
            found = db.get(StudySession, self.session_id)
            assert found is not None
            return found


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[RunningServer]:
    with start_radicale(tmp_path / "radicale", {"alice": PASSWORD}) as server:
        server.make_calendar("alice", "work", display_name="Work")
        server.make_calendar("alice", "home", display_name="Home")
        yield server


def make_session(
    runtime: Runtime, researcher: Researcher, *, destination: int | None, **settings: object
) -> StudySession:
    with runtime.ctx.sessions() as db, db.begin():
        member = ensure_workspace(db, researcher=researcher)
        study = create_study(
            db, workspace_id=member.workspace_id, researcher_id=researcher.id, name="Onboarding"
        )
        study_session = create_session(db, researcher=researcher, study_id=study.id, name="Interview")
        study_session.availability = EVERY_DAY
        study_session.timezone = "UTC"
        study_session.min_notice_minutes = 0
        study_session.horizon_days = 30
        study_session.destination_calendar_id = destination
        for name, value in settings.items():
            setattr(study_session, name, value)
        return study_session


@pytest.fixture
def setup(runtime: Runtime, researcher: Researcher, radicale: RunningServer) -> Setup:
    with runtime.ctx.sessions() as db, db.begin():
        account = accounts.connect_account(
            db,
            ctx=runtime.ctx,
            researcher_id=researcher.id,
            provider="caldav",
            server_url=radicale.url,
            username="alice",
            password=PASSWORD,
        )
        account_id = account.id
        work = next(c for c in account.calendars if c.name == "Work")
        work_id = work.id
    sync_account(runtime.ctx, account_id=account_id)
    study_session = make_session(runtime, researcher, destination=work_id)
    return Setup(
        runtime=runtime,
        researcher=researcher,
        radicale=radicale,
        account_id=account_id,
        work_calendar_id=work_id,
        session_id=study_session.id,
        token=study_session.public_token,
    )
