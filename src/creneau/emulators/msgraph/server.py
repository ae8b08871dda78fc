"""The emulator's ASGI app and :func:`start`, which serves it with uvicorn from a background thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

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


def _unknown_segment(path: str, templates: list[list[str]]) -> str:
    """The first segment of ``path`` that no route continues with (what Graph names in its 400)."""
    segments = path.strip("/").split("/")
    candidates = templates
    for index, segment in enumerate(segments):
        candidates = [
            t
            for t in candidates
            if len(t) > index
            and (t[index] == segment or (t[index].startswith("{") and t[index].endswith("}")))
        ]
        if not candidates:
            return segment
    return segments[-1]


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
            EmulatorError(fault.status, _FAULT_CODES.get(fault.status, "UnknownError"), "Injected fault."),
            request,
        )
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response

    routes = [*api.ROUTES, *events.ROUTES, *subscriptions.ROUTES, *oauth.ROUTES, *control.ROUTES]
    templates = [r.path.strip("/").split("/") for r in routes if isinstance(r, Route)]

    async def http_error(request: Request, exc: Exception) -> Response:
        """Graph never answers text/plain: a path it cannot resolve is a 400 naming the segment, a method
        a resource does not support a 405, both as Graph error objects."""
        assert isinstance(exc, HTTPException)
        path = request.url.path
        if path.startswith("/_emulator/") or "/oauth2/" in path:  # not Graph: the emulator's own pages
            return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        if not path.startswith("/v1.0/"):
            version = path.strip("/").split("/")[0]
            return error_response(EmulatorError(400, "BadRequest", f"Invalid version: {version}"), request)
        if exc.status_code == 405:
            # What Graph's Outlook workload answers for a method its resource does not support.
            error = EmulatorError(405, "ErrorInvalidRequest", "The OData request is not supported.")
        elif exc.status_code == 404:
            segment = _unknown_segment(request.url.path, templates)
            error = EmulatorError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        else:
            error = EmulatorError(exc.status_code, "BadRequest", str(exc.detail))
        return error_response(error, request)

    app = Starlette(
        routes=routes,
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=faults)],
        exception_handlers={HTTPException: http_error},
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
