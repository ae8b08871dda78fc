"""Access between researchers: an invitation needs the invitee's consent, and a session's manager (and the
calendars its settings form lists) is always an accepted member of the session's workspace.

Through the pages, on the real database; the invitation email goes to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from creneau.config import Settings
from creneau.errors import NotFound, ValidationFailed
from creneau.runtime import Runtime
from creneau.scheduling.studies import (
    SessionSettings,
    create_session,
    create_study,
    destination_choices,
    update_settings,
)
from creneau.scheduling.workspaces import (
    accept_invitation,
    decline_invitation,
    ensure_workspace,
    invite,
    members,
    pending_invitations,
)
from creneau.store.migrate import upgrade
from creneau.store.models import Researcher, StudySession, WorkspaceInvitation, WorkspaceMember
from creneau.web.app import create_app
from tests.conftest import make_researcher
from tests.mail.conftest import SmtpServer
from tests.web.conftest import csrf_of, seed_account, seen, sign_in


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    runtime.settings.run_background_jobs = False
    return create_app(runtime)


@pytest.fixture
def browsers(app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    """``browsers(email)``: a client of its own (its own cookies) signed in as ``email``."""
    opened: list[TestClient] = []

    def open_as(email: str) -> TestClient:
        client = TestClient(app, follow_redirects=True)
        client.__enter__()
        opened.append(client)
        sign_in(client, email)
        return client

    yield open_as
    for client in opened:
        client.__exit__(None, None, None)


def my_session(runtime: Runtime, researcher: Researcher) -> int:
    with runtime.ctx.sessions() as db, db.begin():
        member = ensure_workspace(db, researcher=researcher)
        study = create_study(db, workspace_id=member.workspace_id, researcher_id=researcher.id, name="Study")
        return create_session(db, researcher=researcher, study_id=study.id, name="Interview").id


def post_settings(client: TestClient, session_id: int, **fields: str) -> str:
    page = client.get(f"/sessions/{session_id}/settings")
    data = {"csrf_token": csrf_of(page.text), "name": "Interview", "timezone": "Europe/Paris"}
    data.update(fields)
    answer = client.post(f"/sessions/{session_id}/settings", data=data)
    assert answer.status_code in (200, 422), answer.text
    return seen(answer)


def post(client: TestClient, path: str, page: str, **fields: str) -> str:
    data = {"csrf_token": csrf_of(client.get(page).text), **fields}
    answer = client.post(path, data=data)
    assert answer.status_code == 200, (answer.status_code, answer.text)
    return seen(answer)


def membership_rows(runtime: Runtime) -> set[tuple[int, int]]:
    with runtime.ctx.sessions() as db:
        return {(m.workspace_id, m.researcher_id) for m in db.query(WorkspaceMember)}


def team_of(runtime: Runtime, researcher: Researcher) -> set[int]:
    """The researchers who are members of ``researcher``'s current workspace."""
    with runtime.ctx.sessions() as db:
        workspace_id = ensure_workspace(db, researcher=researcher).workspace_id
        db.commit()
        return {m.researcher_id for m in members(db, workspace_id=workspace_id)}


# --- item 1: the manager field of the settings form -------------------------------------------------------


def test_a_non_members_calendars_never_show_in_my_settings_form(
    runtime: Runtime,
    researcher: Researcher,
    other_researcher: Researcher,
    browsers: Callable[..., TestClient],
) -> None:
    _, (their_calendar,) = seed_account(
        runtime, other_researcher, username="their-caldav-login", calendars=("Their private calendar",)
    )
    session_id = my_session(runtime, researcher)
    me = browsers(researcher.email)

    page = post_settings(me, session_id, manager_id=str(other_researcher.id))
    assert "Their private calendar" not in page and "their-caldav-login" not in page
    assert "the manager must be a member of the workspace" in page.lower() or "membre" in page
    # the destination of another researcher is refused too, with the same silence about their calendars
    page = post_settings(me, session_id, destination_calendar_id=str(their_calendar))
    assert "Their private calendar" not in page and "their-caldav-login" not in page
    with runtime.ctx.sessions() as db:
        stored = db.get(StudySession, session_id)
        assert stored is not None
        assert stored.manager_id == researcher.id and stored.destination_calendar_id is None


def test_destination_choices_are_empty_for_a_non_member(
    runtime: Runtime, researcher: Researcher, other_researcher: Researcher
) -> None:
    seed_account(runtime, other_researcher, calendars=("Theirs",))
    session_id = my_session(runtime, researcher)
    with runtime.ctx.sessions() as db:
        stored = db.get(StudySession, session_id)
        assert stored is not None
        workspace_id = stored.study.workspace_id
        assert destination_choices(db, workspace_id=workspace_id, manager_id=other_researcher.id) == []


