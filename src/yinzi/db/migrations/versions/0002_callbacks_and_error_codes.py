"""callbacks and error codes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 09:46:21.480809
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_secret", sa.String(length=100), nullable=True))

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("callback_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("callback_state", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("callback_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("callback_next_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("callback_error", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_orders_callback_due", ["callback_state", "callback_next_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_callback_due")
        batch_op.drop_column("callback_error")
        batch_op.drop_column("callback_next_at")
        batch_op.drop_column("callback_attempts")
        batch_op.drop_column("callback_state")
        batch_op.drop_column("callback_url")
        batch_op.drop_column("error_code")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("webhook_secret")
