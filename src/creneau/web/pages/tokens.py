"""Settings > API tokens: create a personal token (shown once), list and revoke them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from creneau.identity import create_api_token, delete_api_token, list_api_tokens
from creneau.store.models import Researcher
from creneau.web.deps import CurrentResearcher, SessionDep
from creneau.web.i18n import N_
from creneau.web.params import DbId
from creneau.web.render import flash, render

router = APIRouter(prefix="/settings/api-tokens")

PAGE = "/settings/api-tokens"


def _tokens_page(request: Request, session: Session, researcher: Researcher, new_token: str = "") -> Response:
    return render(
        request,
        "api_tokens.html",
        tokens=list_api_tokens(session, researcher_id=researcher.id),
        new_token=new_token,
    )


@router.get("")
def api_tokens(request: Request, session: SessionDep, researcher: CurrentResearcher) -> Response:
    return _tokens_page(request, session, researcher)


@router.post("")
def new_api_token(
    request: Request,
    session: SessionDep,
    researcher: CurrentResearcher,
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    token = create_api_token(session, researcher_id=researcher.id, label=label)
    # Shown on this answer only (never stored in clear, never put in the session cookie).
    return _tokens_page(request, session, researcher, new_token=token)


@router.post("/{token_id}/delete")
def revoke_api_token(
    request: Request, token_id: DbId, session: SessionDep, researcher: CurrentResearcher
) -> RedirectResponse:
    delete_api_token(session, researcher_id=researcher.id, token_id=token_id)
    flash(request, N_("The API token is revoked."))
    return RedirectResponse(PAGE, status_code=303)
