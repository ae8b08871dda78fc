"""The Calendar v3 routes (under ``/calendar/v3``): calendarList, calendars, settings, freeBusy, events,
watch and channels.stop. Handlers stay thin: authenticate, check the caller's access, call the store."""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creneau.emulators.google import model
from creneau.emulators.google.accounts import User
from creneau.emulators.google.errors import (
    ApiError,
    bad_request,
    not_found,
    out_of_range,
    time_range_empty,
    unauthorized,
)
from creneau.emulators.google.push import DEFAULT_TTL, MAX_TTL, Channel
from creneau.emulators.google.state import GoogleState
from creneau.emulators.google.store import WRITE_ROLES, Calendar, Entry

PREFIX = "/calendar/v3"
FREEBUSY_MAX_CALENDARS = 50  # calendarExpansionMax: "Maximum value is 50"
FREEBUSY_MAX_GROUP = 100  # groupExpansionMax: "Maximum value is 100"
CALENDAR_LIST_DEFAULT, CALENDAR_LIST_MAX = 100, 250
# "Your channel ID ... Maximum length: 64 characters" (push guide); the characters Google accepts.
_CHANNEL_ID = re.compile(r"[A-Za-z0-9\-_+/=]{1,64}")


def _state(request: Request) -> GoogleState:
    state: GoogleState = request.app.state.google
    return state


def _user(request: Request) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    user = _state(request).accounts.user_for(token.strip())
    if user is None:
        raise unauthorized()
    return user


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(400, "parseError", "Parse Error") from None
    if not isinstance(data, dict):
        raise ApiError(400, "parseError", "Parse Error")
    return data


def _calendar(request: Request, user: User, *, write: bool = False) -> tuple[Calendar, Entry]:
    state = _state(request)
    entry = state.store.entry(user.email, request.path_params["calendarId"])
    if write and entry.access_role not in WRITE_ROLES:
        raise ApiError(
            403, "requiredAccessLevel", "You need to have writer access to this calendar.", domain="calendar"
        )
    if not write and entry.access_role == "freeBusyReader":
        raise not_found()
    return state.store.calendar(entry.calendar_id), entry


def _list_entry(cal: Calendar, entry: Entry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "calendar#calendarListEntry",
        "etag": f'"{cal.seq}"',
        "id": cal.id,
        "summary": cal.summary,
        "timeZone": cal.timezone,
        "colorId": entry.color_id,
        "backgroundColor": entry.background_color,
        "foregroundColor": entry.foreground_color,
        "selected": True,
        "accessRole": entry.access_role,
        "defaultReminders": [],
        "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
    }
    if cal.description:
        body["description"] = cal.description
    if entry.summary_override:
        body["summaryOverride"] = entry.summary_override
    if entry.primary:
        body["primary"] = True
    if entry.hidden:
        body["hidden"] = True
    return body


async def calendar_list(request: Request) -> Response:
    user = _user(request)
    state = _state(request)
    params = request.query_params
    try:
        size = int(params.get("maxResults", str(CALENDAR_LIST_DEFAULT)))
        offset = int(params.get("pageToken", "0") or 0)
    except ValueError:
        raise bad_request("Invalid value.") from None
    if size < 1:
        raise out_of_range("maxResults", params["maxResults"], 1, CALENDAR_LIST_MAX)
    size = min(size, CALENDAR_LIST_MAX)  # "The page size can never be larger than 250 entries."
    token = params.get("syncToken")
    if token:
        # calendarList.list reference: minAccessRole and showOwnOrganizationOnly cannot come with a
        # syncToken, and neither showDeleted nor showHidden may be false.
        for name in ("minAccessRole", "showOwnOrganizationOnly"):
            if params.get(name):
                raise bad_request(
                    f"The {name} parameter cannot be used together with syncToken.", parameter=name
                )
        for name in ("showDeleted", "showHidden"):
            if params.get(name, "").lower() == "false":
                raise bad_request(f"{name} cannot be false together with syncToken.", parameter=name)
        if token not in state.listings.calendar_list_tokens:
            raise ApiError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
    show_hidden = bool(token) or params.get("showHidden", "false") == "true"
    roles = ["freeBusyReader", "reader", "writer", "owner"]
    floor = roles.index(params.get("minAccessRole", "freeBusyReader"))
    with state.lock:
        entries = [
            _list_entry(state.store.calendars[e.calendar_id], e)
            for e in state.store.entries.get(user.email, {}).values()
            if (show_hidden or not e.hidden) and roles.index(e.access_role) >= floor
        ]
    page = entries[offset : offset + size]
    body: dict[str, Any] = {"kind": "calendar#calendarList", "etag": f'"{len(entries)}"', "items": page}
    if offset + size < len(entries):
        body["nextPageToken"] = str(offset + size)
    else:
        # An incremental listing answers every entry again: a superset of what changed, which Google's
        # contract allows a client to receive (it replaces entries by id).
        body["nextSyncToken"] = "L" + secrets.token_urlsafe(12)
        with state.lock:
            state.listings.calendar_list_tokens.add(body["nextSyncToken"])
    return JSONResponse(body)


async def calendar_list_get(request: Request) -> Response:
    user = _user(request)
    entry = _state(request).store.entry(user.email, request.path_params["calendarId"])
    return JSONResponse(_list_entry(_state(request).store.calendar(entry.calendar_id), entry))


