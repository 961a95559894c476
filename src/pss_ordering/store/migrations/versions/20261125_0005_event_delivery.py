"""Event delivery: the event log with order snapshots, per-callback deliveries and
their attempts, received events, and delivery health on each subscription.

The ``outbox`` table of 0001 is replaced by ``events``: its rows carried no order
snapshot and no callback could have received them (delivery did not exist), so
they are dropped rather than converted.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")
INSTANT = sa.String(32)
ID = sa.String(64)


def upgrade() -> None:
    op.drop_table("outbox")
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("submitted_at", INSTANT))
    op.execute("UPDATE orders SET submitted_at = creation_date WHERE state <> 'draft'")
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("governance", sa.Boolean, nullable=False, server_default="0"))
        batch.add_column(sa.Column("failures", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_at", INSTANT))
        batch.add_column(sa.Column("lease_owner", ID))
        batch.add_column(sa.Column("lease_until", INSTANT))
        batch.add_column(sa.Column("last_attempt_at", INSTANT))
        batch.add_column(sa.Column("last_success_at", INSTANT))
        batch.add_column(sa.Column("last_status", sa.Integer))
        batch.add_column(sa.Column("last_error", sa.Text))
        batch.add_column(
            sa.Column("delivered_count", sa.BigInteger, nullable=False, server_default="0")
        )
    op.create_table(
        "events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("occurred_at", INSTANT, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("creator_id", ID, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("item_providers", sa.Text, nullable=False),
        sa.Column("order_doc", sa.Text, nullable=False),
    )
    op.create_index("ix_events_topic_seq", "events", ["topic", "seq"])
    op.create_index("ix_events_customer", "events", ["customer_id", "topic", "seq"])
    op.create_index("ix_events_creator", "events", ["creator_id", "topic", "seq"])
    op.create_table(
        "event_providers",
        sa.Column("provider_id", ID, primary_key=True),
        sa.Column(
            "event_seq",
            SEQ,
            sa.ForeignKey("events.seq", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column(
            "subscription_id",
            ID,
            sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "event_seq", SEQ, sa.ForeignKey("events.seq", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("audience", sa.String(80), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("delivered_at", INSTANT),
    )
    op.create_index("ix_deliveries_lane", "deliveries", ["subscription_id", "state", "id"])
    op.create_index("ix_deliveries_event", "deliveries", ["event_seq"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            SEQ,
            sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempted_at", INSTANT, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_delivery_attempts_delivery", "delivery_attempts", ["delivery_id"])
    op.create_table(
        "received_events",
        sa.Column("sender_id", ID, primary_key=True),
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("received_events", "delivery_attempts", "deliveries", "event_providers"):
        op.drop_table(table)
    op.drop_table("events")
    with op.batch_alter_table("subscriptions") as batch:
        for column in (
            "delivered_count",
            "last_error",
            "last_status",
            "last_success_at",
            "last_attempt_at",
            "lease_until",
            "lease_owner",
            "retry_at",
            "failures",
            "governance",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("submitted_at")
    op.create_table(
        "outbox",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("order_id", ID, nullable=False, index=True),
        sa.Column("notification", sa.String(64), nullable=False),
        sa.Column("occurred_at", INSTANT, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
