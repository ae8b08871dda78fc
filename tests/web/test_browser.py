"""The pages in a real Chromium (Debian's, driven by Playwright) against the app served by uvicorn and a real
Radicale: sign in, connect the account, see its calendars, switch one off, delete the account, and check
free/busy through the API at each step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from creneau.serving import serve_in_thread
from creneau.store.models import Researcher
from tests.conftest import RESEARCHER_PASSWORD
from tests.servers import RunningServer
from tests.web.conftest import RADICALE_PASSWORD, RADICALE_USER, TODAY

pytestmark = pytest.mark.browser
playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    running = serve_in_thread(app, name="uvicorn")
    yield running.url
    running.stop()


@pytest.fixture
def browser_page(live_server: str) -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(locale="fr-FR", base_url=live_server)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page
        assert outside == [], f"requests left the server: {outside}"  # no CDN, no phone-home
        assert errors == [], f"JavaScript errors: {errors}"
        browser.close()


def busy_starts(page: Any) -> list[str]:
    start, end = TODAY, TODAY + timedelta(days=7)
    response = page.request.get(
        f"/api/v1/free_busy?from={start:%Y-%m-%dT%H:%M:%SZ}&to={end:%Y-%m-%dT%H:%M:%SZ}"
    )
    assert response.ok, response.text()
    return [period["start"] for period in response.json()["busy"]]


def test_connect_switch_and_delete_in_a_browser(
    browser_page: Any, researcher: Researcher, radicale: RunningServer
) -> None:
    page = browser_page
    expect = playwright_sync.expect
    page.goto("/settings/integrations")
    expect(page).to_have_url("/login?next=%2Fsettings%2Fintegrations".join(["", ""]) or page.url)
    page.get_by_label("E-mail").fill(researcher.email)
    page.get_by_label("Mot de passe").fill(RESEARCHER_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Intégrations", level=1)).to_be_visible()

    form = page.locator("#connect-caldav")
    form.get_by_label("Adresse du serveur").fill(radicale.url)
    form.get_by_label("Nom d'utilisateur").fill(RADICALE_USER)
    form.get_by_label("Mot de passe").fill(RADICALE_PASSWORD)
    form.get_by_role("button", name="Connecter un calendrier").click()

    account = page.locator("article.account")
    expect(account).to_have_count(1)
    expect(account.locator("h3")).to_have_text(f"CalDAV — {RADICALE_USER}")
    # The page polls the API while the first sync runs, then reloads itself: wait for the badge.
    expect(account.locator('[data-role="badge"]')).to_have_text("À jour", timeout=60_000)
    expect(account.locator(".calendar-name")).to_have_text(["Home", "Work"])
    assert RADICALE_PASSWORD not in page.content()
    assert len(busy_starts(page)) == 2  # tomorrow's stand-up (Work) and dentist (Home)

    home = page.locator("li.calendar", has_text="Home")
    switch = home.get_by_role("switch", name="Vérifier les conflits")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(page.locator("li.calendar", has_text="Home").get_by_role("switch")).to_have_attribute(
        "aria-checked", "false"
    )
    expect(page.get_by_text("ne sont plus vérifiés")).to_be_visible()
    (standup,) = busy_starts(page)
    assert standup.startswith((TODAY + timedelta(days=1)).strftime("%Y-%m-%dT09:00"))

    page.once("dialog", lambda dialog: dialog.accept())
    account.get_by_role("button", name="Supprimer le compte").click()
    report = page.locator("#deletion-report")
    expect(report).to_contain_text(f"CalDAV — {RADICALE_USER}")
    expect(report).to_contain_text("2 calendriers et 2 événements synchronisés")
    expect(page.locator("article.account")).to_have_count(0)
    assert busy_starts(page) == []


def test_swagger_ui_renders_from_local_files(browser_page: Any) -> None:
    page = browser_page
    page.goto("/docs")
    playwright_sync.expect(page.get_by_text("/api/v1/free_busy")).to_be_visible()
