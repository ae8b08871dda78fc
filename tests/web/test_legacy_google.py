"""The old Google integration: its notice, the one-click move to the new integration keeping every session's
destination and booking, and what happens after the removal date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from creneau.calendars.oauth import TokenSet
from creneau.calendars.sync import sync_account
from creneau.config import Settings
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.runtime import Runtime
from creneau.store.models import (
    Booking,
    Calendar,
    CalendarAccount,
    CalendarSyncState,
    Researcher,
    StudySession,
)
from tests.cloud import consent, local, point_settings_at
from tests.scheduling.conftest import make_session
from tests.web.conftest import seen, sign_in

LEGACY_EMAIL = "legacy@gmail.example"


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    """These tests read the English messages (the French ones are checked in test_i18n and below)."""
    client.headers["Accept-Language"] = "en"


@pytest.fixture
def settings(
    settings: Settings, google: google_emulator.RunningEmulator, graph: graph_emulator.RunningEmulator
) -> Settings:
    return point_settings_at(settings, google, graph)


def legacy_account(runtime: Runtime, researcher: Researcher, google: google_emulator.RunningEmulator) -> int:
    """An account as the old integration stored it: its own connector, one calendar (the primary one)."""
    google.state.add_calendar(LEGACY_EMAIL, "Other calendar", access_role="owner")  # not synced by it
    tokens = TokenSet.from_secret(google.state.add_user(LEGACY_EMAIL).secret())
    with runtime.ctx.sessions() as db, db.begin():
        account = CalendarAccount(
            researcher_id=researcher.id,
            provider="google",
            connector="google_legacy",
            display_name=LEGACY_EMAIL,
            server_url=runtime.settings.google_api_url,
            username=LEGACY_EMAIL,
            owner_addresses=LEGACY_EMAIL,
            credentials=runtime.ctx.vault.encrypt(tokens.to_secret()),
            status="syncing",
        )
        account.calendars = [
            Calendar(
                remote_id=LEGACY_EMAIL,
                name=LEGACY_EMAIL,
                check_conflicts=False,
                sync_state=CalendarSyncState(),
            )
        ]
        db.add(account)
        db.flush()
        return account.id


def test_the_old_integration_syncs_one_calendar_and_moves_in_one_click(
    client: TestClient, runtime: Runtime, researcher: Researcher, google: google_emulator.RunningEmulator
) -> None:
    legacy_id = legacy_account(runtime, researcher, google)
    report = sync_account(runtime.ctx, account_id=legacy_id)
    assert report is not None and report.status == "ok" and report.calendars == 1  # one calendar only
    with runtime.ctx.sessions() as db:
        (old_calendar,) = db.query(Calendar).filter_by(account_id=legacy_id).all()
        old_calendar_id = old_calendar.id
    study_session = make_session(runtime, researcher, destination=old_calendar_id)
    with runtime.ctx.sessions() as db, db.begin():
        start = datetime.now(UTC) + timedelta(days=2)
        end = start + timedelta(hours=1)
        db.add(
            Booking(
                session_id=study_session.id, manager_id=researcher.id,
                start=start, end=end, blocked_start=start, blocked_end=end,
                participant_name="Ada", participant_email="ada@example.org", uid="legacy-booking@creneau",
                link_nonce="n", calendar_id=old_calendar_id,
            )
        )  # fmt: skip

    sign_in(client, researcher.email)
    page = client.get("/settings/integrations")
    assert "Your Google calendar uses the old integration, which will soon be removed" in seen(page)
    assert f'id="move-{legacy_id}"' in page.text

    moved = client.get(f"/settings/integrations/accounts/{legacy_id}/move", follow_redirects=False)
    assert moved.status_code == 303 and "login_hint=legacy%40gmail.example" in moved.headers["location"]
    page = client.get(local(consent(moved.headers["location"], LEGACY_EMAIL)))
    assert "now uses the new Google integration; your sessions keep their calendars" in seen(page)
    assert "old integration" not in seen(page)

    with runtime.ctx.sessions() as db:
        (account,) = db.query(CalendarAccount).all()
        assert account.connector is None and account.provider == "google" and account.id != legacy_id
        assert {c.name for c in account.calendars} == {LEGACY_EMAIL, "Other calendar"}  # every calendar now
        new_calendar = next(c for c in account.calendars if c.remote_id == LEGACY_EMAIL)
        assert new_calendar.check_conflicts is False  # the researcher's choice carried over
        kept = db.get(StudySession, study_session.id)
        assert (
            kept is not None and kept.destination_calendar_id == new_calendar.id and not kept.destination_lost
        )
        (booking,) = db.query(Booking).all()
        assert booking.calendar_id == new_calendar.id


def test_moving_with_another_google_account_changes_nothing(
    client: TestClient, runtime: Runtime, researcher: Researcher, google: google_emulator.RunningEmulator
) -> None:
    legacy_id = legacy_account(runtime, researcher, google)
    sign_in(client, researcher.email)
    moved = client.get(f"/settings/integrations/accounts/{legacy_id}/move", follow_redirects=False)
    page = client.get(local(consent(moved.headers["location"], "someone.else@gmail.example")))
    assert "you signed in as someone.else@gmail.example, but this account is legacy@gmail.example" in seen(
        page
    )
    with runtime.ctx.sessions() as db:
        assert [(a.id, a.connector) for a in db.query(CalendarAccount).all()] == [
            (legacy_id, "google_legacy")
        ]


def test_after_the_removal_date_the_old_connection_is_not_used(
    client: TestClient, runtime: Runtime, researcher: Researcher, google: google_emulator.RunningEmulator
) -> None:
    legacy_id = legacy_account(runtime, researcher, google)
    runtime.settings.legacy_google_removal_date = datetime.now(UTC).date() - timedelta(days=1)
    report = sync_account(runtime.ctx, account_id=legacy_id)
    assert report is not None and report.status == "reconnect_needed"
    assert report.error.startswith("integration_retired")
    sign_in(client, researcher.email)
    text = seen(client.get("/settings/integrations"))
    assert "The old Google integration has been removed." in text
    assert "Move it to the new integration" in text
    client.headers["Accept-Language"] = "fr"
    assert "L'ancienne intégration Google a été retirée." in seen(client.get("/settings/integrations"))
