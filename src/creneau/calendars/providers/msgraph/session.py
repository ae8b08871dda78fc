"""One account's Graph session: the Bearer token, requests through the guarded client, and what Graph's
error codes add to the one status → error mapping of ``providers/http.py`` (:class:`GraphErrors`).

``Connection.secret`` is ``{"access_token": ..., "refresh_token": ..., "expires_at": <epoch seconds>}``; only
the access token is used here (refreshing it is the caller's job, after ``AuthExpired``). Links the server
hands back (``@odata.nextLink``, ``@odata.deltaLink``) are followed only on the origin of
``Connection.server_url``, so the token never goes elsewhere.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
from creneau.errors import AuthExpired, ProviderError, TransientProviderError

Json = dict[str, Any]
UTC_PREFERENCE = 'outlook.timezone="UTC"'
# 403 answers that mean "slow down" rather than "forbidden".
_THROTTLE_CODES = frozenset(
    {"TooManyRequests", "ApplicationThrottled", "MailboxConcurrency", "activityLimitReached"}
)
_SYNC_STATE_CODES = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired"})


def segment(value: str) -> str:
    """An id as one URL path segment (Graph ids may hold ``/``, ``+`` and ``=``)."""
    return quote(value, safe="")


def error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or "")
    return str(error or "")


class GraphErrors(StatusErrors):
    """Graph's refinements: ``invalid_grant`` is a refused sign-in whatever the status; 503 (with or without
    Retry-After) and some 403 codes mean "slow down"; 410 and the sync-state codes are an expired delta
    token; a 410 is never "not found"."""

    service = "Microsoft"

    def code(self, response: httpx.Response) -> str:
        return error_code(response)

    def auth_error(self, response: httpx.Response) -> ProviderError | None:
        if response.status_code == 401 or error_code(response) == "invalid_grant":
            return AuthExpired("Microsoft no longer accepts this account's sign-in; reconnect the account")
        return None

    def rate_limited(self, response: httpx.Response) -> bool:
        status = response.status_code
        return status in (429, 503) or (status == 403 and error_code(response) in _THROTTLE_CODES)

    def cursor_invalid(self, response: httpx.Response) -> bool:
        return response.status_code == 410 or error_code(response).lower() in _SYNC_STATE_CODES

    def not_found(self, response: httpx.Response) -> bool:
        return response.status_code == 404


GRAPH_ERRORS = GraphErrors()


def failure(response: httpx.Response, what: str) -> ProviderError:
    """The error for a Graph answer we did not expect (see :class:`GraphErrors`)."""
    return GRAPH_ERRORS.error(response, what)


class GraphSession:
    """HTTP for one account. Every method raises only ``ProviderError`` subclasses."""

    def __init__(
        self, connection: Connection, policy: NetworkPolicy, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.policy = policy
        self.base = connection.server_url.rstrip("/")
        self._token = connection.access_token()
        self._client = make_client(policy, auth=None, transport=transport)
        self._origin = httpx.URL(self.base).copy_with(path="/", query=None, fragment=None)

    def close(self) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def send(
        self,
        method: str,
        url: str,
        *,
        body: Json | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """One request. 2xx and statuses in ``accept`` are returned; others raise (:func:`failure`).
        ``idempotent`` marks a POST that only reads (:func:`~creneau.calendars.providers.http.request`)."""
        target = httpx.URL(url)
        if (target.scheme, target.host, target.port) != (
            self._origin.scheme,
            self._origin.host,
            self._origin.port,
        ):
            raise ProviderError(f"Microsoft Graph pointed us to another server ({redact(target)}); refused")
        content, all_headers = json_request(
            body, {"Authorization": f"Bearer {self._token}", **(headers or {})}
        )
        response = request(
            self._client,
            method,
            target,
            policy=self.policy,
            headers=all_headers,
            content=content,
            accept=accept,
            trusted_origin=self.base,
            idempotent=idempotent,
            errors=GRAPH_ERRORS,
        )
        if response.is_success or response.status_code in accept:
            return response
        raise failure(response, f"{method} {redact(target)}")

    def get_json(self, url: str, *, headers: Mapping[str, str] | None = None) -> Json:
        return self.json(self.send("GET", url, headers=headers))

    @staticmethod
    def json(response: httpx.Response) -> Json:
        try:
            data = response.json()
        except ValueError:
            raise TransientProviderError(
                f"{redact(response.url)} answered something that is not JSON"
            ) from None
        if not isinstance(data, dict):
            raise TransientProviderError(f"{redact(response.url)} answered JSON that is not an object")
        return data
