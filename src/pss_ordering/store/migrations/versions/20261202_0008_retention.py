"""Retention: indexes that let the pruner walk received events and response deadlines
from the oldest, a bounded batch at a time (time first, then the primary key, so each
batch starts exactly where the last one ended, also in a dry run that deletes nothing).

The response deadlines' start index gains the key columns; the figures' window reads it
as before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_received_events_received",
        "received_events",
        ["received_at", "sender_id", "event_id"],
    )
    op.drop_index("ix_response_deadlines_started", table_name="response_deadlines")
    op.create_index(
        "ix_response_deadlines_started",
        "response_deadlines",
        ["started_at", "order_id", "provider_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_response_deadlines_started", table_name="response_deadlines")
    op.create_index("ix_response_deadlines_started", "response_deadlines", ["started_at"])
    op.drop_index("ix_received_events_received", table_name="received_events")
