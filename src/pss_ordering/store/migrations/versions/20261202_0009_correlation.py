"""The request that caused an event or armed a timer (its X-Request-ID), so that the
delivery of the event and the firing of the timer log under the same id.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as table:
        table.add_column(sa.Column("correlation_id", sa.String(64)))
    with op.batch_alter_table("timers") as table:
        table.add_column(sa.Column("correlation_id", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("timers") as table:
        table.drop_column("correlation_id")
    with op.batch_alter_table("events") as table:
        table.drop_column("correlation_id")
