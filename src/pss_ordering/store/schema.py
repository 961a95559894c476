"""The database schema (SQLAlchemy Core). Alembic migrations create and evolve it.

Each resource is stored as its TMF JSON document (``doc``) next to the
columns that visibility, routing and indexed queries need, so a read is one
row and a filter on an indexed attribute never scans all orders.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

ID = String(64)
INSTANT = String(32)
SEQ = BigInteger().with_variant(Integer, "sqlite")

parties = Table(
    "parties",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("doc", Text, nullable=False),
)

party_parents = Table(
    "party_parents",
    metadata,
    Column("party_id", ID, ForeignKey("parties.id", ondelete="CASCADE"), primary_key=True),
    Column("parent_id", ID, primary_key=True),
    Index("ix_party_parents_parent", "parent_id"),
)

offerings = Table(
    "offerings",
    metadata,
    Column("id", ID, primary_key=True),
    Column("provider_id", ID, nullable=False, index=True),
    Column("doc", Text, nullable=False),
)

LIST_DATES = {
    "requested_start": "requested_start_date",
    "requested_completion": "requested_completion_date",
    "expected_completion": "expected_completion_date",
    "completion": "completion_date",
}

orders = Table(
    "orders",
    metadata,
    Column("id", ID, primary_key=True),
    Column("customer_id", ID, nullable=False),
    Column("creator_id", ID, nullable=False),
    Column("state", String(32), nullable=False),
    Column("creation_date", INSTANT, nullable=False),
    Column("requested_start_date", INSTANT),
    Column("requested_completion_date", INSTANT),
    Column("expected_completion_date", INSTANT),
    Column("completion_date", INSTANT),
    Column("version", Integer, nullable=False),
    Column("item_providers", Text, nullable=False),
    Column("doc", Text, nullable=False),
    Column("meta", Text, nullable=False, server_default="{}"),
    Column("replaces_id", ID),
    Column("submitted_at", INSTANT),
    Index("ix_orders_customer_created_id", "customer_id", "creation_date", "id"),
    Index("ix_orders_creator_created_id", "creator_id", "creation_date", "id"),
    Index("ix_orders_state_created_id", "state", "creation_date", "id"),
    Index("ix_orders_customer_state_created_id", "customer_id", "state", "creation_date", "id"),
    Index("ix_orders_creator_state_created_id", "creator_id", "state", "creation_date", "id"),
    Index("ix_orders_created_id", "creation_date", "id"),
    # Filters and sorts on the other dates, for the customer's and the creator's lists.
    *(
        Index(f"ix_orders_{who}_{short}", f"{who}_id", column, "id")
        for who in ("customer", "creator")
        for short, column in LIST_DATES.items()
    ),
    Index("ix_orders_requested_start", "requested_start_date"),
    Index("ix_orders_requested_completion", "requested_completion_date"),
    Index("ix_orders_expected_completion", "expected_completion_date"),
    Index("ix_orders_completion", "completion_date"),
    Index("ix_orders_replaces", "replaces_id"),
)

order_items = Table(
    "order_items",
    metadata,
    Column("order_id", ID, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("item_id", ID, primary_key=True),
    Column("provider_id", ID, nullable=False),
    Column("offering_id", ID, nullable=False),
    Column("state", String(32)),
    # The order's customer and creator (they never change): an offering filter is
    # counted on the item index alone, visibility included.
    Column("customer_id", ID, nullable=False, server_default=""),
    Column("creator_id", ID, nullable=False, server_default=""),
    # The order's creation and submission: a provider's list is read from its items.
    Column("creation_date", INSTANT),
    Column("submitted_at", INSTANT),
    # A provider sees the items of submitted orders only: those alone are indexed
    # (``submitted_at`` too, so that SQLite sees that they cover the query).
    *(
        Index(
            name,
            "provider_id",
            *columns,
            sqlite_where=text("submitted_at IS NOT NULL"),
            postgresql_where=text("submitted_at IS NOT NULL"),
        )
        for name, columns in (
            ("ix_order_items_provider_submitted", ("order_id", "submitted_at")),
            ("ix_order_items_provider_created", ("creation_date", "order_id", "submitted_at")),
        )
    ),
    Index("ix_order_items_offering", "offering_id", "order_id"),
    Index("ix_order_items_offering_customer", "offering_id", "customer_id", "order_id"),
    Index("ix_order_items_offering_creator", "offering_id", "creator_id", "order_id"),
)

order_parties = Table(
    "order_parties",
    metadata,
    Column("order_id", ID, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("party_id", ID, primary_key=True),
    Index("ix_order_parties_party", "party_id", "order_id"),
)

order_external_ids = Table(
    "order_external_ids",
    metadata,
    Column("order_id", ID, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Index("ix_order_external_ids_value", "external_id", "order_id"),
)

timers = Table(
    "timers",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("order_id", ID, nullable=False),
    Column("due_at", INSTANT, nullable=False),
    Column("payload", Text, nullable=False, server_default="{}"),
    # What the timer is about within the order (a provider's deadline), or ''.
    Column("subject", ID, nullable=False, server_default=""),
    # The request that armed the timer, for the logs of its firing and what that causes.
    Column("correlation_id", String(64)),
    Index("ix_timers_due", "due_at"),
    Index("ix_timers_order_kind", "order_id", "kind"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("owner_id", ID, nullable=False),
    Column("owner_roles", String(128), nullable=False),
    Column("topic", String(32), nullable=False),
    Column("callback", String(2048), nullable=False),
    Column("query", String(2048), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", INSTANT, nullable=False),
    Column("governance", Boolean, nullable=False, server_default="0"),
    # Delivery health: consecutive failures of the head event, when to retry it,
    # which worker holds the callback's lane and until when (see events/worker.py).
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("retry_at", INSTANT),
    Column("lease_owner", String(64)),
    Column("lease_until", INSTANT),
    Column("last_attempt_at", INSTANT),
    Column("last_success_at", INSTANT),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("delivered_count", BigInteger, nullable=False, server_default="0"),
    Index("ix_subscriptions_owner", "owner_id", "topic", "callback", "query", unique=True),
    Index("ix_subscriptions_topic", "topic", "state"),
)

# The event log: one row per domain event with the order as it was, from which each
# audience's view is rendered (need-to-know) when it is listed or delivered.
events = Table(
    "events",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("topic", String(32), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("occurred_at", INSTANT, nullable=False),
    Column("order_id", ID, nullable=False),
    Column("customer_id", ID, nullable=False),
    Column("creator_id", ID, nullable=False),
    Column("details", Text, nullable=False),
    Column("item_providers", Text, nullable=False),
    Column("order_doc", Text, nullable=False),
    # The request that caused the event (X-Request-ID), for the logs of its delivery.
    Column("correlation_id", String(64)),
    Index("ix_events_topic_seq", "topic", "seq"),
    Index("ix_events_customer", "customer_id", "topic", "seq"),
    Index("ix_events_creator", "creator_id", "topic", "seq"),
)

# The providers an event may be shown to (their own view), for listing by provider.
event_providers = Table(
    "event_providers",
    metadata,
    Column("provider_id", ID, primary_key=True),
    Column("event_seq", SEQ, ForeignKey("events.seq", ondelete="CASCADE"), primary_key=True),
)

# One row per (callback, event): written with the event, sent in id order per callback.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column(
        "subscription_id",
        ID,
        ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_seq", SEQ, ForeignKey("events.seq", ondelete="CASCADE"), nullable=False),
    Column("audience", String(80), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("delivered_at", INSTANT),
    Index("ix_deliveries_lane", "subscription_id", "state", "id"),
    Index("ix_deliveries_event", "event_seq"),
)

# Every attempt to send a delivery, with what the receiver answered.
delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("delivery_id", SEQ, ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("attempted_at", INSTANT, nullable=False),
    Column("status", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_delivery_attempts_delivery", "delivery_id"),
)

# Events received from other systems, kept so that the same eventId applies once.
received_events = Table(
    "received_events",
    metadata,
    Column("sender_id", ID, primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("topic", String(32), nullable=False),
    Column("received_at", INSTANT, nullable=False),
    Column("body", Text, nullable=False),
    # Retention walks it from the oldest (the primary key makes each step unique).
    Index("ix_received_events_received", "received_at", "sender_id", "event_id"),
)

# Provider response time (TOD-03-02): one row per provider per submitted order, a
# projection of the order's deadlines kept for governance's figures and breach list.
response_deadlines = Table(
    "response_deadlines",
    metadata,
    Column("order_id", ID, primary_key=True),
    Column("provider_id", ID, primary_key=True),
    Column("started_at", INSTANT, nullable=False),
    Column("response_time", String(64)),
    Column("due_at", INSTANT),
    Column("responded_at", INSTANT),
    Column("response_seconds", Float),
    Column("breached_at", INSTANT),
    Column("closed_at", INSTANT),
    Index("ix_response_deadlines_provider", "provider_id", "started_at"),
    # The figures' window; retention walks it from the oldest (started, then the key).
    Index("ix_response_deadlines_started", "started_at", "order_id", "provider_id"),
    Index("ix_response_deadlines_breached", "breached_at"),
)
