"""The control API under ``/_emulator/``, so that another process (``make demo``) can drive the emulator.

Unauthenticated on purpose: the emulator binds to 127.0.0.1 only and holds test data.

==========================================  ===========================================================
``POST /_emulator/users``                   ``{"email", "timezone"?, "name"?}`` → tokens + ``secret``
``POST /_emulator/clients``                 ``{"client_id", "client_secret", "redirect_uris"?}``
``POST /_emulator/calendars``               ``{"email", "summary", "timezone"?, "access_role"?,
                                            "background_color"?, "calendar_id"?}`` → ``{"id"}``
``POST /_emulator/calendars/{id}/events``   raw event JSON, stored as is → the stored event
``POST /_emulator/expire-sync-tokens``      ``{"calendar_id"?}`` → ``{"expired": n}``
``POST /_emulator/revoke``                  ``{"token"}``
``POST /_emulator/faults``                  ``{"rate_limit": {"count", "retry_after"?, "status"?},
                                            "fail_randomly": {"probability", "status"?, "seed"?},
                                            "slow": seconds, "clear": true}``
``POST /_emulator/meet``                    ``{"pending_reads": n}``
``GET  /_emulator/state``                   users, calendars, channels, push deliveries
==========================================  ===========================================================
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creneau.emulators.google.state import GoogleState

_CALENDAR_OPTIONS = ("timezone", "access_role", "background_color", "calendar_id", "description")


def _state(request: Request) -> GoogleState:
    state: GoogleState = request.app.state.google
    return state


async def _json(request: Request) -> dict[str, Any]:
    data = json.loads(await request.body() or b"{}")
    if not isinstance(data, dict):
        raise ValueError("a JSON object is expected")
    return data


async def users(request: Request) -> Response:
    body = await _json(request)
    tokens = _state(request).add_user(
        body["email"], timezone=body.get("timezone", "Europe/Paris"), name=body.get("name", "")
    )
    return JSONResponse(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": int(tokens.expires_at),
            "secret": tokens.secret(),
        }
    )


async def clients(request: Request) -> Response:
    body = await _json(request)
    _state(request).add_client(
        body["client_id"], body["client_secret"], tuple(body.get("redirect_uris") or ())
    )
    return JSONResponse({"client_id": body["client_id"]})


async def calendars(request: Request) -> Response:
    body = await _json(request)
    options = {k: body[k] for k in _CALENDAR_OPTIONS if k in body}
    return JSONResponse({"id": _state(request).add_calendar(body["email"], body["summary"], **options)})


async def events(request: Request) -> Response:
    stored = _state(request).put_event(request.path_params["calendarId"], await _json(request))
    return JSONResponse(stored)


async def expire(request: Request) -> Response:
    body = await _json(request)
    return JSONResponse({"expired": _state(request).expire_sync_tokens(body.get("calendar_id"))})


async def revoke(request: Request) -> Response:
    body = await _json(request)
    return JSONResponse({"revoked": _state(request).revoke(body["token"])})


async def faults(request: Request) -> Response:
    body = await _json(request)
    controls = _state(request).faults
    if body.get("clear"):
        controls.clear()
    if "rate_limit" in body:
        limit = body["rate_limit"]
        controls.rate_limit(
            limit["count"], retry_after=limit.get("retry_after", 1), status=limit.get("status", 429)
        )
    if "fail_randomly" in body:
        fail = body["fail_randomly"]
        controls.fail_randomly(fail["probability"], status=fail.get("status", 503), seed=fail.get("seed"))
    if "slow" in body:
        controls.slow(float(body["slow"]))
    return JSONResponse({"ok": True})


async def meet(request: Request) -> Response:
    body = await _json(request)
    _state(request).set_meet_pending_reads(int(body["pending_reads"]))
    return JSONResponse({"ok": True})


async def summary(request: Request) -> Response:
    return JSONResponse(_state(request).summary())


def routes() -> list[Route]:
    return [
        Route("/_emulator/users", users, methods=["POST"]),
        Route("/_emulator/clients", clients, methods=["POST"]),
        Route("/_emulator/calendars", calendars, methods=["POST"]),
        Route("/_emulator/calendars/{calendarId}/events", events, methods=["POST"]),
        Route("/_emulator/expire-sync-tokens", expire, methods=["POST"]),
        Route("/_emulator/revoke", revoke, methods=["POST"]),
        Route("/_emulator/faults", faults, methods=["POST"]),
        Route("/_emulator/meet", meet, methods=["POST"]),
        Route("/_emulator/state", summary, methods=["GET"]),
    ]
