"""The emulator's own behaviour: OAuth (PKCE), tokens, faults, push delivery, preconditions, control API."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from creneau.emulators.google import RunningEmulator, TokenSet
from tests.emulators.google.conftest import Receiver

DAY = datetime(2030, 3, 4, 10, tzinfo=UTC)
REDIRECT = "http://127.0.0.1:9/callback"


def _api(google: RunningEmulator, token: str) -> httpx.Client:
    return httpx.Client(base_url=google.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _event(summary: str = "x", start: datetime = DAY) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
    }


def _authorize(google: RunningEmulator, challenge: str, email: str) -> str:
    """Walk the consent page like a browser; return the code from the redirect."""
    params = {
        "client_id": "web-client",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "https://www.googleapis.com/auth/calendar",
        "state": "st-42",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",
    }
    with httpx.Client(base_url=google.url) as browser:
        page = browser.get("/o/oauth2/v2/auth", params=params)
        assert page.status_code == 200 and "Allow" in page.text
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
        answer = browser.post("/o/oauth2/v2/auth", data={**form, "new_email": email, "decision": "allow"})
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert query["state"] == ["st-42"]
    return query["code"][0]


def test_authorization_code_flow_verifies_pkce(google: RunningEmulator) -> None:
    google.state.add_client("web-client", "web-secret", (REDIRECT,))
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    code = _authorize(google, challenge, "New.Person@example.org")
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": "web-client",
        "client_secret": "web-secret",
    }
    with httpx.Client(base_url=google.url) as client:
        wrong = client.post("/token", data={**exchange, "code_verifier": secrets.token_urlsafe(48)})
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        right = client.post("/token", data={**exchange, "code_verifier": verifier})
        assert right.status_code == 200, right.text
        tokens = right.json()
        assert tokens["token_type"] == "Bearer" and tokens["refresh_token"] and tokens["expires_in"] > 0
        reused = client.post("/token", data={**exchange, "code_verifier": verifier})
        assert reused.json()["error"] == "invalid_grant"
        refreshed = client.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": "web-client",
                "client_secret": "web-secret",
            },
        ).json()
        assert refreshed["access_token"] != tokens["access_token"] and "refresh_token" not in refreshed
        me = client.get("/oauth2/v3/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.json()["email"] == "new.person@example.org"
    with _api(google, refreshed["access_token"]) as api:
        assert api.get("/users/me/calendarList/primary").json()["id"] == "new.person@example.org"


def test_authorize_refuses_an_unregistered_redirect_uri(google: RunningEmulator) -> None:
    google.state.add_client("strict-client", "s", ("https://app.example.org/cb",))
    page = httpx.get(
        f"{google.url}/o/oauth2/v2/auth",
        params={
            "client_id": "strict-client",
            "redirect_uri": "https://evil.example/cb",
            "response_type": "code",
        },
    )
    assert page.status_code == 400 and "redirect_uri_mismatch" in page.text


def test_revoked_token_is_refused(google: RunningEmulator, google_user: tuple[str, TokenSet]) -> None:
    _, tokens = google_user
    with _api(google, tokens.access_token) as api:
        assert api.get("/users/me/calendarList").status_code == 200
        assert httpx.post(f"{google.url}/revoke", data={"token": tokens.refresh_token}).status_code == 200
        refused = api.get("/users/me/calendarList")
    assert refused.status_code == 401
    assert refused.json()["error"]["errors"][0]["reason"] == "authError"
    assert "invalid_token" in refused.headers["www-authenticate"]
    assert httpx.get(f"{google.api_url}/users/me/calendarList").status_code == 401  # no token at all


def test_expired_sync_token_answers_410(google: RunningEmulator, google_user: tuple[str, TokenSet]) -> None:
    email, tokens = google_user
    with _api(google, tokens.access_token) as api:
        token = api.get(f"/calendars/{email}/events").json()["nextSyncToken"]
        assert api.get(f"/calendars/{email}/events", params={"syncToken": token}).status_code == 200
        assert google.state.expire_sync_tokens(email) >= 1
        gone = api.get(f"/calendars/{email}/events", params={"syncToken": token})
    assert gone.status_code == 410
    assert gone.json()["error"]["errors"][0]["reason"] == "fullSyncRequired"


def test_rate_limit_storm_then_recovery(google: RunningEmulator, google_user: tuple[str, TokenSet]) -> None:
    _, tokens = google_user
    google.state.faults.rate_limit(3, retry_after=7)
    with _api(google, tokens.access_token) as api:
        answers = [api.get("/users/me/calendarList") for _ in range(4)]
        assert [a.status_code for a in answers] == [429, 429, 429, 200]
        assert all(a.headers["retry-after"] == "7" for a in answers[:3])
        google.state.faults.rate_limit(1, retry_after=None, status=403)
        limited = api.get("/users/me/calendarList")
        assert limited.status_code == 403 and "retry-after" not in limited.headers
        assert limited.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
        google.state.faults.fail_randomly(1.0, status=503)
        assert api.get("/users/me/calendarList").status_code == 503
        google.state.faults.clear()
        assert api.get("/users/me/calendarList").status_code == 200
        assert httpx.post(f"{google.url}/revoke", data={"token": "unknown"}).status_code == 400  # spared


def test_push_notifications_carry_the_channel_token(
    google: RunningEmulator, google_user: tuple[str, TokenSet], receiver: Receiver
) -> None:
    email, tokens = google_user
    tag = email.replace("@", "-at-").replace(".", "-")  # channel ids: letters, digits, - _ + / = only
    with _api(google, tokens.access_token) as api:
        channel = api.post(
            f"/calendars/{email}/events/watch",
            json={
                "id": "chan-1-" + tag,
                "type": "web_hook",
                "address": receiver.url,
                "token": "s3cret",
                "params": {"ttl": "3600"},
            },
        ).json()
        assert receiver.wait_for(1)
        api.post(f"/calendars/{email}/events", json=_event())
        seen = receiver.wait_for(2)
        assert [(h["x-goog-resource-state"], h["x-goog-message-number"]) for h in seen] == [
            ("sync", "1"),
            ("exists", "2"),
        ]
        assert {h["x-goog-channel-token"] for h in seen} == {"s3cret"}
        assert {h["x-goog-channel-id"] for h in seen} == {"chan-1-" + tag}
        assert {h["x-goog-resource-id"] for h in seen} == {channel["resourceId"]}
        stop = api.post("/channels/stop", json={"id": channel["id"], "resourceId": channel["resourceId"]})
        assert stop.status_code == 204
        api.post(f"/calendars/{email}/events", json=_event())
        other = api.post(
            f"/calendars/{email}/events/watch",
            json={"id": "chan-2-" + tag, "type": "web_hook", "address": receiver.url},
        )
        assert other.status_code == 200
    seen = receiver.wait_for(3)
    assert [h["x-goog-channel-id"] for h in seen][2:] == ["chan-2-" + tag]  # nothing on the stopped one


def test_a_failed_delivery_is_not_fatal(google: RunningEmulator, google_user: tuple[str, TokenSet]) -> None:
    email, tokens = google_user
    with _api(google, tokens.access_token) as api:
        api.post(
            f"/calendars/{email}/events/watch",
            json={"id": "dead-" + email, "type": "web_hook", "address": "http://127.0.0.1:9/nobody"},
        )
        assert api.post(f"/calendars/{email}/events", json=_event()).status_code == 200


def test_writes_check_etags_ids_and_access(
    google: RunningEmulator, google_user: tuple[str, TokenSet]
) -> None:
    email, tokens = google_user
    shared = google.state.add_calendar(email, "Shared", access_role="reader")
    with _api(google, tokens.access_token) as api:
        created = api.post(f"/calendars/{email}/events", json={**_event(), "id": "abcdef0123"}).json()
        assert (
            api.post(f"/calendars/{email}/events", json={**_event(), "id": "abcdef0123"}).status_code == 409
        )
        assert api.post(f"/calendars/{email}/events", json={**_event(), "id": "NOT_VALID"}).status_code == 400
        url = f"/calendars/{email}/events/abcdef0123"
        patched = api.patch(url, json={"summary": "moved"}, headers={"If-Match": created["etag"]}).json()
        assert patched["etag"] != created["etag"] and patched["sequence"] == 1
        stale = api.put(url, json=_event("again"), headers={"If-Match": created["etag"]})
        assert stale.status_code == 412
        assert api.delete(url, headers={"If-Match": created["etag"]}).status_code == 412
        assert api.delete(url).status_code == 204
        assert api.delete(url).status_code == 410
        assert api.get(url).json()["status"] == "cancelled"
        refused = api.post(f"/calendars/{shared}/events", json=_event())
        assert refused.status_code == 403
        assert refused.json()["error"]["errors"][0]["reason"] == "requiredAccessLevel"


def test_control_api_drives_the_emulator_from_another_process(google: RunningEmulator) -> None:
    with httpx.Client(base_url=f"{google.url}/_emulator") as control:
        user = control.post("/users", json={"email": "demo@example.org"}).json()
        calendar = control.post("/calendars", json={"email": "demo@example.org", "summary": "Demo"}).json()
        control.post(f"/calendars/{calendar['id']}/events", json=_event("planted"))
        assert control.post("/faults", json={"rate_limit": {"count": 1}}).status_code == 200
        with _api(google, user["access_token"]) as api:
            assert api.get(f"/calendars/{calendar['id']}/events").status_code == 429
            items = api.get(f"/calendars/{calendar['id']}/events").json()["items"]
        assert [i["summary"] for i in items] == ["planted"]
        summary = control.get("/state").json()
        assert any(c["id"] == calendar["id"] and c["events"] == 1 for c in summary["calendars"])
        assert control.post("/revoke", json={"token": user["access_token"]}).json() == {"revoked": True}
