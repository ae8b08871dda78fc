"""The emulator's ASGI app and :func:`start`, which serves it with uvicorn from a background thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

from creneau.emulators.msgraph import api, control, events, oauth, subscriptions
from creneau.emulators.msgraph.push import Notifier
from creneau.emulators.msgraph.state import EmulatorError, GraphState
from creneau.emulators.msgraph.web import error_response
from creneau.serving import BackgroundServer, serve_in_thread

_FAULT_CODES = {
    429: "TooManyRequests",
    503: "ServiceUnavailable",
    500: "InternalServerError",
    504: "GatewayTimeout",
    502: "BadGateway",
}


def create_app(state: GraphState, notifier: Notifier) -> Starlette:
    async def faults(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not request.url.path.startswith("/v1.0/"):
            return await call_next(request)
        if state.faults.delay:
            await asyncio.sleep(state.faults.delay)
        fault = state.faults.next()
        if fault is None:
            return await call_next(request)
        response = error_response(
            EmulatorError(fault.status, _FAULT_CODES.get(fault.status, "UnknownError"), "Injected fault.")
        )
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response

    app = Starlette(
        routes=[*api.ROUTES, *events.ROUTES, *subscriptions.ROUTES, *oauth.ROUTES, *control.ROUTES],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=faults)],
    )
    app.state.graph = state
    app.state.notifier = notifier
    return app


@dataclass
class RunningEmulator:
    """``url`` is the origin (``http://127.0.0.1:PORT``); the Graph root is ``graph_url``."""

    url: str
    state: GraphState
    notifier: Notifier
    _server: BackgroundServer

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    def authority(self, tenant: str = "organizations") -> str:
        return f"{self.url}/{tenant}/oauth2/v2.0"

    def stop(self) -> None:
        self._server.stop()
        self.notifier.stop()


def start(*, state: GraphState | None = None, port: int = 0, host: str = "127.0.0.1") -> RunningEmulator:
    """Serve a (new, or the given) state on ``host:port`` (0: a free port) until ``stop()``."""
    state = state or GraphState()
    notifier = Notifier(state)
    notifier.attach()
    try:
        server = serve_in_thread(
            create_app(state, notifier), name="msgraph-emulator", host=host, port=port, lifespan="off"
        )
    except BaseException:
        notifier.stop()
        raise
    return RunningEmulator(server.url, state, notifier, server)


def main() -> None:  # pragma: no cover - `python -m creneau.emulators.msgraph.server` for a manual look
    running = start(port=8765)
    print(f"Microsoft Graph emulator on {running.graph_url}; Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        running.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
