"""Real CalDAV servers on a free loopback port, for tests, the demo and the benchmark.

::

    with start_radicale(tmp_path, {"alice": "secret"}) as server:
        url = server.make_calendar("alice", "work", display_name="Work", color="#ff0000")
        server.put_event("alice", "work", "meeting.ics", ICS_TEXT)

Both servers run in a subprocess (so a benchmark measures the server apart from the client, and a crash
cannot take the test process down) and are ready when ``start_*`` returns: we poll with a deadline, never
sleep a fixed time.

- **Radicale** runs with htpasswd authentication (plain passwords: test data only), the ``owner_only`` rights
  and the filesystem storage under ``root/collections``. Calendars live at ``/<user>/<name>/``.
- **Xandikos** has no password check of its own over plain HTTP, so this module serves its multi-user WSGI
  app behind a tiny Basic-auth middleware (below, ``_serve_xandikos``). The principal ``/<user>/`` and its
  home ``/<user>/calendars/`` are created on the user's first request; calendars live at
  ``/<user>/calendars/<name>/``. Unlike Radicale, this setup does not redirect ``/.well-known/caldav``
  (Xandikos leaves that to the web server in front of it), which exercises the discovery fallback.

``write_event_file`` writes an object straight into Radicale's storage folder, bypassing Radicale's
validation (how a broken object gets onto a server in real life). Radicale needs no cache invalidation for
it: its item cache is keyed by the SHA-256 of the file contents (``use_mtime_and_size_for_item_cache`` is
off by default and we leave it off), and sync tokens are computed from those etags at each request.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

import httpx

READY_TIMEOUT = 20.0
_XML = "application/xml; charset=utf-8"
_XML_DEPTH0 = {"Depth": "0", "Content-Type": _XML}
_PROPFIND_NAME = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop>'
    b"</D:propfind>"
)
_PROPFIND_ADDRESSES = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    b"<D:prop><C:calendar-user-address-set/></D:prop></D:propfind>"
)


@dataclass
class RunningServer:
    """A CalDAV server started by :func:`start_radicale` or :func:`start_xandikos`."""

    kind: str  # "radicale" or "xandikos"
    port: int
    root: Path
    users: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    _stopped: bool = field(default=False, repr=False)
    _sessions: dict[str, httpx.Client] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        """The server's base URL, ending with a slash."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def storage(self) -> Path:
        return self.root / ("collections" if self.kind == "radicale" else "data")

    def principal_url(self, user: str) -> str:
        return f"{self.url}{user}/"

    def home_url(self, user: str) -> str:
        return self.principal_url(user) if self.kind == "radicale" else f"{self.url}{user}/calendars/"

    def calendar_url(self, user: str, name: str) -> str:
        return f"{self.home_url(user)}{name}/"

    # -- seeding over HTTP, as a user would -------------------------------------------------------------

    def client(self, user: str) -> httpx.Client:
        """A new client logged in as ``user``; close it (``with server.client(user) as client:``)."""
        return httpx.Client(auth=(user, self.users[user]), timeout=10.0)

    def session(self, user: str) -> httpx.Client:
        """A client for ``user`` kept open until :meth:`stop` (creating an httpx client costs ~50 ms)."""
        if user not in self._sessions:
            self._sessions[user] = self.client(user)
        return self._sessions[user]

    def make_calendar(
        self,
        user: str,
        name: str,
        *,
        display_name: str | None = None,
        color: str | None = None,
        components: Iterable[str] = ("VEVENT",),
        read_only: bool = False,
    ) -> str:
        """MKCALENDAR ``name`` in the user's home; returns its URL.

        ``read_only=True`` (Radicale only) makes a calendar its owner may read but not write: the rights file
        grants only "r" on collections named ``ro-*``, so such a calendar is created in the storage folder.
        """
        url = self.calendar_url(user, name)
        client = self.session(user)
        # A first authenticated request creates the principal (and Xandikos' calendar home).
        client.request("PROPFIND", self.principal_url(user), headers=_XML_DEPTH0, content=_PROPFIND_NAME)
        if read_only:
            self._make_read_only_calendar(user, name, display_name, color, components)
            return url
        response = client.request(
            "MKCALENDAR",
            url,
            content=_mkcalendar_body(display_name, color, components),
            headers={"Content-Type": _XML},
        )
        if response.status_code != 201:
            raise RuntimeError(f"MKCALENDAR {url} answered {response.status_code}: {response.text[:300]}")
        return url

    def _make_read_only_calendar(
        self, user: str, name: str, display_name: str | None, color: str | None, components: Iterable[str]
    ) -> None:
        if self.kind != "radicale":
            raise NotImplementedError("read-only calendars can only be made on Radicale")
        if not name.startswith("ro-"):
            raise ValueError("Radicale's test rights make only calendars named 'ro-*' read-only")
        folder = self.storage / "collection-root" / user / name
        folder.mkdir(parents=True)
        props = {"tag": "VCALENDAR", "C:supported-calendar-component-set": ",".join(components)}
        if display_name is not None:
            props["D:displayname"] = display_name
        if color is not None:
            props["ICAL:calendar-color"] = color
        (folder / ".Radicale.props").write_text(json.dumps(props))

    def set_user_addresses(self, user: str, addresses: Iterable[str]) -> bool:
        """PROPPATCH the principal's calendar-user-address-set; False when the server does not allow it
        (Radicale computes that property itself)."""
        hrefs = "".join(f"<D:href>{escape(a)}</D:href>" for a in addresses)
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
            f"<C:calendar-user-address-set>{hrefs}</C:calendar-user-address-set>"
            "</D:prop></D:set></D:propertyupdate>"
        ).encode()
        client = self.session(user)
        client.request("PROPFIND", self.principal_url(user), headers=_XML_DEPTH0, content=_PROPFIND_NAME)
        client.request("PROPPATCH", self.principal_url(user), content=body, headers={"Content-Type": _XML})
        # Radicale answers 200 to the PROPPATCH but keeps computing the property: read it back.
        check = client.request(
            "PROPFIND", self.principal_url(user), headers=_XML_DEPTH0, content=_PROPFIND_ADDRESSES
        )
        return all(escape(a) in check.text for a in addresses)

    def put_event(self, user: str, calendar: str, name: str, ics: str) -> str:
        """PUT ``ics`` as ``<calendar>/<name>``; returns the etag the server gave (may be empty)."""
        client = self.session(user)
        response = client.put(
            self.calendar_url(user, calendar) + name,
            content=ics.encode(),
            headers={"Content-Type": "text/calendar; charset=utf-8"},
        )
        if response.status_code not in (200, 201, 204):
            raise RuntimeError(f"PUT {name} answered {response.status_code}: {response.text[:300]}")
        return str(response.headers.get("ETag", ""))

    def delete_event(self, user: str, calendar: str, name: str) -> None:
        client = self.session(user)
        response = client.delete(self.calendar_url(user, calendar) + name)
        if response.status_code not in (200, 204, 404):
            raise RuntimeError(f"DELETE {name} answered {response.status_code}")

    def get_event(self, user: str, calendar: str, name: str) -> str | None:
        """The object's text as the server stores it, or None when it does not exist."""
        client = self.session(user)
        response = client.get(self.calendar_url(user, calendar) + name)
        return response.text if response.status_code == 200 else None

    def write_event_file(self, user: str, calendar: str, name: str, text: str) -> Path:
        """Write ``text`` straight into Radicale's storage, bypassing its validation (Radicale only).

        Radicale picks the file up at the next request. But it *hides* an item its own parser cannot load
        (``[storage] skip_broken_item``, on by default; a "Skip broken item" warning in its log): a VEVENT
        without DTSTART or UID, or text that is not iCalendar, never reaches a client. To have a malformed
        object served, write one Radicale can load but that is no usable event, e.g. a VCALENDAR holding
        only a VTIMEZONE.
        """
        if self.kind != "radicale":
            raise NotImplementedError("write_event_file is only available for Radicale")
        folder = self.storage / "collection-root" / user / calendar
        if not folder.is_dir():
            raise FileNotFoundError(f"no calendar {calendar!r} for {user!r} in {folder}")
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    def stored_events(self, user: str, calendar: str) -> list[str]:
        """Every object of the calendar as Radicale stores it on disk (not through any client of ours)."""
        if self.kind != "radicale":
            raise NotImplementedError("stored_events is only available for Radicale")
        folder = self.storage / "collection-root" / user / calendar
        return [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.ics"))]

    # -- lifecycle --------------------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for client in self._sessions.values():
            client.close()
        self._sessions.clear()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _mkcalendar_body(display_name: str | None, color: str | None, components: Iterable[str]) -> bytes:
    props = []
    if display_name is not None:
        props.append(f"<D:displayname>{escape(display_name)}</D:displayname>")
    if color is not None:
        props.append(f"<A:calendar-color>{escape(color)}</A:calendar-color>")
    comps = "".join(f'<C:comp name="{escape(c)}"/>' for c in components)
    props.append(f"<C:supported-calendar-component-set>{comps}</C:supported-calendar-component-set>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
        'xmlns:A="http://apple.com/ns/ical/">'
        f"<D:set><D:prop>{''.join(props)}</D:prop></D:set></C:mkcalendar>"
    ).encode()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is true; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)  # a polling interval, not a fixed wait
        delay = min(delay * 2, 0.2)


