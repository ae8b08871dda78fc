"""Graph event writes (POST with ``transactionId``, PATCH and DELETE with ``If-Match``) and getSchedule."""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creneau.emulators.msgraph.model import TEAMS, Json, User, format_dtz, new_id, parse_dtz
from creneau.emulators.msgraph.state import EmulatorError, GraphState, not_found
from creneau.emulators.msgraph.web import authenticated, json_body, state_of, time_zone, wire_event

# Fields the server owns: a client cannot set them.
_READ_ONLY = frozenset(
    {
        "id",
        "changeKey",
        "createdDateTime",
        "lastModifiedDateTime",
        "iCalUId",
        "type",
        "seriesMasterId",
        "onlineMeeting",
        "webLink",
        "organizer",
        "isOrganizer",
        "responseStatus",
        "originalStart",
        "@odata.etag",
    }
)
_AVAILABILITY = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}


def _check_times(body: Json) -> None:
    for key in ("start", "end"):
        try:
            parse_dtz(body.get(key))
        except (ValueError, TypeError):
            raise EmulatorError(
                400, "ErrorPropertyValidationFailure", f"The '{key}' property is missing or invalid."
            ) from None


def _online_meeting(data: Json, allowed: tuple[str, ...]) -> None:
    """Teams for business only where the calendar allows it; otherwise the request is silently ignored."""
    wanted = data.get("onlineMeetingProvider") or (allowed[0] if allowed else "unknown")
    if data.get("isOnlineMeeting") and wanted == TEAMS and TEAMS in allowed:
        data["onlineMeetingProvider"] = TEAMS
        data["onlineMeeting"] = {
            "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{data['id'][-24:]}%40thread.v2/0",
            "conferenceId": str(abs(hash(data["id"])) % 10**9),
            "tollNumber": "+33 1 00 00 00 00",
        }
    else:
        data.update(isOnlineMeeting=False, onlineMeetingProvider="unknown", onlineMeeting=None)


async def create_event(request: Request, user: User) -> Response:
    state = state_of(request)
    calendar = state.calendar_of(user, request.path_params.get("cid"))
    body = await json_body(request)
    _check_times(body)
    if not calendar.can_edit:
        raise EmulatorError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    with state.lock:
        transaction = body.get("transactionId")
        if transaction:
            for stored in state.events.values():
                if stored.data.get("transactionId") == transaction and (
                    state.calendars[stored.calendar_id].owner_id == user.id
                ):
                    return _event_response(request, stored.data, 201)
        fields = {k: v for k, v in body.items() if k not in _READ_ONLY}
        fields["id"] = new_id("AAMkAG")
        _online_meeting(fields, calendar.allowed_providers)
        event_id = state.put_event(calendar.id, fields)
        return _event_response(request, state.events[event_id].data, 201)


def _event_response(request: Request, data: Json, status: int = 200) -> Response:
    expand = request.query_params.get("$expand", "")
    event = wire_event(data, time_zone(request), expand=expand)
    event["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#users('me')/events/$entity"
    return JSONResponse(event, status_code=status, headers={"ETag": event["@odata.etag"]})


def _owned(state: GraphState, user: User, request: Request) -> Json:
    """The stored event named in the path. :raises EmulatorError: 404."""
    event_id = request.path_params["eid"]
    stored = state.events.get(event_id)
    if (
        stored is not None
        and state.calendars[stored.calendar_id].owner_id == user.id
        and request.path_params.get("cid") in (None, stored.calendar_id)
    ):
        return stored.data
    raise not_found()


def _check_etag(request: Request, data: Json) -> None:
    wanted = request.headers.get("if-match")
    if wanted and wanted.strip() not in (
        "*",
        f'W/"{data["changeKey"]}"',
        data["changeKey"],
        f'"{data["changeKey"]}"',
    ):
        raise EmulatorError(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed in the "
            "request does not match the current change key for the item.",
        )


async def get_event(request: Request, user: User) -> Response:
    state = state_of(request)
    with state.lock:
        return _event_response(request, _owned(state, user, request))


async def update_event(request: Request, user: User) -> Response:
    state = state_of(request)
    body = await json_body(request)
    with state.lock:
        data = _owned(state, user, request)
        _check_etag(request, data)
        calendar = state.calendars[state.events[data["id"]].calendar_id]
        if not calendar.can_edit:
            raise EmulatorError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        merged = {**data, **{k: v for k, v in body.items() if k not in _READ_ONLY}}
        _check_times(merged)
        if "isOnlineMeeting" in body or "onlineMeetingProvider" in body:
            _online_meeting(merged, calendar.allowed_providers)
        state.put_event(calendar.id, merged)
        return _event_response(request, state.events[data["id"]].data)


async def delete_event(request: Request, user: User) -> Response:
    state = state_of(request)
    with state.lock:
        data = _owned(state, user, request)
        _check_etag(request, data)
        if not state.calendars[state.events[data["id"]].calendar_id].can_edit:
            raise EmulatorError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        state.delete_event(data["id"])
    return Response(status_code=204)


async def get_schedule(request: Request, user: User) -> Response:
    """Free/busy of mailboxes (their default calendar). Not available to personal Microsoft accounts."""
    state = state_of(request)
    if user.kind == "personal":
        raise EmulatorError(
            403, "ErrorAccessDenied", "getSchedule is not supported for personal Microsoft accounts."
        )
    # Graph reads action parameters without case: the SDK sends "Schedules", "StartTime"...
    body = {k[:1].lower() + k[1:]: v for k, v in (await json_body(request)).items()}
    try:
        start, end = parse_dtz(body["startTime"]), parse_dtz(body["endTime"])
        schedules = [str(s) for s in body["schedules"]]
    except (KeyError, TypeError, ValueError):
        raise EmulatorError(
            400, "ErrorInvalidRequest", "schedules, startTime and endTime are required."
        ) from None
    interval = int(body.get("availabilityViewInterval") or 30)
    tz = str(body["startTime"].get("timeZone") or "UTC")
    value = [_schedule(state, email, start, end, interval, tz) for email in schedules]
    return JSONResponse(
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)",
            "value": value,
        }
    )


