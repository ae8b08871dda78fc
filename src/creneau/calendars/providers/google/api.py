"""One Google account's HTTP session: Bearer token, JSON requests, and Google's errors → ours, in one place.

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
    json_request,
    make_client,
    parse_retry_after,
    redact,
    request,
)
from creneau.errors import (
    AuthExpired,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    RemoteNotFound,
    SyncCursorInvalid,
    TransientProviderError,
)

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
            accept=(429, *accept),
            trusted_origin=self.base,
            idempotent=idempotent,
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


def failure(response: httpx.Response, what: str) -> ProviderError:
    """The one place where Google's answers become ``creneau.errors``."""
    status = response.status_code
    reason, message = error_reason(response)
    detail = f"{what} answered HTTP {status}" + (f" ({reason}: {message})" if reason else "")
    if status == 401:
        return AuthExpired("Google no longer accepts this account's access; reconnect the account")
    if status == 429 or (status == 403 and reason in _RATE_REASONS):
        retry = parse_retry_after(response.headers.get("retry-after"))
        return RateLimited(detail, retry_after=retry if retry is not None else DEFAULT_RETRY_AFTER)
    if status == 410 and reason == "fullSyncRequired":
        return SyncCursorInvalid("Google expired the sync token; a full sync is needed")
    if status in (404, 410):
        return RemoteNotFound(detail)
    if status == 412:
        return PreconditionFailed(detail)
    if status >= 500:
        return TransientProviderError(detail)
    if status == 403:
        return ProviderError(f"{detail}: Google refused it (a read-only calendar, or missing rights)")
    return ProviderError(detail)
