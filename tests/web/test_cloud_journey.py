"""In a real Chromium: the researcher connects Google and Office 365 through the emulators' consent pages; a
participant books a remote session into each; the events appear in the emulators with a Google Meet and a
Microsoft Teams link, which the participant's booking page then shows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from creneau.config import Settings
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.runtime import Runtime
from creneau.store.models import Booking, CalendarAccount, Researcher
from tests.cloud import LiveApp, point_settings_at
from tests.conftest import RESEARCHER_PASSWORD
from tests.scheduling.conftest import make_session
from tests.servers import wait_until
from tests.web.test_browser import CHROMIUM_ARGS, TIMEOUT_MS

pytestmark = pytest.mark.browser
playwright_sync = pytest.importorskip("playwright.sync_api")

GOOGLE_USER = "researcher@gmail.example"
WORK_USER = "researcher@contoso.example"


@pytest.fixture
def live() -> LiveApp:
    return LiveApp.reserve()


@pytest.fixture
def settings(
    settings: Settings,
    google: google_emulator.RunningEmulator,
    graph: graph_emulator.RunningEmulator,
    live: LiveApp,
) -> Settings:
    settings.base_url = live.url  # the OAuth redirect URI names the live server
    return point_settings_at(settings, google, graph)


@pytest.fixture
def served(app: FastAPI, live: LiveApp) -> Iterator[str]:
    yield from live.serve(app)


@pytest.fixture
def browser(served: str) -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def connect(page: Any, connector: str, email: str) -> None:
    """Settings > Integrations > Connect …, then the provider's consent page: another account, Allow."""
    page.goto("/settings/integrations")
    page.locator(f"#connect-{connector}").click()
    page.locator("input[name=new_email]").fill(email)
    page.locator("button[value=allow]").click()
    playwright_sync.expect(page.locator("h3", has_text=email)).to_be_visible()


def test_meet_and_teams_links_reach_the_calendars_and_the_participant(
    browser: Any,
    served: str,
    runtime: Runtime,
    researcher: Researcher,
    google: google_emulator.RunningEmulator,
    graph: graph_emulator.RunningEmulator,
) -> None:
    expect = playwright_sync.expect
    researcher_context = browser.new_context(locale="fr-FR", base_url=served)
    researcher_context.set_default_timeout(TIMEOUT_MS)
    page = researcher_context.new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(researcher.email)
    page.get_by_label("Mot de passe").fill(RESEARCHER_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    connect(page, "google", GOOGLE_USER)
    connect(page, "office365", WORK_USER)
    assert runtime.jobs.wait_idle(30)

    with runtime.ctx.sessions() as db:
        destinations = {}
        for account in db.query(CalendarAccount).all():
            default = next(c for c in account.calendars if c.name in (GOOGLE_USER, "Calendar"))
            destinations[account.username] = (default.id, default.remote_id)
    sessions = {
        email: make_session(runtime, researcher, destination=calendar_id, location_kind="remote")
        for email, (calendar_id, _) in destinations.items()
    }
    page.goto(f"/sessions/{sessions[GOOGLE_USER].id}/settings")
    expect(page.locator("#video-link-note")).to_contain_text("Google Meet")
    page.goto(f"/sessions/{sessions[WORK_USER].id}/settings")
    expect(page.locator("#video-link-note")).to_contain_text("Teams")

    participant = browser.new_context(locale="en-GB", timezone_id="Europe/London", base_url=served)
    participant.set_default_timeout(TIMEOUT_MS)
    p = participant.new_page()
    week = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    for email, study_session in sessions.items():
        p.goto(f"/book/{study_session.public_token}?week={week}")
        p.locator("a.slot").first.click()
        p.get_by_label("Your name").fill("Ada Lovelace")
        p.get_by_label("Your email").fill("ada@example.org")
        p.get_by_role("button", name="Book this slot").click()
        expect(p.locator("#booked")).to_be_visible()
        booked_page = p.url

        def written(session_id: int = study_session.id) -> Booking | None:
            with runtime.ctx.sessions() as db:
                found = db.query(Booking).filter_by(session_id=session_id).one()
                return found if found.event_state == "written" and found.join_url else None

        wait_until(lambda: written() is not None, timeout=30, what=f"the event of {email}'s booking")
        booking = written()
        assert booking is not None and booking.remote_id
        remote_calendar = destinations[email][1]
        if email == GOOGLE_USER:
            event = google.state.event(remote_calendar, booking.remote_id)
            assert event is not None
            assert event["conferenceData"]["entryPoints"][0]["uri"] == booking.join_url
            assert booking.join_url.startswith("https://meet.google.com/")
        else:
            stored = graph.state.get_event(booking.remote_id)
            assert stored is not None and stored.data["onlineMeeting"]["joinUrl"] == booking.join_url
            assert booking.join_url.startswith("https://teams.")
        p.goto(booked_page)
        expect(p.locator("#join-url")).to_have_text(booking.join_url)
    participant.close()
    researcher_context.close()
