"""Graph event writes (POST with ``transactionId``, PATCH and DELETE with ``If-Match``) and getSchedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creneau.emulators.msgraph.model import (
    TEAMS,
    Json,
    StoredEvent,
    User,
    format_dtz,
    new_id,
    parse_dtz,
)
from creneau.emulators.msgraph.recurrence import occurrence, split_occurrence_id
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


def _owned_occurrence(
    state: GraphState, user: User, request: Request
) -> tuple[StoredEvent, str, Json] | None:
    """(series master, original start, occurrence) when the path names an occurrence of a series of the
    user's: Graph addresses occurrences and exceptions by their own ids. :raises EmulatorError: 404 for an
    occurrence id whose series has no such occurrence (any more)."""
    parts = split_occurrence_id(request.path_params["eid"])
    if parts is None or request.path_params["eid"] in state.events:
        return None
    master = state.events.get(parts[0])
    if (
        master is None
        or state.calendars[master.calendar_id].owner_id != user.id
        or request.path_params.get("cid") not in (None, master.calendar_id)
    ):
        raise not_found()
    item = occurrence(master, parts[1])
    if item is None:
        raise not_found()
    return master, parts[1], item


def _check_editable(state: GraphState, calendar_id: str) -> None:
    if not state.calendars[calendar_id].can_edit:
        raise EmulatorError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")


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
        found = _owned_occurrence(state, user, request)
        return _event_response(request, found[2] if found else _owned(state, user, request))


async def update_event(request: Request, user: User) -> Response:
    state = state_of(request)
    body = await json_body(request)
    with state.lock:
        found = _owned_occurrence(state, user, request)
        if found is not None:
            return _update_occurrence(request, state, body, *found)
        data = _owned(state, user, request)
        _check_etag(request, data)
        calendar = state.calendars[state.events[data["id"]].calendar_id]
        _check_editable(state, calendar.id)
        merged = {**data, **{k: v for k, v in body.items() if k not in _READ_ONLY}}
        _check_times(merged)
        if "isOnlineMeeting" in body or "onlineMeetingProvider" in body:
            _online_meeting(merged, calendar.allowed_providers)
        state.put_event(calendar.id, merged)
        return _event_response(request, state.events[data["id"]].data)


# What an exception may not change: the series decides these for every occurrence.
_SERIES_ONLY = frozenset({"recurrence", "transactionId", "singleValueExtendedProperties"})


def _update_occurrence(
    request: Request, state: GraphState, body: Json, master: StoredEvent, key: str, item: Json
) -> Response:
    """PATCH of one occurrence: it becomes (or stays) an exception of its series, the others unchanged."""
    _check_etag(request, item)
    _check_editable(state, master.calendar_id)
    if "recurrence" in body and body["recurrence"] is not None:
        raise EmulatorError(
            400, "ErrorPropertyValidationFailure", "An occurrence of a series cannot have a recurrence."
        )
    changes = {k: v for k, v in body.items() if k not in _READ_ONLY | _SERIES_ONLY}
    fields = {**master.exceptions.get(key, {}), **changes}
    fields.pop("changeKey", None)
    _check_times({**item, **fields})
    original = datetime.strptime(key, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    state.put_exception(master.id, original, fields)
    updated = occurrence(master, key)
    assert updated is not None  # an exception of an existing occurrence always exists
    return _event_response(request, updated)


async def delete_event(request: Request, user: User) -> Response:
    state = state_of(request)
    with state.lock:
        found = _owned_occurrence(state, user, request)
        if found is not None:
            master, _, item = found
            _check_etag(request, item)
            _check_editable(state, master.calendar_id)
            state.delete_event(item["id"])
            return Response(status_code=204)
        data = _owned(state, user, request)
        _check_etag(request, data)
        _check_editable(state, state.events[data["id"]].calendar_id)
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
    interval = _interval(body.get("availabilityViewInterval"), start, end)
    tz = str(body["startTime"].get("timeZone") or "UTC")
    value = [_schedule(state, email, start, end, interval, tz) for email in schedules]
    return JSONResponse(
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)",
            "value": value,
        }
    )


MAX_SCHEDULE_DAYS = 62  # getSchedule looks at most 62 days ahead


def _interval(value: object, start: datetime, end: datetime) -> int:
    """``availabilityViewInterval`` (minutes, default 30) checked as Exchange checks it: 5 to 1440 and no
    longer than the window; the window itself must be non-empty and at most 62 days.

    :raises EmulatorError: 400 ``ErrorInvalidTimeInterval`` / ``ErrorInvalidMergedFreeBusyInterval``.
    """
    if end <= start or end - start > timedelta(days=MAX_SCHEDULE_DAYS):
        raise EmulatorError(
            400,
            "ErrorInvalidTimeInterval",
            "The time duration specified for FreeBusyViewOptions.TimeWindow is invalid.",
        )
    try:
        interval = 30 if value is None else int(str(value))
    except ValueError:
        interval = 0
    if not 5 <= interval <= 1440 or timedelta(minutes=interval) > end - start:
        raise EmulatorError(
            400,
            "ErrorInvalidMergedFreeBusyInterval",
            "The specified merged free/busy interval is not valid. Specify an interval that is less than the "
            "free/busy time window and between 5 and 1440 minutes.",
        )
    return interval


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
