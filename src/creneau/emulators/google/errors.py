"""Google's error bodies: ``{"error": {"errors": [{"domain", "reason", "message"}], "code", "message"}}``.

Every handler raises :class:`ApiError`; the app turns it into the JSON body Google sends (the shape the
official client's ``HttpError`` and our provider read ``reason`` from).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "GONE",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An answer other than success, as Google words it."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        headers: dict[str, str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.domain = domain
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        detail = {"domain": self.domain, "reason": self.reason, "message": self.message, **self.extra}
        return {
            "error": {
                "errors": [detail],
                "code": self.status,
                "message": self.message,
                "status": _STATUS.get(self.status, "UNKNOWN"),
            }
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential.",
        extra={"location": "Authorization", "locationType": "header"},
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'},
    )


def not_found() -> ApiError:
    return ApiError(404, "notFound", "Not Found")


def bad_request(
    message: str, reason: str = "invalid", *, domain: str = "global", parameter: str | None = None
) -> ApiError:
    """A 400; ``parameter`` names the query parameter at fault (``locationType: parameter``)."""
    extra = {"locationType": "parameter", "location": parameter} if parameter else None
    return ApiError(400, reason, message, domain=domain, extra=extra)


def time_range_empty(location: str = "timeMax") -> ApiError:
    """Google's own example of a 400 (the Calendar errors guide): domain ``calendar``."""
    return bad_request(
        "The specified time range is empty.", "timeRangeEmpty", domain="calendar", parameter=location
    )


def out_of_range(name: str, value: str, low: int, high: int) -> ApiError:
    """A number outside the bounds the discovery document or the reference gives."""
    return bad_request(
        f"Invalid value '{value}'. Values must be within the range: [{low}, {high}]", parameter=name
    )
