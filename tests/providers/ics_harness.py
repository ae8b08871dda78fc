"""A feed server on a loopback port that the tests control, and the contract's ``Harness`` for ICS feeds.

The server holds feeds as the tests write them (objects by UID, joined into one VCALENDAR, or one VCALENDAR
per object with ``several=True``), answers ``ETag`` and ``Last-Modified`` and honours ``If-None-Match`` /
``If-Modified-Since`` with 304 (unless ``conditional=False``: a server that ignores them). ``raw`` paths
answer a fixed status, type and body (an HTML page, a 404, a redirect), and every request is logged with its
status, so that a test sees what the provider asked and what it got.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from creneau.calendars.providers.base import Connection
from creneau.calendars.providers.ics import IcsProvider
from tests.providers.conftest import test_policy

_EPOCH = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class FeedFile:
    name: str | None = None
    objects: dict[str, str] = field(default_factory=dict)  # remote id (UID) -> one VCALENDAR
    several: bool = False  # one VCALENDAR per object instead of one for all
    conditional: bool = True  # honour If-None-Match / If-Modified-Since
    content_type: str = "text/calendar; charset=utf-8"
    extra: str = ""  # text added to the file as is (broken lines, whole VCALENDARs)
    version: int = 0  # bumped at each change: Last-Modified moves one second per change

    def body(self) -> bytes:
        if self.several:
            parts = [
                self._calendar(self._inner(text), first=i == 0)
                for i, text in enumerate(self.objects.values())
            ]
            text = "".join(parts) if parts else self._calendar("", first=True)
        else:
            text = self._calendar("".join(self._inner(t) for t in self.objects.values()), first=True)
        return (text + self.extra).encode()

    def _calendar(self, inner: str, *, first: bool) -> str:
        name = f"X-WR-CALNAME:{self.name}\r\n" if self.name and first else ""
        head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//creneau//feed tests//EN\r\n"
        return f"{head}{name}{inner}END:VCALENDAR\r\n"

    @staticmethod
    def _inner(text: str) -> str:
        lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
        kept = [line for line in lines[1:-1] if not line.startswith(("VERSION:", "PRODID:"))]
        return "".join(line + "\r\n" for line in kept)

    def modified(self) -> datetime:
        return _EPOCH + timedelta(seconds=self.version)


@dataclass
class Raw:
    status: int
    content_type: str = "text/html"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FeedServer:
    base: str = ""  # http://127.0.0.1:<port>
    feeds: dict[str, FeedFile] = field(default_factory=dict)  # path -> feed
    raw: dict[str, Raw] = field(default_factory=dict)  # path -> fixed answer
    log: list[tuple[str, int]] = field(default_factory=list)  # (path, status) of every request
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def path_of(self, url: str) -> str:
        return url.removeprefix(self.base)

    def statuses(self, path: str) -> list[int]:
        with self.lock:
            return [status for p, status in self.log if p == path]

    def answer(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            if path in self.raw:
                raw = self.raw[path]
                return raw.status, {"Content-Type": raw.content_type, **raw.headers}, raw.body

            feed = self.feeds.get(path)
            if feed is None:
                return 404, {"Content-Type": "text/html"}, b"<html><body>Not found</body></html>"
            body = feed.body()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            validators = {"ETag": etag, "Last-Modified": format_datetime(feed.modified(), usegmt=True)}
            if feed.conditional and _not_modified(headers, etag, feed.modified()):
                return 304, validators, b""
            return 200, {"Content-Type": feed.content_type, **validators}, body


def _not_modified(headers: Any, etag: str, modified: datetime) -> bool:
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        return etag in [tag.strip() for tag in if_none_match.split(",")]
    since = headers.get("If-Modified-Since")
    if since:
        try:
            return modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def serve_feeds() -> Iterator[FeedServer]:
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = state.answer(self.path, self.headers)
            # "X-Omit-Length": a body delimited by closing the connection (HTTP/1.0), announced nowhere.
            omit = headers.pop("X-Omit-Length", None) is not None
            with state.lock:
                state.log.append((self.path, status))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Content-Length" not in headers and status != 304 and not omit:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


_counter = itertools.count()


@dataclass
class IcsHarness:
    """The contract's ``Harness`` (tests/providers/contract.py): a calendar is a feed on :class:`FeedServer`,
    its remote id the feed's URL; objects are keyed by UID."""

    server: FeedServer
    main: str = ""  # the feed of the account the providers are built for
    owner_emails: tuple[str, ...] = ()
    supports_read_only: bool = True  # every feed is read-only
    lists_with_get: bool = True  # a sync is one GET of the whole feed

    def __post_init__(self) -> None:
        self.main = self.add_calendar("account", display_name="Account feed")

    @property
    def principal_url(self) -> str:
        return self.main

    @property
    def home_url(self) -> str:
        return self.main

    def provider(
        self,
        *,
        password: str | None = None,
        on_request: Callable[[httpx.Request], None] | None = None,
        **options: Any,
    ) -> IcsProvider:
        connection = Connection(server_url=self.main, username="", secret=password or "")
        return IcsProvider(connection, policy=test_policy(on_request), **options)

    def feed(self, calendar_id: str) -> FeedFile:
        return self.server.feeds[self.server.path_of(calendar_id)]

    def add_calendar(
        self,
        name: str,
        *,
        display_name: str | None = None,
        color: str | None = None,
        components: Any = ("VEVENT",),
        read_only: bool = False,
    ) -> str:
        path = f"/feeds/{name}-{next(_counter)}.ics"
        with self.server.lock:
            self.server.feeds[path] = FeedFile(name=display_name)
        return self.server.url(path)

    def put(self, calendar_id: str, uid: str, ics: str) -> str:
        with self.server.lock:
            feed = self.feed(calendar_id)
            feed.objects[uid] = ics
            feed.version += 1
        return uid

    def put_raw(self, calendar_id: str, name: str, text: str) -> str | None:
        if "BEGIN:VEVENT" not in text:
            return None  # a feed holds events, not objects: there is nothing of this one to list
        uid = next((line[4:].strip() for line in text.splitlines() if line.startswith("UID:")), name)
        return self.put(calendar_id, uid, text)

    def remove(self, calendar_id: str, remote_id: str) -> None:
        with self.server.lock:
            feed = self.feed(calendar_id)
            feed.objects.pop(remote_id, None)
            feed.version += 1

    def stored(self, calendar_id: str, remote_id: str) -> str | None:
        with self.server.lock:
            return self.feed(calendar_id).objects.get(remote_id)

    def stale_cursor(self, cursor: str) -> str | None:
        return None  # an old ETag is no error for a feed: the server just sends the whole feed
