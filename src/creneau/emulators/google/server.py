"""The emulator's app and its server: uvicorn in a background thread on 127.0.0.1, a free port.

::

    running = start()                    # RunningEmulator(url, state, stop)
    api_base = running.api_url           # what Connection.server_url is in tests: {url}/calendar/v3
    ...
    running.stop()
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from creneau.emulators.google import api, control, oauth
from creneau.emulators.google.errors import ApiError
from creneau.emulators.google.state import GoogleState

START_TIMEOUT = 10.0


class _Faults:
    """Applies ``state.faults`` (delay, injected error) to Calendar API requests only."""

    def __init__(self, app: ASGIApp, state: GoogleState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(api.PREFIX):
            delay, error = self.state.faults.next()
            if delay:
                await asyncio.sleep(delay)
            if error is not None:
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _bad_control(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": f"bad control request: {exc!r}"}, status_code=400)


def build_app(state: GoogleState) -> ASGIApp:
    app = Starlette(
        routes=[*api.routes(), *oauth.routes(), *control.routes()],
        exception_handlers={ApiError: _api_error, KeyError: _bad_control, ValueError: _bad_control},
    )
    app.state.google = state
    return _Faults(app, state)


@dataclass
class RunningEmulator:
    url: str  # http://127.0.0.1:PORT
    state: GoogleState
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def api_url(self) -> str:
        """The Calendar API base URL (``https://www.googleapis.com/calendar/v3`` in production)."""
        return f"{self.url}/calendar/v3"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=START_TIMEOUT)
        self.state.notifier.close()


def start(*, port: int = 0, state: GoogleState | None = None) -> RunningEmulator:
    """Serve a (new or given) state on 127.0.0.1:``port`` (0: a free one); return once it answers."""
    state = state or GoogleState()
    # proto=IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections (else ~40 ms per request)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state.base_url = url
    config = uvicorn.Config(build_app(state), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="google-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the Google emulator did not start")
        time.sleep(0.01)
    return RunningEmulator(url, state, server, thread)
