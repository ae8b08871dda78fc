"""Graph read endpoints: /me, mailboxSettings, calendars, calendarView and calendarView/delta."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creneau.emulators.msgraph.delta import Snapshot, diff
from creneau.emulators.msgraph.model import Json, User, parse_iso
from creneau.emulators.msgraph.state import EmulatorError, not_found
from creneau.emulators.msgraph.web import (
    authenticated,
    base,
    calendar_json,
    page_size,
    state_of,
    time_zone,
    wire_event,
)

CONTEXT = "https://graph.microsoft.com/v1.0/$metadata"


async def me(request: Request, user: User) -> Response:
    personal = user.kind == "personal"
    return JSONResponse(
        {
            "@odata.context": f"{CONTEXT}#users/$entity",
            "id": user.id,
            "displayName": user.display_name,
            "givenName": user.display_name.split(" ")[0],
            "surname": None,
            "mail": None if personal else user.email,  # Microsoft accounts often have no `mail`
            "userPrincipalName": user.email,
            "businessPhones": [],
            "jobTitle": None,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "fr-FR",
        }
    )


async def mailbox_settings(request: Request, user: User) -> Response:
    return JSONResponse(
        {
            "@odata.context": f"{CONTEXT}#users('{user.id}')/mailboxSettings",
            "timeZone": user.time_zone,
            "dateFormat": "dd/MM/yyyy",
            "timeFormat": "HH:mm",
            "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        }
    )


def _paged(request: Request, items: list[Json], default: int, context: str) -> Response:
    size = page_size(request, default)
    skip = int(request.query_params.get("$skip", "0") or 0)
    page = items[skip : skip + size]
    body: Json = {"@odata.context": context, "value": page}
    if skip + size < len(items):
        params = {k: v for k, v in request.query_params.items() if k not in ("$skip", "$top")}
        params.update({"$top": str(size), "$skip": str(skip + size)})
        query = "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in params.items())
        body["@odata.nextLink"] = f"{base(request)}{request.url.path.removeprefix('/v1.0')}?{query}"
    return JSONResponse(body)


async def list_calendars(request: Request, user: User) -> Response:
    state = state_of(request)
    items = [calendar_json(c, user) for c in state.calendars_of(user)]
    return _paged(request, items, 10, f"{CONTEXT}#users('{user.id}')/calendars")


async def get_calendar(request: Request, user: User) -> Response:
    calendar = state_of(request).calendar_of(user, request.path_params.get("cid"))
    return JSONResponse({"@odata.context": f"{CONTEXT}#calendars/$entity", **calendar_json(calendar, user)})


def _window(request: Request) -> tuple[datetime, datetime]:
    try:
        start = parse_iso(request.query_params["startDateTime"])
        end = parse_iso(request.query_params["endDateTime"])
    except (KeyError, ValueError):
        raise EmulatorError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime "
            "and EndDateTime.",
        ) from None
    return start, end


async def calendar_view(request: Request, user: User) -> Response:
    state = state_of(request)
    calendar = state.calendar_of(user, request.path_params.get("cid"))
    start, end = _window(request)
    tz = time_zone(request)
    items = [wire_event(i, tz) for i in state.view(calendar.id, start, end)]
    return _paged(request, items, 10, f"{CONTEXT}#Collection(event)")


async def list_events(request: Request, user: User) -> Response:
    """``GET /me/events`` (the default calendar) and ``/me/calendars/{id}/events``: single events and series
    masters as stored, never occurrences (those are what calendarView and ``instances`` list)."""
    state = state_of(request)
    calendar = state.calendar_of(user, request.path_params.get("cid"))
    tz = time_zone(request)
    with state.lock:
        stored = [e.data for e in state.events.values() if e.calendar_id == calendar.id]
    items = [wire_event(i, tz) for i in sorted(stored, key=lambda d: str(d.get("createdDateTime", "")))]
    return _paged(request, items, 10, f"{CONTEXT}#users('{user.id}')/events")


async def instances(request: Request, user: User) -> Response:
    """``GET /me/events/{id}/instances?startDateTime=&endDateTime=``: a series' occurrences and exceptions
    in the window. :raises EmulatorError: 404 for an event that is not the user's, 400 without a window."""
    state = state_of(request)
    with state.lock:
        stored = state.events.get(request.path_params["eid"])
        if stored is None or state.calendars[stored.calendar_id].owner_id != user.id:
            raise not_found()
        start, end = _window(request)
        items = [
            wire_event(i, time_zone(request))
            for i in state.view(stored.calendar_id, start, end)
            if i.get("seriesMasterId") == stored.id
        ]
    return _paged(request, items, 10, f"{CONTEXT}#Collection(event)")


