"""The JSON API: authentication (API token, or session cookie + CSRF header), accounts, calendars,
free/busy, deletion; 422s that name the field; 404 for another researcher's ids; OpenAPI and local docs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from creneau.identity import create_api_token
from creneau.runtime import Runtime
from creneau.store.models import BusyOccurrence, Calendar, CalendarAccount, Researcher, SyncedEvent
from tests.servers import RunningServer, free_port
from tests.web.conftest import RADICALE_PASSWORD, RADICALE_USER, TODAY, seed_account

API = "/api/v1"


def token_for(runtime: Runtime, researcher: Researcher) -> dict[str, str]:
    with runtime.ctx.sessions() as session, session.begin():
        token = create_api_token(session, researcher_id=researcher.id, label="tests")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth(runtime: Runtime, researcher: Researcher) -> dict[str, str]:
    return token_for(runtime, researcher)


def busy_at(runtime: Runtime, calendar_id: int, start: datetime, hours: int = 1) -> None:
    """A synced event straight in the database, as a sync would have stored it."""
    with runtime.ctx.sessions() as session, session.begin():
        event = SyncedEvent(calendar_id=calendar_id, remote_id=f"e{start.timestamp()}", etag="1", ical="")
        session.add(event)
        session.flush()
        session.add(
            BusyOccurrence(
                event_id=event.id, calendar_id=calendar_id, start=start, end=start + timedelta(hours=hours)
            )
        )


def test_api_needs_a_token_or_a_session(client: TestClient) -> None:
    response = client.get(f"{API}/accounts")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"]["code"] == "unauthorized"
    response = client.get(f"{API}/accounts", headers={"Authorization": "Bearer crn_not-a-token"})
    assert response.status_code == 401
    response = client.get(f"{API}/accounts", headers={"Authorization": "Basic YTpi"})
    assert response.status_code == 401


def test_session_cookie_works_but_unsafe_methods_need_the_csrf_header(
    client: TestClient, signed_in: str, runtime: Runtime, researcher: Researcher
) -> None:
    _, (calendar_id,) = seed_account(runtime, researcher)
    assert client.get(f"{API}/accounts").status_code == 200
    response = client.patch(f"{API}/calendars/{calendar_id}", json={"check_conflicts": False})
    assert response.status_code == 403 and response.json()["detail"]["code"] == "csrf_failed"
    response = client.patch(
        f"{API}/calendars/{calendar_id}", json={"check_conflicts": False}, headers={"X-CSRF-Token": signed_in}
    )
    assert response.status_code == 200 and response.json()["check_conflicts"] is False


def test_list_accounts_with_calendars_status_and_progress(
    client: TestClient,
    auth: dict[str, str],
    runtime: Runtime,
    researcher: Researcher,
    other_researcher: Researcher,
) -> None:
    seed_account(
        runtime,
        researcher,
        username="mine",
        calendars=("Work", "Home"),
        status="syncing",
        sync_done=2,
        sync_total=9,
    )
    seed_account(runtime, other_researcher, username="theirs")
    body = client.get(f"{API}/accounts", headers=auth).json()
    (account,) = body["accounts"]
    assert account["username"] == "mine" and account["status"] == "syncing"
    assert account["progress"] == {"done": 2, "total": 9}
    assert sorted(c["name"] for c in account["calendars"]) == ["Home", "Work"]
    assert {"check_conflicts", "read_only", "color", "malformed_count"} <= set(account["calendars"][0])
    assert "credentials" not in account and "seeded-secret-password" not in str(body)


def test_connect_sync_and_delete_through_the_api(
    client: TestClient, auth: dict[str, str], runtime: Runtime, radicale: RunningServer
) -> None:
    response = client.post(
        f"{API}/accounts",
        headers=auth,
        json={
            "provider": "caldav",
            "server_url": radicale.url,
            "username": RADICALE_USER,
            "password": RADICALE_PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert account["provider"] == "caldav" and {c["name"] for c in account["calendars"]} == {"Work", "Home"}
    assert RADICALE_PASSWORD not in response.text
    assert runtime.jobs.wait_idle(timeout=60)
    response = client.post(f"{API}/accounts/{account['id']}/sync", headers=auth)
    assert response.status_code == 202 and response.json()["id"] == account["id"]
    assert runtime.jobs.wait_idle(timeout=60)
    response = client.delete(f"{API}/accounts/{account['id']}", headers=auth)
    assert response.status_code == 200
    report = response.json()
    assert report["accounts"] == [account_name(account)] and report["calendars"] == 2
    assert client.get(f"{API}/accounts", headers=auth).json() == {"accounts": []}


def account_name(account: dict[str, object]) -> str:
    return f"CalDAV — {account['display_name']}"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"provider": "icloud", "server_url": "https://x.example/", "username": "a", "password": "b"},
            "server_url",
        ),
        ({"provider": "caldav", "username": "a", "password": "b"}, "server_url"),
        ({"provider": "caldav", "server_url": "https://x.example/", "username": "a"}, "password"),
        ({"provider": "ews", "username": "a", "password": "b"}, "provider"),
        ({"provider": "exchange", "username": "a", "password": "b"}, "email"),
        ({"provider": "icloud", "username": "a", "password": "b", "colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_named(
    client: TestClient, auth: dict[str, str], body: dict[str, str], field: str
) -> None:
    response = client.post(f"{API}/accounts", headers=auth, json=body)
    assert response.status_code == 422
    assert any(error["loc"][-1] == field for error in response.json()["detail"]), response.json()
    assert '"b"' not in response.text  # the rejected input (maybe a password) is not echoed


def test_provider_errors_have_stable_codes(
    client: TestClient, auth: dict[str, str], runtime: Runtime, radicale: RunningServer
) -> None:
    runtime.settings.icloud_caldav_url = radicale.url
    cases = [
        (
            {"provider": "caldav", "server_url": radicale.url, "password": "wrong"},
            422,
            "auth_failed",
            "The server refused the username or password.",
        ),
        ({"provider": "icloud", "password": "wrong"}, 422, "auth_failed", "app-specific password"),
        (
            {"provider": "caldav", "server_url": f"http://127.0.0.1:{free_port()}/", "password": "x"},
            422,
            "unreachable",
            "Could not reach the server",
        ),
        (
            {"provider": "caldav", "server_url": "http://192.168.77.1/", "password": "x"},
            422,
            "address_forbidden",
            "private network",
        ),
    ]
    for fields, status, code, words in cases:
        body = {"username": RADICALE_USER, **fields}
        response = client.post(f"{API}/accounts", headers={**auth, "Accept-Language": "en"}, json=body)
        assert response.status_code == status, (fields, response.text)
        detail = response.json()["detail"]
        assert detail["code"] == code and words in detail["message"]
        assert fields["password"] not in response.text or fields["password"] == "x"
    with runtime.ctx.sessions() as session:
        assert session.scalars(select(CalendarAccount)).all() == []


def test_service_validation_error_names_the_field_in_french(client: TestClient, auth: dict[str, str]) -> None:
    body = {"provider": "caldav", "server_url": "ftp://example.org/", "username": "a", "password": "b"}
    response = client.post(f"{API}/accounts", headers={**auth, "Accept-Language": "fr"}, json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "invalid" and detail["field"] == "server_url"
    assert detail["message"].startswith("Adresse du serveur")


def test_patch_calendar_and_free_busy(
    client: TestClient, auth: dict[str, str], runtime: Runtime, researcher: Researcher
) -> None:
    _, (work, home) = seed_account(runtime, researcher, calendars=("Work", "Home"))
    day = TODAY + timedelta(days=2)
    busy_at(runtime, work, day.replace(hour=9))
    busy_at(runtime, home, day.replace(hour=9, minute=30))
    busy_at(runtime, home, day.replace(hour=14))
    params = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat(), "tz": "Europe/Paris"}
    body = client.get(f"{API}/free_busy", headers=auth, params=params).json()
    assert body["tz"] == "Europe/Paris"
    starts = [(p["start"], p["end"]) for p in body["busy"]]
    assert len(starts) == 2  # 9:00-10:00 and 9:30-10:30 merged
    first = datetime.fromisoformat(body["busy"][0]["start"])
    assert first.utcoffset() in (timedelta(hours=1), timedelta(hours=2)) and first.astimezone(UTC).hour == 9
    response = client.patch(f"{API}/calendars/{home}", headers=auth, json={"check_conflicts": False})
    assert response.status_code == 200 and response.json()["check_conflicts"] is False
    body = client.get(f"{API}/free_busy", headers=auth, params={**params, "tz": "UTC"}).json()
    assert [(p["start"], p["end"]) for p in body["busy"]] == [
        (
            day.replace(hour=9).isoformat().replace("+00:00", "Z"),
            day.replace(hour=10).isoformat().replace("+00:00", "Z"),
        )
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2030-01-01T00:00:00Z", "to": "2030-01-02T00:00:00Z", "tz": "Mars/Olympus"}, "tz"),
        ({"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "to"),
        ({"from": "2030-01-01T00:00:00Z", "to": "2031-03-01T00:00:00Z"}, "to"),
        ({"from": "2030-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}, "to"),
    ],
)
def test_free_busy_refuses_bad_queries(
    client: TestClient, auth: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = client.get(f"{API}/free_busy", headers=auth, params=params)
    assert response.status_code == 422
    assert response.json()["detail"]["field"] == field


def test_free_busy_missing_or_malformed_query_names_it(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get(f"{API}/free_busy", headers=auth, params={"from": "yesterday"})
    assert response.status_code == 422
    named = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert ("query", "from") in named and ("query", "to") in named


def test_another_researchers_ids_are_404(
    client: TestClient, auth: dict[str, str], runtime: Runtime, other_researcher: Researcher
) -> None:
    account_id, (calendar_id,) = seed_account(runtime, other_researcher, username="theirs")
    assert client.post(f"{API}/accounts/{account_id}/sync", headers=auth).status_code == 404
    assert client.delete(f"{API}/accounts/{account_id}", headers=auth).status_code == 404
    response = client.patch(f"{API}/calendars/{calendar_id}", headers=auth, json={"check_conflicts": False})
    assert response.status_code == 404 and response.json()["detail"]["code"] == "not_found"
    assert client.delete(f"{API}/accounts", headers=auth).json() == {
        "accounts": [],
        "calendars": 0,
        "events": 0,
    }
    with runtime.ctx.sessions() as session:
        calendar = session.get(Calendar, calendar_id)
        assert calendar is not None and calendar.check_conflicts


def test_delete_all_reports_what_was_removed(
    client: TestClient, auth: dict[str, str], runtime: Runtime, researcher: Researcher
) -> None:
    _, (calendar_id,) = seed_account(runtime, researcher, username="one")
    seed_account(runtime, researcher, username="two", calendars=("A", "B"))
    busy_at(runtime, calendar_id, TODAY + timedelta(days=1, hours=8))
    report = client.delete(f"{API}/accounts", headers=auth).json()
    assert sorted(report["accounts"]) == ["CalDAV — one", "CalDAV — two"]
    assert report["calendars"] == 3 and report["events"] == 1


def test_openapi_and_local_swagger_ui(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/api/v1/accounts", "/api/v1/free_busy", "/api/v1/calendars/{calendar_id}"} <= set(
        schema["paths"]
    )
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower() and "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/swagger/swagger-ui.css").status_code == 200
    assert client.get("/redoc").status_code == 404
