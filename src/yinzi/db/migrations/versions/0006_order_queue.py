"""orders.queue: the queue an order is routed to, so workers take only their queues' orders

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 18:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("queue", sa.String(length=32), nullable=False, server_default="cpu")
        )
        batch_op.create_index("ix_orders_queue_status", ["queue", "status"])


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_queue_status")
        batch_op.drop_column("queue")