async def calendar_get(request: Request) -> Response:
    user = _user(request)
    cal, _ = _calendar(request, user)
    return JSONResponse(
        {
            "kind": "calendar#calendar",
            "etag": f'"{cal.seq}"',
            "id": cal.id,
            "summary": cal.summary,
            "timeZone": cal.timezone,
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
    )


async def setting_get(request: Request) -> Response:
    user = _user(request)
    name = request.path_params["setting"]
    values = {"timezone": user.timezone, "locale": "en", "weekStart": "1", "format24HourTime": "true"}
    if name not in values:
        raise not_found()
    return JSONResponse({"kind": "calendar#setting", "etag": '"1"', "id": name, "value": values[name]})


def _utc(moment: Any) -> str:
    return str(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


async def freebusy(request: Request) -> Response:
    user = _user(request)
    state = _state(request)
    body = await _body(request)
    for name in ("timeMin", "timeMax"):
        if not body.get(name):
            raise bad_request(f"Missing {name} parameter.", reason="required", parameter=name)
    try:
        window = (model.parse_instant(body["timeMin"]), model.parse_instant(body["timeMax"]))
    except (TypeError, ValueError, AttributeError):
        raise bad_request("Bad Request", reason="badRequest") from None
    if window[1] <= window[0]:
        raise time_range_empty()
    for name, most in (
        ("calendarExpansionMax", FREEBUSY_MAX_CALENDARS),
        ("groupExpansionMax", FREEBUSY_MAX_GROUP),
    ):
        if name in body:
            value = body[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > most:
                raise bad_request(f"Invalid {name} value: maximum value is {most}.", parameter=name)
    items = body.get("items") or []
    limit = min(int(body.get("calendarExpansionMax") or FREEBUSY_MAX_CALENDARS), FREEBUSY_MAX_CALENDARS)
    if len(items) > limit:
        raise bad_request(
            "Too many calendars requested.", reason="tooManyCalendarsRequested", domain="calendar"
        )
    calendars: dict[str, Any] = {}
    for item in items:
        cal_id = str(item.get("id", ""))
        try:
            entry = state.store.entry(user.email, cal_id)
        except ApiError:
            calendars[cal_id] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
            continue
        with state.lock:
            cal = state.store.calendars[entry.calendar_id]
            tz = model.zone(cal.timezone, ZoneInfo("UTC"))
            busy = model.busy_periods(list(cal.events.values()), user.email, tz, window)
        calendars[cal_id] = {"busy": [{"start": _utc(s), "end": _utc(e)} for s, e in busy]}
    return JSONResponse(
        {
            "kind": "calendar#freeBusy",
            "timeMin": _utc(window[0]),
            "timeMax": _utc(window[1]),
            "calendars": calendars,
        }
    )


async def watch(request: Request) -> Response:
    user = _user(request)
    state = _state(request)
    cal, _ = _calendar(request, user)
    body = await _body(request)
    if body.get("type") not in ("web_hook", "webhook"):
        raise bad_request("Invalid value for: type", reason="invalidParameter")
    if not body.get("id") or not body.get("address"):
        raise bad_request("Required", reason="required")
    if not isinstance(body["id"], str) or not _CHANNEL_ID.fullmatch(body["id"]):
        # Google's own words (no "." or "@": an e-mail address is not a valid channel id).
        raise bad_request("Channel id must match [A-Za-z0-9\\-_\\+/=]+ (at most 64 characters)")
    if body["id"] in state.notifier.channels:
        raise bad_request(f"Channel id {body['id']} not unique", reason="channelIdNotUnique")
    try:
        ttl = int((body.get("params") or {}).get("ttl", DEFAULT_TTL))
    except ValueError:
        raise bad_request("Invalid ttl value.") from None
    now = time.time()
    expiration = now + max(1, min(ttl, MAX_TTL))
    if body.get("expiration") is not None:
        # The channel's requested expiration (ms since the epoch) is honoured up to the longest lifetime.
        try:
            wanted = int(str(body["expiration"])) / 1000
        except ValueError:
            raise bad_request("Invalid expiration value.") from None
        if wanted <= now:
            raise bad_request("The channel expiration must be in the future.")
        expiration = min(wanted, now + MAX_TTL)
    resource_uri = f"{state.base_url}{PREFIX}/calendars/{cal.id}/events?alt=json"
    channel = state.notifier.open(
        Channel(
            str(body["id"]),
            cal.resource_id,
            resource_uri,
            cal.id,
            str(body["address"]),
            body.get("token"),
            expiration,
        )
    )
    answer = {
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": resource_uri,
        "expiration": str(int(expiration * 1000)),
    }
    if channel.token is not None:
        answer["token"] = channel.token
    return JSONResponse(answer)


async def channels_stop(request: Request) -> Response:
    _user(request)
    body = await _body(request)
    if not _state(request).notifier.stop(str(body.get("id", "")), str(body.get("resourceId", ""))):
        raise ApiError(404, "notFound", f"Channel '{body.get('id')}' not found for project")
    return Response(status_code=204)


def routes() -> list[Route]:
    from creneau.emulators.google import api_events

    return [
        Route(f"{PREFIX}/users/me/calendarList", calendar_list, methods=["GET"]),
        Route(f"{PREFIX}/users/me/calendarList/{{calendarId}}", calendar_list_get, methods=["GET"]),
        Route(f"{PREFIX}/users/me/settings/{{setting}}", setting_get, methods=["GET"]),
        Route(f"{PREFIX}/freeBusy", freebusy, methods=["POST"]),
        Route(f"{PREFIX}/channels/stop", channels_stop, methods=["POST"]),
        Route(f"{PREFIX}/calendars/{{calendarId}}", calendar_get, methods=["GET"]),
        Route(f"{PREFIX}/calendars/{{calendarId}}/events/watch", watch, methods=["POST"]),
        *api_events.routes(PREFIX),
    ]
