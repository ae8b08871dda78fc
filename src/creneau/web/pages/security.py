"""Settings > Security: change the password, see where one is signed in, sign one or all sessions out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from creneau.errors import TooManyAttempts, ValidationFailed
from creneau.identity import change_password, end_all_sessions, end_session_record, list_sessions
from creneau.store.models import Researcher
from creneau.web.deps import CurrentResearcher, RuntimeDep, SessionDep, sign_out
from creneau.web.errors import problem_for
from creneau.web.i18n import N_
from creneau.web.params import DbId
from creneau.web.render import flash, render, translator_for

router = APIRouter(prefix="/settings/security")

PAGE = "/settings/security"
# Raised by identity/sessions.py (outside web/, so marked here for the catalogues).
MESSAGES = (
    N_("The current password is wrong."),
    N_("The two new passwords differ."),
)


def _this_session(request: Request) -> int | None:
    value = getattr(request.state, "signin_session_id", None)
    return value if isinstance(value, int) else None


def _page(
    request: Request,
    session: Session,
    researcher: Researcher,
    *,
    status_code: int = 200,
    error: str = "",
    error_field: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    settings = request.app.state.runtime.settings
    return render(
        request,
        "security.html",
        status_code=status_code,
        headers=headers,
        sessions=list_sessions(session, researcher_id=researcher.id, settings=settings),
        this_session=_this_session(request),
        error=error,
        error_field=error_field,
    )


@router.get("")
def security(request: Request, session: SessionDep, researcher: CurrentResearcher) -> Response:
    return _page(request, session, researcher)


@router.post("/password")
def new_password(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    researcher: CurrentResearcher,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    new_password_again: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    t = translator_for(request)
    try:
        if new_password != new_password_again:
            raise ValidationFailed("The two new passwords differ.", field="new_password_again")
        change_password(
            session,
            researcher_id=researcher.id,
            current_password=current_password,
            new_password=new_password,
            keep_record_id=_this_session(request),
            settings=runtime.settings,
        )
    except ValidationFailed as exc:
        return _page(
            request,
            session,
            researcher,
            status_code=422,
            error=t.translate(exc.message_id, **exc.params),
            error_field=exc.field or "",
        )
    except TooManyAttempts as exc:
        problem = problem_for(exc)
        return _page(
            request,
            session,
            researcher,
            status_code=problem.status,
            headers=dict(problem.headers),
            error=problem.text(t),
            error_field="current_password",
        )
    flash(request, N_("Your password is changed. Your other sessions are signed out."))
    return RedirectResponse(PAGE, status_code=303)


@router.post("/sessions/{record_id}/end")
def end_one_session(
    request: Request, record_id: DbId, session: SessionDep, researcher: CurrentResearcher
) -> RedirectResponse:
    if record_id == _this_session(request):
        sign_out(request, session)
        flash(request, N_("You are signed out."))
        return RedirectResponse("/login", status_code=303)
    end_session_record(session, researcher_id=researcher.id, record_id=record_id)
    flash(request, N_("That session is signed out."))
    return RedirectResponse(PAGE, status_code=303)


@router.post("/sign-out-everywhere")
def sign_out_everywhere(
    request: Request, session: SessionDep, researcher: CurrentResearcher
) -> RedirectResponse:
    end_all_sessions(session, researcher_id=researcher.id)
    sign_out(request, session)
    flash(request, N_("You are signed out everywhere, on this device too."))
    return RedirectResponse("/login", status_code=303)
