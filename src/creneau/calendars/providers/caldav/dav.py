"""One account's WebDAV session: requests through the guarded client, the one status → error mapping of
``providers/http.py`` with CalDAV's sign-in messages (:class:`DavErrors`).

Remote ids of events are *paths* (``/alice/work/meeting.ics``), percent-encoded in one canonical way so that
the same object keeps the same id whichever report named it (servers encode hrefs differently from one
answer to the next). Calendars are absolute URLs, because an account's calendars may live on another host
than the one the user typed (iCloud answers with ``pNN-caldav.icloud.com``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

import httpx

from creneau.calendars.providers.base import Connection
from creneau.calendars.providers.caldav import xml
from creneau.calendars.providers.http import (
    ANY_SERVER,
    NetworkPolicy,
    StatusErrors,
    make_client,
    redact,
    request,
)
from creneau.errors import (
    AuthExpired,
    AuthFailed,
    InvalidServerUrl,
    NotCalDAV,
    ProviderError,
)

XML_CONTENT_TYPE = "application/xml; charset=utf-8"
ICAL_CONTENT_TYPE = "text/calendar; charset=utf-8"
APP_PASSWORD_HELP = "https://support.apple.com/en-us/102654"  # noqa: S105 - a help page, not a secret
_PATH_SAFE = "/:@!$&'()*+,;=~"


def _joined(base: str, href: str) -> SplitResult:
    try:
        return urlsplit(urljoin(base, href))
    except ValueError as exc:  # "http://[::1": a stored URL from before the URL check, or a bad href
        raise InvalidServerUrl("the host name of the server URL is not valid") from exc


def canonical_path(base: str, href: str) -> str:
    """The path ``href`` names, relative to ``base``, percent-encoded the one way we use for ids."""
    path = _joined(base, href).path or "/"
    return quote(unquote(path), safe=_PATH_SAFE)


def absolute(base: str, href: str) -> str:
    """``href`` (a path or a URL) made absolute against ``base``, with a canonical path and no user-info."""
    joined = _joined(base, href)
    host = joined.netloc.rpartition("@")[2]
    return f"{joined.scheme}://{host}{canonical_path(base, href)}"


def collection_url(url: str) -> str:
    """A collection URL with its trailing slash (members are joined onto it)."""
    return url if url.endswith("/") else url + "/"


def is_icloud(url: str) -> bool:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:  # unreadable: certainly not iCloud's
        return False
    return host == "icloud.com" or host.endswith(".icloud.com")


class DavSession:
    """HTTP for one account. Every method raises only ``ProviderError`` subclasses."""

    def __init__(
        self,
        connection: Connection,
        policy: NetworkPolicy,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self._connection = connection
        self._client = make_client(policy, auth=(connection.username, connection.secret), transport=transport)
        self.errors = DavErrors(self)

    def close(self) -> None:
        self._client.close()

    def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """One request; 401 becomes ``AuthFailed`` (``AuthExpired`` once the account had been discovered)."""
        all_headers = dict(headers or {})
        if body is not None and "Content-Type" not in all_headers:
            all_headers["Content-Type"] = XML_CONTENT_TYPE
        response = request(
            self._client,
            method,
            url,
            policy=self.policy,
            headers=all_headers,
            content=body,
            accept=accept,
            trusted_origin=self._connection.server_url,
            errors=self.errors,
        )
        if response.status_code == 401:
            raise self.auth_error()
        return response

    def auth_error(self) -> AuthFailed:
        hint = ""
        if is_icloud(self._connection.server_url):
            hint = (
                " For iCloud, sign in with your Apple ID e-mail and an app-specific password "
                f"({APP_PASSWORD_HELP}), not your Apple ID password."
            )
        if self._connection.principal_url:
            return AuthExpired(
                f"the calendar server no longer accepts the password; reconnect the account.{hint}"
            )
        return AuthFailed(f"the calendar server refused the user name or password.{hint}")

    def propfind(self, url: str, names: Sequence[str], *, depth: int) -> xml.MultiStatus:
        """:raises RemoteNotFound: on 404; other failures as :func:`failure` says."""
        response = self.send("PROPFIND", url, body=xml.propfind(names), headers={"Depth": str(depth)})
        if response.status_code != 207:
            raise failure(response, f"PROPFIND {redact(url)}")
        return multistatus(response)

    def report(self, url: str, body: bytes, *, depth: int, accept: Collection[int] = ()) -> httpx.Response:
        return self.send("REPORT", url, body=body, headers={"Depth": str(depth)}, accept=accept)


def multistatus(response: httpx.Response) -> xml.MultiStatus:
    """:raises NotCalDAV: when a 207 answer is not a readable multistatus."""
    try:
        return xml.parse_multistatus(response.content)
    except xml.MalformedXML as exc:
        raise NotCalDAV(f"{redact(response.url)} did not answer with WebDAV XML ({exc})") from exc


class DavErrors(StatusErrors):
    """A CalDAV server says nothing beyond its statuses; only a refused password is worded for the account
    (the iCloud hint; AuthFailed at connect time, AuthExpired afterwards)."""

    def __init__(self, session: DavSession) -> None:
        self._session = session

    def auth_error(self, response: httpx.Response) -> ProviderError | None:
        return self._session.auth_error() if response.status_code == 401 else None


def failure(response: httpx.Response, what: str) -> ProviderError:
    """The error for an answer we did not expect (a 4xx that nobody handled); see ``providers/http.py``."""
    return ANY_SERVER.error(response, what)
