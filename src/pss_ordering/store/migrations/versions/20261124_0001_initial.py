"""Initial schema: parties, offerings, orders with their index tables, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(64)
INSTANT = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", ID, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
    )
    op.create_table(
        "party_parents",
        sa.Column(
            "party_id", ID, sa.ForeignKey("parties.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("parent_id", ID, primary_key=True),
    )
    op.create_index("ix_party_parents_parent", "party_parents", ["parent_id"])
    op.create_table(
        "offerings",
        sa.Column("id", ID, primary_key=True),
        sa.Column("provider_id", ID, nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
    )
    op.create_index("ix_offerings_provider_id", "offerings", ["provider_id"])
    op.create_table(
        "orders",
        sa.Column("id", ID, primary_key=True),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("creator_id", ID, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("creation_date", INSTANT, nullable=False),
        sa.Column("requested_start_date", INSTANT),
        sa.Column("requested_completion_date", INSTANT),
        sa.Column("expected_completion_date", INSTANT),
        sa.Column("completion_date", INSTANT),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("item_providers", sa.Text, nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
    )
    for name, columns in {
        "ix_orders_customer_created": ["customer_id", "creation_date"],
        "ix_orders_creator_created": ["creator_id", "creation_date"],
        "ix_orders_state_created": ["state", "creation_date"],
        "ix_orders_created": ["creation_date"],
        "ix_orders_requested_start": ["requested_start_date"],
        "ix_orders_requested_completion": ["requested_completion_date"],
        "ix_orders_expected_completion": ["expected_completion_date"],
        "ix_orders_completion": ["completion_date"],
    }.items():
        op.create_index(name, "orders", columns)
    op.create_table(
        "order_items",
        sa.Column("order_id", ID, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("item_id", ID, primary_key=True),
        sa.Column("provider_id", ID, nullable=False),
        sa.Column("offering_id", ID, nullable=False),
        sa.Column("state", sa.String(32)),
    )
    op.create_index("ix_order_items_provider", "order_items", ["provider_id", "order_id"])
    op.create_index("ix_order_items_offering", "order_items", ["offering_id", "order_id"])
    op.create_table(
        "order_parties",
        sa.Column("order_id", ID, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("party_id", ID, primary_key=True),
    )
    op.create_index("ix_order_parties_party", "order_parties", ["party_id", "order_id"])
    op.create_table(
        "order_external_ids",
        sa.Column("order_id", ID, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("external_id", sa.String(255), primary_key=True),
    )
    op.create_index(
        "ix_order_external_ids_value", "order_external_ids", ["external_id", "order_id"]
    )
    op.create_table(
        "outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("notification", sa.String(64), nullable=False),
        sa.Column("occurred_at", INSTANT, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_outbox_order_id", "outbox", ["order_id"])


def downgrade() -> None:
    for table in (
        "outbox",
        "order_external_ids",
        "order_parties",
        "order_items",
        "orders",
        "offerings",
        "party_parents",
        "parties",
    ):
        op.drop_table(table)
