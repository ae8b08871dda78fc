"""The one HTTP client every provider uses: timeouts, the SSRF guard (:mod:`.netguard`), redirects we follow
ourselves, the one mapping of HTTP answers to our errors (:class:`StatusErrors`), and one more try for a read
whose kept-alive connection broke.

Choices: environment proxies are ignored (``trust_env=False``) because a proxy would connect for us and
defeat the guard; credentials go to the account's own origin and to HTTPS URLs, never in clear text to another
origin (a redirect, or an href a server points us to); URLs appear in error messages without their user-info
and query, and passwords never do. Name resolution uses the system resolver, which has no timeout of ours.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from creneau.calendars.providers.netguard import (
    GuardedTransport,
    NetworkPolicy,
    check_address,
    check_url,
    redact,
    resolve_checked,
)
from creneau.errors import (
    AuthExpired,
    InvalidServerUrl,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    RemoteNotFound,
    ResponseTooLarge,
    ServerUnreachable,
    SyncCursorInvalid,
    TransientProviderError,
)

__all__ = [
    "MAX_REDIRECTS",
    "GuardedTransport",
    "NetworkPolicy",
    "StatusErrors",
    "check_address",
    "check_url",
    "json_request",
    "make_client",
    "parse_retry_after",
    "redact",
    "request",
    "resolve_checked",
]

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_READS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"})
# A connection that broke before an answer came: closed or reset by the server (not a timeout).
_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def make_client(
    policy: NetworkPolicy,
    *,
    auth: tuple[str, str] | None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A client for one account. ``transport`` replaces the guarded one (tests: ``httpx.MockTransport``)."""
    return httpx.Client(
        auth=httpx.BasicAuth(*auth) if auth else None,
        timeout=httpx.Timeout(policy.timeout),
        follow_redirects=False,  # request() follows them, checking each target
        trust_env=False,
        headers={"User-Agent": policy.user_agent},
        event_hooks=policy.event_hooks,
        transport=transport or GuardedTransport(policy),
    )


# -- HTTP answers -> our errors ----------------------------------------------------------------------------


class StatusErrors:
    """The one mapping of an HTTP answer we did not expect to ``creneau.errors`` (as httpx's
    ``map_httpcore_exceptions`` maps transport errors), in a fixed order: sign-in refused, slow down, sync
    cursor expired, gone, precondition, server error, forbidden, anything else.

    A provider whose server says more than the status (Google's ``reason``, Graph's ``error.code``) subclasses
    it and overrides the hooks, never the order; the session passes its instance to :func:`request`, which
    raises it for 429 and 5xx, and raises ``error()`` itself for the 4xx it did not expect.
    """

    service = "the server"  # names the server in messages ("Google refused it ...")
    default_retry_after: float | None = None  # seconds, when the server limits us without saying how long

    def code(self, response: httpx.Response) -> str:
        """The server's own error code for messages ("" when it gives none)."""
        return ""

    def auth_error(self, response: httpx.Response) -> ProviderError | None:
        """The error of a refused sign-in, or None when the answer is not one (default: any 401)."""
        if response.status_code != 401:
            return None
        return AuthExpired(f"{self.service} no longer accepts this account's access; reconnect the account")

    def rate_limited(self, response: httpx.Response) -> bool:
        status = response.status_code
        return status == 429 or (status == 503 and "retry-after" in response.headers)

    def cursor_invalid(self, response: httpx.Response) -> bool:
        """Whether the answer says the sync cursor is no longer usable (no server says it by status alone)."""
        return False

    def not_found(self, response: httpx.Response) -> bool:
        return response.status_code in (404, 410)

    def error(self, response: httpx.Response, what: str) -> ProviderError:
        """The error for ``response`` to the request ``what`` ("PUT https://…", already redacted)."""
        status = response.status_code
        code = self.code(response)
        detail = f"{what} answered HTTP {status}" + (f" ({code})" if code else "")
        auth = self.auth_error(response)
        if auth is not None:
            return auth
        if self.rate_limited(response):
            retry = parse_retry_after(response.headers.get("retry-after"))
            return RateLimited(
                f"{detail}: {self.service} asks us to slow down",
                retry_after=retry if retry is not None else self.default_retry_after,
            )
        if self.cursor_invalid(response):
            return SyncCursorInvalid(f"{detail}: the sync token expired; a full sync is needed")
        if self.not_found(response):
            return RemoteNotFound(detail)
        if status == 412:
            return PreconditionFailed(f"{detail}: the event changed since we read it")
        if status >= 500:
            return TransientProviderError(detail)
        if status == 403:
            return ProviderError(
                f"{detail}: {self.service} refused it (a read-only calendar, or missing rights)"
            )
        return ProviderError(detail)


ANY_SERVER = StatusErrors()


# -- requests, redirects ------------------------------------------------------------------------------------


