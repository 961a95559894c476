"""Provider response time: per-provider deadlines of each order, and timers about a
subject within an order (a provider's deadline).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INSTANT = sa.String(32)
ID = sa.String(64)


def upgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.add_column(sa.Column("subject", ID, nullable=False, server_default=""))
    op.create_table(
        "response_deadlines",
        sa.Column("order_id", ID, primary_key=True),
        sa.Column("provider_id", ID, primary_key=True),
        sa.Column("started_at", INSTANT, nullable=False),
        sa.Column("response_time", sa.String(64)),
        sa.Column("due_at", INSTANT),
        sa.Column("responded_at", INSTANT),
        sa.Column("response_seconds", sa.Float),
        sa.Column("breached_at", INSTANT),
        sa.Column("closed_at", INSTANT),
    )
    op.create_index(
        "ix_response_deadlines_provider", "response_deadlines", ["provider_id", "started_at"]
    )
    op.create_index("ix_response_deadlines_started", "response_deadlines", ["started_at"])
    op.create_index("ix_response_deadlines_breached", "response_deadlines", ["breached_at"])


def downgrade() -> None:
    op.drop_table("response_deadlines")
    with op.batch_alter_table("timers") as batch:
        batch.drop_column("subject")
