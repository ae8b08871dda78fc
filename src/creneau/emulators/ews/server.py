"""The emulator's ASGI app and :func:`start`, which serves it with uvicorn from a background thread.

``POST /EWS/Exchange.asmx`` is EWS (authenticated, faults injected here), ``/autodiscover/autodiscover.svc``
SOAP Autodiscover, ``/_emulator/`` the control API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from creneau.emulators.ews import (
    autodiscover,
    availability,
    control,
    folders,
    items,
    subscriptions,
    sync,
    writes,
)
from creneau.emulators.ews.auth import Denied, authenticate
from creneau.emulators.ews.model import Mailbox
from creneau.emulators.ews.soap import (
    Element,
    SoapFault,
    envelope,
    fault_envelope,
    local,
    parse_request,
    requested_version,
    text_of,
)
from creneau.emulators.ews.state import EwsState
from creneau.serving import BackgroundServer, serve_in_thread

Operation = Callable[[EwsState, Mailbox, Element], Element]

OPERATIONS: dict[str, Operation] = {
    "ConvertId": items.convert_id,
    "GetFolder": folders.get_folder,
    "FindFolder": folders.find_folder,
    "SyncFolderHierarchy": folders.sync_folder_hierarchy,
    "SyncFolderItems": sync.sync_folder_items,
    "GetItem": items.get_item,
    "FindItem": items.find_item,
    "CreateItem": writes.create_item,
    "UpdateItem": writes.update_item,
    "DeleteItem": writes.delete_item,
    "GetUserAvailabilityRequest": availability.get_user_availability,
    "GetServerTimeZones": availability.get_server_time_zones,
    "Subscribe": subscriptions.subscribe,
    "GetEvents": subscriptions.get_events,
    "Unsubscribe": subscriptions.unsubscribe,
}
_XML = "text/xml; charset=utf-8"


def unauthorized(denied: Denied) -> Response:
    response = Response(b"", status_code=401, media_type="text/html")
    for challenge in denied.challenges:
        response.headers.append("WWW-Authenticate", challenge)
    return response


def client_of(request: Request) -> tuple[str, int]:
    client = request.scope.get("client") or ("", 0)
    return str(client[0]), int(client[1])


async def ews(request: Request) -> Response:
    state: EwsState = request.app.state.ews
    body = await request.body()
    who = authenticate(state, client_of(request), request.headers.get("authorization", ""))
    if isinstance(who, Denied):
        return unauthorized(who)
    if state.faults.delay:
        await asyncio.sleep(state.faults.delay)
    try:
        header, operation = parse_request(body)
        state.record(local(operation))
        fault = state.faults.next()
        if fault is not None and fault.kind == "status":
            return Response(
                b"<html><body>Service Unavailable</body></html>", fault.status, media_type="text/html"
            )
        if fault is not None:
            raise SoapFault(
                "ErrorServerBusy",
                "The server cannot service this request right now. Try again later.",
                values={"BackOffMilliseconds": str(fault.back_off_ms)},
            )
        requested_version(header)
        impersonated = text_of(header, "t:ExchangeImpersonation/t:ConnectingSID/t:PrimarySmtpAddress")
        if impersonated and impersonated.casefold() != who.email.casefold():
            # no account holds the ApplicationImpersonation role here
            raise SoapFault(
                "ErrorImpersonateUserDenied",
                "The account does not have permission to impersonate the requested user.",
            )
        if local(operation) == "GetStreamingEvents":  # a connection kept open, one envelope per batch
            return StreamingResponse(subscriptions.stream(state, who, operation), media_type=_XML)
        handler = OPERATIONS.get(local(operation))
        if handler is None:
            raise SoapFault(
                "ErrorSchemaValidation",
                f"The request failed schema validation: {local(operation)} is not an operation here.",
            )
        try:
            payload = handler(state, who, operation)
        except ValueError as exc:  # a number or time that does not parse: what a schema check refuses
            raise SoapFault("ErrorSchemaValidation", f"The request failed schema validation: {exc}") from None
    except SoapFault as exc:
        return Response(fault_envelope(exc), status_code=500, media_type=_XML)
    return Response(envelope(payload), media_type=_XML)


def create_app(state: EwsState, notifier: subscriptions.PushNotifier | None = None) -> Starlette:
    app = Starlette(
        routes=[
            Route("/EWS/Exchange.asmx", ews, methods=["POST"]),
            Route("/ews/exchange.asmx", ews, methods=["POST"]),
            *autodiscover.ROUTES,
            *control.ROUTES,
        ]
    )
    app.state.ews = state
    app.state.notifier = notifier
    return app


@dataclass
class RunningEmulator:
    """``url`` is the origin (``http://127.0.0.1:PORT``); EWS is at ``ews_url``."""

    url: str
    state: EwsState
    notifier: subscriptions.PushNotifier
    _server: BackgroundServer

    @property
    def ews_url(self) -> str:
        return f"{self.url}/EWS/Exchange.asmx"

    def stop(self) -> None:
        self._server.stop()
        self.notifier.stop()


def start(
    *,
    state: EwsState | None = None,
    port: int = 0,
    host: str = "127.0.0.1",
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> RunningEmulator:
    """Serve a (new, or the given) state on ``host:port`` (0: a free port) until ``stop()``; HTTPS when
    ``ssl_certfile`` (PEM; ``ssl_keyfile`` may be the same file) is given."""
    state = state or EwsState()
    notifier = subscriptions.PushNotifier(state)
    notifier.attach()
    tls: dict[str, Any] = {"ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile} if ssl_certfile else {}
    try:
        server = serve_in_thread(
            create_app(state, notifier), name="ews-emulator", host=host, port=port, lifespan="off", **tls
        )
    except BaseException:
        notifier.stop()
        raise
    url = server.url.replace("http://", "https://") if ssl_certfile else server.url
    return RunningEmulator(url, state, notifier, server)


def main() -> None:  # pragma: no cover - `python -m creneau.emulators.ews.server` for a manual look
    running = start(port=8766)
    running.state.add_mailbox("ada@contoso.example", "Secret1!")
    print(f"EWS emulator on {running.ews_url} (ada@contoso.example / Secret1!); Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        running.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
