"""Server-side sign-in sessions: logout, a password change and "sign out everywhere" end them

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creneau.store.types

revision: str = "0005"
# After 0004 (invitation consent), merged in the same session.
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signin_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("researcher_id", sa.Integer(), nullable=False),
        sa.Column("id_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", creneau.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", creneau.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=400), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["researcher_id"], ["researchers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("id_sha256"),
    )
    with op.batch_alter_table("signin_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signin_sessions_researcher_id"), ["researcher_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signin_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signin_sessions_researcher_id"))
    op.drop_table("signin_sessions")
