"""Settings > Integrations against a real Radicale: connect, see the calendars, switch, delete; every error
code's message; other researchers' ids are 404; secrets never in HTML."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from creneau.runtime import Runtime
from creneau.store.models import Calendar, CalendarAccount, CalendarSyncState, Researcher
from tests.servers import RunningServer, free_port
from tests.web.conftest import RADICALE_PASSWORD, RADICALE_USER, csrf_of, seed_account, seen

PAGE = "/settings/integrations"


def connect(client: TestClient, token: str, **fields: str) -> httpx.Response:
    data = {
        "csrf_token": token,
        "provider": "caldav",
        "username": RADICALE_USER,
        "password": RADICALE_PASSWORD,
    }
    response: httpx.Response = client.post(f"{PAGE}/accounts", data={**data, **fields})
    return response


def synced(runtime: Runtime) -> None:
    assert runtime.jobs.wait_idle(timeout=60), "the sync did not finish"


@pytest.fixture
def not_caldav() -> Iterator[str]:
    """A web server that answers every request with a plain page: reachable, but no CalDAV."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>Hello</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_PROPFIND = do_OPTIONS = do_REPORT = do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_connect_radicale_then_see_all_its_calendars(
    client: TestClient, signed_in: str, runtime: Runtime, radicale: RunningServer
) -> None:
    page = connect(client, signed_in, server_url=radicale.url)
    assert page.status_code == 200 and page.url.path == PAGE
    assert "CalDAV — alice est connecté" in seen(page)
    synced(runtime)
    page = client.get(PAGE)
    assert "Work" in seen(page) and "Home" in seen(page)
    assert 'fill="#336699"' in seen(page)
    assert seen(page).count('role="switch"') == 2 and 'aria-checked="true"' in seen(page)
    assert "À jour" in seen(page) and "Dernière synchronisation" in seen(page)
    assert RADICALE_PASSWORD not in seen(page)


def test_sync_now_and_progress_state(
    client: TestClient, signed_in: str, runtime: Runtime, radicale: RunningServer
) -> None:
    connect(client, signed_in, server_url=radicale.url)
    synced(runtime)
    with runtime.ctx.sessions() as session:
        account_id = session.scalars(select(CalendarAccount.id)).one()
    page = client.post(f"{PAGE}/accounts/{account_id}/sync", data={"csrf_token": signed_in})
    assert "La synchronisation de alice a commencé." in seen(page)
    synced(runtime)
    with runtime.ctx.sessions() as session, session.begin():
        account = session.get(CalendarAccount, account_id)
        assert account is not None
        account.status, account.sync_done, account.sync_total = "syncing", 3, 7
    page = client.get(PAGE)
    assert "Synchronisation en cours" in seen(page) and "3/7" in seen(page)
    assert 'data-poll="on"' in seen(page) and 'http-equiv="refresh"' in seen(page)


def test_wrong_caldav_password_keeps_what_was_typed_but_the_password(
    client: TestClient, signed_in: str, radicale: RunningServer
) -> None:
    page = connect(client, signed_in, server_url=radicale.url, password="typed-wrong-password")
    assert page.status_code == 422
    assert "Le serveur a refusé le nom d'utilisateur ou le mot de passe." in seen(page)
    assert f'value="{radicale.url}"' in seen(page) and f'value="{RADICALE_USER}"' in seen(page)
    assert "typed-wrong-password" not in seen(page)
    assert "Aucun compte de calendrier n'est encore connecté." in seen(page)  # nothing stored


def test_wrong_icloud_password_explains_app_specific_passwords(
    client: TestClient, signed_in: str, runtime: Runtime, radicale: RunningServer
) -> None:
    runtime.settings.icloud_caldav_url = radicale.url  # our Radicale plays iCloud's part
    page = connect(
        client, signed_in, provider="icloud", username="alice@icloud.com", password="my-apple-id-password"
    )
    assert page.status_code == 422
    assert "iCloud demande un mot de passe pour app, pas le mot de passe de votre identifiant Apple" in seen(
        page
    )
    assert seen(page).count("https://support.apple.com/en-us/102654") == 2  # the sentence and the error
    assert 'value="alice@icloud.com"' in seen(page) and "my-apple-id-password" not in seen(page)
    english = client.post(
        f"{PAGE}/accounts",
        data={"csrf_token": signed_in, "provider": "icloud", "username": "a@icloud.com", "password": "x"},
        headers={"Accept-Language": "en"},
    )
    assert (
        "iCloud refused the password: iCloud needs an app-specific password, not your Apple ID password."
        in seen(english)
    )