# --- item 2: invitations need consent ---------------------------------------------------------------------


def test_inviting_an_existing_researcher_gives_nothing_until_they_accept(
    runtime: Runtime,
    researcher: Researcher,
    other_researcher: Researcher,
    browsers: Callable[..., TestClient],
) -> None:
    seed_account(runtime, other_researcher, username="colleague-login", calendars=("Colleague work",))
    session_id = my_session(runtime, researcher)
    me = browsers(researcher.email)
    page = post(
        me,
        "/settings/workspace/invitations",
        "/settings/workspace",
        email=other_researcher.email.upper(),
    )
    assert "once they accept the invitation" in page or "quand elle aura accepté" in page
    assert "invited, not yet accepted" in page or "pas encore accepté" in page

    # Not a member: not offered as manager, refused by the service, their calendars never listed.
    page = post_settings(me, session_id, manager_id=str(other_researcher.id))
    assert "Colleague work" not in page and "colleague-login" not in page
    with runtime.ctx.sessions() as db:
        stored = db.get(StudySession, session_id)
        assert stored is not None
        workspace_id = stored.study.workspace_id
        assert {m.researcher_id for m in members(db, workspace_id=workspace_id)} == {researcher.id}
        with pytest.raises(ValidationFailed) as refused:
            update_settings(
                db,
                researcher_id=researcher.id,
                session_id=session_id,
                settings=_settings(manager_id=other_researcher.id),
            )
        assert refused.value.field == "manager_id"

    # They see the invitation after signing in, and accept it.
    colleague = browsers(other_researcher.email)
    studies = colleague.get("/studies", headers={"Accept-Language": "en"})
    assert 'id="pending-invitations"' in studies.text
    assert "1 invitation to a workspace is waiting for your answer." in seen(studies)
    listing = seen(colleague.get("/settings/invitations", headers={"Accept-Language": "en"}))
    with runtime.ctx.sessions() as db:
        (invitation,) = pending_invitations(db, researcher=other_researcher)
        invitation_id = invitation.id
    assert "Accept" in listing and "Decline" in listing
    page = post(colleague, f"/settings/invitations/{invitation_id}/accept", "/settings/invitations")
    assert "You are now a member" in page or "maintenant membre" in page
    assert (workspace_id, other_researcher.id) in membership_rows(runtime)

    # Now the form lists their calendars and the session may be handed to them.
    page = post_settings(me, session_id, manager_id=str(other_researcher.id))
    assert "Colleague work" in page


def test_declining_is_shown_to_the_inviter_and_gives_nothing(
    runtime: Runtime,
    researcher: Researcher,
    other_researcher: Researcher,
    browsers: Callable[..., TestClient],
) -> None:
    me = browsers(researcher.email)
    post(me, "/settings/workspace/invitations", "/settings/workspace", email=other_researcher.email)
    with runtime.ctx.sessions() as db:
        (invitation,) = pending_invitations(db, researcher=other_researcher)
        invitation_id = invitation.id
    colleague = browsers(other_researcher.email)
    page = post(colleague, f"/settings/invitations/{invitation_id}/decline", "/settings/invitations")
    assert "declined" in page or "refusée" in page
    assert team_of(runtime, researcher) == {researcher.id}
    before = membership_rows(runtime)
    # an answered invitation cannot be accepted afterwards
    late = colleague.post(
        f"/settings/invitations/{invitation_id}/accept",
        data={"csrf_token": csrf_of(colleague.get("/settings/invitations").text)},
    )
    assert late.status_code == 404
    assert membership_rows(runtime) == before
    workspace = seen(me.get("/settings/workspace", headers={"Accept-Language": "en"}))
    assert "declined the invitation" in workspace


def test_nobody_else_can_answer_someone_elses_invitation(
    runtime: Runtime,
    researcher: Researcher,
    other_researcher: Researcher,
    browsers: Callable[..., TestClient],
) -> None:
    third = make_researcher(runtime, "third@example.org")
    me = browsers(researcher.email)
    post(me, "/settings/workspace/invitations", "/settings/workspace", email=other_researcher.email)
    with runtime.ctx.sessions() as db:
        (invitation,) = pending_invitations(db, researcher=other_researcher)
        invitation_id = invitation.id
    intruder = browsers(third.email)
    before = membership_rows(runtime)
    token = csrf_of(intruder.get("/settings/invitations").text)
    for answer in ("accept", "decline"):
        path = f"/settings/invitations/{invitation_id}/{answer}"
        response = intruder.post(path, data={"csrf_token": token})
        assert response.status_code == 404
    assert "Accept" not in seen(intruder.get("/settings/invitations", headers={"Accept-Language": "en"}))
    assert membership_rows(runtime) == before
    with runtime.ctx.sessions() as db:
        stored = db.get(WorkspaceInvitation, invitation_id)
        assert stored is not None and stored.status == "pending"


