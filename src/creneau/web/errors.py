"""The one place where errors become HTTP answers: statuses, stable codes and translated messages.

``problem_for`` maps the :mod:`creneau.errors` tree (and the web layer's own few exceptions) to a
:class:`Problem`; the handlers installed by :func:`install_handlers` turn a problem into JSON under ``/api/``
(``{"detail": {"code": ..., "message": ..., "field": ...}}``) and into an HTML page elsewhere. Pages that show
an error inside a form (connect an account, sign in) call :func:`problem_for` too, so the words are the same.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from creneau import errors
from creneau.web.csrf import CsrfFailed
from creneau.web.i18n import N_, Translator
from creneau.web.logredact import redact_target
from creneau.web.render import render, translator_for

log = logging.getLogger(__name__)

API_PREFIX = "/api/"

# What a researcher reads for each provider error code. iCloud's refusal gets its own words: the usual cause
# is an Apple ID password typed where an app-specific password is needed.
PROVIDER_MESSAGES: Mapping[str, str] = {
    # Exchange (EWS)
    "auth_failed/exchange": N_(
        "Exchange refused the username or password. Many Exchange servers want the username as "
        "DOMAIN\\user (or user@domain), not the email address."
    ),
    "auth_expired/exchange": N_(
        "Exchange refused the password: delete and reconnect the account with the new password "
        "(username as DOMAIN\\user if needed)."
    ),
    "autodiscover_failed": N_(
        "Autodiscover could not find the Exchange server for this email address. Type the EWS address below."
    ),
    "not_exchange": N_("This address answers but is not an Exchange Web Services (EWS) address."),
    "tls_untrusted": N_(
        "The Exchange server's certificate is not trusted. If your organisation uses its own certificate "
        "authority, ask the creneau administrator to add it (CRENEAU_EWS_CA_BUNDLE)."
    ),
    "rate_limited/exchange": N_("The Exchange server is busy (throttling); try again in a few minutes."),
    "mailbox_not_found": N_("The Exchange server has no mailbox for this email address."),
    "auth_failed": N_("The server refused the username or password."),
    "auth_failed/icloud": N_(
        "iCloud refused the password: iCloud needs an app-specific password, not your Apple ID password."
    ),
    "auth_expired": N_(
        "The server refused the password: delete and reconnect the account with a new password."
    ),
    "auth_failed/oauth": N_(
        "The sign-in server refused creneau's request; try again, or ask your administrator."
    ),
    "auth_expired/oauth": N_(
        "creneau no longer has access to this account (the access was revoked or has expired). Its last "
        "synchronised busy times still count for conflicts. Reconnect it to resume synchronisation."
    ),
    "integration_retired": N_(
        "The old Google integration has been removed: this calendar is no longer synchronised and bookings "
        "are no longer written to it. Move it to the new integration to use it again."
    ),
    "unreachable": N_("Could not reach the server (check the address, or the server is down)."),
    "not_caldav": N_("This address answers but is not a CalDAV server."),
    "address_forbidden": N_("This address points into a private network, which this creneau does not allow."),
    "invalid_url": N_(
        "The server address cannot be read (its host name or port is not valid). Delete the account and "
        "connect it again with the right address."
    ),
    "rate_limited": N_("The server asks us to slow down; try again in a few minutes."),
    "precondition_failed": N_("The event changed on the server meanwhile; try again."),
    "remote_not_found": N_("The calendar or event no longer exists on the server."),
    "sync_cursor_invalid": N_(
        "The server forgot where the last sync stopped; creneau syncs everything again."
    ),
    "transient": N_("The calendar server had a temporary problem; creneau will try again later."),
    "provider_error": N_("The calendar server answered something creneau did not understand."),
    # ICS feeds
    "not_feed": N_(
        "This address does not give a calendar feed (an iCalendar .ics file): check that you copied the "
        "subscription link, not the address of a web page."
    ),
    "too_large": N_(
        "This calendar feed is larger than this creneau accepts; ask your administrator to raise the limit."
    ),
    "auth_failed/ics": N_(
        "The feed's server refused access: the subscription link may have changed or expired."
    ),
    "unreachable/ics": N_("Could not reach the feed's server (check the address, or the server is down)."),
    "address_forbidden/ics": N_(
        "This feed's address points into a private network, which this creneau does not allow."
    ),
}

# Field names as a researcher reads them, for "422 naming the field" on pages and in messages.
FIELD_LABELS: Mapping[str, str] = {
    "ews_url": N_("EWS address"),
    "email": N_("Email"),
    "password": N_("Password"),
    "username": N_("Username"),
    "server_url": N_("Server address"),
    "provider": N_("Calendar service"),
    "check_conflicts": N_("Check for conflicts"),
    "label": N_("Label"),
    "from": N_("Start"),
    "to": N_("End"),
    "tz": N_("Time zone"),
    "timezone": N_("Time zone"),
    "locale": N_("Language"),
    "name": N_("Name"),
    "start": N_("Slot"),
    "role": N_("Role"),
    "manager_id": N_("Who will manage the appointments?"),
    "destination_calendar_id": N_("Destination calendar"),
    "event_title": N_("Calendar event title"),
    "duration_minutes": N_("Duration (minutes)"),
    "location_kind": N_("Location"),
    "address": N_("Address"),
    "slot_interval_minutes": N_("A slot every (minutes)"),
    "buffer_before_minutes": N_("Buffer before (minutes)"),
    "buffer_after_minutes": N_("Buffer after (minutes)"),
    "min_notice_minutes": N_("Minimum notice (hours)"),
    "min_notice_hours": N_("Minimum notice (hours)"),
    "horizon_days": N_("Bookable up to (days ahead)"),
    "max_per_day": N_("At most per day"),
    "exceptions": N_("Date exceptions"),
    "days": N_("Number of days"),
    **{f"weekly_{n}": N_("Weekly availability") for n in range(7)},
}

# Messages the services put in ValidationFailed (English); listed so that they are translated when shown.
SERVICE_MESSAGES = (
    N_("Wrong email or password."),
    N_("Enter a valid email address."),
    N_("The password must be at least 8 characters long."),
    N_("The language must be fr or en."),
    N_("A researcher with this email address already exists."),
    N_("Unknown time zone."),
    N_("The end must come after the start."),
    N_("The range may span at most 400 days."),
    N_("a username is required"),
    N_("a password is required"),
    N_("a server URL is required"),
    N_("the server URL must start with https:// or http://"),
    N_("a feed address is required"),
    N_("the feed address is too long"),
    N_("the feed address must start with webcal://, https:// or http://"),
    N_("you are already subscribed to this feed"),
    N_("the iCloud server cannot be changed"),
    N_("this account is already connected"),
    N_("give your name"),
    N_("this email address is not valid"),
    N_("this time zone does not exist"),
    N_("unknown time zone"),
    N_("choose a slot"),
    N_("must be a whole number"),
    N_("must be between %(low)s and %(high)s"),
    N_("give the study a name (up to 200 characters)"),
    N_("give the session a name (up to 200 characters)"),
    N_("the manager must be a member of the workspace"),
    N_("choose one of the manager's writable calendars"),
    N_("choose remote or in person"),
    N_("give the address of an in-person session"),
    N_("the title may use {study}, {session}, {first_name} and {name} only"),
    N_("time ranges overlap"),
    N_("this person is already a member of the workspace"),
    N_("a workspace keeps at least one admin"),
    N_("unknown role"),
    N_("this booking is cancelled"),
    N_("the slot's start must carry its time zone"),
    N_("names may not contain control characters or text-direction overrides"),
    N_("this date is out of range"),
    N_("this text contains a character that cannot be stored"),
)

# Server URLs (calendars/providers/urls.py) and event titles (scheduling/titles.py): ValidationFailed.
URL_AND_TITLE_MESSAGES = (
    N_("the server URL may be at most %(max)s characters long"),
    N_("the server URL may not contain spaces or control characters"),
    N_("the server URL may not contain a username or password: type them in their own fields"),
    N_("the server URL has no host name"),
    N_("the host name of the server URL is not valid"),
    N_("the port of the server URL must be a number from 1 to 65535"),
    N_("the title may be at most %(max)s characters long"),
    N_("the title may not contain line breaks or control characters"),
    N_(
        "unknown placeholder in the title: %(names)s; the title may use {study}, {session}, "
        "{first_name} and {name} only"
    ),
    N_(
        "write a brace of the title twice ({{ or }}) unless it surrounds {study}, {session}, "
        "{first_name} or {name}"
    ),
)

LINK_MESSAGES: Mapping[str, str] = {
    "tampered": N_("This link is not valid. Use the link of the latest email you received."),
    "replaced": N_(
        "This link was replaced: your booking was changed since. Use the link of the latest email."
    ),
    "past": N_("This session has already taken place."),
    "cancelled": N_("This booking is cancelled."),
}

_PROVIDER_STATUS: Mapping[str, int] = {
    # The address the caller gave answers nothing: their input to fix (422 naming server_url), not our
    # failure; a fuzzer's random addresses must not read as server errors.
    "unreachable": 422,
    "auth_failed": 422,
    "auth_expired": 422,
    "not_caldav": 422,
    "not_feed": 422,
    "too_large": 422,
    "address_forbidden": 422,
    "invalid_url": 422,
    "precondition_failed": 409,
    "rate_limited": 503,
    "remote_not_found": 502,
    "autodiscover_failed": 422,
    "not_exchange": 422,
    "tls_untrusted": 422,
    "mailbox_not_found": 422,
}
_PROVIDER_FIELD: Mapping[str, str] = {
    "auth_failed/ics": "server_url",  # a feed has no password: its address is what to change
    "auth_failed": "password",
    "auth_expired": "password",
    "not_caldav": "server_url",
    "not_feed": "server_url",
    "too_large": "server_url",
    "address_forbidden": "server_url",
    "invalid_url": "server_url",
    "unreachable": "server_url",
    "autodiscover_failed": "ews_url",
    "not_exchange": "ews_url",
    "tls_untrusted": "ews_url",
    "mailbox_not_found": "email",
}


class SignInRequired(Exception):
    """A page needs a signed-in researcher; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Unauthorized(Exception):
    """The API was called without a valid API token or session (answered 401)."""


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: str  # an English message id, translated when shown
    params: Mapping[str, object] = dataclasses.field(default_factory=dict)
    field: str | None = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def text(self, t: Translator) -> str:
        # A timedelta parameter (how long to wait) is written out in the reader's language.
        params = {
            k: t.duration(v.total_seconds()) if isinstance(v, timedelta) else v
            for k, v in self.params.items()
        }
        message = t.translate(self.message, **params)
        if self.field and self.code == "invalid":
            label = FIELD_LABELS.get(self.field)
            name = t.translate(label) if label else self.field
            return t.gettext("%(field)s: %(message)s", field=name, message=message)
        return message


