"""order progress and cancel

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("stage", sa.String(length=16), nullable=False, server_default="queued")
        )
        batch_op.add_column(
            sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # orders that ended before progress was recorded show as done
    op.execute("UPDATE orders SET progress = 100, stage = 'done' WHERE status = 'finish'")
    op.execute("UPDATE orders SET stage = 'done' WHERE status IN ('failed', 'timeout')")


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("cancel_requested")
        batch_op.drop_column("stage")
        batch_op.drop_column("progress")
