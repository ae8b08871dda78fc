"""User-typed server URLs: every connect path refuses user info, bad host names, bad ports, control characters
and over-long URLs with a clear FR/EN message (422 naming ``server_url`` on the API, the form again on the
pages), never a 500; no password typed in a URL is stored, answered or shown; and an account whose stored
URL cannot be read fails its sync as a recorded error instead of crashing it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from creneau.calendars.providers.urls import check_server_url
from creneau.calendars.sync import sync_account
from creneau.errors import InvalidServerUrl
from creneau.runtime import Runtime
from creneau.store.models import CalendarAccount, Researcher
from creneau.web.app import create_app
from tests.scheduling.conftest import make_session
from tests.servers import RunningServer
from tests.web.conftest import RADICALE_PASSWORD, RADICALE_USER, seen, sign_in
from tests.web.test_api import token_for

PAGE = "/settings/integrations"
API = "/api/v1/accounts"

NO_HOST_EN = "the host name of the server URL is not valid"
NO_HOST_FR = "le nom d'hôte de l'adresse du serveur n'est pas valide"
CONTROL_EN = "the server URL may not contain spaces or control characters"
CONTROL_FR = "l'adresse du serveur ne peut contenir ni espace ni caractère de contrôle"
PORT_EN = "the port of the server URL must be a number from 1 to 65535"
PORT_FR = "le port de l'adresse du serveur doit être un nombre de 1 à 65535"
USERINFO_EN = "the server URL may not contain a username or password: type them in their own fields"
USERINFO_FR = "l'adresse du serveur ne peut contenir ni nom d'utilisateur ni mot de passe"

BAD_URLS = [
    ("http://£/", NO_HOST_EN, NO_HOST_FR),
    ("http://xn--a.com/", NO_HOST_EN, NO_HOST_FR),  # bad punycode
    ("http://[::1", NO_HOST_EN, NO_HOST_FR),  # unclosed bracket
    ("http://[fe80::1%25eth0]/", NO_HOST_EN, NO_HOST_FR),  # a zone id
    ("http://☃.net/", NO_HOST_EN, NO_HOST_FR),  # no IDNA form
    ("http://exa_mple.com/", NO_HOST_EN, NO_HOST_FR),
    ("http://-a.com/", NO_HOST_EN, NO_HOST_FR),
    ("http://a..b/", NO_HOST_EN, NO_HOST_FR),
    ("http://%41.com/", NO_HOST_EN, NO_HOST_FR),
    ("http://1.2.3.999/", NO_HOST_EN, NO_HOST_FR),
    ("http://2130706433/", NO_HOST_EN, NO_HOST_FR),  # 127.0.0.1 as one number
    ("http://evil.example\\@good.example/", USERINFO_EN, USERINFO_FR),
    ("http://host\t.com/", CONTROL_EN, CONTROL_FR),
    ("http://a b.com/", CONTROL_EN, CONTROL_FR),
    ("https://caldav.example.org/\u202eptth", CONTROL_EN, CONTROL_FR),  # a bidirectional override
    ("http:///calendars/", "the server URL has no host name", "l'adresse du serveur n'a pas de nom d'hôte"),
    ("http://host:99999/", PORT_EN, PORT_FR),
    ("http://host:0/", PORT_EN, PORT_FR),
    ("http://host:abc/", PORT_EN, PORT_FR),
    ("http://bob:secret@caldav.example.org/", USERINFO_EN, USERINFO_FR),
    ("http://bob@caldav.example.org/", USERINFO_EN, USERINFO_FR),
    (
        "https://caldav.example.org/" + "x" * 2000,
        "the server URL may be at most 2000 characters long",
        "l'adresse du serveur ne peut dépasser 2000 caractères",
    ),
]


def _stored_accounts(runtime: Runtime) -> list[CalendarAccount]:
    with runtime.ctx.sessions() as session:
        return list(session.scalars(select(CalendarAccount)))


def _connect_page(client: TestClient, csrf: str, url: str, language: str, **extra: str) -> tuple[int, str]:
    response = client.post(
        f"{PAGE}/accounts",
        data={
            "csrf_token": csrf,
            "provider": "caldav",
            "server_url": url,
            "username": RADICALE_USER,
            "password": "typed-password-123",
            **extra,
        },
        headers={"Accept-Language": language},
    )
    return response.status_code, seen(response)


@pytest.mark.parametrize(("url", "english", "french"), BAD_URLS)
def test_the_integrations_page_refuses_a_bad_server_url_with_the_form_again(
    client: TestClient, signed_in: str, runtime: Runtime, url: str, english: str, french: str
) -> None:
    status, page = _connect_page(client, signed_in, url, "en")
    assert status == 422
    assert f"Server address: {english}" in page
    assert 'id="connect-caldav"' in page and f'value="{RADICALE_USER}"' in page  # the form, filled again
    assert "typed-password-123" not in page and "secret@" not in page
    status, page = _connect_page(client, signed_in, url, "fr")
    assert status == 422 and f"Adresse du serveur : {french}" in page
    assert _stored_accounts(runtime) == []


def test_a_nul_byte_in_the_server_url_is_refused_before_anything_reads_it(
    client: TestClient, signed_in: str, runtime: Runtime, researcher: Researcher
) -> None:
    """NUL is refused app-wide (web/params.py: no column can store it), on the page and on the API."""
    status, page = _connect_page(client, signed_in, "http://a\x00b.com/", "en")
    assert status == 422 and "cannot be stored" in page
    assert "typed-password-123" not in page
    body = {"provider": "caldav", "server_url": "http://a\x00b.com/", "username": "a", "password": "p"}
    response = client.post(
        API, headers={**token_for(runtime, researcher), "Accept-Language": "en"}, json=body
    )
    assert response.status_code == 422 and response.json()["detail"]["field"] == "server_url", response.text
    assert _stored_accounts(runtime) == []


@pytest.mark.parametrize(("url", "english", "french"), BAD_URLS)
def test_the_api_answers_422_naming_server_url(
    client: TestClient, runtime: Runtime, researcher: Researcher, url: str, english: str, french: str
) -> None:
    auth = token_for(runtime, researcher)
    body = {"provider": "caldav", "server_url": url, "username": "a", "password": "typed-password-123"}
    response = client.post(API, headers={**auth, "Accept-Language": "en"}, json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    if len(url) > 2000:  # the schema's own limit answers first, in FastAPI's shape
        assert "server_url" in [item["loc"][-1] for item in detail]
    else:
        assert detail["field"] == "server_url" and detail["message"] == f"Server address: {english}"
        french_answer = client.post(API, headers={**auth, "Accept-Language": "fr"}, json=body).json()
        message = french_answer["detail"]["message"].replace("\u00a0", " ").replace("\u202f", " ")
        assert message.startswith(f"Adresse du serveur : {french}")
    assert "typed-password-123" not in response.text and "secret" not in response.text
    assert _stored_accounts(runtime) == []


def test_connect_a_calendar_from_a_sessions_settings_refuses_it_too(
    client: TestClient, signed_in: str, runtime: Runtime, researcher: Researcher
) -> None:
    study_session = make_session(runtime, researcher, destination=None)
    back = f"/sessions/{study_session.id}/settings"
    status, page = _connect_page(client, signed_in, "http://bob:secret@[::1/", "en", next=back)
    assert status == 422 and f"Server address: {USERINFO_EN}" in page
    assert f'name="next" value="{back}"' in page  # a corrected form still goes back to the session
    assert "secret" not in page
    assert _stored_accounts(runtime) == []


def test_a_password_in_a_real_servers_url_is_refused_and_never_stored(
    client: TestClient,
    signed_in: str,
    runtime: Runtime,
    radicale: RunningServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = radicale.url
    with_password = url.replace("http://", f"http://{RADICALE_USER}:{RADICALE_PASSWORD}@")
    caplog.set_level(logging.DEBUG)
    status, page = _connect_page(client, signed_in, with_password, "en")
    assert status == 422 and USERINFO_EN in page and RADICALE_PASSWORD not in page
    assert _stored_accounts(runtime) == []
    assert RADICALE_PASSWORD not in caplog.text
    # Typed in their own fields, the same credentials connect: the password is then encrypted.
    status, page = _connect_page(client, signed_in, url, "en", password=RADICALE_PASSWORD)
    assert status == 200 and RADICALE_PASSWORD not in page
    (account,) = _stored_accounts(runtime)
    assert (
        RADICALE_PASSWORD not in account.server_url and RADICALE_PASSWORD.encode() not in account.credentials
    )


def test_a_stored_url_with_a_password_is_never_answered(
    client: TestClient, runtime: Runtime, researcher: Researcher
) -> None:
    # A row connected before the check existed may hold one; the API shows the URL without it.
    from tests.web.conftest import seed_account

    account_id, _ = seed_account(runtime, researcher)
    with runtime.ctx.sessions() as session, session.begin():
        row = session.get(CalendarAccount, account_id)
        assert row is not None
        row.server_url = "https://bob:old-secret@caldav.example.org/dav/?x=1"
    auth = token_for(runtime, researcher)
    listed = client.get(API, headers=auth)
    assert listed.status_code == 200
    assert listed.json()["accounts"][0]["server_url"] == "https://caldav.example.org/dav/?x=1"
    assert "old-secret" not in listed.text and "bob" not in listed.text


@pytest.fixture
def client_without_jobs(runtime: Runtime) -> Iterator[TestClient]:
    """A client whose app runs no background jobs: the test's own ``sync_account`` is the only sync.

    The setting is read when the lifespan starts; changing it once ``client`` is open leaves the workers
    running, and they would sync the just-connected account (with its good URL) at the same time."""
    runtime.settings.run_background_jobs = False
    with TestClient(create_app(runtime), follow_redirects=True) as test_client:
        yield test_client


# (A NUL byte cannot be stored on PostgreSQL; a tab can, and httpx refuses it.)
@pytest.mark.parametrize("stored", ["http://[::1", "http://£/", "http://xn--a.com/", "http://a\tb.com/"])
def test_an_account_stored_with_an_unreadable_url_fails_its_sync_as_a_recorded_error(
    client_without_jobs: TestClient,
    researcher: Researcher,
    runtime: Runtime,
    radicale: RunningServer,
    stored: str,
) -> None:
    client = client_without_jobs
    url = radicale.url
    status, _ = _connect_page(
        client, sign_in(client, researcher.email), url, "en", password=RADICALE_PASSWORD
    )
    assert status == 200
    (account,) = _stored_accounts(runtime)
    with runtime.ctx.sessions() as session, session.begin():  # as a row from before the check could be
        row = session.get(CalendarAccount, account.id)
        assert row is not None
        row.server_url = row.principal_url = row.home_url = stored
    report = sync_account(runtime.ctx, account_id=account.id)
    assert report is not None and report.status == "error" and report.error.startswith("invalid_url: ")
    (after,) = _stored_accounts(runtime)
    assert after.status == "error" and after.next_sync_at is not None  # retried later, like any error
    english = seen(client.get(PAGE, headers={"Accept-Language": "en"}))
    assert "The server address cannot be read (its host name or port is not valid)." in english
    french = seen(client.get(PAGE, headers={"Accept-Language": "fr"}))
    assert "L'adresse du serveur est illisible" in french


def test_what_passes_is_stored_in_one_readable_form() -> None:
    assert check_server_url("  caldav.example.org/dav/ ") == "https://caldav.example.org/dav/"
    assert check_server_url("HTTPS://CalDAV.Example.ORG:8443/x#frag") == "https://caldav.example.org:8443/x"
    assert check_server_url("http://exémple.fr/") == "http://xn--exmple-cva.fr/"
    assert check_server_url("http://[::1]:5232/") == "http://[::1]:5232/"
    assert check_server_url("http://127.0.0.1:5232") == "http://127.0.0.1:5232"
    with pytest.raises(InvalidServerUrl):
        check_server_url("ftp://caldav.example.org/")


_URL_PARTS = st.sampled_from(
    ["http://", "https://", "", "ftp://", "[", "]", "::1", "@", ":", "/", "?", "#", "%", ".", "-", "xn--"]
)


@hypothesis_settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_URL_PARTS, st.text(max_size=8)), max_size=8).map("".join))
def test_whatever_is_typed_is_refused_clearly_or_readable_by_every_url_parser(typed: str) -> None:
    try:
        url = check_server_url(typed)
    except InvalidServerUrl as exc:
        assert exc.message_id  # a message for people; nothing else escapes
        return
    parsed = httpx.URL(url)
    assert parsed.scheme in ("http", "https") and parsed.host and not parsed.userinfo
    assert urlsplit(url).hostname is not None and urlsplit(url).port == parsed.port
    assert check_server_url(url) == url  # stored once, read again the same
