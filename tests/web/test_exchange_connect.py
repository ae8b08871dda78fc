"""Connect Exchange through the real pages and API against the EWS emulator: Autodiscover fails, the form
says so and shows the EWS address field; with it the account connects and its calendar folders sync; every
Exchange error has its own words; nothing is stored on failure; the password never shows and is encrypted."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

pytest.importorskip("exchangelib")

from creneau.emulators.ews import RunningEmulator, start
from creneau.runtime import Runtime
from creneau.store.models import Calendar, CalendarAccount, Researcher
from tests.scheduling.conftest import make_session
from tests.web.conftest import seen
from tests.web.test_api import token_for

PAGE = "/settings/integrations"
PASSWORD = "Exch4nge!pw"
_numbers = itertools.count()


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    running = start()
    yield running
    from exchangelib import close_connections  # type: ignore[import-untyped]

    close_connections()
    running.stop()


@pytest.fixture
def mailbox(emulator: RunningEmulator) -> Iterator[tuple[str, str]]:
    number = next(_numbers)
    email = f"web{number:03d}@contoso.example"
    emulator.state.add_mailbox(email, PASSWORD, username=f"web{number:03d}")
    emulator.state.add_folder(email, "Lab meetings")
    yield email, f"CONTOSO\\web{number:03d}"
    emulator.state.faults.clear()


@pytest.fixture
def not_ews() -> Iterator[str]:
    """A web server that answers every POST with a plain page: reachable, but not EWS."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = b"<html><body>Hello</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/EWS/Exchange.asmx"
    server.shutdown()
    server.server_close()


def connect(client: TestClient, token: str, **fields: str) -> httpx.Response:
    response: httpx.Response = client.post(f"{PAGE}/exchange", data={"csrf_token": token, **fields})
    return response


def accounts(runtime: Runtime) -> list[CalendarAccount]:
    with runtime.ctx.sessions() as session:
        return list(session.scalars(select(CalendarAccount)).all())


def test_autodiscover_fails_then_the_ews_address_connects(
    client: TestClient, signed_in: str, runtime: Runtime, emulator: RunningEmulator, mailbox: tuple[str, str]
) -> None:
    email, logon = mailbox
    page = client.get(PAGE)
    assert 'id="connect-exchange"' in page.text and 'name="ews_url"' not in page.text

    page = connect(client, signed_in, email=email, username=logon, password=PASSWORD)
    assert page.status_code == 422
    assert "La découverte automatique (Autodiscover) n'a pas trouvé le serveur Exchange" in seen(page)
    assert 'name="ews_url"' in page.text and "/EWS/Exchange.asmx" in seen(page)
    assert f'value="{email}"' in page.text and PASSWORD not in page.text
    assert accounts(runtime) == []

    page = connect(
        client, signed_in, email=email, username=logon, password=PASSWORD, ews_url=emulator.ews_url
    )
    assert page.status_code == 200 and page.url.path == PAGE, seen(page)[:2000]
    assert f"Exchange — {email} est connecté" in seen(page)
    assert runtime.jobs.wait_idle(timeout=60), "the sync did not finish"
    page = client.get(PAGE)
    assert "Calendar" in seen(page) and "Lab meetings" in seen(page)
    assert PASSWORD not in page.text
    [account] = accounts(runtime)
    assert account.provider == "exchange" and account.server_url == emulator.ews_url
    assert account.principal_url == f"mailto:{email}"
    assert (
        PASSWORD.encode() not in account.credentials
        and runtime.ctx.vault.decrypt(account.credentials) == PASSWORD
    )
    assert account.status == "ok", account.status_detail


