"""How creneau's processes serve an ASGI app with uvicorn: the web app (``creneau serve``, the demo), the
emulators, and the live servers of tests and benchmarks.

One rule matters for every one of them: **a server keeps an idle connection open longer than its clients
do.** An HTTP client reuses a kept-alive connection until its own idle limit (httpx: 5 s; creneau's provider
pool: 30 s; nginx towards an upstream: 60 s). If the server gives up first, a request can be sent on a
connection at the very moment the server closes it, and the client gets "connection reset by peer" for a
request that was never seen. uvicorn's default is 5 s — exactly httpx's — so we keep idle connections
:data:`KEEP_ALIVE_SECONDS` by default (the app: ``CRENEAU_KEEP_ALIVE_SECONDS``).

::

    running = serve_in_thread(app, name="google-emulator")   # a free loopback port
    httpx.get(f"{running.url}/...")
    running.stop()
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

__all__ = ["KEEP_ALIVE_SECONDS", "BackgroundServer", "serve_in_thread"]

KEEP_ALIVE_SECONDS = 75.0
START_TIMEOUT = 20.0


@dataclass
class BackgroundServer:
    """A uvicorn server running in a daemon thread; ``url`` is its origin (``http://127.0.0.1:PORT``)."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = START_TIMEOUT) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout)


def serve_in_thread(
    app: Any,
    *,
    name: str,
    host: str = "127.0.0.1",
    port: int = 0,
    keep_alive: float = KEEP_ALIVE_SECONDS,
    **config: Any,
) -> BackgroundServer:
    """Serve ``app`` on ``host:port`` (0: a free port) from a daemon thread; return once it answers.

    ``config`` goes to :class:`uvicorn.Config` (``log_level`` defaults to "warning"; ``proxy_headers`` to
    False: uvicorn would believe ``X-Forwarded-For`` from loopback, and the creneau app decides that itself
    from ``CRENEAU_TRUSTED_PROXIES``).
    :raises RuntimeError: when the server does not start within :data:`START_TIMEOUT` seconds
    """
    # proto=IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections (else ~40 ms per request
    # on a kept-alive connection, Nagle's algorithm waiting for the client's delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    config.setdefault("log_level", "warning")
    config.setdefault("proxy_headers", False)
    server = uvicorn.Server(uvicorn.Config(app, timeout_keep_alive=int(keep_alive), **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"{name} did not start on {host}:{port}")
        time.sleep(0.01)
    return BackgroundServer(f"http://{host}:{sock.getsockname()[1]}", server, thread)
