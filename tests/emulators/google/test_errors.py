"""Fidelity on refusals: Google's official client (built from its bundled Calendar v3 discovery document)
meets the errors the Calendar reference documents — parameters refused with a sync token, empty time
ranges (domain ``calendar``), page-size and free/busy bounds, channel ids — with Google's error shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from googleapiclient.errors import HttpError  # type: ignore[import-untyped]

from creneau.emulators.google import RunningEmulator, TokenSet
from tests.emulators.google.conftest import Receiver
from tests.emulators.google.test_fidelity import DAY, _event, _service


@pytest.fixture
def client(google: RunningEmulator, google_user: tuple[str, TokenSet]) -> tuple[str, Any]:
    """(email, the official client's service object) for a fresh user."""
    email, tokens = google_user
    return email, _service(google, tokens.access_token)


def _refusal(request: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """(HTTP status, the first ``errors[]`` item, the whole ``error`` object) of a refused request."""
    with pytest.raises(HttpError) as caught:
        request.execute()
    error = caught.value
    detail = error.error_details[0] if error.error_details else {}
    return error.resp.status, detail, json.loads(error.content)["error"]


def _sync_token(service: Any, email: str) -> str:
    service.events().insert(calendarId=email, body=_event("seed", DAY)).execute()
    answer = service.events().list(calendarId=email, singleEvents=False).execute()
    token: str = answer["nextSyncToken"]
    return token


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("timeMin", DAY.isoformat()),
        ("timeMax", DAY.isoformat()),
        ("orderBy", "updated"),
        ("q", "seed"),
        ("updatedMin", DAY.isoformat()),
        ("iCalUID", "x@example.org"),
        ("privateExtendedProperty", "k=v"),
        ("sharedExtendedProperty", "k=v"),
        ("showDeleted", False),
    ],
)
def test_parameters_refused_with_a_sync_token(client: tuple[str, Any], name: str, value: Any) -> None:
    email, service = client
    token = _sync_token(service, email)
    status, detail, error = _refusal(
        service.events().list(calendarId=email, syncToken=token, **{name: value})
    )
    assert status == 400 and error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert detail["domain"] == "global" and detail["reason"] == "invalid"
    assert detail["locationType"] == "parameter" and detail["location"] == name
    # what stays allowed with a sync token
    assert "items" in service.events().list(calendarId=email, syncToken=token, showDeleted=True).execute()


def test_an_empty_time_range_is_refused_as_the_errors_guide_shows(client: tuple[str, Any]) -> None:
    email, service = client
    status, detail, error = _refusal(
        service.events().list(calendarId=email, timeMin=DAY.isoformat(), timeMax=DAY.isoformat())
    )
    assert status == 400 and error["message"] == "The specified time range is empty."
    assert detail == {
        "domain": "calendar",
        "reason": "timeRangeEmpty",
        "message": "The specified time range is empty.",
        "locationType": "parameter",
        "location": "timeMax",
    }


def test_a_time_without_offset_is_a_bad_request(client: tuple[str, Any]) -> None:
    email, service = client
    for name in ("timeMin", "timeMax", "updatedMin"):
        status, detail, _ = _refusal(service.events().list(calendarId=email, **{name: "2030-03-04T10:00:00"}))
        assert status == 400 and (detail["domain"], detail["reason"]) == ("global", "badRequest")
    status, detail, _ = _refusal(
        service.freebusy().query(
            body={
                "timeMin": "2030-03-04T10:00:00",
                "timeMax": "2030-03-04T11:00:00Z",
                "items": [{"id": email}],
            }
        )
    )
    assert status == 400 and detail["reason"] == "badRequest"


def test_freebusy_refuses_an_end_before_its_start_and_its_documented_maxima(client: tuple[str, Any]) -> None:
    email, service = client

    def query(**body: Any) -> Any:
        window = {"timeMin": DAY.isoformat(), "timeMax": (DAY + timedelta(days=1)).isoformat()}
        return service.freebusy().query(body={**window, "items": [{"id": email}], **body})

    status, detail, _ = _refusal(query(timeMax=(DAY - timedelta(hours=1)).isoformat()))
    assert status == 400 and (detail["domain"], detail["reason"]) == ("calendar", "timeRangeEmpty")
    assert detail["location"] == "timeMax"
    status, detail, _ = _refusal(query(calendarExpansionMax=51))
    assert status == 400 and detail["location"] == "calendarExpansionMax"
    status, detail, _ = _refusal(query(groupExpansionMax=101))
    assert status == 400 and detail["location"] == "groupExpansionMax"
    status, detail, _ = _refusal(query(items=[{"id": f"c{i}@example.org"} for i in range(51)]))
    assert status == 400 and (detail["domain"], detail["reason"]) == ("calendar", "tooManyCalendarsRequested")
    status, detail, _ = _refusal(service.freebusy().query(body={"timeMin": DAY.isoformat(), "items": []}))
    assert status == 400 and detail["reason"] == "required" and detail["location"] == "timeMax"
    assert query(calendarExpansionMax=50, groupExpansionMax=100).execute()["calendars"][email]["busy"] == []


