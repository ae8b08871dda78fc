"""Graph ``/subscriptions``: create (after the validation handshake), renew (PATCH), list, delete."""

from __future__ import annotations

import uuid
from datetime import datetime

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creneau.emulators.msgraph.model import Subscription, User, parse_iso
from creneau.emulators.msgraph.push import MAX_MINUTES, resource_calendar, validate_endpoint
from creneau.emulators.msgraph.state import EmulatorError, GraphState
from creneau.emulators.msgraph.web import authenticated, json_body, state_of

_CHANGES = {"created", "updated", "deleted"}
MAX_CLIENT_STATE = 128  # characters, as the subscription resource documents


def _expiry(state: GraphState, value: object) -> datetime:
    try:
        when = parse_iso(str(value))
    except ValueError:
        raise EmulatorError(400, "InvalidRequest", "expirationDateTime is missing or invalid.") from None
    minutes = (when - state.now()).total_seconds() / 60
    if minutes <= 0:
        raise EmulatorError(400, "InvalidRequest", "Subscription expiration must be in the future.")
    if minutes > MAX_MINUTES:
        raise EmulatorError(
            400, "ExtensionError", f"Subscription expiration can only be {MAX_MINUTES} minutes in the future."
        )
    return when


async def create(request: Request, user: User) -> Response:
    state = state_of(request)
    body = await json_body(request)
    changes = str(body.get("changeType", ""))
    if not changes or not set(changes.split(",")) <= _CHANGES:
        raise EmulatorError(400, "InvalidRequest", f"Invalid changeType '{changes}'.")
    url = str(body.get("notificationUrl") or "")
    if not url.startswith(("http://", "https://")):
        raise EmulatorError(400, "InvalidRequest", "notificationUrl must be an absolute http(s) URL.")
    client_state = body.get("clientState")
    if client_state is not None and len(str(client_state)) > MAX_CLIENT_STATE:
        raise EmulatorError(
            400,
            "ValidationError",
            f"The clientState property exceeds its maximum length of {MAX_CLIENT_STATE} characters.",
        )
    resource = str(body.get("resource") or "")
    with state.lock:
        resource_calendar(state, user.id, resource)
    expires = _expiry(state, body.get("expirationDateTime"))
    lifecycle = body.get("lifecycleNotificationUrl")
    for endpoint in [url] + ([str(lifecycle)] if lifecycle else []):
        await anyio.to_thread.run_sync(validate_endpoint, endpoint, state.validation_timeout)
    sub = Subscription(
        id=str(uuid.uuid4()),
        user_id=user.id,
        resource=resource,
        change_type=changes,
        notification_url=url,
        lifecycle_url=str(lifecycle) if lifecycle else None,
        client_state=None if client_state is None else str(client_state),
        expires=expires,
    )
    with state.lock:
        state.subscriptions[sub.id] = sub
    return JSONResponse(sub.to_json(), status_code=201)


def _own(state: GraphState, user: User, sub_id: str) -> Subscription:
    sub = state.subscriptions.get(sub_id)
    if sub is None or sub.user_id != user.id:
        raise EmulatorError(404, "ResourceNotFound", f"The object was not found: subscription {sub_id}.")
    return sub


async def renew(request: Request, user: User) -> Response:
    state = state_of(request)
    body = await json_body(request)
    expires = _expiry(state, body.get("expirationDateTime"))
    with state.lock:
        sub = _own(state, user, request.path_params["sid"])
        sub.expires = expires
        return JSONResponse(sub.to_json())


async def read(request: Request, user: User) -> Response:
    state = state_of(request)
    with state.lock:
        return JSONResponse(_own(state, user, request.path_params["sid"]).to_json())


async def remove(request: Request, user: User) -> Response:
    state = state_of(request)
    with state.lock:
        _own(state, user, request.path_params["sid"])
        del state.subscriptions[request.path_params["sid"]]
    return Response(status_code=204)


async def listing(request: Request, user: User) -> Response:
    state = state_of(request)
    with state.lock:
        subs = [s.to_json() for s in state.subscriptions.values() if s.user_id == user.id]
    return JSONResponse(
        {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions", "value": subs}
    )


ROUTES = [
    Route("/v1.0/subscriptions", authenticated(create), methods=["POST"]),
    Route("/v1.0/subscriptions", authenticated(listing), methods=["GET"]),
    Route("/v1.0/subscriptions/{sid}", authenticated(read), methods=["GET"]),
    Route("/v1.0/subscriptions/{sid}", authenticated(renew), methods=["PATCH"]),
    Route("/v1.0/subscriptions/{sid}", authenticated(remove), methods=["DELETE"]),
]
