"""Workspaces: a research team whose members share studies and may manage each other's sessions.

Every researcher belongs to at least one workspace: on first use, a researcher without any membership gets
a workspace of their own, with them as its admin. Admins invite colleagues by email; an invitation is a
pending record until the researcher with that address accepts it on their invitations page
(``/settings/invitations``), whether their account exists already or is created later. Until then nothing
of theirs (calendars, busy times) is reachable from the workspace: they are not a member, so they cannot
manage its sessions. Declining keeps the invitation as ``declined`` so that the admins see the answer;
inviting again makes it pending again. Admins change roles; the last admin cannot be demoted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creneau.errors import NotFound, ValidationFailed
from creneau.identity import is_email, normalize_email
from creneau.mail import MailNotSent, MailSettings, send
from creneau.mail.workspace import Locale, workspace_invitation_email
from creneau.store.models import Researcher, Study, Workspace, WorkspaceInvitation, WorkspaceMember

log = logging.getLogger(__name__)

ROLES = ("member", "admin")
PENDING = "pending"
DECLINED = "declined"


def _invited_address(email: str) -> str:
    """Trimmed, lower-cased. :raises ValidationFailed: when it does not look like an email address."""
    email = normalize_email(email)
    if not is_email(email):
        raise ValidationFailed("this email address is not valid", field="email")
    return email


def ensure_workspace(session: Session, *, researcher: Researcher) -> WorkspaceMember:
    """The researcher's membership in their current workspace (the oldest), created if they have none.

    Invitations are never accepted here: only :func:`accept_invitation`, the researcher's own answer, makes
    them a member of another team.
    """
    member = session.scalars(
        select(WorkspaceMember)
        .where(WorkspaceMember.researcher_id == researcher.id)
        .order_by(WorkspaceMember.id)
        .limit(1)
    ).first()
    if member is not None:
        return member
    workspace = Workspace(name=researcher.name or researcher.email)
    session.add(workspace)
    session.flush()
    member = WorkspaceMember(workspace_id=workspace.id, researcher_id=researcher.id, role="admin")
    session.add(member)
    session.flush()
    return member


def _membership(session: Session, workspace_id: int, researcher_id: int) -> WorkspaceMember | None:
    return session.scalars(
        select(WorkspaceMember).where(
            WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.researcher_id == researcher_id
        )
    ).first()


def require_member(session: Session, *, workspace_id: int, researcher_id: int) -> WorkspaceMember:
    """:raises NotFound: when the researcher is not a member (other teams' things do not exist for them)."""
    member = _membership(session, workspace_id, researcher_id)
    if member is None:
        raise NotFound("no such workspace")
    return member


def members(session: Session, *, workspace_id: int) -> list[WorkspaceMember]:
    return list(
        session.scalars(
            select(WorkspaceMember)
            .join(Researcher, Researcher.id == WorkspaceMember.researcher_id)
            .where(WorkspaceMember.workspace_id == workspace_id)
            .order_by(Researcher.name, Researcher.email)
        )
    )


def invitations(session: Session, *, workspace_id: int) -> list[WorkspaceInvitation]:
    """The workspace's invitations still pending or declined (accepted ones became members)."""
    return list(
        session.scalars(
            select(WorkspaceInvitation)
            .where(WorkspaceInvitation.workspace_id == workspace_id)
            .order_by(WorkspaceInvitation.email)
        )
    )


def invite(
    session: Session, *, workspace_id: int, inviter_id: int, email: str, role: str = "member"
) -> WorkspaceInvitation:
    """Invite ``email`` to the workspace: a pending invitation, whether the address has an account or not.

    Inviting again an address that declined makes its invitation pending again.

    :raises ValidationFailed: bad email or role, or already a member.
    :raises NotFound: the inviter is not an admin of this workspace (they may not see its settings).
    """
    inviter = require_member(session, workspace_id=workspace_id, researcher_id=inviter_id)
    if inviter.role != "admin":
        raise NotFound("only admins invite colleagues")
    if role not in ROLES:
        raise ValidationFailed("unknown role", field="role")
    email = _invited_address(email)
    existing = session.scalars(select(Researcher).where(func.lower(Researcher.email) == email)).first()
    if existing is not None and _membership(session, workspace_id, existing.id) is not None:
        raise ValidationFailed("this person is already a member of the workspace", field="email")
    invitation = session.scalars(
        select(WorkspaceInvitation).where(
            WorkspaceInvitation.workspace_id == workspace_id, WorkspaceInvitation.email == email
        )
    ).first()
    if invitation is None:
        invitation = WorkspaceInvitation(workspace_id=workspace_id, email=email)
        session.add(invitation)
    invitation.invited_by_id = inviter_id
    invitation.role = role
    invitation.status = PENDING
    invitation.decided_at = None
    session.flush()
    return invitation


def pending_invitations(session: Session, *, researcher: Researcher) -> list[WorkspaceInvitation]:
    """The invitations waiting for ``researcher``'s answer (to their email address), oldest first."""
    return list(
        session.scalars(
            select(WorkspaceInvitation)
            .where(
                WorkspaceInvitation.email == normalize_email(researcher.email),
                WorkspaceInvitation.status == PENDING,
            )
            .order_by(WorkspaceInvitation.created_at, WorkspaceInvitation.id)
        )
    )


def _pending_for(session: Session, researcher: Researcher, invitation_id: int) -> WorkspaceInvitation:
    """:raises NotFound: no such invitation, not addressed to ``researcher``, or already answered."""
    invitation = session.get(WorkspaceInvitation, invitation_id)
    if (
        invitation is None
        or invitation.email != normalize_email(researcher.email)
        or invitation.status != PENDING
    ):
        raise NotFound("no such invitation")
    return invitation


def accept_invitation(session: Session, *, researcher: Researcher, invitation_id: int) -> WorkspaceMember:
    """``researcher`` joins the invitation's workspace with its role; the invitation is removed.

    A workspace of their own that holds nothing (no study, no other member, no invitation sent) is removed
    too, so that the team they joined becomes their current workspace instead of an empty one.

    :raises NotFound: when the invitation is not theirs or not pending.
    """
    invitation = _pending_for(session, researcher, invitation_id)
    workspace_id = invitation.workspace_id
    member = _membership(session, workspace_id, researcher.id)
    if member is None:
        empty = _empty_own_workspaces(session, researcher.id)
        member = WorkspaceMember(workspace_id=workspace_id, researcher_id=researcher.id, role=invitation.role)
        session.add(member)
        for workspace_id_to_drop in empty:
            dropped = session.get(Workspace, workspace_id_to_drop)
            if dropped is not None:
                session.delete(dropped)
    session.delete(invitation)
    session.flush()
    return member


def _empty_own_workspaces(session: Session, researcher_id: int) -> list[int]:
    """The researcher's workspaces that hold nothing but them (see :func:`accept_invitation`)."""
    empty = []
    for member in session.scalars(
        select(WorkspaceMember).where(WorkspaceMember.researcher_id == researcher_id)
    ):
        wid = member.workspace_id
        others = session.scalar(
            select(func.count()).select_from(WorkspaceMember).where(WorkspaceMember.workspace_id == wid)
        )
        studies = session.scalar(select(func.count()).select_from(Study).where(Study.workspace_id == wid))
        sent = session.scalar(
            select(func.count())
            .select_from(WorkspaceInvitation)
            .where(WorkspaceInvitation.workspace_id == wid)
        )
        if others == 1 and not studies and not sent:
            empty.append(wid)
    return empty


def decline_invitation(session: Session, *, researcher: Researcher, invitation_id: int) -> None:
    """Mark the invitation declined (the workspace's admins see it). :raises NotFound: as for accepting."""
    invitation = _pending_for(session, researcher, invitation_id)
    invitation.status = DECLINED
    invitation.decided_at = datetime.now(UTC)
    session.flush()


@dataclass(frozen=True)
class InvitationMail:
    """What became of the invitation's email: ``sent``, or not (no SMTP server, or the relay's ``detail``)."""

    sent: bool
    configured: bool
    detail: str = ""


def email_invitation(
    session: Session,
    *,
    mail: MailSettings | None,
    invitation: WorkspaceInvitation,
    base_url: str,
    locale: Locale,
) -> InvitationMail:
    """Tell the invited address by email, when an SMTP server is configured. Never raises for the relay: a
    failure is logged and returned (the invitation stays valid; the invitee also finds it after sign-in).

    ``locale``: used when the address has no account with a language of its own.
    """
    if mail is None:
        return InvitationMail(sent=False, configured=False)
    invitee = session.scalars(
        select(Researcher).where(func.lower(Researcher.email) == invitation.email)
    ).first()
    if invitee is not None and invitee.locale in ("fr", "en"):
        locale = "fr" if invitee.locale == "fr" else "en"
    workspace = session.get(Workspace, invitation.workspace_id)
    inviter = session.get(Researcher, invitation.invited_by_id) if invitation.invited_by_id else None
    message = workspace_invitation_email(
        locale=locale,
        to=invitation.email,
        sender=mail.sender,
        workspace_name=workspace.name if workspace else "",
        inviter=(inviter.name or inviter.email) if inviter else "",
        has_account=invitee is not None,
        url=base_url.rstrip("/") + ("/settings/invitations" if invitee is not None else "/login"),
    )
    try:
        send(mail, message)
    except MailNotSent as exc:
        log.warning("invitation email to workspace %s not sent: %s", invitation.workspace_id, exc)
        return InvitationMail(sent=False, configured=True, detail=str(exc))
    return InvitationMail(sent=True, configured=True)


def set_role(session: Session, *, workspace_id: int, admin_id: int, member_id: int, role: str) -> None:
    """:raises ValidationFailed: unknown role, or demoting the last admin."""
    admin = require_member(session, workspace_id=workspace_id, researcher_id=admin_id)
    if admin.role != "admin":
        raise NotFound("only admins change roles")
    if role not in ROLES:
        raise ValidationFailed("unknown role", field="role")
    member = session.get(WorkspaceMember, member_id)
    if member is None or member.workspace_id != workspace_id:
        raise NotFound("no such member")
    if member.role == "admin" and role != "admin":
        admins = session.scalar(
            select(func.count())
            .select_from(WorkspaceMember)
            .where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.role == "admin")
        )
        if (admins or 0) <= 1:
            raise ValidationFailed("a workspace keeps at least one admin", field="role")
    member.role = role
    session.flush()