def test_each_exchange_error_has_its_own_words_and_stores_nothing(
    client: TestClient,
    signed_in: str,
    runtime: Runtime,
    emulator: RunningEmulator,
    mailbox: tuple[str, str],
    not_ews: str,
) -> None:
    email, logon = mailbox
    url = emulator.ews_url
    cases = [
        ({"password": "wrong"}, "DOMAINE\\utilisateur"),
        ({"email": "nobody@contoso.example"}, "n'a pas de boîte aux lettres"),
        ({"ews_url": not_ews}, "ce n'est pas une adresse Exchange Web Services"),
        ({"ews_url": "ftp://mail.contoso.example/"}, "doit commencer par https://"),
        ({"ews_url": "http://[::1"}, "le nom d'hôte de l'adresse du serveur n'est pas valide"),
        (
            {"ews_url": "https://mail.contoso.example:99999/"},
            "le port de l'adresse du serveur doit être un nombre de 1 à 65535",
        ),
        ({"email": "not-an-address"}, "adresse e-mail"),
    ]
    for fields, words in cases:
        data = {"email": email, "username": logon, "password": PASSWORD, "ews_url": url, **fields}
        page = connect(client, signed_in, **data)
        assert page.status_code == 422, (fields, seen(page)[:500])
        assert words in seen(page), (fields, seen(page)[:3000])
        assert 'id="connect-exchange-error"' in page.text
        assert data["password"] not in page.text
    emulator.state.faults.busy_next(2, back_off_ms=3000)
    page = connect(client, signed_in, email=email, username=logon, password=PASSWORD, ews_url=url)
    assert page.status_code == 503 and "Le serveur Exchange est surchargé" in seen(page)
    emulator.state.faults.clear()
    assert accounts(runtime) == []


def test_the_errors_in_english(
    client: TestClient, signed_in: str, emulator: RunningEmulator, mailbox: tuple[str, str]
) -> None:
    email, _logon = mailbox
    page = client.post(
        f"{PAGE}/exchange",
        data={"csrf_token": signed_in, "email": email, "username": email, "password": "nope"},
        headers={"Accept-Language": "en"},
    )
    assert "Autodiscover could not find the Exchange server" in seen(page)
    assert "EWS address" in seen(page)
    page = client.post(
        f"{PAGE}/exchange",
        data={
            "csrf_token": signed_in,
            "email": email,
            "username": email,
            "password": "nope",
            "ews_url": emulator.ews_url,
        },
        headers={"Accept-Language": "en"},
    )
    assert "as DOMAIN\\user (or user@domain)" in seen(page)


def test_connect_from_a_session_comes_back_to_it_and_says_which_video_link(
    client: TestClient,
    signed_in: str,
    runtime: Runtime,
    researcher: Researcher,
    emulator: RunningEmulator,
    mailbox: tuple[str, str],
) -> None:
    email, logon = mailbox
    study_session = make_session(runtime, researcher, destination=None)
    settings_path = f"/sessions/{study_session.id}/settings"
    assert 'action="/settings/integrations/exchange"' in client.get(settings_path).text
    page = connect(
        client,
        signed_in,
        email=email,
        username=logon,
        password=PASSWORD,
        ews_url=emulator.ews_url,
        next=settings_path,
    )
    assert page.url.path == settings_path
    with runtime.ctx.sessions() as db:
        calendar = db.scalars(select(Calendar).where(Calendar.name == "Calendar")).one()
    assert str(page.url).endswith(f"?calendar={calendar.id}#destination")
    assert f'<option value="{calendar.id}" selected>' in page.text
    assert "ne peuvent pas créer de réunions Teams" in seen(page)
    assert "lien Jitsi Meet" in seen(page)


def test_api_connects_exchange(
    client: TestClient,
    runtime: Runtime,
    researcher: Researcher,
    emulator: RunningEmulator,
    mailbox: tuple[str, str],
) -> None:
    email, logon = mailbox
    auth = token_for(runtime, researcher)
    missing = client.post(
        "/api/v1/accounts",
        headers=auth,
        json={"provider": "exchange", "username": logon, "password": PASSWORD},
    )
    assert missing.status_code == 422 and "email" in missing.text
    body = {
        "provider": "exchange",
        "email": email,
        "username": logon,
        "password": PASSWORD,
        "server_url": emulator.ews_url,
    }
    wrong = client.post(
        "/api/v1/accounts", headers={**auth, "Accept-Language": "en"}, json={**body, "password": "bad"}
    )
    assert wrong.status_code == 422
    assert (
        wrong.json()["detail"]["code"] == "auth_failed"
        and "DOMAIN\\user" in wrong.json()["detail"]["message"]
    )
    made = client.post("/api/v1/accounts", headers=auth, json=body)
    assert made.status_code == 201, made.text
    names = sorted(c["name"] for c in made.json()["calendars"])
    assert names == ["Calendar", "Lab meetings"]
    assert PASSWORD not in made.text