def test_a_new_researcher_with_a_pending_invitation_gets_their_own_workspace(runtime: Runtime) -> None:
    admin = make_researcher(runtime, "admin@example.org")
    with runtime.ctx.sessions() as db, db.begin():
        team = ensure_workspace(db, researcher=admin)
        invite(db, workspace_id=team.workspace_id, inviter_id=admin.id, email="newcomer@example.org")
    newcomer = make_researcher(runtime, "newcomer@example.org")
    with runtime.ctx.sessions() as db, db.begin():
        own = ensure_workspace(db, researcher=newcomer)
        assert own.workspace_id != team.workspace_id and own.role == "admin"
        (invitation,) = pending_invitations(db, researcher=newcomer)
        # accepting replaces the empty workspace of their own by the team's
        joined = accept_invitation(db, researcher=newcomer, invitation_id=invitation.id)
        current = ensure_workspace(db, researcher=newcomer).workspace_id
        assert current == team.workspace_id == joined.workspace_id
        assert joined.role == "member"
        with pytest.raises(NotFound):
            decline_invitation(db, researcher=newcomer, invitation_id=invitation.id)


def test_the_invitation_email_reaches_the_invitee_or_the_failure_is_shown(
    runtime: Runtime,
    researcher: Researcher,
    other_researcher: Researcher,
    browsers: Callable[..., TestClient],
    smtp_server: Callable[..., SmtpServer],
) -> None:
    smtp = smtp_server()
    runtime.sched.mail = smtp.settings()
    me = browsers(researcher.email)
    page = post(me, "/settings/workspace/invitations", "/settings/workspace", email=other_researcher.email)
    assert "An email told them about it." in page or "Un e-mail l'en a informé·e." in page
    (mail,) = smtp.received
    assert mail.rcpt_tos == [other_researcher.email]
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "http://127.0.0.1:8000/settings/invitations" in body.get_content()
    assert "researcher" in str(mail.message["Subject"])  # the inviter's name

    # The relay refuses the address: the invitation stands and the admin is told.
    page = post(me, "/settings/workspace/invitations", "/settings/workspace", email="nobody@unknown.test")
    assert "could not be sent" in page or "n'a pas pu être envoyé" in page
    assert "nobody@unknown.test" in page and len(smtp.received) == 1


def _settings(**overrides: object) -> SessionSettings:
    values: dict[str, object] = {
        "name": "Interview",
        "manager_id": 0,
        "destination_calendar_id": None,
        "event_title": "",
        "duration_minutes": 60,
        "location_kind": "remote",
        "address": "",
        "timezone": "Europe/Paris",
        "availability": {"weekly": [], "overrides": []},
        "slot_interval_minutes": 30,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "min_notice_minutes": 0,
        "horizon_days": 30,
        "max_per_day": None,
        "booking_open": True,
    }
    values.update(overrides)
    return SessionSettings(**values)  # type: ignore[arg-type]


# --- the migration keeps the memberships the old behaviour created ----------------------------------------


def test_the_consent_migration_keeps_existing_memberships_and_invitations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    settings = Settings(environment="development", var_dir=tmp_path, database_url=url)
    upgrade(settings, "0003")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO researchers (id, email, name, password_hash, timezone, created_at) VALUES "
                "(1, 'a@example.org', 'A', 'x', 'UTC', '2026-01-01 00:00:00'),"
                "(2, 'b@example.org', 'B', 'x', 'UTC', '2026-01-01 00:00:00')"
            )
        )
        conn.execute(text("INSERT INTO workspaces (id, name, created_at) VALUES (1, 'A', '2026-01-01')"))
        conn.execute(
            text(
                "INSERT INTO workspace_members (workspace_id, researcher_id, role, created_at) VALUES "
                "(1, 1, 'admin', '2026-01-01'), (1, 2, 'member', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO workspace_invitations (workspace_id, email, role, created_at) "
                "VALUES (1, 'later@example.org', 'member', '2026-01-01')"
            )
        )
    upgrade(settings)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT researcher_id FROM workspace_members ORDER BY 1")).scalars()
        assert kept.all() == [1, 2]
        assert conn.execute(text("SELECT email, status FROM workspace_invitations")).all() == [
            ("later@example.org", "pending")
        ]
    engine.dispose()
