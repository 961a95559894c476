"""Lifecycle: order meta (acknowledgements, resume states, missing information),
the order a new order replaces, and durable timers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("meta", sa.Text, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("replaces_id", sa.String(64)))
        batch.create_index("ix_orders_replaces", ["replaces_id"])
    op.create_table(
        "timers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("due_at", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_timers_due", "timers", ["due_at"])
    op.create_index("ix_timers_order_kind", "timers", ["order_id", "kind"])


def downgrade() -> None:
    op.drop_table("timers")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_replaces")
        batch.drop_column("replaces_id")
        batch.drop_column("meta")
