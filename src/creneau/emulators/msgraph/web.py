"""Shared pieces of the emulator's Graph endpoints: authentication, errors, Prefer headers, wire shapes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from creneau.emulators.msgraph.model import Json, User, format_dtz, parse_dtz
from creneau.emulators.msgraph.state import EmulatorError, GraphState

Endpoint = Callable[[Request, User], Awaitable[Response]]
_MAXPAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.I)
_TZ = re.compile(r'outlook\.timezone\s*=\s*"?([^",;]+)"?', re.I)


def state_of(request: Request) -> GraphState:
    state: GraphState = request.app.state.graph
    return state


def error_response(exc: EmulatorError, request: Request | None = None) -> JSONResponse:
    """Graph's error object: ``{"error": {"code", "message", "innerError": {"date", "request-id",
    "client-request-id"}}}``; the client's own ``client-request-id`` header is echoed as Graph does."""
    request_id = str(uuid.uuid4())
    client_id = (request.headers.get("client-request-id") if request is not None else None) or request_id
    inner = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_id,
    }
    body = {"error": {"code": exc.code, "message": exc.message, "innerError": inner}}
    headers = {"request-id": request_id, "client-request-id": client_id}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="", error="invalid_token"'
    return JSONResponse(body, status_code=exc.status, headers=headers)


# Exchange ids are base64 of a binary entry id: long, of base64 characters ("-" and "_" standing for "+"
# and "/" in URLs). Anything else is refused before any lookup, as Graph does.
_ID = re.compile(r"[A-Za-z0-9+/=_-]{16,}")


def check_ids(request: Request) -> None:
    """:raises EmulatorError: 400 ``ErrorInvalidIdMalformed`` for a calendar or event id in the path that
    cannot be an Exchange id (a well-formed id nobody has is a 404 ``ErrorItemNotFound`` instead)."""
    for name in ("cid", "eid"):
        value = request.path_params.get(name)
        if value is not None and not _ID.fullmatch(value):
            raise EmulatorError(400, "ErrorInvalidIdMalformed", "Id is malformed.")


def authenticated(handler: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a Graph endpoint: check the Bearer token (401 otherwise), answer EmulatorErrors as Graph does."""

    async def endpoint(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        user = state_of(request).user_for_token(token.strip()) if scheme.lower() == "bearer" else None
        try:
            if user is None:
                raise EmulatorError(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token is empty."
                    if not header
                    else "Access token has expired or is not yet valid.",
                )
            check_ids(request)
            return await handler(request, user)
        except EmulatorError as exc:
            return error_response(exc, request)

    return endpoint


async def json_body(request: Request) -> Json:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise EmulatorError(400, "BadRequest", "Unable to read JSON request payload.") from None
    if not isinstance(body, dict):
        raise EmulatorError(400, "BadRequest", "The request payload must be a JSON object.")
    return body


MAX_TOP = 1000  # Outlook resources page at most 1000 items, whatever $top or odata.maxpagesize ask


def top(request: Request) -> int | None:
    """``$top`` as Graph reads it. :raises EmulatorError: 400 when it is not a whole number in 0..1000."""
    raw = request.query_params.get("$top")
    if raw is None:
        return None
    if not raw.isdigit():
        raise EmulatorError(
            400, "BadRequest", f"Invalid value '{raw}' for $top query option found. Expected a whole number."
        )
    if int(raw) > MAX_TOP:
        raise EmulatorError(
            400,
            "BadRequest",
            f"The limit of '{MAX_TOP}' for Top query has been exceeded. The value from the incoming request "
            f"is '{raw}'.",
        )
    return int(raw)


def page_size(request: Request, default: int) -> int:
    match = _MAXPAGE.search(request.headers.get("prefer", ""))
    wanted = top(request)
    if wanted is not None:
        return max(1, wanted)
    return min(MAX_TOP, max(1, int(match.group(1)))) if match else default


def time_zone(request: Request) -> str:
    match = _TZ.search(request.headers.get("prefer", ""))
    return match.group(1).strip() if match else "UTC"


def base(request: Request) -> str:
    """The service root as clients reach it, e.g. ``http://127.0.0.1:5000/v1.0``."""
    return str(request.base_url).rstrip("/") + "/v1.0"


def wire_event(item: Json, tz_name: str, *, expand: str = "") -> Json:
    """An event as the API returns it: times in the requested zone, ``@odata.etag``, no hidden fields."""
    out: dict[str, Any] = {"@odata.etag": f'W/"{item.get("changeKey", "")}"'}
    out.update(item)
    if "singlevalueextendedproperties" not in expand.lower():
        out.pop("singleValueExtendedProperties", None)
    for key in ("start", "end"):
        try:
            moment = parse_dtz(item.get(key))
        except (ValueError, TypeError):
            continue  # a corrupt stored event travels as stored
        if item.get("isAllDay"):  # all-day events stay at local midnight whatever the zone asked
            out[key] = {"dateTime": moment.strftime("%Y-%m-%dT00:00:00.0000000"), "timeZone": tz_name}
        else:
            out[key] = format_dtz(moment, tz_name)
    return out


def calendar_json(calendar: Any, owner: User) -> Json:
    return {
        "id": calendar.id,
        "name": calendar.name,
        "color": "auto",
        "hexColor": calendar.hex_color,
        "isDefaultCalendar": calendar.is_default,
        "changeKey": calendar.change_key,
        "canShare": calendar.can_edit,
        "canViewPrivateItems": True,
        "canEdit": calendar.can_edit,
        "isRemovable": not calendar.is_default,
        "isTallyingResponses": True,
        "allowedOnlineMeetingProviders": list(calendar.allowed_providers),
        "defaultOnlineMeetingProvider": calendar.allowed_providers[0]
        if calendar.allowed_providers
        else "none",
        "owner": {"name": owner.display_name, "address": owner.email},
    }
