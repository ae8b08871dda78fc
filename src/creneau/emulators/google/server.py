"""The emulator's app and its server: uvicorn in a background thread on 127.0.0.1, a free port.

::

    running = start()                    # RunningEmulator(url, state, stop)
    api_base = running.api_url           # what Connection.server_url is in tests: {url}/calendar/v3
    ...
    running.stop()
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from creneau.emulators.google import api, control, oauth
from creneau.emulators.google.errors import ApiError
from creneau.emulators.google.state import GoogleState
from creneau.serving import BackgroundServer, serve_in_thread


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
    _server: BackgroundServer

    @property
    def api_url(self) -> str:
        """The Calendar API base URL (``https://www.googleapis.com/calendar/v3`` in production)."""
        return f"{self.url}/calendar/v3"

    def stop(self) -> None:
        self._server.stop()
        self.state.notifier.close()


def start(*, port: int = 0, state: GoogleState | None = None) -> RunningEmulator:
    """Serve a (new or given) state on 127.0.0.1:``port`` (0: a free one); return once it answers."""
    state = state or GoogleState()
    server = serve_in_thread(
        build_app(state), name="google-emulator", port=port, lifespan="off", access_log=False
    )
    state.base_url = server.url
    return RunningEmulator(server.url, state, server)
