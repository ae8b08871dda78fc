"""Connecting Google, Office 365 and Outlook.com accounts through the consent pages, reconnecting them, and
what the Integrations page says — the OAuth path a researcher's browser takes, against the emulators."""

from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from creneau.calendars.oauth import TokenSet
from creneau.calendars.sync import sync_account
from creneau.config import Settings
from creneau.emulators import google as google_emulator
from creneau.emulators import msgraph as graph_emulator
from creneau.runtime import Runtime
from creneau.store.models import CalendarAccount, Researcher
from tests.cloud import consent, local, point_settings_at
from tests.conftest import make_researcher
from tests.scheduling.conftest import make_session
from tests.web.conftest import seen, sign_in


@pytest.fixture(autouse=True)
def english(client: TestClient) -> None:
    """These tests read the English messages (the French ones are checked in test_i18n and below)."""
    client.headers["Accept-Language"] = "en"


@pytest.fixture
def settings(
    settings: Settings, google: google_emulator.RunningEmulator, graph: graph_emulator.RunningEmulator
) -> Settings:
    return point_settings_at(settings, google, graph)


def start(client: TestClient, path: str) -> str:
    """Follow a Connect/Reconnect link up to the provider; returns the consent page's URL."""
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def connect(client: TestClient, connector: str, email: str, *, next_path: str = "") -> httpx.Response:
    authorize = start(
        client, f"/settings/integrations/connect/{connector}" + (f"?next={next_path}" if next_path else "")
    )
    back = consent(authorize, email)
    response: httpx.Response = client.get(local(back))
    return response


def accounts(runtime: Runtime) -> list[CalendarAccount]:
    with runtime.ctx.sessions() as db:
        found = db.query(CalendarAccount).order_by(CalendarAccount.id).all()
        for a in found:
            _ = a.calendars
        return found


