"""Fixtures for provider tests: real CalDAV servers (one per test session) and a harness per test account."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from creneau.calendars.providers.base import Connection
from creneau.calendars.providers.caldav import CalDAVProvider
from creneau.calendars.providers.http import NetworkPolicy
from tests.servers import RunningServer, start_radicale, start_xandikos

# Every test takes a fresh account, so tests cannot see each other's calendars.
USERS = {f"user{i:03d}": f"pw-{i:03d}-secret" for i in range(120)}
LOOPBACK = ("127.0.0.0/8",)


def test_policy(on_request: Callable[[httpx.Request], None] | None = None) -> NetworkPolicy:
    hooks: dict[str, list[Callable[..., Any]]] | None = {"request": [on_request]} if on_request else None
    return NetworkPolicy(allowed_private_networks=LOOPBACK, timeout=10.0, event_hooks=hooks)


class UserPool:
    def __init__(self) -> None:
        self._names = iter(USERS)

    def take(self) -> str:
        try:
            return next(self._names)
        except StopIteration:
            raise RuntimeError("the test server ran out of accounts: raise USERS in conftest.py") from None


@dataclass
class CalDAVHarness:
    """The contract's ``Harness`` for a CalDAV server we started (see tests/providers/contract.py)."""

    server: RunningServer
    user: str
    defaults: dict[str, Any] = field(default_factory=dict)  # CalDAVProvider options for every provider
    owner_emails: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._counter = itertools.count()

    @property
    def principal_url(self) -> str:
        return self.server.principal_url(self.user)

    @property
    def home_url(self) -> str:
        return self.server.home_url(self.user)

    @property
    def supports_read_only(self) -> bool:
        return self.server.kind == "radicale"

    def provider(
        self,
        *,
        password: str | None = None,
        on_request: Callable[[httpx.Request], None] | None = None,
        **options: Any,
    ) -> CalDAVProvider:
        connection = Connection(
            server_url=getattr(self.server, "entry_url", self.server.url),
            username=self.user,
            secret=password if password is not None else self.server.users[self.user],
        )
        return CalDAVProvider(connection, policy=test_policy(on_request), **{**self.defaults, **options})

    def add_calendar(
        self,
        name: str,
        *,
        display_name: str | None = None,
        color: str | None = None,
        components: Sequence[str] = ("VEVENT",),
        read_only: bool = False,
    ) -> str:
        return self.server.make_calendar(
            self.user,
            name,
            display_name=display_name,
            color=color,
            components=components,
            read_only=read_only,
        )

    def _client(self) -> httpx.Client:
        return self.server.session(self.user)

    def put(self, calendar_id: str, uid: str, ics: str) -> str:
        remote_id = self.put_raw(calendar_id, f"{uid}.ics", ics)
        if remote_id is None:
            raise AssertionError(f"the server refused the test event {uid}")
        return remote_id

    def put_raw(self, calendar_id: str, name: str, text: str) -> str | None:
        url = calendar_id + name
        response = self._client().put(url, content=text.encode(), headers={"Content-Type": "text/calendar"})
        if response.status_code >= 400:
            return None
        return urlsplit(url).path

    def _url(self, calendar_id: str, remote_id: str) -> str:
        parts = urlsplit(calendar_id)
        return f"{parts.scheme}://{parts.netloc}{remote_id}"

    def remove(self, calendar_id: str, remote_id: str) -> None:
        response = self._client().delete(self._url(calendar_id, remote_id))
        assert response.status_code in (200, 204), response.status_code

    def stored(self, calendar_id: str, remote_id: str) -> str | None:
        response = self._client().get(self._url(calendar_id, remote_id))
        return response.text if response.status_code == 200 else None

    @property
    def validates_objects(self) -> bool:
        """DAViCal and Cyrus refuse (400/403/415) every object of the contract's MALFORMED set."""
        return self.server.kind in ("davical", "cyrus")

    @property
    def relists_latest_changes(self) -> bool:
        """SOGo's sync tokens are the second of the latest change, and it lists every member changed in that
        second again at each incremental sync; with its version-counter etags we download those again."""
        return self.server.kind == "sogo"

    @property
    def ignores_component_set(self) -> bool:
        """SOGo makes every calendar hold events and tasks, whatever MKCALENDAR asked for."""
        return self.server.kind == "sogo"

    # -- hooks of the contract's server-quirk tests -------------------------------------------------------

    def scheduling_collections(self) -> list[str]:
        """The user's RFC 6638 scheduling Inbox/Outbox URLs that the server *types as calendars*."""
        if self.server.kind == "davical":
            return [self.home_url + ".in/", self.home_url + ".out/"]
        return []

    def recreate_calendar(self, calendar_id: str) -> bool:
        """Delete the calendar and make it again, empty, at the same URL (as a calendar app does); False
        when the server does not let its owner delete a calendar over CalDAV (our Cyrus setup answers 404)."""
        response = self._client().delete(calendar_id)
        if self.server.kind == "cyrus" and response.status_code == 404:
            return False
        assert response.status_code in (200, 204), response.status_code
        name = calendar_id.rstrip("/").rsplit("/", 1)[-1]
        assert self.add_calendar(name) == calendar_id
        return True

    def verifying_provider(self, **options: Any) -> CalDAVProvider:
        """A provider whose periodic verification is due (its clock a day past the cursors' listings)."""
        later = datetime.now(UTC) + timedelta(hours=25)
        return self.provider(clock=lambda: later, **options)

    def stale_cursor(self, cursor: str) -> str | None:
        """Same shape, unknown token: how an expired token looks to the server."""
        if self.server.kind in ("davical", "sogo"):
            return None  # they accept any token they do not know (and list from there): none is stale
        data = json.loads(cursor)
        if data.get("mode") != "sync":
            return None  # a ctag cursor cannot be refused: a different ctag only means "list again"
        token: str = data["token"]
        tail = "00000000" if not token.endswith("00000000") else "11111111"
        data["token"] = token[:-8] + tail
        return json.dumps(data)


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_radicale(tmp_path_factory.mktemp("radicale"), USERS)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def xandikos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_xandikos(tmp_path_factory.mktemp("xandikos"), USERS)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def radicale_users() -> UserPool:
    return UserPool()


