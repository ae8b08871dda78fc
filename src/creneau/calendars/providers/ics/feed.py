"""One feed download: a conditional GET (If-None-Match / If-Modified-Since from the cursor), capped in size,
through the guarded client of ``providers/http.py``; and the cursor that remembers the validators and a digest
of the body, so that an unchanged feed costs no parsing even when its server ignores conditional requests."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import httpx

from creneau.calendars.providers import http
from creneau.errors import AuthFailed, NotAFeed, SyncCursorInvalid

__all__ = ["Cursor", "Download", "FeedErrors", "download"]

_VERSION = 1
_VCALENDAR = re.compile(r"^BEGIN:VCALENDAR\s*$", re.IGNORECASE | re.MULTILINE)
_ACCEPT = "text/calendar, text/plain;q=0.5, */*;q=0.1"


class FeedErrors(http.StatusErrors):
    service = "the feed's server"

    def auth_error(self, response: httpx.Response) -> AuthFailed | None:
        if response.status_code not in (401, 403):
            return None
        return AuthFailed(
            f"the feed's server refused access (HTTP {response.status_code}): the address may have changed "
            "or expired; subscribe again with the current address"
        )


ERRORS = FeedErrors()


@dataclass(frozen=True)
class Cursor:
    """What the last complete download left: the server's validators and the sha-256 of the body."""

    etag: str | None
    modified: str | None
    digest: str

    def encode(self) -> str:
        return json.dumps(
            {"v": _VERSION, "etag": self.etag, "modified": self.modified, "digest": self.digest}
        )

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """:raises SyncCursorInvalid: for anything this version did not write."""
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("v") != _VERSION:
            raise SyncCursorInvalid("the stored feed cursor is unreadable; the feed is read again in full")
        etag, modified, digest = data.get("etag"), data.get("modified"), data.get("digest")
        if not (isinstance(digest, str) and all(v is None or isinstance(v, str) for v in (etag, modified))):
            raise SyncCursorInvalid("the stored feed cursor is unreadable; the feed is read again in full")
        return cls(etag=etag, modified=modified, digest=digest)

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.modified:
            out["If-Modified-Since"] = self.modified
        return out


@dataclass(frozen=True)
class Download:
    text: str
    cursor: Cursor


def download(
    client: httpx.Client,
    url: str,
    *,
    policy: http.NetworkPolicy,
    max_bytes: int,
    cursor: Cursor | None = None,
) -> Download | None:
    """The feed's text, or None when the server answers 304 Not Modified to ``cursor``'s validators.

    :raises NotAFeed: the address answers, but not with iCalendar text (an HTML page, a 404, ...)
    :raises ResponseTooLarge: the feed is bigger than ``max_bytes``
    :raises AuthFailed: the server refuses access (401, 403)
    :raises AddressForbidden, ServerUnreachable, TransientProviderError, RateLimited: as ``http.request``
    """
    headers = {"Accept": _ACCEPT, **(cursor.headers() if cursor else {})}
    response = http.request(
        client, "GET", url, policy=policy, headers=headers, errors=ERRORS, max_bytes=max_bytes, accept=(304,)
    )
    where = http.redact(response.url)
    if response.status_code == 304 and cursor is not None:
        return None
    if response.status_code in (404, 410):
        raise NotAFeed(f"GET {where} answered HTTP {response.status_code}: there is no feed at this address")
    if response.status_code != 200:
        raise ERRORS.error(response, f"GET {where}")
    body = response.content
    text = _decode(body, response.headers.get("content-type", ""))
    if not _VCALENDAR.search(text):
        kind = response.headers.get("content-type", "").split(";", 1)[0].strip() or "no content type"
        raise NotAFeed(f"GET {where} answered {kind} without any VCALENDAR: not an iCalendar feed")
    return Download(
        text=text,
        cursor=Cursor(
            etag=response.headers.get("etag"),
            modified=response.headers.get("last-modified"),
            digest=hashlib.sha256(body).hexdigest(),
        ),
    )


def _decode(body: bytes, content_type: str) -> str:
    """Text per the declared charset, else UTF-8 (RFC 5545's default); a BOM is dropped, bad bytes replaced
    (a broken character must not cost the whole feed)."""
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    try:
        text = body.decode(charset, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff")
