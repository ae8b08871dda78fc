"""One Google emulator per test session, and a fresh user per test."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from creneau.emulators.google import RunningEmulator, TokenSet, start

_users = itertools.count()


@pytest.fixture(scope="session")
def google() -> Iterator[RunningEmulator]:
    running = start()
    yield running
    running.stop()


@pytest.fixture
def google_user(google: RunningEmulator) -> tuple[str, TokenSet]:
    email = f"user{next(_users):03d}@example.org"
    return email, google.state.add_user(email, timezone="Europe/Paris")


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records the push notifications it receives."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                seen.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, str]]:
        """Poll (no fixed sleep) until ``count`` notifications arrived or the deadline passes."""
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.seen)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()
