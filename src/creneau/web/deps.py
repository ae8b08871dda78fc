"""Dependencies shared by the pages and the API (``Annotated`` aliases, as in full-stack-fastapi-template).

- ``SessionDep``: a database session for the request, committed when the route returns without error (before
  the response is sent, so the next request sees the change), rolled back otherwise.
- ``CurrentResearcher``: the signed-in researcher of a page; signed out, the browser is sent to ``/login``.
  Signed in means: the signed session cookie names a server-side session (``identity/sessions.py``) that
  has not ended (sign out, password change, "sign out everywhere") nor expired.
- ``ApiResearcher``: the caller of the API, by ``Authorization: Bearer <API token>``, or by the session cookie
  plus an ``X-CSRF-Token`` header on unsafe methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from creneau.identity import end_session, researcher_for_token, resume_session, start_session
from creneau.runtime import Runtime
from creneau.store.models import Researcher
from creneau.web.csrf import check_header_token
from creneau.web.errors import SignInRequired, Unauthorized
from creneau.web.logredact import SECRET_QUERY_PATHS

# The cookie's key for the server-side session's id (the cookie is signed: the id cannot be swapped for
# another one without the secret, and the server only knows its SHA-256).
SESSION_ID_KEY = "sid"


@dataclass(frozen=True)
class SignedIn:
    """What pages show of the signed-in researcher, kept on ``request.state`` for rendering (error pages are
    rendered after the request's database session is closed, so not the ORM object itself)."""

    id: int
    email: str
    name: str
    timezone: str


def _remember(request: Request, researcher: Researcher) -> None:
    request.state.researcher = SignedIn(researcher.id, researcher.email, researcher.name, researcher.timezone)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    session = runtime.ctx.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def client_ip(request: Request) -> str:
    """The client's address as trusted (forwarded headers only from ``settings.trusted_proxies``: see
    ``web/clientaddr.py``, which has already rewritten the request's scope)."""
    return request.client.host if request.client else "unknown"


def _signed_in(request: Request, session: Session) -> Researcher | None:
    session_id = request.session.get(SESSION_ID_KEY)
    if not isinstance(session_id, str):
        return None
    runtime = get_runtime(request)
    found = resume_session(session, session_id=session_id, ip=client_ip(request), settings=runtime.settings)
    if found is None:  # signed out, ended elsewhere, expired, or the researcher was deleted
        request.session.pop(SESSION_ID_KEY, None)
        return None
    researcher, record = found
    request.state.signin_session_id = record.id  # "this session" on the security page
    return researcher


def current_researcher(request: Request, session: SessionDep) -> Researcher:
    """:raises SignInRequired: when nobody is signed in (answered with a redirect to the sign-in page)."""
    researcher = _signed_in(request, session)
    if researcher is None:
        query = f"?{request.url.query}" if request.url.query else ""
        if request.url.path in SECRET_QUERY_PATHS:  # an OAuth code is not carried around (nor logged)
            query = ""
        raise SignInRequired(request.url.path + query)
    _remember(request, researcher)  # pages render dates in the researcher's time zone
    return researcher


CurrentResearcher = Annotated[Researcher, Depends(current_researcher)]

_bearer = HTTPBearer(auto_error=False, description="A personal API token (see docs/web.md)")


def api_researcher(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Researcher:
    """:raises Unauthorized: without a valid token or session. :raises CsrfFailed: cookie without header."""
    if request.headers.get("authorization"):
        researcher = researcher_for_token(session, credentials.credentials) if credentials else None
        if researcher is None:
            raise Unauthorized()
    else:
        researcher = _signed_in(request, session)
        if researcher is None:
            raise Unauthorized()
        check_header_token(request)
    _remember(request, researcher)
    return researcher


ApiResearcher = Annotated[Researcher, Depends(api_researcher)]


def sign_in(request: Request, session: Session, researcher: Researcher) -> None:
    """Start a fresh session for ``researcher``: a new server-side record, and a cookie holding nothing of
    the signed-out session but the flash (the old session id, if any, is ended)."""
    end_session(session, session_id=str(request.session.get(SESSION_ID_KEY) or ""))
    session_id = start_session(
        session,
        researcher_id=researcher.id,
        user_agent=request.headers.get("user-agent", ""),
        ip=client_ip(request),
        settings=get_runtime(request).settings,
    )
    request.session.clear()
    request.session[SESSION_ID_KEY] = session_id


def sign_out(request: Request, session: Session) -> None:
    """End this browser's session on the server (a copy of the cookie is refused from now on) and forget
    it in the cookie."""
    end_session(session, session_id=str(request.session.get(SESSION_ID_KEY) or ""))
    request.session.clear()
