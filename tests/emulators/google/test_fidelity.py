"""The emulator's fidelity: Google's official client (google-api-python-client, built from the Calendar v3
discovery document it bundles) performs creneau's calls against it and reads the answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import googleapiclient  # type: ignore[import-untyped]
import httplib2  # type: ignore[import-untyped]
import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp  # type: ignore[import-untyped]
from googleapiclient.discovery import build_from_document  # type: ignore[import-untyped]
from googleapiclient.errors import HttpError  # type: ignore[import-untyped]

from creneau.emulators.google import DEFAULT_SCOPE, RunningEmulator, TokenSet
from tests.emulators.google.conftest import Receiver

DOCUMENT = Path(googleapiclient.__file__).parent / "discovery_cache/documents/calendar.v3.json"
DAY = datetime(2030, 3, 4, tzinfo=UTC)


def _credentials(token: str) -> Credentials:
    return Credentials(token=token)  # type: ignore[no-untyped-call]


def _service(google: RunningEmulator, token: str) -> Any:
    document = json.loads(DOCUMENT.read_text())
    document["rootUrl"] = google.url + "/"
    document["mtlsRootUrl"] = google.url + "/"
    document["baseUrl"] = google.url + "/calendar/v3/"
    http = AuthorizedHttp(_credentials(token), http=httplib2.Http(proxy_info=None, timeout=10))
    return build_from_document(document, http=http)


@pytest.fixture
def account(google: RunningEmulator, google_user: tuple[str, TokenSet]) -> tuple[str, Any]:
    email, tokens = google_user
    return email, _service(google, tokens.access_token)


def _event(summary: str, start: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
        **extra,
    }


def test_calendar_list_pages_and_primary_entry(google: RunningEmulator, account: tuple[str, Any]) -> None:
    email, service = account
    google.state.add_calendar(email, "Work", background_color="#FF8800")
    google.state.add_calendar(email, "Holidays", access_role="reader")
    request = service.calendarList().list(maxResults=2)
    entries: list[dict[str, Any]] = []
    pages = 0
    while request is not None:
        answer = request.execute()
        entries += answer["items"]
        pages += 1
        request = service.calendarList().list_next(request, answer)
    assert pages == 2
    by_name = {e["summary"]: e for e in entries}
    assert by_name[email]["primary"] is True and by_name[email]["id"] == email
    assert by_name[email]["timeZone"] == "Europe/Paris"
    assert by_name["Work"]["backgroundColor"] == "#ff8800"
    assert by_name["Holidays"]["accessRole"] == "reader"
    assert service.calendarList().get(calendarId="primary").execute()["id"] == email
    assert service.settings().get(setting="timezone").execute()["value"] == "Europe/Paris"


def test_events_list_pages_then_sync_token_round_trip(
    google: RunningEmulator, account: tuple[str, Any]
) -> None:
    email, service = account
    for i in range(3):
        service.events().insert(calendarId=email, body=_event(f"e{i}", DAY + timedelta(hours=i))).execute()
    request = service.events().list(
        calendarId=email, singleEvents=False, timeMin=(DAY - timedelta(days=1)).isoformat(), maxResults=2
    )
    seen, answer = [], {}
    while request is not None:
        answer = request.execute()
        assert ("nextSyncToken" in answer) != ("nextPageToken" in answer)
        seen += [e["summary"] for e in answer["items"]]
        request = service.events().list_next(request, answer)
    assert sorted(seen) == ["e0", "e1", "e2"]
    token = answer["nextSyncToken"]

    added = service.events().insert(calendarId=email, body=_event("new", DAY)).execute()
    changed = service.events().list(calendarId=email, syncToken=token).execute()
    assert [e["id"] for e in changed["items"]] == [added["id"]]
    service.events().delete(calendarId=email, eventId=added["id"]).execute()
    gone = service.events().list(calendarId=email, syncToken=changed["nextSyncToken"]).execute()
    assert [(e["id"], e["status"]) for e in gone["items"]] == [(added["id"], "cancelled")]

    with pytest.raises(HttpError) as mixed:
        service.events().list(calendarId=email, syncToken=token, timeMin=DAY.isoformat()).execute()
    assert mixed.value.resp.status == 400
    google.state.expire_sync_tokens(email)
    with pytest.raises(HttpError) as expired:
        service.events().list(calendarId=email, syncToken=gone["nextSyncToken"]).execute()
    assert expired.value.resp.status == 410
    assert expired.value.error_details[0]["reason"] == "fullSyncRequired"


def test_recurring_event_and_its_exception_come_as_separate_items(
    google: RunningEmulator, account: tuple[str, Any]
) -> None:
    email, service = account
    master = (
        service.events()
        .insert(
            calendarId=email,
            body={
                "summary": "Daily",
                "start": {"dateTime": "2030-03-04T10:00:00", "timeZone": "Europe/Paris"},
                "end": {"dateTime": "2030-03-04T11:00:00", "timeZone": "Europe/Paris"},
                "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"],
            },
        )
        .execute()
    )
    google.state.put_event(
        email,
        {
            "id": master["id"] + "_20300305T090000z",
            "recurringEventId": master["id"],
            "originalStartTime": {"dateTime": "2030-03-05T10:00:00+01:00", "timeZone": "Europe/Paris"},
            "iCalUID": master["iCalUID"],
            "status": "cancelled",
        },
    )
    items = service.events().list(calendarId=email, singleEvents=False).execute()["items"]
    assert [i.get("recurrence") for i in items] == [["RRULE:FREQ=DAILY;COUNT=5"], None]
    assert items[1]["recurringEventId"] == master["id"] and items[1]["status"] == "cancelled"
    with pytest.raises(HttpError) as no_zone:
        service.events().insert(
            calendarId=email, body=_event("x", DAY, recurrence=["RRULE:FREQ=DAILY"])
        ).execute()
    assert no_zone.value.resp.status == 400


def test_insert_with_a_meet_conference_becomes_success_on_a_later_read(
    google: RunningEmulator, account: tuple[str, Any]
) -> None:
    email, service = account
    body = _event(
        "Remote session",
        DAY,
        conferenceData={
            "createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}
        },
    )
    created = service.events().insert(calendarId=email, body=body, conferenceDataVersion=1).execute()
    assert created["conferenceData"]["createRequest"]["status"]["statusCode"] == "pending"
    status, event = "pending", created
    for _ in range(5):
        event = service.events().get(calendarId=email, eventId=created["id"]).execute()
        status = event["conferenceData"]["createRequest"]["status"]["statusCode"]
        if status != "pending":
            break
    assert status == "success"
    [video] = [p for p in event["conferenceData"]["entryPoints"] if p["entryPointType"] == "video"]
    assert video["uri"] == event["hangoutLink"]
    assert video["uri"].startswith("https://meet.google.com/")
    ignored = service.events().insert(calendarId=email, body={**body, "summary": "v0"}).execute()
    assert "conferenceData" not in ignored  # without conferenceDataVersion=1 Google ignores it


def test_freebusy_query(google: RunningEmulator, account: tuple[str, Any]) -> None:
    email, service = account
    service.events().insert(calendarId=email, body=_event("busy", DAY + timedelta(hours=9))).execute()
    service.events().insert(
        calendarId=email, body=_event("free", DAY + timedelta(hours=11), transparency="transparent")
    ).execute()
    answer = (
        service.freebusy()
        .query(
            body={
                "timeMin": DAY.isoformat(),
                "timeMax": (DAY + timedelta(days=1)).isoformat(),
                "items": [{"id": email}, {"id": "nobody@example.org"}],
            }
        )
        .execute()
    )
    assert answer["calendars"][email]["busy"] == [
        {"start": "2030-03-04T09:00:00Z", "end": "2030-03-04T10:00:00Z"}
    ]
    assert answer["calendars"]["nobody@example.org"]["errors"][0]["reason"] == "notFound"


def test_watch_and_stop_a_channel(
    google: RunningEmulator, account: tuple[str, Any], receiver: Receiver
) -> None:
    email, service = account
    channel = (
        service.events()
        .watch(
            calendarId=email,
            body={"id": "chan-fidelity", "type": "web_hook", "address": receiver.url, "token": "t0k"},
        )
        .execute()
    )
    assert channel["kind"] == "api#channel" and channel["resourceId"]
    expires = datetime.fromtimestamp(int(channel["expiration"]) / 1000, UTC)
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert receiver.wait_for(1)[0]["x-goog-resource-state"] == "sync"
    service.channels().stop(body={"id": "chan-fidelity", "resourceId": channel["resourceId"]}).execute()
    with pytest.raises(HttpError) as again:
        service.channels().stop(body={"id": "chan-fidelity", "resourceId": channel["resourceId"]}).execute()
    assert again.value.resp.status == 404


def test_official_client_refreshes_through_the_token_endpoint(
    google: RunningEmulator, google_user: tuple[str, TokenSet]
) -> None:
    email, _ = google_user
    google.state.add_client("fidelity-client", "fidelity-secret")
    tokens = google.state.accounts.issue(email, scope=DEFAULT_SCOPE, client_id="fidelity-client")
    credentials = Credentials(  # type: ignore[no-untyped-call]
        token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_uri=f"{google.url}/token",
        client_id="fidelity-client",
        client_secret="fidelity-secret",
    )
    google.state.revoke(tokens.access_token)  # the client gets a 401, refreshes, and retries
    document = json.loads(DOCUMENT.read_text())
    document["rootUrl"] = document["mtlsRootUrl"] = google.url + "/"
    http = AuthorizedHttp(credentials, http=httplib2.Http(proxy_info=None, timeout=10))
    service = build_from_document(document, http=http)
    assert service.calendarList().get(calendarId="primary").execute()["id"] == email
    assert credentials.token != tokens.access_token

    google.state.revoke(tokens.refresh_token)  # takes its access tokens with it
    with pytest.raises(RefreshError, match="invalid_grant"):
        service.calendarList().list().execute()
