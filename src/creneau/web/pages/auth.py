"""Sign in, sign out, and the FR/EN switch of the header."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from creneau.errors import TooManyAttempts, ValidationFailed
from creneau.identity import authenticate
from creneau.web.csrf import rotate_csrf_token
from creneau.web.deps import RuntimeDep, SessionDep, client_ip, current_researcher, sign_in, sign_out
from creneau.web.errors import SignInRequired, problem_for
from creneau.web.i18n import LOCALE_COOKIE, LOCALES, N_
from creneau.web.render import flash, local_path, render, translator_for

router = APIRouter()

HOME = "/studies"
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get("/login", name="login_form")
def login_form(request: Request, session: SessionDep, next: str = HOME) -> Response:
    try:
        current_researcher(request, session)
    except SignInRequired:
        return render(request, "login.html", email="", next_path=local_path(next, HOME), error="")
    return RedirectResponse(local_path(next, HOME), status_code=303)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    try:
        researcher = authenticate(
            session, email=email, password=password, client_ip=client_ip(request), settings=runtime.settings
        )
    except (ValidationFailed, TooManyAttempts) as exc:
        problem = problem_for(exc)
        return render(
            request,
            "login.html",
            status_code=problem.status,
            headers=problem.headers,
            email=email,
            next_path=local_path(next, HOME),
            error=problem.text(translator_for(request)),
        )
    sign_in(request, session, researcher)
    rotate_csrf_token(request)
    return RedirectResponse(local_path(next, HOME), status_code=303)


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> RedirectResponse:
    sign_out(request, session)
    flash(request, N_("You are signed out."))
    return RedirectResponse("/login", status_code=303)


@router.post("/language")
def set_language(
    request: Request,
    lang: Annotated[str, Form(max_length=8)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> RedirectResponse:
    response = RedirectResponse(local_path(next, HOME), status_code=303)
    if lang in LOCALES:
        settings = request.app.state.runtime.settings
        response.set_cookie(
            LOCALE_COOKIE,
            lang,
            max_age=LOCALE_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=settings.base_url.startswith("https://"),
        )
    return response