def _schedule(state: GraphState, email: str, start: datetime, end: datetime, interval: int, tz: str) -> Json:
    owner = state.user_by_email(email)
    if owner is None:
        return {
            "scheduleId": email,
            "availabilityView": "",
            "scheduleItems": [],
            "error": {"message": "The mailbox was not found.", "responseCode": "ErrorMailboxNotFound"},
        }
    calendar = state.calendar_of(owner, None)
    items = [
        i
        for i in state.view(calendar.id, start, end)
        if not i.get("isCancelled") and (i.get("responseStatus") or {}).get("response") != "declined"
    ]
    schedule_items = [
        {
            "isPrivate": i.get("sensitivity") == "private",
            "status": i.get("showAs", "busy"),
            "subject": i.get("subject", ""),
            "location": (i.get("location") or {}).get("displayName", ""),
            "isMeeting": bool(i.get("attendees")),
            "isRecurring": i.get("type") != "singleInstance",
            "isException": i.get("type") == "exception",
            "isReminderSet": bool(i.get("isReminderOn")),
            "start": format_dtz(parse_dtz(i["start"]), tz),
            "end": format_dtz(parse_dtz(i["end"]), tz),
        }
        for i in items
    ]
    view = []
    slot = start
    while slot < end:
        slot_end = slot + timedelta(minutes=interval)
        codes = [
            _AVAILABILITY.get(i.get("showAs", "busy"), "2")
            for i in items
            if parse_dtz(i["start"]) < slot_end and slot < parse_dtz(i["end"])
        ]
        view.append(max(codes, key=lambda c: {"0": 0, "4": 1, "1": 2, "2": 3, "3": 4}[c]) if codes else "0")
        slot = slot_end
    return {
        "scheduleId": email,
        "availabilityView": "".join(view),
        "scheduleItems": schedule_items,
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": owner.time_zone},
        },
    }


ROUTES = [
    Route("/v1.0/me/events", authenticated(create_event), methods=["POST"]),
    Route("/v1.0/me/calendar/events", authenticated(create_event), methods=["POST"]),
    Route("/v1.0/me/calendars/{cid}/events", authenticated(create_event), methods=["POST"]),
    Route("/v1.0/me/events/{eid}", authenticated(get_event), methods=["GET"]),
    Route("/v1.0/me/events/{eid}", authenticated(update_event), methods=["PATCH"]),
    Route("/v1.0/me/events/{eid}", authenticated(delete_event), methods=["DELETE"]),
    Route("/v1.0/me/calendars/{cid}/events/{eid}", authenticated(get_event), methods=["GET"]),
    Route("/v1.0/me/calendars/{cid}/events/{eid}", authenticated(update_event), methods=["PATCH"]),
    Route("/v1.0/me/calendars/{cid}/events/{eid}", authenticated(delete_event), methods=["DELETE"]),
    Route("/v1.0/me/calendar/getSchedule", authenticated(get_schedule), methods=["POST"]),
]
