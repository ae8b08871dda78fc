"""Settings > Workspace: the team's members and their roles; admins invite colleagues by email."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from creneau.errors import ValidationFailed
from creneau.scheduling.workspaces import ROLES, ensure_workspace, invitations, invite, members, set_role
from creneau.store.models import WorkspaceMember
from creneau.web.deps import CurrentResearcher, SessionDep
from creneau.web.errors import problem_for
from creneau.web.i18n import N_
from creneau.web.params import DbId
from creneau.web.render import flash, render

router = APIRouter(prefix="/settings/workspace")
PAGE = "/settings/workspace"


@router.get("")
def workspace_page(request: Request, session: SessionDep, researcher: CurrentResearcher) -> Response:
    me = ensure_workspace(session, researcher=researcher)
    return render(
        request,
        "workspace.html",
        me=me,
        workspace=me.workspace,
        members=members(session, workspace_id=me.workspace_id),
        invitations=invitations(session, workspace_id=me.workspace_id),
        roles=ROLES,
    )


@router.post("/invitations")
def invite_colleague(
    request: Request,
    session: SessionDep,
    researcher: CurrentResearcher,
    email: Annotated[str, Form(max_length=400)] = "",
    role: Annotated[str, Form(max_length=16)] = "member",
) -> Response:
    me = ensure_workspace(session, researcher=researcher)
    try:
        added = invite(
            session, workspace_id=me.workspace_id, inviter_id=researcher.id, email=email, role=role
        )
    except ValidationFailed as exc:
        session.rollback()
        problem = problem_for(exc)
        flash(request, problem.message, kind="error", **problem.params)
        return RedirectResponse(PAGE, status_code=303)
    if isinstance(added, WorkspaceMember):
        flash(request, N_("%(email)s is now a member of the workspace."), email=email.strip().lower())
    else:
        flash(
            request,
            N_("%(email)s is invited: they join the workspace when their account is created."),
            email=email.strip().lower(),
        )
    return RedirectResponse(PAGE, status_code=303)


@router.post("/members/{member_id}/role")
def change_role(
    request: Request,
    member_id: DbId,
    session: SessionDep,
    researcher: CurrentResearcher,
    role: Annotated[str, Form(max_length=16)] = "member",
) -> Response:
    me = ensure_workspace(session, researcher=researcher)
    try:
        set_role(
            session, workspace_id=me.workspace_id, admin_id=researcher.id, member_id=member_id, role=role
        )
    except ValidationFailed as exc:
        session.rollback()
        problem = problem_for(exc)
        flash(request, problem.message, kind="error", **problem.params)
        return RedirectResponse(PAGE, status_code=303)
    flash(request, N_("The role is changed."))
    return RedirectResponse(PAGE, status_code=303)
