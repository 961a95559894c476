"""The event log: each event once, with the order as it was, and who may list it.

Which providers were told of an event (``event_providers``) is decided when it
is published (``notifications.told_providers``); the listing filters by that
stored decision in SQL, before counting, so a provider lists exactly what its
callbacks are sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
)

from ..domain.authorship import Authorship
from ..domain.identity import Role
from ..domain.notifications import StoredEvent
from ..domain.orders import OrderRecord
from ..domain.visibility import Viewer
from .codec import dumps, loads
from .deliveries import PENDING
from .prepared import Prepared, insert_all
from .schema import deliveries, event_providers, events

_INSERT = Prepared(
    insert(events)
    .values({c.name: bindparam(c.name) for c in events.columns if c.name != "seq"})
    .returning(events.c.seq)
)  # RETURNING: SQLite >= 3.35 and PostgreSQL
_INSERT_PROVIDERS = insert_all(event_providers)
_INSERT_DELIVERIES = Prepared(
    insert(deliveries).values(
        subscription_id=bindparam("subscription_id"),
        event_seq=bindparam("event_seq"),
        audience=bindparam("audience"),
        state=literal_column(f"'{PENDING}'"),
        attempts=literal_column("0"),
    )
)
_EVENT_VALUES = ", ".join(c.name for c in events.columns if c.name != "seq")
# PostgreSQL: the event, its providers and its deliveries in one statement. The rows of
# data-modifying CTEs are checked against the foreign keys at the end of the statement,
# and deliveries take their ids in the order given (WITH ORDINALITY ... ORDER BY).
_INSERT_WITH_DELIVERIES = Prepared(
    text(
        f"WITH e AS (INSERT INTO events ({_EVENT_VALUES}) VALUES ("
        + ", ".join(f":{c.name}" for c in events.columns if c.name != "seq")
        + ") RETURNING seq), "
        "p AS (INSERT INTO event_providers (provider_id, event_seq) "
        "SELECT provider, e.seq FROM e, unnest(CAST(:providers AS text[])) AS provider) "
        "INSERT INTO deliveries (subscription_id, event_seq, audience, state, attempts) "
        f"SELECT d.subscription_id, e.seq, d.audience, '{PENDING}', 0 FROM e, "
        "unnest(CAST(:subscriptions AS text[]), CAST(:audiences AS text[])) "
        "WITH ORDINALITY AS d(subscription_id, audience, n) ORDER BY d.n"
    )
)
EVENT_COLUMNS = (
    events.c.event_id,
    events.c.topic,
    events.c.event_type,
    events.c.occurred_at,
    events.c.details,
    events.c.order_id,
    events.c.customer_id,
    events.c.creator_id,
    events.c.item_providers,
    events.c.order_doc,
    events.c.correlation_id,
)


class SqlEvents:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, event: StoredEvent, deliveries: Sequence[tuple[str, str]] = ()) -> None:
        """Store the event, the providers told of it (decided) and its deliveries, as
        (subscription id, audience), queued in that order.

        PostgreSQL: one statement, queued with the unit of work's other writes (the event's
        seq never travels back to Python). SQLite: three, at once.
        """
        if event.providers is None:
            raise ValueError("which providers are told of an event is decided before it is stored")
        order = event.order
        values = {
            "event_id": event.event_id,
            "topic": event.topic,
            "event_type": event.event_type,
            "occurred_at": event.occurred_at,
            "order_id": order.id,
            "customer_id": order.customer_id,
            "creator_id": order.creator_id,
            "details": dumps(dict(event.details)),
            "item_providers": dumps(order.item_providers),
            "order_doc": dumps(_snapshot(order)),
            "correlation_id": event.correlation_id,
        }
        providers = sorted(event.providers)
        if self._db.dialect.name == "postgresql":
            _INSERT_WITH_DELIVERIES.write(
                self._db,
                **values,
                providers=providers,
                subscriptions=[subscription for subscription, _ in deliveries],
                audiences=[audience for _, audience in deliveries],
            )
            return
        [(seq,)] = _INSERT.rows(self._db, **values)
        _INSERT_PROVIDERS.many(self._db, [{"provider_id": p, "event_seq": seq} for p in providers])
        if deliveries:
            _INSERT_DELIVERIES.many(
                self._db,
                [
                    {"subscription_id": subscription, "event_seq": seq, "audience": audience}
                    for subscription, audience in deliveries
                ],
            )

    def get_many(self, seqs: Iterable[int]) -> dict[int, StoredEvent]:
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        rows = self._db.execute(
            select(events.c.seq, *EVENT_COLUMNS).where(events.c.seq.in_(wanted))
        )
        return {int(row.seq): stored_event(row) for row in rows}

    def listing(
        self,
        viewer: Viewer,
        topic: str,
        offset: int,
        limit: int,
        event_types: Sequence[str] | None = None,
        order_id: str | None = None,
    ) -> tuple[int, list[StoredEvent]]:
        """Events on ``topic`` the viewer may see, newest first, and how many there are
        (with ``order_id``: that order's only)."""
        told = _told(viewer)
        where = _listed(viewer, topic, told)
        if order_id is not None:
            where.append(events.c.order_id == order_id)
        if event_types:
            where.append(events.c.event_type.in_(sorted(set(event_types))))
        total = self._db.execute(select(func.count()).select_from(events).where(*where))
        query = (
            select(*EVENT_COLUMNS, told.label("told"))
            .where(*where)
            .order_by(events.c.seq.desc())
            .offset(offset)
            .limit(limit)
        )
        found = [
            stored_event(row, frozenset({viewer.party_id}) if row.told else frozenset())
            for row in self._db.execute(query)
        ]
        return int(total.scalar_one()), found

    def newest(self, viewer: Viewer, topic: str) -> str | None:
        """The id of the newest event on ``topic`` the viewer may list: a marker that
        changes with every new one (one index read, no count)."""
        query = (
            select(events.c.event_id)
            .where(*_listed(viewer, topic, _told(viewer)))
            .order_by(events.c.seq.desc())
            .limit(1)
        )
        row = self._db.execute(query).first()
        return None if row is None else str(row.event_id)

    def recorded(self, order_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(eventType, details) of an order's events, in commit order."""
        rows = self._db.execute(
            select(events.c.event_type, events.c.details)
            .where(events.c.order_id == order_id)
            .order_by(events.c.seq)
        )
        return [(row.event_type, loads(row.details)) for row in rows]


def _listed(viewer: Viewer, topic: str, told: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """The events on ``topic`` a viewer may list: its full views, or those it was told of."""
    return [events.c.topic == topic, or_(_full_view(viewer, topic), told)]


def _full_view(viewer: Viewer, topic: str) -> ColumnElement[bool]:
    """``notifications.audience`` in SQL, the full views: governance, and on the order
    topic the customer side and the creating PSS. Alarms are for governance and the
    provider concerned only."""
    caller = viewer.caller
    if caller.is_governance:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if topic != "alarm" and caller.has(Role.CUSTOMER):
        clauses.append(events.c.customer_id.in_(sorted(viewer.represented)))
    if topic != "alarm" and caller.has(Role.PSS):
        clauses.append(events.c.creator_id == caller.party_id)
    return or_(*clauses) if clauses else false()


def _told(viewer: Viewer) -> ColumnElement[bool]:
    """``notifications.audience`` in SQL, a provider's own view: it was told of the event."""
    if not viewer.caller.has(Role.PROVIDER):
        return literal(False)
    mine = select(event_providers.c.event_seq).where(
        event_providers.c.provider_id == viewer.party_id
    )
    return events.c.seq.in_(mine)


def _snapshot(order: OrderRecord) -> dict[str, Any]:
    """The order as the event shows it; ``submittedAt`` decides if providers may see it."""
    return {
        "doc": order.doc,
        "submittedAt": order.submitted_at,
        "authorship": order.authorship.as_json(),
    }


def stored_event(row: Any, providers: frozenset[str] | None = None) -> StoredEvent:
    snapshot = loads(row.order_doc)
    order = OrderRecord(
        id=row.order_id,
        customer_id=row.customer_id,
        creator_id=row.creator_id,
        item_providers=loads(row.item_providers),
        doc=snapshot["doc"],
        submitted_at=snapshot.get("submittedAt"),
        authorship=Authorship.from_json(snapshot.get("authorship")),
    )
    return StoredEvent(
        event_id=row.event_id,
        topic=row.topic,
        event_type=row.event_type,
        occurred_at=row.occurred_at,
        order=order,
        details=loads(row.details),
        providers=providers,
        correlation_id=row.correlation_id,
    )