def provider_message(code: str, provider: str | None = None) -> str:
    """The message id for a provider error ``code``, specialised for ``provider`` when there is one."""
    return PROVIDER_MESSAGES.get(f"{code}/{provider}") or PROVIDER_MESSAGES.get(
        code, PROVIDER_MESSAGES["provider_error"]
    )


def problem_for(exc: Exception, *, provider: str | None = None) -> Problem:
    """How ``exc`` is answered; unknown exceptions are 500s."""
    if isinstance(exc, errors.ProviderError):
        code = getattr(exc, "code", "provider_error")
        headers: dict[str, str] = {}
        if isinstance(exc, errors.RateLimited) and exc.retry_after:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return Problem(
            status=_PROVIDER_STATUS.get(code, 502),
            code=code,
            message=provider_message(code, provider),
            field=_PROVIDER_FIELD.get(f"{code}/{provider}") or _PROVIDER_FIELD.get(code),
            headers=headers,
        )
    if isinstance(exc, errors.ValidationFailed):
        return Problem(422, "invalid", exc.message_id, params=exc.params, field=exc.field)
    if isinstance(exc, errors.SlotUnavailable):
        return Problem(
            409,
            "slot_unavailable",
            N_("This slot is no longer free. Please choose another one."),
            field="start",
        )
    if isinstance(exc, errors.LinkInvalid):
        return Problem(
            410 if exc.reason in ("past", "cancelled", "replaced") else 404,
            f"link_{exc.reason}",
            LINK_MESSAGES.get(exc.reason, LINK_MESSAGES["tampered"]),
        )
    if isinstance(exc, errors.NotFound):
        return Problem(404, "not_found", N_("This page or object does not exist, or is not yours."))
    if isinstance(exc, errors.TooManyAttempts):
        return Problem(
            429,
            "too_many_attempts",
            N_("Too many failed sign-ins. Try again in %(wait)s."),
            params={"wait": timedelta(seconds=exc.retry_after)},
            headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))},
        )
    if isinstance(exc, CsrfFailed):
        return Problem(403, "csrf_failed", N_("This form has expired. Reload the page and try again."))
    if isinstance(exc, Unauthorized):
        return Problem(
            401,
            "unauthorized",
            N_("Sign in, or send an API token in the Authorization header."),
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Problem(500, "server_error", N_("Something went wrong on our side. Please try again later."))


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def respond(request: Request, problem: Problem) -> Response:
    t = translator_for(request)
    if _is_api(request):
        detail: dict[str, Any] = {"code": problem.code, "message": problem.text(t)}
        if problem.field:
            detail["field"] = problem.field
        return JSONResponse({"detail": detail}, status_code=problem.status, headers=dict(problem.headers))
    return render(
        request,
        "error.html",
        status_code=problem.status,
        headers=dict(problem.headers),
        problem=problem,
        message=problem.text(t),
    )


async def _creneau_error(request: Request, exc: Exception) -> Response:
    problem = problem_for(exc)
    if problem.status >= 500:
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, redact_target(request.url.path), exc)
    return respond(request, problem)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse("/login?" + urlencode({"next": exc.next_path}), status_code=303)


