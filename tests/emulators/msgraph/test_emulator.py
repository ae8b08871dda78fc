"""The Graph emulator's behaviours that clients depend on: delta expiry, throttling, the subscription
handshake, notifications, OAuth with PKCE, token checks, and the HTTP control API."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from creneau.emulators.msgraph import RunningEmulator
from tests.emulators.msgraph.conftest import Account
from tests.emulators.msgraph.webhook import Receiver

WINDOW = {"startDateTime": "2030-03-01T00:00:00Z", "endDateTime": "2030-04-01T00:00:00Z"}


def _event(hour: int) -> dict[str, object]:
    return {
        "subject": f"at {hour}",
        "start": {"dateTime": f"2030-03-04T{hour:02d}:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2030-03-04T{hour + 1:02d}:00:00", "timeZone": "UTC"},
    }


def _calendar(emulator: RunningEmulator, account: Account) -> str:
    return emulator.state.add_calendar(account.email, "Work").id


def _subscription(account: Account, calendar: str, receiver: Receiver) -> httpx.Response:
    return account.client.post(
        f"{account.base}/subscriptions",
        json={
            "changeType": "created,updated,deleted",
            "notificationUrl": receiver.url,
            "lifecycleNotificationUrl": receiver.url + "/lifecycle",
            "resource": f"me/calendars/{calendar}/events",
            "expirationDateTime": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
            "clientState": "s3cret-state",
        },
    )


def test_expired_delta_token_answers_410(emulator: RunningEmulator, account: Account) -> None:
    calendar = _calendar(emulator, account)
    emulator.state.put_event(calendar, _event(9))
    url = f"{account.base}/me/calendars/{calendar}/calendarView/delta"
    first = account.client.get(url, params=WINDOW).json()
    delta_link = first["@odata.deltaLink"]
    assert account.client.get(delta_link).status_code == 200  # still valid: nothing changed
    emulator.state.expire_delta_tokens()
    gone = account.client.get(delta_link)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "syncStateNotFound"


def test_delta_pages_and_removals(emulator: RunningEmulator, account: Account) -> None:
    calendar = _calendar(emulator, account)
    ids = [emulator.state.put_event(calendar, _event(h)) for h in (8, 9, 10)]
    url = f"{account.base}/me/calendars/{calendar}/calendarView/delta"
    page = account.client.get(url, params=WINDOW, headers={"Prefer": "odata.maxpagesize=2"}).json()
    assert len(page["value"]) == 2 and "@odata.nextLink" in page
    page = account.client.get(page["@odata.nextLink"]).json()
    assert len(page["value"]) == 1 and "@odata.deltaLink" in page
    emulator.state.delete_event(ids[0])
    emulator.state.put_event(
        calendar,
        {
            **_event(9),
            "id": ids[1],
            "start": {"dateTime": "2031-01-01T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2031-01-01T10:00:00", "timeZone": "UTC"},
        },
    )
    changes = account.client.get(page["@odata.deltaLink"]).json()["value"]
    assert sorted((c["id"], c["@removed"]["reason"]) for c in changes) == sorted(
        [(ids[0], "deleted"), (ids[1], "changed")]
    )


def test_429_storm_with_retry_after(emulator: RunningEmulator, account: Account) -> None:
    emulator.state.faults.fail_next(3, status=429, retry_after=5)
    answers = [account.client.get(f"{account.base}/me") for _ in range(4)]
    assert [a.status_code for a in answers] == [429, 429, 429, 200]
    assert all(a.headers["Retry-After"] == "5" for a in answers[:3])
    assert answers[0].json()["error"]["code"] == "TooManyRequests"
    emulator.state.faults.error_rate(1.0, status=503)
    assert account.client.get(f"{account.base}/me").status_code == 503
    emulator.state.faults.error_rate(0.0)
    assert account.client.get(f"{account.base}/me").status_code == 200


def test_subscription_needs_the_validation_token_echoed(
    emulator: RunningEmulator, account: Account, receiver: Receiver
) -> None:
    calendar = _calendar(emulator, account)
    receiver.mode = "wrong"
    refused = _subscription(account, calendar, receiver)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "ValidationError"
    assert receiver.validations and not any(
        s.resource.endswith(calendar + "/events") for s in emulator.state.subscriptions.values()
    )
    receiver.mode = "echo"
    created = _subscription(account, calendar, receiver)
    assert created.status_code == 201, created.text
    assert created.json()["clientState"] == "s3cret-state"
    too_long = account.client.patch(
        f"{account.base}/subscriptions/{created.json()['id']}",
        json={"expirationDateTime": (datetime.now(UTC) + timedelta(days=8)).isoformat()},
    )
    assert too_long.status_code == 400


def test_change_and_lifecycle_notifications_are_delivered(
    emulator: RunningEmulator, account: Account, receiver: Receiver
) -> None:
    calendar = _calendar(emulator, account)
    sub = _subscription(account, calendar, receiver).json()
    event_id = emulator.state.put_event(calendar, _event(9))
    change = receiver.wait_for(lambda b: b["value"][0].get("changeType") == "created")["value"][0]
    assert change["subscriptionId"] == sub["id"] and change["clientState"] == "s3cret-state"
    assert change["resourceData"]["id"] == event_id
    emulator.notifier.lifecycle(sub["id"], "reauthorizationRequired")
    note = receiver.wait_for(lambda b: b["value"][0].get("lifecycleEvent") == "reauthorizationRequired")
    assert note["value"][0]["subscriptionId"] == sub["id"]
    emulator.notifier.lifecycle(sub["id"], "subscriptionRemoved")
    receiver.wait_for(lambda b: b["value"][0].get("lifecycleEvent") == "subscriptionRemoved")
    assert sub["id"] not in emulator.state.subscriptions


def _authorize(emulator: RunningEmulator, challenge: str, tenant: str = "organizations") -> str:
    params = {
        "client_id": "creneau-app",
        "response_type": "code",
        "redirect_uri": "http://127.0.0.1/callback",
        "scope": "offline_access Calendars.ReadWrite",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = httpx.get(f"{emulator.authority(tenant)}/authorize", params=params)
    assert page.status_code == 200 and "Allow" in page.text
    answer = httpx.post(
        f"{emulator.authority(tenant)}/authorize",
        data={**params, "new_email": f"pkce-{secrets.token_hex(3)}@contoso.example", "decision": "allow"},
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def _redeem(emulator: RunningEmulator, code: str, verifier: str) -> httpx.Response:
    return httpx.post(
        f"{emulator.authority()}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "creneau-app",
            "redirect_uri": "http://127.0.0.1/callback",
            "code_verifier": verifier,
        },
    )


def test_pkce_is_verified_and_tokens_work(emulator: RunningEmulator) -> None:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    wrong = _redeem(emulator, _authorize(emulator, challenge), "not-the-verifier")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = _authorize(emulator, challenge)
    tokens = _redeem(emulator, code, verifier).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert _redeem(emulator, code, verifier).status_code == 400  # a code is redeemed once
    me = httpx.get(f"{emulator.graph_url}/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["mail"].startswith("pkce-")
    refreshed = httpx.post(
        f"{emulator.authority()}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "creneau-app",
        },
    ).json()
    assert refreshed["access_token"] != tokens["access_token"]


def test_revoked_token_answers_401(emulator: RunningEmulator, account: Account) -> None:
    assert account.client.get(f"{account.base}/me").status_code == 200
    revoked = httpx.post(f"{emulator.url}/_emulator/revoke", json={"token": account.token})
    assert revoked.json() == {"revoked": 1}
    answer = account.client.get(f"{account.base}/me")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert httpx.get(f"{account.base}/me").status_code == 401  # no token at all


def test_control_api_builds_an_account_from_another_process(emulator: RunningEmulator) -> None:
    made = httpx.post(
        f"{emulator.url}/_emulator/users", json={"email": "demo@outlook.com", "kind": "personal"}
    )
    token = made.json()["tokens"]["access_token"]
    assert re.fullmatch(r"[0-9a-f]{16}", made.json()["id"])
    calendar = httpx.post(
        f"{emulator.url}/_emulator/calendars", json={"email": "demo@outlook.com", "name": "Demo"}
    )
    cid = calendar.json()["id"]
    event = httpx.post(f"{emulator.url}/_emulator/events", json={"calendar_id": cid, "event": _event(10)})
    assert event.status_code == 200
    headers = {"Authorization": f"Bearer {token}"}
    view = httpx.get(f"{emulator.graph_url}/me/calendars/{cid}/calendarView", params=WINDOW, headers=headers)
    assert [e["subject"] for e in view.json()["value"]] == ["at 10"]
    schedule = httpx.post(f"{emulator.graph_url}/me/calendar/getSchedule", headers=headers, json={})
    assert schedule.status_code == 403  # personal accounts have no getSchedule
