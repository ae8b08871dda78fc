"""invitation consent: an invitation waits for the invited researcher's answer

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 18:00:00

(The brief asked for revision 0003 after 0002, but 0003 is already taken by 0003_oauth_push.py.)

Invitations become pending records that the invited researcher accepts or declines (docs/scheduling.md).
Memberships created by the old behaviour (an existing account added at once) are kept as they are: this
migration removes no access. Invitations already stored were all waiting for an account: they stay pending.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creneau.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workspace_invitations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="pending")
        )
        batch_op.add_column(
            sa.Column("decided_at", creneau.store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    # Declined invitations would come back as pending ones under the old code, which accepted them on the
    # invitee's next visit: remove them rather than let a refusal turn into a membership.
    op.execute("DELETE FROM workspace_invitations WHERE status <> 'pending'")
    with op.batch_alter_table("workspace_invitations", schema=None) as batch_op:
        batch_op.drop_column("decided_at")
        batch_op.drop_column("status")
