"""creneau.serving: the servers we run outlast their clients' idle connections."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from creneau.serving import KEEP_ALIVE_SECONDS, serve_in_thread

HTTPX_IDLE_LIMIT = httpx.Limits().keepalive_expiry or 0.0  # what a default httpx client keeps (5 s)


def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def _get(conn: socket.socket) -> bytes:
    conn.sendall(b"GET / HTTP/1.1\r\nHost: creneau\r\n\r\n")
    conn.settimeout(5)
    answer = b""
    while not answer.endswith(b"hello"):
        chunk = conn.recv(4096)
        if not chunk:
            return answer  # the server closed the connection
        answer += chunk
    return answer


def test_an_idle_connection_stays_open_longer_than_a_client_keeps_it() -> None:
    """uvicorn's own default (5 s) equals httpx's: a request sent as the server closes the connection was
    reset (seen in CI). Ours keeps idle connections longer than any of our clients."""
    assert max(HTTPX_IDLE_LIMIT, 30.0, 60.0) < KEEP_ALIVE_SECONDS  # httpx, our provider pool, nginx upstream
    running = serve_in_thread(Starlette(routes=[Route("/", _hello)]), name="serving-test")
    try:
        with socket.create_connection(("127.0.0.1", int(running.url.rsplit(":", 1)[1]))) as conn:
            assert _get(conn).startswith(b"HTTP/1.1 200")
            time.sleep(HTTPX_IDLE_LIMIT + 0.5)
            assert _get(conn).startswith(b"HTTP/1.1 200"), "the server closed an idle connection too early"
    finally:
        running.stop()


def test_a_port_in_use_is_refused_at_once() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken, pytest.raises(OSError):
        serve_in_thread(Starlette(), name="serving-test", port=taken.getsockname()[1])