def _validation_items(exc: RequestValidationError) -> list[dict[str, Any]]:
    # FastAPI's own shape, less the rejected input (it may be a password) and pydantic's internals.
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    items = _validation_items(exc)
    if any(item["loc"][:1] == ["path"] for item in items):
        # An id that is no number, or one no database row can have (web/params.py DbId): nothing is there.
        return respond(request, problem_for(errors.NotFound("no such object")))
    if _is_api(request):
        if any(item["type"] == "json_invalid" for item in items):
            problem = Problem(400, "malformed_json", N_("The request body is not valid JSON."))
            return respond(request, problem)
        return JSONResponse({"detail": items}, status_code=422)
    t = translator_for(request)
    names = [str(item["loc"][-1]) for item in items if item["loc"]]
    labels = [t.translate(FIELD_LABELS[n]) if n in FIELD_LABELS else n for n in names]
    message = t.gettext("Please check these fields: %(fields)s.", fields=", ".join(labels))
    problem = Problem(422, "invalid", N_("Please check these fields: %(fields)s."))
    return render(request, "error.html", status_code=422, problem=problem, message=message)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        code, message = "not_found", N_("This page or object does not exist, or is not yours.")
    elif exc.status_code == 405:
        code, message = "method_not_allowed", N_("This address does not accept this method.")
    else:
        code, message = "http_error", str(exc.detail)
    return respond(request, Problem(exc.status_code, code, message, headers=headers))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, redact_target(request.url.path), exc_info=exc)
    return respond(request, problem_for(exc))


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.CreneauError, _creneau_error)
    app.add_exception_handler(CsrfFailed, _creneau_error)
    app.add_exception_handler(Unauthorized, _creneau_error)
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