def test_the_authorization_request_uses_pkce_and_a_state(client: TestClient, researcher: Researcher) -> None:
    sign_in(client, researcher.email)
    page = client.get("/settings/integrations")
    for connector in ("google", "office365", "outlook"):
        assert f'id="connect-{connector}"' in page.text
    query = parse_qs(urlsplit(start(client, "/settings/integrations/connect/google")).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["access_type"] == ["offline"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/oauth/callback"]
    assert len(query["state"][0]) >= 30
    ms = parse_qs(urlsplit(start(client, "/settings/integrations/connect/outlook")).query)
    assert "/consumers/oauth2/v2.0/authorize" in start(client, "/settings/integrations/connect/outlook")
    assert "offline_access" in ms["scope"][0]


def test_connect_google_office365_and_outlook(
    client: TestClient,
    runtime: Runtime,
    researcher: Researcher,
    google: google_emulator.RunningEmulator,
    graph: graph_emulator.RunningEmulator,
) -> None:
    google.state.add_user("ada@gmail.example")
    google.state.add_calendar("ada@gmail.example", "Interviews", access_role="owner")
    sign_in(client, researcher.email)
    page = connect(client, "google", "ada@gmail.example")
    assert "Google — ada@gmail.example" in seen(page)
    page = connect(client, "office365", "ada@contoso.example")
    assert "Office 365 — ada@contoso.example" in seen(page)
    page = connect(client, "outlook", "ada@outlook.com")
    assert "Outlook.com — ada@outlook.com" in seen(page)

    found = {a.username: a for a in accounts(runtime)}
    assert set(found) == {"ada@gmail.example", "ada@contoso.example", "ada@outlook.com"}
    assert {c.name for c in found["ada@gmail.example"].calendars} == {"ada@gmail.example", "Interviews"}
    assert found["ada@contoso.example"].connector == "office365"
    assert found["ada@outlook.com"].connector == "outlook"
    # Tokens are stored encrypted: no token text in the row.
    with runtime.ctx.sessions() as db:
        row = db.get(CalendarAccount, found["ada@gmail.example"].id)
        assert row is not None and b"access_token" not in row.credentials
    assert runtime.jobs.wait_idle(30)
    for account in accounts(runtime):
        assert account.status == "ok", (account.username, account.status_detail)
    # Native links: Meet for Google, Teams for the work account, none for the personal one.
    conferencing = {a.username: {c.conferencing for c in a.calendars} for a in accounts(runtime)}
    assert conferencing == {
        "ada@gmail.example": {"google_meet"},
        "ada@contoso.example": {"teams"},
        "ada@outlook.com": {None},
    }


def test_a_foreign_or_replayed_state_connects_nothing(
    client: TestClient, runtime: Runtime, researcher: Researcher
) -> None:
    sign_in(client, researcher.email)
    authorize = start(client, "/settings/integrations/connect/google")
    back = consent(authorize, "eve@gmail.example")
    other = TestClient(client.app, headers={"Accept-Language": "en"})
    make_researcher(runtime, "mallory@lab.example")
    sign_in(other, "mallory@lab.example")
    refused = other.get(local(back))
    assert "was not expected" in seen(refused)
    assert accounts(runtime) == []
    tampered = local(back).replace("state=", "state=x")
    assert "was not expected" in seen(client.get(tampered))
    assert accounts(runtime) == []


def test_denied_consent_says_so(client: TestClient, runtime: Runtime, researcher: Researcher) -> None:
    sign_in(client, researcher.email)
    back = consent(
        start(client, "/settings/integrations/connect/office365"), "bob@contoso.example", allow=False
    )
    page = client.get(local(back))
    assert "You did not allow creneau to use your Office 365 calendars" in seen(page)
    assert accounts(runtime) == []


@pytest.mark.parametrize("connector", ["google", "office365"])
def test_revoked_access_needs_reconnect_and_reconnect_keeps_everything(
    client: TestClient,
    runtime: Runtime,
    researcher: Researcher,
    google: google_emulator.RunningEmulator,
    graph: graph_emulator.RunningEmulator,
    connector: str,
) -> None:
    email = f"revoked-{connector}@example.org"
    sign_in(client, researcher.email)
    connect(client, connector, email)
    assert runtime.jobs.wait_idle(30)
    (account,) = accounts(runtime)
    calendar_ids = sorted(c.id for c in account.calendars)
    with runtime.ctx.sessions() as db, db.begin():
        first = db.get(type(account.calendars[0]), calendar_ids[0])
        assert first is not None
        first.check_conflicts = False  # a choice the reconnect must keep

    # The researcher removes creneau from the account's connected apps: every token stops working.
    if connector == "google":
        _revoke_google(google, email)
    else:
        graph.state.revoke(email=email)
    report = sync_account(runtime.ctx, account_id=account.id)
    assert report is not None and report.status == "reconnect_needed"
    page = client.get("/settings/integrations")
    assert f'id="reconnect-{account.id}"' in page.text
    assert "Its last synchronised busy times still count" in seen(page)

    authorize = start(client, f"/settings/integrations/accounts/{account.id}/reconnect")
    assert "login_hint=" in authorize
    page = client.get(local(consent(authorize, email)))
    assert "is reconnected" in seen(page)
    assert runtime.jobs.wait_idle(30)
    (again,) = accounts(runtime)
    assert again.id == account.id and again.status == "ok"
    assert sorted(c.id for c in again.calendars) == calendar_ids
    assert min(again.calendars, key=lambda c: c.id).check_conflicts is False


def test_reconnect_with_another_account_is_refused(
    client: TestClient, runtime: Runtime, researcher: Researcher
) -> None:
    sign_in(client, researcher.email)
    connect(client, "google", "first@gmail.example")
    (account,) = accounts(runtime)
    authorize = start(client, f"/settings/integrations/accounts/{account.id}/reconnect")
    page = client.get(local(consent(authorize, "second@gmail.example")))
    assert "you signed in as second@gmail.example, but this account is first@gmail.example" in seen(page)
    assert [a.username for a in accounts(runtime)] == ["first@gmail.example"]


def _revoke_google(google: google_emulator.RunningEmulator, email: str) -> None:
    with google.state.lock:
        refresh = [
            t.value for t in google.state.accounts.tokens.values() if t.email == email and t.kind == "refresh"
        ]
    for token in refresh:
        google.state.revoke(token)


def test_connecting_from_a_sessions_settings_comes_back_with_the_calendar_chosen(
    client: TestClient, runtime: Runtime, researcher: Researcher
) -> None:
    study_session = make_session(runtime, researcher, destination=None)
    settings_path = f"/sessions/{study_session.id}/settings"
    sign_in(client, researcher.email)
    assert (
        'id="connect-google" href="/settings/integrations/connect/google?next='
        in client.get(settings_path).text
    )
    page = connect(client, "google", "from-settings@gmail.example", next_path=settings_path)
    assert page.url.path == settings_path
    (account,) = accounts(runtime)
    assert str(page.url).endswith(f"?calendar={account.calendars[0].id}#destination")
    assert f'<option value="{account.calendars[0].id}" selected>' in page.text


def test_a_token_about_to_expire_is_refreshed_before_use_and_only_then(
    client: TestClient, runtime: Runtime, researcher: Researcher
) -> None:
    sign_in(client, researcher.email)
    connect(client, "google", "expiring@gmail.example")
    assert runtime.jobs.wait_idle(30)
    (account,) = accounts(runtime)
    before = runtime.ctx.tokens.refreshes
    report = sync_account(runtime.ctx, account_id=account.id)
    assert report is not None and report.status == "ok" and runtime.ctx.tokens.refreshes == before
    with runtime.ctx.sessions() as db, db.begin():
        row = db.get(CalendarAccount, account.id)
        assert row is not None
        tokens = TokenSet.from_secret(runtime.ctx.vault.decrypt(row.credentials))
        soon = replace(tokens, expires_at=time.time() + 10)  # inside the 300 s margin
        row.credentials = runtime.ctx.vault.encrypt(soon.to_secret())
    report = sync_account(runtime.ctx, account_id=account.id)
    assert report is not None and report.status == "ok" and runtime.ctx.tokens.refreshes == before + 1
    with runtime.ctx.sessions() as db:
        row = db.get(CalendarAccount, account.id)
        assert row is not None
        renewed = TokenSet.from_secret(runtime.ctx.vault.decrypt(row.credentials))
    assert (
        renewed.access_token != tokens.access_token
        and renewed.expires_at
        and renewed.expires_at > time.time() + 600
    )
    sync_account(runtime.ctx, account_id=account.id)
    assert runtime.ctx.tokens.refreshes == before + 1
