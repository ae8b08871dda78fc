"""``events.list / insert / get / update / patch / delete`` routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creneau.emulators.google.api import _body, _calendar, _state, _user
from creneau.emulators.google.errors import bad_request


def _conference_version(request: Request) -> int:
    try:
        version = int(request.query_params.get("conferenceDataVersion", "0"))
    except ValueError:
        raise bad_request("Invalid conferenceDataVersion value.") from None
    if version not in (0, 1):
        raise bad_request("Invalid conferenceDataVersion value.")
    return version


async def events_list(request: Request) -> Response:
    user = _user(request)
    cal, entry = _calendar(request, user)
    body = _state(request).listings.list(cal, request.query_params)
    body["accessRole"] = entry.access_role
    return JSONResponse(body)


async def events_insert(request: Request) -> Response:
    user = _user(request)
    state = _state(request)
    cal, entry = _calendar(request, user, write=True)
    event = state.store.insert(
        cal.id,
        await _body(request),
        conference_version=_conference_version(request),
        organizer=user.email if entry.primary else cal.id,
        base=state.base_url,
    )
    return JSONResponse(event)


async def events_get(request: Request) -> Response:
    user = _user(request)
    cal, _ = _calendar(request, user)
    return JSONResponse(_state(request).store.get(cal.id, request.path_params["eventId"]))


async def _replace(request: Request, *, patch: bool) -> Response:
    user = _user(request)
    cal, _ = _calendar(request, user, write=True)
    event = _state(request).store.replace(
        cal.id,
        request.path_params["eventId"],
        await _body(request),
        if_match=request.headers.get("if-match"),
        conference_version=_conference_version(request),
        patch=patch,
    )
    return JSONResponse(event)


async def events_update(request: Request) -> Response:
    return await _replace(request, patch=False)


async def events_patch(request: Request) -> Response:
    return await _replace(request, patch=True)


async def events_delete(request: Request) -> Response:
    user = _user(request)
    cal, _ = _calendar(request, user, write=True)
    _state(request).store.delete(
        cal.id, request.path_params["eventId"], if_match=request.headers.get("if-match")
    )
    return Response(status_code=204)


def routes(prefix: str) -> list[Route]:
    base = f"{prefix}/calendars/{{calendarId}}/events"
    one = f"{base}/{{eventId}}"
    return [
        Route(base, events_list, methods=["GET"]),
        Route(base, events_insert, methods=["POST"]),
        Route(one, events_get, methods=["GET"]),
        Route(one, events_update, methods=["PUT"]),
        Route(one, events_patch, methods=["PATCH"]),
        Route(one, events_delete, methods=["DELETE"]),
    ]