def test_unreachable_server(client: TestClient, signed_in: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    page = connect(client, signed_in, server_url=url)
    assert page.status_code == 422  # the address to fix: the form again
    assert "Impossible de joindre le serveur (vérifiez l'adresse, ou le serveur est hors service)." in seen(
        page
    )
    assert f'value="{url}"' in seen(page)


def test_address_answering_but_not_caldav(client: TestClient, signed_in: str, not_caldav: str) -> None:
    page = connect(client, signed_in, server_url=not_caldav)
    assert page.status_code == 422
    assert "Cette adresse répond, mais ce n'est pas un serveur CalDAV." in seen(page)


def test_private_network_address_is_refused(client: TestClient, signed_in: str) -> None:
    page = connect(client, signed_in, server_url="http://10.11.12.13/dav/")
    assert page.status_code == 422
    assert "Cette adresse mène à un réseau privé, ce que ce creneau n'autorise pas." in seen(page)


def test_bad_fields_are_named(client: TestClient, signed_in: str) -> None:
    page = connect(client, signed_in, server_url="  ")
    assert page.status_code == 422 and "Adresse du serveur" in seen(page)
    assert 'aria-invalid="true"' in seen(page)
    page = client.post(f"{PAGE}/accounts", data={"csrf_token": signed_in, "username": "x", "password": "y"})
    assert page.status_code == 422 and "Vérifiez ces champs : Service de calendrier." in seen(page)


def test_conflict_switch_works_without_javascript(
    client: TestClient, signed_in: str, runtime: Runtime, researcher: Researcher
) -> None:
    _, (calendar_id,) = seed_account(runtime, researcher)
    page = client.post(
        f"{PAGE}/calendars/{calendar_id}/conflicts", data={"csrf_token": signed_in, "check_conflicts": "off"}
    )
    assert "Les conflits avec « Work » ne sont plus vérifiés." in seen(page)
    assert 'aria-checked="false"' in seen(page) and 'value="on"' in seen(page)
    with runtime.ctx.sessions() as session:
        assert session.get(Calendar, calendar_id).check_conflicts is False  # type: ignore[union-attr]
    page = client.post(
        f"{PAGE}/calendars/{calendar_id}/conflicts", data={"csrf_token": signed_in, "check_conflicts": "on"}
    )
    assert 'aria-checked="true"' in seen(page)


def test_statuses_and_malformed_report(
    client: TestClient, signed_in: str, runtime: Runtime, researcher: Researcher
) -> None:
    seed_account(runtime, researcher, username="broken", status="reconnect_needed")
    seed_account(
        runtime, researcher, username="failing", status="error", status_detail="HTTP 500 from server"
    )
    _, (calendar_id,) = seed_account(runtime, researcher, username="partial")
    with runtime.ctx.sessions() as session, session.begin():
        state = session.get(CalendarSyncState, calendar_id)
        assert state is not None
        state.malformed_count, state.malformed_detail = 3, "/partial/Work/x.ics: no DTSTART"
    page = client.get(PAGE)
    assert "Reconnexion nécessaire" in seen(page)
    assert "supprimez le compte puis reconnectez-le avec un nouveau mot de passe" in seen(page)
    assert "HTTP 500 from server" in seen(page)
    assert "3 événements de « Work » n'ont pas pu être lus et ont été ignorés." in seen(page)
    assert "/partial/Work/x.ics: no DTSTART" in seen(page)
    english = seen(client.get(PAGE, headers={"Accept-Language": "en"}))
    assert "3 events in «Work» could not be read and were skipped." in english
    assert "Reconnect needed" in english and "5 minutes ago" in english


def test_delete_one_account_with_confirmation_page(
    client: TestClient, signed_in: str, runtime: Runtime, researcher: Researcher
) -> None:
    kept, _ = seed_account(runtime, researcher, username="kept")
    gone, _ = seed_account(runtime, researcher, username="gone", calendars=("A", "B"))
    page = client.post(f"{PAGE}/accounts/{gone}/delete", data={"csrf_token": signed_in})  # as without JS
    assert "Supprimer le compte" in seen(page) and "CalDAV — gone (2 calendriers)" in seen(page)
    token = csrf_of(page.text)
    page = client.post(f"{PAGE}/accounts/{gone}/delete", data={"csrf_token": token, "confirmed": "yes"})
    assert page.url.path == PAGE
    assert "Ce compte a été supprimé :" in seen(page) and "CalDAV — gone" in seen(page)
    assert "2 calendriers et 0 événement synchronisé" in seen(page)
    with runtime.ctx.sessions() as session:
        assert session.scalars(select(CalendarAccount.id)).all() == [kept]
    assert "Ce compte a été supprimé" not in seen(client.get(PAGE))  # said once


def test_delete_all_accounts(
    client: TestClient, signed_in: str, runtime: Runtime, researcher: Researcher
) -> None:
    for name in ("one", "two"):
        seed_account(runtime, researcher, username=name)
    page = client.get(f"{PAGE}/delete-all", headers={"Accept-Language": "en"})
    assert (
        "Delete all accounts" in seen(page) and "CalDAV — one" in seen(page) and "CalDAV — two" in seen(page)
    )
    page = client.post(f"{PAGE}/delete-all", data={"csrf_token": signed_in, "confirmed": "yes"})
    assert "Ces comptes ont été supprimés :" in seen(page) and "2 calendriers" in seen(page)
    assert "Aucun compte de calendrier n'est encore connecté." in seen(page)


def test_another_researchers_account_is_404_on_every_page(
    client: TestClient, signed_in: str, runtime: Runtime, other_researcher: Researcher
) -> None:
    account_id, (calendar_id,) = seed_account(runtime, other_researcher, username="theirs")
    assert client.get(f"{PAGE}/accounts/{account_id}/delete").status_code == 404
    for path, data in [
        (f"{PAGE}/accounts/{account_id}/delete", {"confirmed": "yes"}),
        (f"{PAGE}/accounts/{account_id}/sync", {}),
        (f"{PAGE}/calendars/{calendar_id}/conflicts", {"check_conflicts": "off"}),
    ]:
        page = client.post(path, data={"csrf_token": signed_in, **data})
        assert page.status_code == 404, path
        assert "Cette page ou cet objet n'existe pas, ou ne vous appartient pas." in seen(page)
    assert "theirs" not in seen(client.get(PAGE))
    with runtime.ctx.sessions() as session:
        calendar = session.get(Calendar, calendar_id)
        assert calendar is not None and calendar.check_conflicts
