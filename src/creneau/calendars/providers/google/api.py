"""One Google account's HTTP session: Bearer token, JSON requests, and what Google's error bodies add to the
one status → error mapping of ``providers/http.py`` (:class:`GoogleErrors`).

Requests go through the SSRF-guarded client of ``providers/http.py``. The token is the ``access_token`` of
the account's secret (``{"access_token", "refresh_token", "expires_at"}``, see docs/providers/google.md);
refreshing it is the caller's job: a 401 raises ``AuthExpired`` and the token never appears in a message.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from creneau.calendars.providers.base import Connection
from creneau.calendars.providers.http import (
    NetworkPolicy,
    StatusErrors,
    json_request,
    make_client,
    redact,
    request,
)
from creneau.errors import ProviderError, TransientProviderError

DEFAULT_RETRY_AFTER = 30.0  # seconds, when Google limits us without saying for how long
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def calendar_path(calendar_id: str) -> str:
    return "calendars/" + quote(calendar_id, safe="")


def event_path(calendar_id: str, event_id: str) -> str:
    return f"{calendar_path(calendar_id)}/events/{quote(event_id, safe='')}"


class GoogleSession:
    """JSON over HTTP for one account. Every method raises only ``ProviderError`` subclasses."""

    def __init__(
        self, connection: Connection, policy: NetworkPolicy, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.policy = policy
        self.base = connection.server_url.rstrip("/")
        self._client = make_client(policy, auth=None, transport=transport)
        self._client.auth = _Bearer(connection.access_token())

    def close(self) -> None:
        self._client.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request; answers in ``accept`` (and 2xx) come back, others raise via :func:`failure`.
        ``idempotent`` marks a POST that only reads (:func:`~creneau.calendars.providers.http.request`)."""
        url = httpx.URL(f"{self.base}/{path}", params=dict(params or {}))
        content, all_headers = json_request(body, headers)
        response = request(
            self._client,
            method,
            url,
            policy=self.policy,
            headers=all_headers,
            content=content,
            accept=accept,
            trusted_origin=self.base,
            idempotent=idempotent,
            errors=GOOGLE_ERRORS,
        )
        if response.status_code < 300 or response.status_code in accept:
            return response
        raise failure(response, f"{method} {redact(url)}")

    def json(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        response = self.call(method, path, **options)
        return decode(response)


def decode(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise TransientProviderError(f"{redact(response.url)} answered with unreadable JSON") from None
    if not isinstance(data, dict):
        raise TransientProviderError(f"{redact(response.url)} answered with unexpected JSON")
    return data


def error_reason(response: httpx.Response) -> tuple[str, str]:
    """Google's ``(reason, message)`` from an error body (empty strings when absent)."""
    try:
        error = response.json().get("error", {})
        details = error.get("errors") or [{}]
        return str(details[0].get("reason", "")), str(error.get("message", ""))
    except (ValueError, AttributeError, IndexError, TypeError):
        return "", ""


class GoogleErrors(StatusErrors):
    """Google's refinements: a 403 whose reason is a quota is "slow down" (30 s when Google does not say
    how long); a 410 ``fullSyncRequired`` is an expired sync token."""

    service = "Google"
    default_retry_after = DEFAULT_RETRY_AFTER

    def code(self, response: httpx.Response) -> str:
        reason, message = error_reason(response)
        return f"{reason}: {message}" if reason else ""

    def rate_limited(self, response: httpx.Response) -> bool:
        status = response.status_code
        return super().rate_limited(response) or (
            status == 403 and error_reason(response)[0] in _RATE_REASONS
        )

    def cursor_invalid(self, response: httpx.Response) -> bool:
        return response.status_code == 410 and error_reason(response)[0] == "fullSyncRequired"


GOOGLE_ERRORS = GoogleErrors()


def failure(response: httpx.Response, what: str) -> ProviderError:
    """The error for a Google answer we did not expect (see :class:`GoogleErrors`)."""
    return GOOGLE_ERRORS.error(response, what)
