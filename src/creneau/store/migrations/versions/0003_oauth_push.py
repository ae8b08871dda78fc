"""OAuth accounts (connector), calendars' native video links, push channels

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creneau.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connector", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("push_detail", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("calendars", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conferencing", sa.String(length=32), nullable=True))
    op.create_table(
        "push_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.String(length=300), nullable=False),
        sa.Column("resource_id", sa.String(length=300), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", creneau.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", creneau.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", creneau.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["calendar_accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["calendar_id"], ["calendars.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id"),
    )
    with op.batch_alter_table("push_channels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_channels_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_push_channels_calendar_id"), ["calendar_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("push_channels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_channels_calendar_id"))
        batch_op.drop_index(batch_op.f("ix_push_channels_account_id"))
    op.drop_table("push_channels")
    with op.batch_alter_table("calendars", schema=None) as batch_op:
        batch_op.drop_column("conferencing")
    with op.batch_alter_table("calendar_accounts", schema=None) as batch_op:
        batch_op.drop_column("push_detail")
        batch_op.drop_column("connector")
