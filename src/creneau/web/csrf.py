"""Cross-site request forgery protection: one secret token per browser session (synchronizer token).

Every HTML form carries it in a hidden ``csrf_token`` field; the JSON API accepts it in an ``X-CSRF-Token``
header when a browser calls it with the session cookie (API tokens need no CSRF token: a browser never sends
them by itself). The session cookie is also ``SameSite=Lax``; the token is what protects older browsers and
same-site attackers.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfFailed(Exception):
    """An unsafe request came without the session's CSRF token (answered 403)."""


def csrf_token(request: Request) -> str:
    """This session's token, created on first use."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def rotate_csrf_token(request: Request) -> str:
    """A new token, e.g. when a researcher signs in (the old one may have been seen signed out)."""
    request.session[SESSION_KEY] = secrets.token_urlsafe(32)
    return csrf_token(request)


def _matches(request: Request, given: object) -> bool:
    expected = request.session.get(SESSION_KEY)
    return (
        isinstance(given, str)
        and isinstance(expected, str)
        and bool(expected)
        and secrets.compare_digest(given.encode(), expected.encode())
    )


async def require_form_token(request: Request) -> None:
    """Dependency for page routers: an unsafe request must post the session's token in its form.

    :raises CsrfFailed: when the token is missing or wrong.
    """
    if request.method in SAFE_METHODS:
        return
    form = await request.form()  # Starlette caches the parsed form: the route's Form() fields reuse it
    if not _matches(request, form.get(FORM_FIELD)):
        raise CsrfFailed()


def check_header_token(request: Request) -> None:
    """For the API called with the session cookie: unsafe methods must send ``X-CSRF-Token``.

    :raises CsrfFailed: when the header is missing or wrong.
    """
    if request.method not in SAFE_METHODS and not _matches(request, request.headers.get(HEADER)):
        raise CsrfFailed()
