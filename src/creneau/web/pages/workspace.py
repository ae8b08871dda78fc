"""Settings > Workspace: the team's members and their roles; admins invite colleagues by email.

Settings > Invitations (``/settings/invitations``): the invitations waiting for the signed-in researcher's
answer, with Accept / Decline. An invitation gives nothing before it is accepted (scheduling/workspaces.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from creneau.errors import ValidationFailed
from creneau.scheduling.workspaces import (
    ROLES,
    accept_invitation,
    decline_invitation,
    email_invitation,
    ensure_workspace,
    invitations,
    invite,
    members,
    pending_invitations,
    set_role,
)
from creneau.web.deps import CurrentResearcher, RuntimeDep, SessionDep
from creneau.web.errors import problem_for
from creneau.web.i18n import N_
from creneau.web.params import DbId
from creneau.web.render import flash, render, translator_for

router = APIRouter()
PAGE = "/settings/workspace"
INVITATIONS_PAGE = "/settings/invitations"


@router.get(PAGE)
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
        pending=len(pending_invitations(session, researcher=researcher)),
    )


@router.post(PAGE + "/invitations")
def invite_colleague(
    request: Request,
    session: SessionDep,
    researcher: CurrentResearcher,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=400)] = "",
    role: Annotated[str, Form(max_length=16)] = "member",
) -> Response:
    me = ensure_workspace(session, researcher=researcher)
    try:
        invitation = invite(
            session, workspace_id=me.workspace_id, inviter_id=researcher.id, email=email, role=role
        )
    except ValidationFailed as exc:
        session.rollback()
        problem = problem_for(exc)
        flash(request, problem.message, kind="error", **problem.params)
        return RedirectResponse(PAGE, status_code=303)
    session.commit()  # the invitation stands whatever the mail relay answers
    locale = translator_for(request).locale
    mailed = email_invitation(
        session,
        mail=runtime.sched.mail,
        invitation=invitation,
        base_url=runtime.settings.base_url,
        locale="en" if locale == "en" else "fr",
    )
    flash(
        request,
        N_("%(email)s is invited: they become a member once they accept the invitation."),
        email=invitation.email,
    )
    if mailed.sent:
        flash(request, N_("An email told them about it."))
    elif mailed.configured:
        flash(
            request,
            N_("The invitation email could not be sent (%(detail)s); they will see it after signing in."),
            kind="error",
            detail=mailed.detail,
        )
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE + "/members/{member_id}/role")
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


@router.get(INVITATIONS_PAGE)
def invitations_page(request: Request, session: SessionDep, researcher: CurrentResearcher) -> Response:
    return render(
        request, "invitations.html", invitations=pending_invitations(session, researcher=researcher)
    )


@router.post(INVITATIONS_PAGE + "/{invitation_id}/accept")
def accept(
    request: Request, invitation_id: DbId, session: SessionDep, researcher: CurrentResearcher
) -> Response:
    member = accept_invitation(session, researcher=researcher, invitation_id=invitation_id)
    flash(request, N_("You are now a member of the workspace %(name)s."), name=member.workspace.name)
    return RedirectResponse(PAGE, status_code=303)


@router.post(INVITATIONS_PAGE + "/{invitation_id}/decline")
def decline(
    request: Request, invitation_id: DbId, session: SessionDep, researcher: CurrentResearcher
) -> Response:
    decline_invitation(session, researcher=researcher, invitation_id=invitation_id)
    flash(request, N_("The invitation is declined."))
    return RedirectResponse(INVITATIONS_PAGE, status_code=303)
