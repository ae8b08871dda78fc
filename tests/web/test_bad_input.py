"""No input answers a server error (issue 9): zone names that are folders or paths, dates at the ends of the
calendar, ids no database row can have, NUL bytes and lone surrogates, control characters and bidirectional
overrides in names, malformed JSON. Each is a clear 4xx in the caller's language, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from creneau.runtime import Runtime
from creneau.scheduling import booking as bookings
from creneau.scheduling.notify import participant_links
from creneau.store.models import Booking, Researcher, Study, StudySession
from creneau.web.app import create_app
from tests.scheduling.conftest import PARTICIPANT, day_ahead, make_session
from tests.web.conftest import csrf_of, seen, sign_in
from tests.web.test_api import token_for

API = "/api/v1"
PG_INTEGER_MAX = 2**31 - 1  # every primary key is a PostgreSQL INTEGER
# Folders and files of the zone database, paths, over-long names: none is a zone, none may reach the disk.
BAD_ZONES = ["Europe", "Etc", "__pycache__", "America/Argentina", "x" * 300, "../x", "/etc/passwd", "Europe/"]
BIG_IDS = ["9223372036854775808", "2147483648", "0", "-1", "99999999999999999999999999"]
FR, EN = {"Accept-Language": "fr"}, {"Accept-Language": "en"}


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    runtime.settings.run_background_jobs = False
    with TestClient(create_app(runtime), follow_redirects=True) as test_client:
        yield test_client


@pytest.fixture
def token(runtime: Runtime, researcher: Researcher) -> str:
    return make_session(runtime, researcher, destination=None).public_token


def _slot_start(client: TestClient, token: str) -> str:
    slots = client.get(f"/book/{token}/slots.json", params={"start": day_ahead(2).isoformat()}).json()
    assert slots["slots"], slots
    start: str = slots["slots"][0]["start"]
    return start


def _form_token(client: TestClient, token: str) -> str:
    return csrf_of(client.get(f"/book/{token}/confirm", params={"start": _slot_start(client, token)}).text)


# -- time-zone names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_zone_names_that_are_no_zone_are_refused_on_every_public_page(
    client: TestClient, token: str, zone: str
) -> None:
    start = _slot_start(client, token)
    answers = {
        "page": client.get(f"/book/{token}", params={"tz": zone}, headers=EN),
        "slots.json": client.get(f"/book/{token}/slots.json", params={"tz": zone}, headers=EN),
        "confirm": client.get(f"/book/{token}/confirm", params={"start": start, "tz": zone}, headers=EN),
    }
    form = {
        "csrf_token": _form_token(client, token),
        "start": start,
        "name": "Ada",
        "email": "ada@example.org",
    }
    answers["book"] = client.post(f"/book/{token}", data={**form, "tz": zone[:64]}, headers=FR)
    for where, answer in answers.items():
        assert answer.status_code == 422, (where, answer.status_code, answer.text[:300])
    assert "time zone does not exist" in seen(answers["page"])
    assert "fuseau horaire" in seen(answers["book"]).lower()


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_zone_names_are_refused_by_free_busy_and_the_session_settings(
    client: TestClient, runtime: Runtime, researcher: Researcher, zone: str
) -> None:
    auth = token_for(runtime, researcher)
    params = {"from": "2030-01-01T00:00:00Z", "to": "2030-01-02T00:00:00Z", "tz": zone}
    answer = client.get(f"{API}/free_busy", headers=auth, params=params)
    assert answer.status_code == 422, answer.text
    if len(zone) <= 64:  # longer: refused by the query's declared max_length, in FastAPI's shape
        assert answer.json()["detail"]["field"] == "tz"

    session_id = make_session(runtime, researcher, destination=None).id
    csrf = sign_in(client, researcher.email)
    page = client.post(
        f"/sessions/{session_id}/settings",
        data={"csrf_token": csrf, "name": "Interview", "timezone": zone, "duration_minutes": "30"},
        headers=EN,
    )
    assert page.status_code == 422, page.text[:300]
    assert "Time zone: this time zone does not exist" in seen(page)  # the form again, with the field named


def test_a_researcher_cannot_be_created_with_a_folder_as_zone(runtime: Runtime) -> None:
    from creneau.errors import ValidationFailed
    from creneau.identity import create_researcher

    with runtime.ctx.sessions() as session, pytest.raises(ValidationFailed) as refused:
        create_researcher(session, email="zone@example.org", password="long enough", timezone="Europe")
    assert refused.value.field == "timezone"


# -- dates at the ends of the calendar ----------------------------------------------------------------------


@pytest.mark.parametrize("week", ["9999-12-31", "0001-01-01", "9999-12-27"])
def test_weeks_at_the_ends_of_the_calendar_show_the_nearest_bookable_week(
    client: TestClient, token: str, week: str
) -> None:
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12", "UTC"):
        page = client.get(f"/book/{token}", params={"week": week, "tz": zone})
        assert page.status_code == 200, (zone, page.text[:300])
        assert re.search(r'class="slot"', page.text), "the clamped week offers slots"


@pytest.mark.parametrize(
    ("start", "zone"),
    [
        ("9999-12-31", "Pacific/Kiritimati"),
        ("0001-01-01", "Pacific/Kiritimati"),
        ("9999-12-25", "Etc/GMT+12"),
    ],
)
def test_slots_json_at_the_ends_of_the_calendar_is_empty(
    client: TestClient, token: str, start: str, zone: str
) -> None:
    answer = client.get(f"/book/{token}/slots.json", params={"start": start, "days": 62, "tz": zone})
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["slots"] == []


def test_slots_json_still_answers_inside_the_calendar(client: TestClient, token: str) -> None:
    start = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    answer = client.get(f"/book/{token}/slots.json", params={"start": start, "days": 10})
    assert answer.status_code == 200 and answer.json()["slots"]


@pytest.mark.parametrize(
    "start", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00Z"]
)
def test_slot_starts_at_the_ends_of_the_calendar_are_refused(
    client: TestClient, runtime: Runtime, researcher: Researcher, token: str, start: str
) -> None:
    confirm = client.get(f"/book/{token}/confirm", params={"start": start}, headers=EN)
    assert confirm.status_code == 422 and "choose a slot" in seen(confirm)
    form = {
        "csrf_token": _form_token(client, token),
        "start": start,
        "name": "Ada",
        "email": "ada@example.org",
    }
    assert client.post(f"/book/{token}", data=form).status_code == 422

    booking = _a_booking(runtime, token)
    link = _manage_path(runtime, booking)
    form = {"csrf_token": csrf_of(client.get(f"{link}/reschedule").text), "start": start}
    assert client.post(f"{link}/reschedule", data=form).status_code == 422

    csrf = sign_in(client, researcher.email)
    moved = client.post(
        f"/sessions/{booking.session_id}/bookings/{booking.id}/move",
        data={"csrf_token": csrf, "start": start},
        headers=EN,
    )
    assert moved.status_code == 200 and "choose a slot" in seen(moved)  # the bookings page, with the error


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "0001-01-01T00:00:00", "to": "0001-01-02T00:00:00", "tz": "Asia/Tokyo"}, "from"),
        ({"from": "0001-01-01T00:00:00+14:00", "to": "0001-01-02T00:00:00Z"}, "from"),
        ({"from": "9999-12-30T00:00:00Z", "to": "9999-12-31T23:59:59.999999"}, "from"),
        ({"from": "2030-01-01T00:00:00Z", "to": "9999-12-31T23:59:59-12:00"}, "to"),
    ],
)
def test_free_busy_near_year_1_or_9999_names_the_field(
    client: TestClient, runtime: Runtime, researcher: Researcher, params: dict[str, str], field: str
) -> None:
    answer = client.get(f"{API}/free_busy", headers={**token_for(runtime, researcher), **FR}, params=params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]["field"] == field
    assert "date" in answer.json()["detail"]["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration_minutes", str(10**30)),
        ("manager_id", str(10**30)),
        ("destination_calendar_id", "2147483648"),
    ],
)
def test_huge_numbers_in_the_settings_form_are_refused(
    client: TestClient, runtime: Runtime, researcher: Researcher, field: str, value: str
) -> None:
    session_id = make_session(runtime, researcher, destination=None).id
    csrf = sign_in(client, researcher.email)
    data = {"csrf_token": csrf, "name": "Interview", "timezone": "UTC", field: value}
    page = client.post(f"/sessions/{session_id}/settings", data=data, headers=EN)
    assert page.status_code == 422, page.text[:300]
    assert "must be between" in seen(page) or "writable calendars" in seen(page) or "member" in seen(page)


# -- ids ----------------------------------------------------------------------------------------------------


def _api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """Every route of the app with its full path. FastAPI >= 0.16x keeps included routers lazily (an
    ``_IncludedRouter`` per ``include_router``), so the table is read through their effective routes."""
    found: list[tuple[str, APIRoute]] = []
    for route in app.router.routes:
        if isinstance(route, APIRoute):
            found.append((route.path, route))
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            found += [
                (c.path, c.original_route) for c in contexts() if isinstance(c.original_route, APIRoute)
            ]
    return found


def _id_routes(app: FastAPI) -> list[tuple[str, APIRoute, list[str]]]:
    found = []
    for path, route in _api_routes(app):
        names = [p.name for p in route.dependant.path_params if p.field_info.annotation is int]
        if names:
            found.append((path, route, names))
    return found


def test_every_integer_path_parameter_is_a_bounded_id(app: FastAPI) -> None:
    """From the routing table: a new route whose id is a plain ``int`` fails here (use web.params.DbId)."""
    assert len(_id_routes(app)) >= 15  # the table is really read
    for path, route in _api_routes(app):
        for param in route.dependant.path_params:
            if param.name.endswith("_id"):
                assert param.field_info.annotation is int, (path, param.name)
            if param.field_info.annotation is not int:
                continue
            bounds = {type(m).__name__: m for m in param.field_info.metadata}
            assert "Ge" in bounds and "Le" in bounds, (path, param.name, "is not web.params.DbId")
            assert bounds["Ge"].ge == 1 and bounds["Le"].le == PG_INTEGER_MAX, (path, param.name)


def test_ids_no_database_row_can_have_are_404_on_every_route(
    app: FastAPI, runtime: Runtime, researcher: Researcher
) -> None:
    auth = token_for(runtime, researcher)
    with TestClient(app) as client:
        csrf = sign_in(client, researcher.email)
        tried = 0
        for route_path, route, names in _id_routes(app):
            for big in BIG_IDS:
                path = route_path
                for name in names:
                    path = path.replace("{" + name + "}", big)
                for method in route.methods or ():
                    if method == "HEAD":
                        continue
                    kwargs: dict[str, Any] = {"headers": {**auth, "X-CSRF-Token": csrf}}
                    if method in ("POST", "PATCH", "PUT", "DELETE") and not path.startswith(API):
                        kwargs["data"] = {"csrf_token": csrf}
                    if method == "PATCH":
                        kwargs["json"] = {"check_conflicts": True}
                    answer = client.request(method, path, **kwargs)
                    assert answer.status_code == 404, (method, path, answer.status_code, answer.text[:200])
                    tried += 1
        assert tried >= 15 * len(BIG_IDS)
        answer = client.get(f"{API}/accounts/9223372036854775808", headers=auth)
        assert answer.status_code in (404, 405)  # no GET of one account: the path is still not an object


# -- NUL bytes, surrogates, control characters --------------------------------------------------------------


def test_nul_bytes_in_paths_queries_forms_and_json_are_4xx(
    client: TestClient, runtime: Runtime, researcher: Researcher, token: str
) -> None:
    assert client.get("/book/%00").status_code == 404
    assert client.get("/booking/a%00b").status_code == 404
    assert client.get(f"/book/{token}", params={"week": "2030\x0001-01"}).status_code == 422
    assert client.get(f"/book/{token}", params={"tz": "Europe/Paris\x00"}).status_code == 422
    start = _slot_start(client, token)
    form = {"csrf_token": _form_token(client, token), "start": start, "email": "ada@example.org"}
    answer = client.post(f"/book/{token}", data={**form, "name": "a\x00b"}, headers=EN)
    assert answer.status_code == 422 and "Name: this text contains a character" in seen(answer)
    answer = client.post("/login", data={"email": "a\x00b@example.org", "password": "x"})
    assert answer.status_code in (403, 422)
    auth = token_for(runtime, researcher)
    body = {"provider": "caldav", "server_url": "https://x.example/", "username": "a\x00", "password": "b"}
    answer = client.post(f"{API}/accounts", headers=auth, json=body)
    assert answer.status_code == 422 and answer.json()["detail"]["field"] == "username"
    answer = client.post(
        f"{API}/accounts",
        headers={**auth, "Content-Type": "application/json"},
        content=b'{"provider": "icloud", "username": "\\ud800", "password": "b"}',
    )
    assert answer.status_code == 422 and answer.json()["detail"]["field"] == "username"
    answer = client.get(
        f"{API}/free_busy", headers=auth, params={"from": "2030-01-01", "to": "2030-01-02", "tz": "UTC\x00"}
    )
    assert answer.status_code == 422 and answer.json()["detail"]["field"] == "tz"
    with runtime.ctx.sessions() as session:
        assert session.scalars(select(Booking)).all() == []


@pytest.mark.parametrize(
    "name",
    ["Ada\u202eecalevoL", "Ada\u2066Lovelace\u2069", "Ada\x07", "Ada\x1bLovelace", "Ada\u2028Lovelace"],
)
def test_names_with_control_characters_or_bidi_overrides_are_refused(
    client: TestClient, runtime: Runtime, researcher: Researcher, token: str, name: str
) -> None:
    start = _slot_start(client, token)
    form = {"csrf_token": _form_token(client, token), "start": start, "email": "ada@example.org"}
    answer = client.post(f"/book/{token}", data={**form, "name": name}, headers=FR)
    assert answer.status_code == 422
    assert "caractères de contrôle" in seen(answer) and 'value="ada@example.org"' in answer.text  # form again

    csrf = sign_in(client, researcher.email)
    client.post("/studies", data={"csrf_token": csrf, "name": name}, headers=EN)
    with runtime.ctx.sessions() as session:
        assert name not in session.scalars(select(Study.name)).all()
        study_id = session.scalars(select(Study.id)).first()
        session_id = session.scalars(select(StudySession.id)).first()
    client.post(f"/studies/{study_id}/sessions", data={"csrf_token": csrf, "name": name})
    page = client.post(
        f"/sessions/{session_id}/settings",
        data={"csrf_token": csrf, "name": name, "timezone": "UTC"},
        headers=EN,
    )
    assert page.status_code == 422 and "control characters" in seen(page)
    with runtime.ctx.sessions() as session:
        assert name not in session.scalars(select(StudySession.name)).all()
        assert session.scalars(select(Booking)).all() == []


def test_malformed_json_is_400_and_a_wrong_method_405_with_allow(
    client: TestClient, runtime: Runtime, researcher: Researcher
) -> None:
    auth = {**token_for(runtime, researcher), "Content-Type": "application/json", **EN}
    answer = client.post(f"{API}/accounts", headers=auth, content=b'{"provider": ')
    assert answer.status_code == 400
    assert answer.json()["detail"] == {
        "code": "malformed_json",
        "message": "The request body is not valid JSON.",
    }
    answer = client.put(f"{API}/accounts", headers=auth)
    assert answer.status_code == 405 and "GET" in answer.headers["allow"]


# -- helpers -------------------------------------------------------------------------------------------------


def _a_booking(runtime: Runtime, token: str) -> Booking:
    with runtime.ctx.sessions() as session:
        study_session = session.scalars(select(StudySession).where(StudySession.public_token == token)).one()
        duration = study_session.duration_minutes
    start = datetime.combine(day_ahead(3), datetime.min.time(), UTC).replace(hour=10)
    assert duration
    return bookings.book(runtime.sched, token=token, start=start, participant=PARTICIPANT)


def _manage_path(runtime: Runtime, booking: Booking) -> str:
    link = participant_links(runtime.sched, booking)["manage"]
    return link.removeprefix(runtime.settings.base_url.rstrip("/"))