def test_page_sizes_are_bounded(google: RunningEmulator, client: tuple[str, Any]) -> None:
    email, service = client
    for i in range(3):
        service.events().insert(calendarId=email, body=_event(f"e{i}", DAY + timedelta(hours=i))).execute()
    status, detail, _ = _refusal(service.events().list(calendarId=email, maxResults=0))
    assert status == 400 and detail["location"] == "maxResults"
    assert len(service.events().list(calendarId=email, maxResults=99999).execute()["items"]) == 3
    status, detail, _ = _refusal(service.calendarList().list(maxResults=0))
    assert status == 400 and detail["location"] == "maxResults"
    assert service.calendarList().list(maxResults=1000).execute()["items"]


def test_calendar_list_sync_token(google: RunningEmulator, client: tuple[str, Any]) -> None:
    email, service = client
    token = service.calendarList().list().execute()["nextSyncToken"]
    again = service.calendarList().list(syncToken=token).execute()
    assert email in {e["id"] for e in again["items"]} and again["nextSyncToken"]
    status, detail, _ = _refusal(service.calendarList().list(syncToken=token, minAccessRole="owner"))
    assert status == 400 and detail["location"] == "minAccessRole"
    status, detail, _ = _refusal(service.calendarList().list(syncToken=token, showHidden=False))
    assert status == 400 and detail["location"] == "showHidden"
    status, detail, _ = _refusal(service.calendarList().list(syncToken="Lnot-a-token"))
    assert status == 410 and detail["reason"] == "fullSyncRequired"


def test_writing_without_writer_access_is_a_calendar_domain_refusal(
    google: RunningEmulator, client: tuple[str, Any]
) -> None:
    email, service = client
    shared = google.state.add_calendar(email, "Read only", access_role="reader")
    status, detail, error = _refusal(service.events().insert(calendarId=shared, body=_event("x", DAY)))
    assert status == 403 and error["status"] == "PERMISSION_DENIED"
    assert (detail["domain"], detail["reason"]) == ("calendar", "requiredAccessLevel")


def test_rate_limits_carry_the_usage_limits_domain(google: RunningEmulator, client: tuple[str, Any]) -> None:
    _, service = client
    google.state.faults.rate_limit(1)
    try:
        status, detail, _ = _refusal(service.calendarList().get(calendarId="primary"))
    finally:
        google.state.faults.clear()
    assert status in (403, 429) and (detail["domain"], detail["reason"]) == (
        "usageLimits",
        "rateLimitExceeded",
    )


@pytest.mark.parametrize("channel_id", ["x" * 65, "has space", "semi;colon", ""])
def test_channel_ids_follow_the_documented_form(
    client: tuple[str, Any], receiver: Receiver, channel_id: str
) -> None:
    email, service = client
    body = {"id": channel_id, "type": "web_hook", "address": receiver.url}
    status, detail, _ = _refusal(service.events().watch(calendarId=email, body=body))
    assert status == 400 and detail["reason"] in ("invalid", "required")


def test_a_channel_id_of_64_characters_and_a_requested_expiration(
    client: tuple[str, Any], receiver: Receiver
) -> None:
    email, service = client
    wanted = datetime.now(UTC) + timedelta(hours=2)
    body = {
        "id": "A-z_0+9/=" + "x" * 55,
        "type": "web_hook",
        "address": receiver.url,
        "expiration": str(int(wanted.timestamp() * 1000)),
    }
    channel = service.events().watch(calendarId=email, body=body).execute()
    assert channel["id"] == body["id"]
    expires = datetime.fromtimestamp(int(channel["expiration"]) / 1000, UTC)
    assert abs(expires - wanted) < timedelta(seconds=2)