def request(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    policy: NetworkPolicy,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    accept: Collection[int] = (),
    trusted_origin: str | httpx.URL | None = None,
    idempotent: bool | None = None,
    errors: StatusErrors = ANY_SERVER,
    follow_redirects: bool = True,
    max_bytes: int | None = None,
) -> httpx.Response:
    """Send one request, following up to :data:`MAX_REDIRECTS` redirects, each target checked first.

    The returned response is read; its ``url`` is the final one. Statuses in ``accept`` are returned as
    they are. The client's credentials go to ``trusted_origin`` (default: ``url``'s origin) and to any HTTPS
    URL, never in clear text to another origin (a redirect or an href pointing elsewhere).

    A request that only reads (``idempotent``; by default GET, HEAD, OPTIONS, PROPFIND and REPORT; a POST
    that only asks, like Google's freeBusy, says so) is sent once more on a new connection when the
    connection breaks before any answer: a server may close a kept-alive connection just as we reuse it.
    A write is never sent twice by us; its caller decides (the outbox finds a lost create again). Otherwise:

    :raises AddressForbidden: when the URL or a redirect target is in a forbidden network
    :raises ServerUnreachable: on DNS failure, refused connection, TLS error or timeout
    :raises RateLimited: on 429, or 503 with Retry-After (or what ``errors`` says means "slow down")
    :raises TransientProviderError: on other 5xx answers, broken connections and redirect loops

    Other answers (2xx, 4xx) are returned: the caller reads what it expects and raises ``errors.error()``
    for the rest. With ``follow_redirects=False`` a redirect is returned as it is (a token endpoint: its
    body carries secrets that must not be sent on to another address).

    :raises ResponseTooLarge: with ``max_bytes``, once the body streamed in (decompressed) or its announced
        Content-Length exceeds it: a huge answer never sits in memory (ICS feeds)
    """
    target = _parsed(url)
    auth_origin = _origin(_parsed(trusted_origin or url))
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(target, policy)
        send_auth = _origin(target) == auth_origin or target.scheme == "https"
        retry = idempotent if idempotent is not None else method in _READS
        response = _send(
            client,
            client.build_request(method, target, headers=headers, content=content),
            send_auth,
            retry_dropped=retry,
            max_bytes=max_bytes,
        )
        redirected = response.status_code in _REDIRECTS and "location" in response.headers
        if not redirected or not follow_redirects:
            status = response.status_code
            if status not in accept and (status >= 500 or errors.rate_limited(response)):
                raise errors.error(response, f"{method} {redact(target)}")
            return response
        target = _redirect_target(response)
        method, content = _redirect_method(response.status_code, method, content)
    raise TransientProviderError(f"more than {MAX_REDIRECTS} redirects from {redact(url)}")


def _parsed(url: str | httpx.URL) -> httpx.URL:
    """``url`` as httpx reads it. A URL httpx cannot read (a stored server URL from before
    :func:`.urls.check_server_url`, an href with a bad host) fails as the account's error, not as a crash."""
    try:
        parsed = httpx.URL(str(url))
        _ = parsed.host  # decodes an "xn--" name, which fails for bad punycode
    except (httpx.InvalidURL, ValueError) as exc:  # idna's errors are UnicodeErrors
        raise InvalidServerUrl("the host name of the server URL is not valid") from exc
    return parsed


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))


def _send(
    client: httpx.Client,
    req: httpx.Request,
    send_auth: bool,
    *,
    retry_dropped: bool,
    max_bytes: int | None = None,
) -> httpx.Response:
    where = redact(req.url)
    try:
        try:
            response = _send_once(client, req, send_auth, max_bytes)
        except _DROPPED:
            if not retry_dropped:
                raise
            # the broken connection has left the pool
            response = _send_once(client, req, send_auth, max_bytes)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ServerUnreachable(f"cannot connect to {where}: {_reason(exc)}") from exc
    except httpx.TimeoutException as exc:
        raise ServerUnreachable(f"{where} did not answer in time") from exc
    except httpx.TransportError as exc:
        raise TransientProviderError(f"the connection to {where} failed: {_reason(exc)}") from exc
    return response


def _send_once(
    client: httpx.Client, req: httpx.Request, send_auth: bool, max_bytes: int | None = None
) -> httpx.Response:
    if max_bytes is None:
        response = client.send(req) if send_auth else client.send(req, auth=None)
        response.read()
        return response
    response = client.send(req, stream=True) if send_auth else client.send(req, stream=True, auth=None)
    try:
        declared = response.headers.get("content-length", "")
        chunks: list[bytes] = []
        # A plain body that announces too much is refused before reading any of it.
        size = int(declared) if declared.isdigit() and "content-encoding" not in response.headers else 0
        if size <= max_bytes:
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    break
                chunks.append(chunk)
    finally:
        response.close()
    if size > max_bytes:
        raise ResponseTooLarge(f"{redact(req.url)} answered more than {max_bytes} bytes")
    # The body is decoded already: the copy must not announce an encoding or a length any more.
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in _BODY_HEADERS]
    return httpx.Response(
        response.status_code, headers=headers, content=b"".join(chunks), request=response.request
    )


_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _redirect_target(response: httpx.Response) -> httpx.URL:
    try:
        return response.url.join(response.headers["location"])
    except (httpx.InvalidURL, ValueError) as exc:
        raise ProviderError(f"{redact(response.url)} redirects to an invalid URL") from exc


def _redirect_method(status: int, method: str, content: bytes | None) -> tuple[str, bytes | None]:
    """307/308 keep everything; 301/302 keep the method (PROPFIND on .well-known) except POST; 303 → GET."""
    if status == 303 and method != "HEAD":
        return "GET", None
    if status in (301, 302) and method == "POST":
        return "GET", None
    return method, content


def json_request(body: Any, headers: Mapping[str, str] | None = None) -> tuple[bytes | None, dict[str, str]]:
    """The content and headers of a JSON API request (Google, Graph): ``Accept: application/json`` plus the
    caller's headers, and ``body`` (when not None) serialized with its ``Content-Type``."""
    all_headers = {"Accept": "application/json", **(headers or {})}
    if body is None:
        return None, all_headers
    return json.dumps(body).encode(), {**all_headers, "Content-Type": "application/json"}


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