async def calendar_view_delta(request: Request, user: User) -> Response:
    """A new round (window), a page of one (``$skiptoken``), or a change round (``$deltatoken``)."""
    state = state_of(request)
    calendar = state.calendar_of(user, request.path_params.get("cid"))
    params = request.query_params
    size = page_size(request, 100)
    with state.lock:
        if "$skiptoken" in params:
            token = params["$skiptoken"]
        elif "$deltatoken" in params:
            old = state.delta.tokens.get(params["$deltatoken"])
            if old is None or old.calendar_id != calendar.id or old.user_id != user.id:
                raise _gone()
            current = state.view(calendar.id, old.start, old.end)
            items = diff(old, current, state.item_exists)
            snapshot = Snapshot(user.id, calendar.id, old.start, old.end, _keys(current))
            token = state.delta.start_round(items, snapshot, size)
        else:
            start, end = _window(request)
            current = state.view(calendar.id, start, end)
            snapshot = Snapshot(user.id, calendar.id, start, end, _keys(current))
            token = state.delta.start_round(current, snapshot, size)
        taken = state.delta.take_page(token)
        if taken is None:
            raise _gone()
    page, following, deltatoken = taken
    tz = time_zone(request)
    link = f"{base(request)}{request.url.path.removeprefix('/v1.0')}"
    body: Json = {
        "@odata.context": f"{CONTEXT}#Collection(event)",
        "value": [
            item if "@removed" in item else {"@odata.type": "#microsoft.graph.event", **wire_event(item, tz)}
            for item in page
        ],
    }
    if following:
        body["@odata.nextLink"] = f"{link}?$skiptoken={following}"
    else:
        body["@odata.deltaLink"] = f"{link}?$deltatoken={deltatoken}"
    return JSONResponse(body)


def _keys(items: list[Json]) -> dict[str, str]:
    return {str(i["id"]): str(i.get("changeKey", "")) for i in items}


def _gone() -> EmulatorError:
    return EmulatorError(
        410,
        "syncStateNotFound",
        "The sync state generation is not found. Restart the synchronization with a new round.",
    )


async def view_or_delta(request: Request, user: User) -> Response:
    """``calendarView/delta`` and ``calendarView/delta()`` (the SDK's spelling) share one route."""
    if request.path_params.get("fn") not in ("delta", "delta()"):
        raise EmulatorError(
            400, "BadRequest", f"Resource not found for the segment '{request.path_params['fn']}'."
        )
    return await calendar_view_delta(request, user)


ROUTES = [
    Route("/v1.0/me", authenticated(me)),
    Route("/v1.0/me/mailboxSettings", authenticated(mailbox_settings)),
    Route("/v1.0/me/calendars", authenticated(list_calendars)),
    Route("/v1.0/me/calendar", authenticated(get_calendar)),
    Route("/v1.0/me/calendars/{cid}", authenticated(get_calendar)),
    Route("/v1.0/me/events", authenticated(list_events), methods=["GET"]),
    Route("/v1.0/me/calendar/events", authenticated(list_events), methods=["GET"]),
    Route("/v1.0/me/calendars/{cid}/events", authenticated(list_events), methods=["GET"]),
    Route("/v1.0/me/events/{eid}/instances", authenticated(instances), methods=["GET"]),
    Route("/v1.0/me/calendarView", authenticated(calendar_view)),
    Route("/v1.0/me/calendar/calendarView", authenticated(calendar_view)),
    Route("/v1.0/me/calendars/{cid}/calendarView", authenticated(calendar_view)),
    Route("/v1.0/me/calendarView/{fn}", authenticated(view_or_delta)),
    Route("/v1.0/me/calendar/calendarView/{fn}", authenticated(view_or_delta)),
    Route("/v1.0/me/calendars/{cid}/calendarView/{fn}", authenticated(view_or_delta)),
]
