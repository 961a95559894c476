"""Event hub registrations (callbacks per topic, with their filter query and secret).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("owner_roles", sa.String(128), nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("callback", sa.String(2048), nullable=False),
        sa.Column("query", sa.String(2048), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index(
        "ix_subscriptions_owner",
        "subscriptions",
        ["owner_id", "topic", "callback", "query"],
        unique=True,
    )
    op.create_index("ix_subscriptions_topic", "subscriptions", ["topic", "state"])


def downgrade() -> None:
    op.drop_table("subscriptions")
