"""``/_emulator/``: the control API, for a demo or a test in another process (no authentication: the
emulator listens on 127.0.0.1 only). Each call maps to one :class:`GraphState` / :class:`Notifier` method.

========================================  ================================================================
``POST /_emulator/users``                 ``{"email", "kind": "work"|"personal"}`` → ``{"id", "tokens"}``
``POST /_emulator/tokens``                ``{"email"}`` → new tokens (``Connection.secret`` shape)
``POST /_emulator/clients``               ``{"client_id", "client_secret"?}``: only registered clients may
                                          then use the token endpoint
``POST /_emulator/calendars``             ``{"email", "name", "color"?, "can_edit"?, "teams"?}``
``POST /_emulator/events``                ``{"calendar_id", "event": <Graph JSON>}`` → ``{"id"}``
``DELETE /_emulator/events/{id}``         delete an event, a series or one occurrence
``POST /_emulator/expire-delta``          every delta/skip token answers 410 from now on
``POST /_emulator/revoke``                ``{"token"}`` or ``{"email"}``: those tokens answer 401 from now on
``POST /_emulator/faults``                ``{"fail_next", "status", "retry_after", "error_rate", "delay",
                                          "clear"}``
``POST /_emulator/lifecycle``             ``{"subscription_id", "event"}``: send a lifecycle notification
``GET /_emulator/state``                  users, calendars and subscriptions, for a look
========================================  ================================================================
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creneau.emulators.msgraph.push import Notifier
from creneau.emulators.msgraph.state import GraphState
from creneau.emulators.msgraph.web import state_of


async def _body(request: Request) -> dict[str, Any]:
    data = json.loads(await request.body() or b"{}")
    if not isinstance(data, dict):
        raise ValueError("a JSON object is expected")
    return data


def _notifier(request: Request) -> Notifier:
    notifier: Notifier = request.app.state.notifier
    return notifier


async def users(request: Request) -> Response:
    body, state = await _body(request), state_of(request)
    user = state.add_user(body["email"], kind=body.get("kind", "work"), display_name=body.get("display_name"))
    return JSONResponse({"id": user.id, "kind": user.kind, "tokens": state.issue_tokens(user.email)})


async def tokens(request: Request) -> Response:
    body = await _body(request)
    return JSONResponse(state_of(request).issue_tokens(body["email"]))


async def clients(request: Request) -> Response:
    body, state = await _body(request), state_of(request)
    with state.lock:
        state.clients[body["client_id"]] = body.get("client_secret")
    return JSONResponse({"ok": True})


async def calendars(request: Request) -> Response:
    body, state = await _body(request), state_of(request)
    calendar = state.add_calendar(
        body["email"],
        body["name"],
        color=body.get("color"),
        can_edit=body.get("can_edit", True),
        teams=body.get("teams"),
    )
    return JSONResponse({"id": calendar.id, "name": calendar.name})


async def events(request: Request) -> Response:
    body = await _body(request)
    return JSONResponse({"id": state_of(request).put_event(body["calendar_id"], body["event"])})


async def delete_event(request: Request) -> Response:
    found = state_of(request).delete_event(request.path_params["eid"])
    return Response(status_code=204 if found else 404)


async def expire_delta(request: Request) -> Response:
    return JSONResponse({"expired": state_of(request).expire_delta_tokens()})


async def revoke(request: Request) -> Response:
    body = await _body(request)
    return JSONResponse(
        {"revoked": state_of(request).revoke(token=body.get("token"), email=body.get("email"))}
    )


async def faults(request: Request) -> Response:
    body, state = await _body(request), state_of(request)
    if body.get("clear"):
        state.faults.clear()
    if body.get("fail_next"):
        state.faults.fail_next(
            int(body["fail_next"]),
            status=int(body.get("status", 429)),
            retry_after=body.get("retry_after", 1),
        )
    if "error_rate" in body:
        state.faults.error_rate(float(body["error_rate"]), status=int(body.get("status", 503)))
    if "delay" in body:
        state.faults.set_delay(float(body["delay"]))
    return JSONResponse({"ok": True})


async def lifecycle(request: Request) -> Response:
    body = await _body(request)
    _notifier(request).lifecycle(body["subscription_id"], body["event"])
    return JSONResponse({"ok": True})


def summary(state: GraphState) -> dict[str, Any]:
    with state.lock:
        return {
            "users": [{"id": u.id, "email": u.email, "kind": u.kind} for u in state.users.values()],
            "calendars": [
                {
                    "id": c.id,
                    "owner": c.owner_id,
                    "name": c.name,
                    "events": sum(1 for e in state.events.values() if e.calendar_id == c.id),
                }
                for c in state.calendars.values()
            ],
            "subscriptions": [s.to_json() for s in state.subscriptions.values()],
        }


async def show(request: Request) -> Response:
    return JSONResponse(summary(state_of(request)))


ROUTES = [
    Route("/_emulator/users", users, methods=["POST"]),
    Route("/_emulator/tokens", tokens, methods=["POST"]),
    Route("/_emulator/clients", clients, methods=["POST"]),
    Route("/_emulator/calendars", calendars, methods=["POST"]),
    Route("/_emulator/events", events, methods=["POST"]),
    Route("/_emulator/events/{eid}", delete_event, methods=["DELETE"]),
    Route("/_emulator/expire-delta", expire_delta, methods=["POST"]),
    Route("/_emulator/revoke", revoke, methods=["POST"]),
    Route("/_emulator/faults", faults, methods=["POST"]),
    Route("/_emulator/lifecycle", lifecycle, methods=["POST"]),
    Route("/_emulator/state", show, methods=["GET"]),
]
