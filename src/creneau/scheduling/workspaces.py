"""Workspaces: a research team whose members share studies and may manage each other's sessions.

Every researcher belongs to at least one workspace: on first use, pending invitations for their email are
accepted, and if there were none a workspace of their own is created with them as its admin. Admins invite
colleagues by email (added at once when the address already has an account, kept as an invitation
otherwise) and change roles; the last admin cannot be demoted.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creneau.errors import NotFound, ValidationFailed
from creneau.identity import is_email, normalize_email
from creneau.store.models import Researcher, Workspace, WorkspaceInvitation, WorkspaceMember

ROLES = ("member", "admin")


def _invited_address(email: str) -> str:
    """Trimmed, lower-cased. :raises ValidationFailed: when it does not look like an email address."""
    email = normalize_email(email)
    if not is_email(email):
        raise ValidationFailed("this email address is not valid", field="email")
    return email


def ensure_workspace(session: Session, *, researcher: Researcher) -> WorkspaceMember:
    """The researcher's membership in their current workspace (the oldest), created if needed."""
    for invitation in session.scalars(
        select(WorkspaceInvitation).where(WorkspaceInvitation.email == researcher.email.lower())
    ):
        if _membership(session, invitation.workspace_id, researcher.id) is None:
            session.add(
                WorkspaceMember(
                    workspace_id=invitation.workspace_id, researcher_id=researcher.id, role=invitation.role
                )
            )
        session.delete(invitation)
    session.flush()
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
    return list(
        session.scalars(
            select(WorkspaceInvitation)
            .where(WorkspaceInvitation.workspace_id == workspace_id)
            .order_by(WorkspaceInvitation.email)
        )
    )


def invite(
    session: Session, *, workspace_id: int, inviter_id: int, email: str, role: str = "member"
) -> WorkspaceMember | WorkspaceInvitation:
    """Add ``email`` to the workspace: as a member when it has an account, else as an invitation.

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
    if existing is not None:
        if _membership(session, workspace_id, existing.id) is not None:
            raise ValidationFailed("this person is already a member of the workspace", field="email")
        member = WorkspaceMember(workspace_id=workspace_id, researcher_id=existing.id, role=role)
        session.add(member)
        session.flush()
        return member
    invitation = session.scalars(
        select(WorkspaceInvitation).where(
            WorkspaceInvitation.workspace_id == workspace_id, WorkspaceInvitation.email == email
        )
    ).first()
    if invitation is None:
        invitation = WorkspaceInvitation(workspace_id=workspace_id, email=email, invited_by_id=inviter_id)
        session.add(invitation)
    invitation.role = role
    session.flush()
    return invitation


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
