"""The demo's Google and Microsoft: the emulators with the demo users, Connect buttons that go through their
consent pages and sync, one account of the old Google integration, and what survives a restart of the
(in-memory) emulators."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from creneau.calendars.accounts import connect_oauth_account
from creneau.calendars.oauth import TokenSet, connector_of, oauth_apps
from creneau.calendars.oauth.apps import GOOGLE_SCOPE
from creneau.calendars.sync import sync_account
from creneau.config import Settings
from creneau.demo import DEMO_EMAIL, DEMO_PASSWORD
from creneau.demo.cloud import (
    CLIENT_ID,
    GOOGLE_EMAIL,
    LEGACY_CLIENT_ID,
    LEGACY_EMAIL,
    OFFICE365_EMAIL,
    OUTLOOK_EMAIL,
    DemoCloud,
    cloud_settings,
    start_cloud,
)
from creneau.demo.launch import demo_settings, ensure_demo_researcher, ensure_demo_team
from creneau.demo.signins import LEGACY_SESSION, prepare_cloud_accounts
from creneau.errors import ConfigurationError
from creneau.runtime import Runtime, build_runtime
from creneau.scheduling.migration import move_to_new_integration
from creneau.store.models import Calendar, CalendarAccount, PushChannel, Researcher, StudySession, SyncedEvent
from creneau.web.app import create_app
from tests.cloud import consent, local
from tests.web.conftest import seen, sign_in

REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"  # tests/conftest.py's base_url + the callback


def started_cloud() -> DemoCloud:
    return start_cloud(google_port=0, microsoft_port=0, redirect_uri=REDIRECT_URI)


@pytest.fixture(scope="module")
def cloud() -> Iterator[DemoCloud]:
    running = started_cloud()
    yield running
    running.stop()


def pointed_at(settings: Settings, cloud: DemoCloud) -> Settings:
    overrides = cloud_settings(
        app_url=settings.base_url, google_url=cloud.google_url, microsoft_url=cloud.microsoft_url
    )
    for name, value in overrides.items():
        setattr(settings, name, value)
    settings.push_base_url = ""  # no app listens at base_url here; test_demo_launch checks push
    settings.run_background_jobs = False  # the tests sync themselves
    return settings


@pytest.fixture
def settings(settings: Settings, cloud: DemoCloud) -> Settings:
    return pointed_at(settings, cloud)


@pytest.fixture
def demo(runtime: Runtime) -> Researcher:
    ensure_demo_researcher(runtime)
    ensure_demo_team(runtime)
    with runtime.ctx.sessions() as db:
        return db.scalars(select(Researcher).where(Researcher.email == DEMO_EMAIL)).one()


@pytest.fixture
def client(runtime: Runtime, demo: Researcher) -> TestClient:
    client = TestClient(create_app(runtime), follow_redirects=True)
    client.headers["Accept-Language"] = "en"
    sign_in(client, DEMO_EMAIL, DEMO_PASSWORD)
    return client


def test_demo_settings_use_the_emulators_and_push_to_the_app(cloud: DemoCloud) -> None:
    settings = demo_settings(
        port=8123,
        radicale_url="http://127.0.0.1:5232/",
        google_url=cloud.google_url,
        microsoft_url=cloud.microsoft_url,
    )
    assert settings.google_api_url == cloud.google.api_url
    assert settings.microsoft_graph_url == cloud.graph.graph_url
    assert settings.push_base_url == settings.base_url == "http://127.0.0.1:8123"
    apps = oauth_apps(settings)
    assert set(apps) == {"google", "google_legacy", "office365", "outlook"}
    assert apps["google_legacy"].client_id == LEGACY_CLIENT_ID and apps["google"].client_id == CLIENT_ID
    assert apps["outlook"].authorize_url == f"{cloud.graph.authority('consumers')}/authorize"


@pytest.mark.parametrize(
    ("connector", "email", "not_offered", "calendars"),
    [
        ("google", GOOGLE_EMAIL, None, {GOOGLE_EMAIL: False, "Interviews": False, "Lab rooms": True}),
        (
            "office365",
            OFFICE365_EMAIL,
            OUTLOOK_EMAIL,
            {"Calendar": False, "Research sessions": False, "Team holidays": True},
        ),
        ("outlook", OUTLOOK_EMAIL, OFFICE365_EMAIL, {"Calendar": False}),
    ],
)
def test_each_connect_button_goes_through_a_consent_page_and_syncs(
    client: TestClient,
    runtime: Runtime,
    connector: str,
    email: str,
    not_offered: str | None,
    calendars: dict[str, bool],
) -> None:
    started = client.get(f"/settings/integrations/connect/{connector}", follow_redirects=False)
    assert started.status_code == 303
    page = httpx.get(started.headers["location"])
    assert page.status_code == 200 and email in page.text  # the demo user is offered: pick, Allow
    assert not_offered is None or not_offered not in page.text  # work and personal accounts apart
    done = client.get(local(consent(started.headers["location"], email)))
    assert "is connected; its calendars are being synchronised" in seen(done)

    with runtime.ctx.sessions() as db:
        account = db.scalars(select(CalendarAccount).where(CalendarAccount.username == email)).one()
        account_id = account.id
    report = sync_account(runtime.ctx, account_id=account_id)
    assert report is not None and report.status == "ok", report
    with runtime.ctx.sessions() as db:
        synced = db.scalars(select(Calendar).where(Calendar.account_id == account_id)).all()
        assert {c.name: c.read_only for c in synced} == calendars
        events = db.scalars(
            select(SyncedEvent.summary).join(Calendar).where(Calendar.account_id == account_id)
        )
        assert len(list(events)) >= 2


def legacy_rows(runtime: Runtime) -> list[CalendarAccount]:
    with runtime.ctx.sessions() as db:
        rows = db.scalars(select(CalendarAccount).where(CalendarAccount.username == LEGACY_EMAIL)).all()
        for row in rows:
            _ = row.calendars  # loaded while the session is open
        return list(rows)


def test_the_demo_has_one_legacy_google_connection_that_syncs_and_shows_its_notice(
    client: TestClient, runtime: Runtime, demo: Researcher, cloud: DemoCloud
) -> None:
    prepare_cloud_accounts(runtime, cloud)
    prepare_cloud_accounts(runtime, cloud)  # the next start: nothing twice
    (account,) = legacy_rows(runtime)
    assert connector_of(account) == "google_legacy" and account.researcher_id == demo.id
    assert [c.remote_id for c in account.calendars] == [LEGACY_EMAIL]  # its primary calendar only
    tokens = TokenSet.from_secret(runtime.ctx.vault.decrypt(account.credentials))
    assert tokens.access_token.encode() not in account.credentials  # stored encrypted

    report = sync_account(runtime.ctx, account_id=account.id)
    assert report is not None and report.status == "ok" and report.calendars == 1
    with runtime.ctx.sessions() as db:
        summaries = set(db.scalars(select(SyncedEvent.summary)))
        assert "Field visit debrief" in summaries and "Research ops stand-up" in summaries
        (study_session,) = db.scalars(select(StudySession).where(StudySession.name == LEGACY_SESSION))
        assert study_session.destination_calendar_id == account.calendars[0].id
    # The tokens are the old integration's application's: its refresh works at the emulator.
    refreshed = TokenSet.from_secret(runtime.ctx.tokens.secret_for(account.id, force=True))
    assert refreshed.access_token != tokens.access_token

    page = client.get("/settings/integrations")
    assert "Your Google calendar uses the old integration, which will soon be removed" in seen(page)
    assert f'id="move-{account.id}"' in page.text and "Move to the new integration" in seen(page)
    moved = client.get(f"/settings/integrations/accounts/{account.id}/move", follow_redirects=False)
    consent_page = httpx.get(moved.headers["location"])
    assert f'value="{LEGACY_EMAIL}" checked' in consent_page.text  # the consent page picks it already


def test_a_legacy_account_moved_to_the_new_integration_stays_moved(
    runtime: Runtime, demo: Researcher, cloud: DemoCloud
) -> None:
    prepare_cloud_accounts(runtime, cloud)
    (legacy,) = legacy_rows(runtime)
    issued = cloud.google.state.accounts.issue(LEGACY_EMAIL, scope=GOOGLE_SCOPE, client_id=CLIENT_ID)
    with runtime.ctx.sessions() as db, db.begin():
        move_to_new_integration(
            db,
            ctx=runtime.ctx,
            researcher_id=demo.id,
            legacy_account_id=legacy.id,
            tokens=TokenSet(issued.access_token, issued.refresh_token, issued.expires_at),
        )
    prepare_cloud_accounts(runtime, cloud)
    (account,) = legacy_rows(runtime)
    assert connector_of(account) == "google"


def test_after_a_restart_with_empty_emulators_every_account_keeps_working(
    runtime: Runtime, demo: Researcher, cloud: DemoCloud, settings: Settings
) -> None:
    """The demo keeps var/ between runs; the emulators restart empty, maybe on other ports."""
    for connector, email in (("office365", OFFICE365_EMAIL), ("google", GOOGLE_EMAIL)):
        app = runtime.ctx.apps[connector]
        if connector == "google":
            issued = cloud.google.state.accounts.issue(email, scope=GOOGLE_SCOPE, client_id=CLIENT_ID)
            tokens = TokenSet(issued.access_token, issued.refresh_token, issued.expires_at)
        else:
            secret = cloud.graph.state.issue_tokens(email, client_id=app.client_id)
            tokens = TokenSet(secret["access_token"], secret["refresh_token"], float(secret["expires_at"]))
        with runtime.ctx.sessions() as db, db.begin():
            connect_oauth_account(
                db, ctx=runtime.ctx, researcher_id=demo.id, connector=connector, tokens=tokens
            )
    prepare_cloud_accounts(runtime, cloud)
    with runtime.ctx.sessions() as db, db.begin():
        accounts = {a.username: a for a in db.scalars(select(CalendarAccount))}
        chosen = next(c for c in accounts[OFFICE365_EMAIL].calendars if c.name == "Research sessions")
        chosen.check_conflicts = False  # a researcher's choice, to be kept
        remote_interview = db.scalars(select(StudySession).where(StudySession.name == LEGACY_SESSION)).one()
        remote_interview.destination_calendar_id = chosen.id
        db.add(
            PushChannel(
                account_id=chosen.account_id, calendar_id=chosen.id, kind="msgraph",
                channel_id="forgotten-by-the-emulator", secret=b"x",
                expires_at=datetime.now(UTC) + timedelta(days=3),
            )
        )  # fmt: skip
        ids = {a.id for a in accounts.values()}
    for account_id in ids:
        assert sync_account(runtime.ctx, account_id=account_id).status == "ok"  # type: ignore[union-attr]
    with runtime.ctx.sessions() as db:
        before = {(c.account_id, c.remote_id): c.id for c in db.scalars(select(Calendar))}
        events_before = len(db.scalars(select(SyncedEvent.id)).all())

    restarted = started_cloud()  # a new process: nothing in memory, other ports
    try:
        again = build_runtime(pointed_at(settings.model_copy(), restarted))
        try:
            assert set(prepare_cloud_accounts(again, restarted)) == ids
            for account_id in ids:
                report = sync_account(again.ctx, account_id=account_id)
                assert report is not None and report.status == "ok", report
            with again.ctx.sessions() as db:
                after = {(c.account_id, c.remote_id): c.id for c in db.scalars(select(Calendar))}
                assert after == before  # same calendars, same rows: settings and destinations kept
                assert db.get(Calendar, chosen.id).check_conflicts is False  # type: ignore[union-attr]
                kept = db.scalars(select(StudySession).where(StudySession.name == LEGACY_SESSION)).one()
                assert kept.destination_calendar_id == chosen.id
                assert len(db.scalars(select(SyncedEvent.id)).all()) == events_before
                assert db.scalars(select(PushChannel)).all() == []
                urls = set(db.scalars(select(CalendarAccount.server_url)))
                assert urls == {restarted.google.api_url, restarted.graph.graph_url}
        finally:
            again.close()
    finally:
        restarted.stop()


def test_a_taken_emulator_port_says_so() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"port {port} on 127.0.0.1 is already in use"):
            start_cloud(google_port=0, microsoft_port=port, redirect_uri=REDIRECT_URI)