def _start(kind: str, root: Path, users: dict[str, str], command: list[str], port: int) -> RunningServer:
    log_path = root / f"{kind}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    server = RunningServer(kind, port, root, dict(users), process, log_path)

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} exited with {process.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            httpx.request("OPTIONS", server.url, timeout=1.0)
        except httpx.TransportError:
            return False
        return True

    try:
        wait_until(ready, timeout=READY_TIMEOUT, what=f"{kind} on port {port}")
    except BaseException:
        server.stop()
        raise
    return server


# Like Radicale's "owner_only", except that calendars named "ro-*" are read-only for their owner.
_RADICALE_RIGHTS = """[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {user}
permissions: RW

[read-only-calendars]
user: .+
collection: {user}/ro-[^/]+
permissions: r

[calendars]
user: .+
collection: {user}/[^/]+
permissions: rw
"""


def start_radicale(root: Path, users: dict[str, str], *, port: int | None = None) -> RunningServer:
    """Radicale on 127.0.0.1:<free port>, storing under ``root/collections``; ``users``: name → password.
    ``port`` restarts a stopped server where it was (same root, same address)."""
    root.mkdir(parents=True, exist_ok=True)
    htpasswd = root / "users.htpasswd"
    htpasswd.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
    htpasswd.chmod(0o600)
    rights = root / "rights.ini"
    rights.write_text(_RADICALE_RIGHTS)
    port = port or free_port()
    config = root / "radicale.conf"
    config.write_text(
        f"""[server]
hosts = 127.0.0.1:{port}
delay_on_error = 0

[auth]
type = htpasswd
htpasswd_filename = {htpasswd}
htpasswd_encryption = plain
delay = 0

[rights]
type = from_file
file = {rights}

[storage]
filesystem_folder = {root / "collections"}

[web]
type = none

[logging]
level = warning
"""
    )
    command = [sys.executable, "-m", "radicale", "--config", str(config)]
    return _start("radicale", root, users, command, port)


def start_xandikos(root: Path, users: dict[str, str]) -> RunningServer:
    """Xandikos (multi-user WSGI app behind our Basic-auth middleware) on 127.0.0.1:<free port>."""
    root.mkdir(parents=True, exist_ok=True)
    users_file = root / "users.json"
    users_file.write_text(json.dumps(users))
    users_file.chmod(0o600)
    port = free_port()
    command = [sys.executable, str(Path(__file__).resolve()), "xandikos", str(root / "data"), str(port)]
    command.append(str(users_file))
    return _start("xandikos", root, users, command, port)


# -- the Xandikos child process --------------------------------------------------------------------------

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def basic_auth(app: WSGIApp, users: dict[str, str]) -> WSGIApp:
    """WSGI middleware: check HTTP Basic credentials against ``users``, then pass ``REMOTE_USER`` on."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        user = _check_basic(environ.get("HTTP_AUTHORIZATION", ""), users)
        if user is None:
            start_response(
                "401 Unauthorized",
                [("WWW-Authenticate", 'Basic realm="xandikos"'), ("Content-Type", "text/plain")],
            )
            return [b"Authentication required.\n"]
        environ["REMOTE_USER"] = user
        # wsgiref hands over the raw socket, and Xandikos reads the body to EOF: bound it by Content-Length.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length) if length > 0 else b"")
        return app(environ, start_response)

    return middleware


def _check_basic(header: str, users: dict[str, str]) -> str | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    expected = users.get(name)
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        return None
    return name


def _serve_xandikos(directory: str, port: int, users_file: str) -> None:
    import logging
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from xandikos.multi_user import MultiUserFilesystemBackend, MultiUserXandikosApp

    logging.basicConfig(level=logging.WARNING)
    os.makedirs(directory, exist_ok=True)
    backend = MultiUserFilesystemBackend(  # type: ignore[no-untyped-call]
        os.path.abspath(directory), create_defaults=False
    )
    app = MultiUserXandikosApp(backend, current_user_principal="/%(REMOTE_USER)s/")
    users = json.loads(Path(users_file).read_text())

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = make_server(
        "127.0.0.1", port, basic_auth(app, users), server_class=Server, handler_class=QuietHandler
    )
    httpd.serve_forever()


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "xandikos":
    _serve_xandikos(sys.argv[2], int(sys.argv[3]), sys.argv[4])