@pytest.fixture(scope="session")
def xandikos_users() -> UserPool:
    return UserPool()


@pytest.fixture
def radicale_harness(radicale_server: RunningServer, radicale_users: UserPool) -> CalDAVHarness:
    return CalDAVHarness(radicale_server, radicale_users.take())


@pytest.fixture
def xandikos_harness(xandikos_server: RunningServer, xandikos_users: UserPool) -> CalDAVHarness:
    user = xandikos_users.take()
    emails: tuple[str, ...] = ()
    if xandikos_server.set_user_addresses(user, [f"mailto:{user}.Owner@Example.ORG", f"/{user}/"]):
        emails = (f"{user}.owner@example.org",)
    return CalDAVHarness(xandikos_server, user, owner_emails=emails)


# -- a tiny local HTTP server for the guard and discovery tests --------------------------------------------

Answer = tuple[int, dict[str, str], bytes]
Handler = Callable[[str, str, dict[str, str], bytes], Answer]  # (method, path, headers, body) → answer


@dataclass
class LocalHTTP:
    """An HTTP server on 127.0.0.1 answering with ``handler``; ``seen`` logs (method, path, headers)."""

    url: str
    seen: list[tuple[str, str, dict[str, str]]]
    handler: Handler


@pytest.fixture
def local_http() -> Iterator[Callable[[Handler], LocalHTTP]]:
    servers: list[ThreadingHTTPServer] = []

    def start(handler: Handler) -> LocalHTTP:
        seen: list[tuple[str, str, dict[str, str]]] = []

        class RequestHandler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen.append((self.command, self.path, headers))
                status, out_headers, out_body = handler(self.command, self.path, headers, body)
                self.send_response(status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(out_body)))
                self.end_headers()
                self.wfile.write(out_body)

            do_GET = do_PROPFIND = do_REPORT = do_PUT = do_DELETE = do_OPTIONS = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return LocalHTTP(f"http://127.0.0.1:{server.server_address[1]}/", seen, handler)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
