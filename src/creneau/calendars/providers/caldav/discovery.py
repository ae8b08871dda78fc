"""Finding an account's principal and calendar home (RFC 6764 + RFC 5397 + RFC 4791 §6.2).

We ask, in order, ``/.well-known/caldav`` on the typed host, the typed URL itself, then the host's root for
``current-user-principal``; the first answer naming a principal wins. The principal then gives
``calendar-home-set``, ``calendar-user-address-set`` (its ``mailto:`` entries are the owner's addresses) and
``displayname``, and the RFC 6638 ``schedule-inbox-URL`` / ``schedule-outbox-URL``: DAViCal types its
scheduling Inbox and Outbox (``.in/``, ``.out/``) as ordinary calendar collections, so they are only told
apart by the principal naming them (see :class:`Principal`).

Distinct failures, because the user must know what to fix: refused credentials are ``AuthFailed``; no DNS
answer, a refused connection or a timeout are ``ServerUnreachable``; a server that answers but never as CalDAV
(HTML page, 404 everywhere, WebDAV without calendars) is ``NotCalDAV``; a private address is
``AddressForbidden``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from creneau.calendars.providers.base import AccountInfo
from creneau.calendars.providers.caldav import xml
from creneau.calendars.providers.caldav.dav import DavSession, absolute, collection_url
from creneau.calendars.providers.http import redact
from creneau.errors import InvalidServerUrl, NotCalDAV, TransientProviderError

_PRINCIPAL_PROPS = [xml.CURRENT_USER_PRINCIPAL, xml.RESOURCETYPE]
# 5xx on one candidate is not the verdict; 503 stays with request() so a Retry-After becomes RateLimited.
_SERVER_ERRORS = frozenset(range(500, 600)) - {503}
_ACCOUNT_PROPS = [
    xml.CALENDAR_HOME_SET,
    xml.CALENDAR_USER_ADDRESS_SET,
    xml.DISPLAYNAME,
    xml.SCHEDULE_INBOX_URL,
    xml.SCHEDULE_OUTBOX_URL,
]


@dataclass
class _Attempts:
    """What each candidate URL answered, to explain a failure."""

    statuses: list[str] = field(default_factory=list)
    html: bool = False
    webdav_only: bool = False
    answers: int = 0  # candidates that gave a real answer (not a 5xx)
    transient: TransientProviderError | None = None


def candidates(server_url: str) -> list[str]:
    """Where to look for the principal, in order, without duplicates."""
    try:
        parts = urlsplit(server_url.strip())
    except ValueError as exc:  # "http://[::1": a row stored before the URL check
        raise InvalidServerUrl("the host name of the server URL is not valid") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NotCalDAV(f"{server_url!r} is not an http:// or https:// URL")
    root = urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    given = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
    ordered = [root + ".well-known/caldav", given, root]
    return list(dict.fromkeys(ordered))


def find_principal(session: DavSession, server_url: str) -> str:
    """:raises NotCalDAV: when no candidate names a principal (see the module docstring for the others)."""
    attempts = _Attempts()
    for url in candidates(server_url):
        try:
            principal = _ask_principal(session, url, attempts)
        except TransientProviderError as exc:  # one path failing (a 500 on .well-known) is not the verdict
            attempts.transient = exc
            attempts.statuses.append(str(exc))
            continue
        if principal is not None:
            return principal
    if attempts.transient is not None and attempts.answers == 0:
        raise attempts.transient  # nothing but server errors: maybe down for now, not "not CalDAV"
    raise NotCalDAV(_explain(server_url, attempts))


def _ask_principal(session: DavSession, url: str, attempts: _Attempts) -> str | None:
    response = session.send(
        "PROPFIND",
        url,
        body=xml.propfind(_PRINCIPAL_PROPS),
        headers={"Depth": "0"},
        accept=_SERVER_ERRORS,
    )
    status = response.status_code
    if status >= 500 and status != 501:  # 501: the server does not know PROPFIND, a real answer
        raise TransientProviderError(f"{redact(url)} answered HTTP {status}")
    attempts.answers += 1
    if status != 207:
        attempts.html = attempts.html or _is_html(response)
        attempts.statuses.append(f"{redact(url)}: HTTP {status}")
        return None
    try:
        answer = xml.parse_multistatus(response.content)
    except xml.MalformedXML:
        attempts.statuses.append(f"{redact(url)}: a 207 answer that is not WebDAV XML")
        return None
    base = str(response.url)  # after redirects: hrefs are relative to where we ended up
    for item in answer.responses:
        hrefs = item.hrefs(xml.CURRENT_USER_PRINCIPAL)
        if hrefs:
            return absolute(base, hrefs[0])
        if xml.dav("principal") in item.children(xml.RESOURCETYPE):
            return absolute(base, item.href)
    attempts.webdav_only = attempts.webdav_only or "calendar-access" not in response.headers.get("dav", "")
    attempts.statuses.append(f"{redact(url)}: WebDAV without a current-user-principal")
    return None


def _is_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    return "html" in content_type or response.content.lstrip()[:15].lower().startswith(
        (b"<!doctype", b"<html")
    )


def _explain(server_url: str, attempts: _Attempts) -> str:
    where = redact(server_url)
    tried = "; ".join(attempts.statuses)
    if attempts.html:
        return f"{where} answers with a web page, not as a CalDAV calendar server ({tried})"
    if attempts.statuses and all(s.endswith("HTTP 404") for s in attempts.statuses):
        return (
            f"no CalDAV server was found at {where}: every address we tried answered 404 Not Found ({tried})"
        )
    if attempts.webdav_only:
        return f"{where} is a WebDAV server but does not offer calendars (CalDAV) ({tried})"
    return f"{where} does not answer as a CalDAV server ({tried})"


@dataclass(frozen=True)
class Principal:
    account: AccountInfo
    scheduling: frozenset[str]  # the scheduling Inbox/Outbox collection URLs (never calendars of ours)


def read_account(session: DavSession, principal_url: str) -> AccountInfo:
    """Home set, owner addresses and display name from the principal (see :func:`read_principal`)."""
    return read_principal(session, principal_url).account


def read_principal(session: DavSession, principal_url: str) -> Principal:
    """Home set, owner addresses, display name and scheduling collections from the principal, in one
    PROPFIND.

    :raises NotCalDAV: when the principal has no calendar-home-set (a WebDAV server without CalDAV)
    """
    answer = session.propfind(principal_url, _ACCOUNT_PROPS, depth=0)
    item = answer.responses[0] if answer.responses else None
    homes = item.hrefs(xml.CALENDAR_HOME_SET) if item else []
    if item is None or not homes:
        raise NotCalDAV(
            f"{redact(principal_url)} is a WebDAV account without a calendar home (calendar-home-set): "
            "the server does not offer CalDAV calendars"
        )
    emails: list[str] = []
    for href in item.hrefs(xml.CALENDAR_USER_ADDRESS_SET):
        if href.lower().startswith("mailto:"):
            address = href[len("mailto:") :].strip().lower()
            if address and address not in emails:
                emails.append(address)
    account = AccountInfo(
        principal_url=principal_url,
        home_url=collection_url(absolute(principal_url, homes[0])),
        display_name=item.text(xml.DISPLAYNAME),
        email_addresses=tuple(emails),
    )
    scheduling = {
        collection_url(absolute(principal_url, href))
        for name in (xml.SCHEDULE_INBOX_URL, xml.SCHEDULE_OUTBOX_URL)
        for href in item.hrefs(name)
    }
    return Principal(account, frozenset(scheduling))
