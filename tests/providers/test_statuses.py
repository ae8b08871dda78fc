"""The one HTTP status → error mapping (providers/http.py) and what each provider's hooks refine, through
real HTTP answers from a local server and the providers' own sessions."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from creneau.calendars.providers.base import Connection
from creneau.calendars.providers.caldav.dav import DavSession
from creneau.calendars.providers.google.api import GoogleSession
from creneau.calendars.providers.http import NetworkPolicy, StatusErrors
from creneau.calendars.providers.msgraph.session import GraphSession
from creneau.errors import (
    AuthExpired,
    AuthFailed,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    RemoteNotFound,
    SyncCursorInvalid,
    TransientProviderError,
)
from tests.providers.conftest import LOOPBACK, Answer, Handler, LocalHTTP

POLICY = NetworkPolicy(allowed_private_networks=LOOPBACK, timeout=5.0)
TOKENS = json.dumps({"access_token": "s3cr3t-access", "refresh_token": "s3cr3t-refresh"})


def _google_body(reason: str) -> bytes:
    return json.dumps({"error": {"errors": [{"reason": reason}], "message": "m"}}).encode()


def _graph_body(code: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": "m"}}).encode()


ALL = ("caldav", "google", "msgraph")
Transient, Limited = TransientProviderError, RateLimited
# (status, extra headers, body) → the error each provider's session raises (providers not named: not tested)
CASES: list[tuple[int, dict[str, str], bytes, dict[str, type[ProviderError]]]] = [
    (401, {}, b"", dict.fromkeys(ALL, AuthExpired)),
    (429, {}, b"", dict.fromkeys(ALL, Limited)),
    (503, {"Retry-After": "3"}, b"", dict.fromkeys(ALL, Limited)),
    (503, {}, b"", {"caldav": Transient, "google": Transient, "msgraph": Limited}),
    (500, {}, b"", dict.fromkeys(ALL, Transient)),
    (404, {}, b"", dict.fromkeys(ALL, RemoteNotFound)),
    (410, {}, b"", {"caldav": RemoteNotFound, "google": RemoteNotFound, "msgraph": SyncCursorInvalid}),
    (410, {}, _google_body("fullSyncRequired"), {"google": SyncCursorInvalid}),
    (403, {}, _google_body("rateLimitExceeded"), {"google": Limited}),
    (403, {}, _graph_body("ApplicationThrottled"), {"msgraph": Limited}),
    (400, {}, _graph_body("SyncStateNotFound"), {"msgraph": SyncCursorInvalid}),
    (400, {}, _graph_body("invalid_grant"), {"msgraph": AuthExpired}),
    (412, {}, b"", dict.fromkeys(ALL, PreconditionFailed)),
    (403, {}, b"", dict.fromkeys(ALL, ProviderError)),
    (400, {}, b"", dict.fromkeys(ALL, ProviderError)),
]
PARAMS = [
    pytest.param(kind, status, headers, body, error, id=f"{kind}-{status}-{error.__name__}-{i}")
    for i, (status, headers, body, expected) in enumerate(CASES)
    for kind, error in expected.items()
]


def _send(kind: str, url: str) -> None:
    """One GET through the provider's own session, raising what a provider method would."""
    if kind == "caldav":
        dav = DavSession(Connection(url, "alice", "s3cr3t-pw", principal_url=url + "alice/"), POLICY)
        try:
            response = dav.send("GET", url + "thing")
            raise dav.errors.error(response, "GET thing")
        finally:
            dav.close()
    elif kind == "google":
        google = GoogleSession(Connection(url, "", TOKENS), POLICY)
        try:
            google.call("GET", "thing")
        finally:
            google.close()
    else:
        graph = GraphSession(Connection(url.rstrip("/"), "", TOKENS), POLICY)
        try:
            graph.send("GET", graph.url("thing"))
        finally:
            graph.close()


@pytest.mark.parametrize(("kind", "status", "headers", "body", "expected"), PARAMS)
def test_each_answer_becomes_the_same_error_whichever_place_sees_it(
    local_http: Callable[[Handler], LocalHTTP],
    kind: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
    expected: type[ProviderError],
) -> None:
    def answer(method: str, path: str, request_headers: dict[str, str], request_body: bytes) -> Answer:
        return status, {"Content-Type": "application/json", **headers}, body

    server = local_http(answer)
    with pytest.raises(ProviderError) as caught:
        _send(kind, server.url)
    assert type(caught.value) is expected, (kind, status, caught.value)
    assert "s3cr3t" not in str(caught.value)
    if isinstance(caught.value, RateLimited) and "Retry-After" in headers:
        assert caught.value.retry_after == 3


def test_google_waits_thirty_seconds_when_it_does_not_say(local_http: Callable[[Handler], LocalHTTP]) -> None:
    server = local_http(lambda m, p, h, b: (403, {}, _google_body("userRateLimitExceeded")))
    with pytest.raises(RateLimited) as caught:
        _send("google", server.url)
    assert caught.value.retry_after == 30
    assert "userRateLimitExceeded" in str(caught.value) and "Google asks us to slow down" in str(caught.value)


def test_a_refused_password_before_discovery_is_auth_failed_with_the_icloud_hint() -> None:
    request = httpx.Request("GET", "https://caldav.icloud.com/x")
    dav = DavSession(Connection("https://caldav.icloud.com/", "a@icloud.com", "pw"), POLICY)
    try:
        error = dav.errors.error(httpx.Response(401, request=request), "GET x")
    finally:
        dav.close()
    assert type(error) is AuthFailed and "app-specific password" in str(error)


def test_the_common_mapping_names_the_server_and_its_code() -> None:
    class Named(StatusErrors):
        service = "Exchange"

        def code(self, response: httpx.Response) -> str:
            return "ErrorAccessDenied"

    request = httpx.Request("PUT", "https://mail.example.org/EWS/Exchange.asmx")
    error = Named().error(httpx.Response(403, request=request), "PUT EWS")
    assert str(error) == (
        "PUT EWS answered HTTP 403 (ErrorAccessDenied): Exchange refused it (a read-only calendar, "
        "or missing rights)"
    )
