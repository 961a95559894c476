"""Hub registration repository: registrations, the candidates of an event, health."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, literal_column, or_, select, update

from ..domain.hub import CallbackHealth, Subscription
from ..domain.identity import Role
from .database import insert_if_absent
from .prepared import Prepared
from .schema import subscriptions


class SqlSubscriptions:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, subscription: Subscription, secret: str, created_at: str) -> bool:
        """Add the registration unless the same one (owner, topic, callback, query)
        exists, perhaps just committed by a concurrent caller: whether it was added."""
        return insert_if_absent(
            self._db,
            subscriptions,
            {
                "id": subscription.id,
                "owner_id": subscription.owner_id,
                "owner_roles": ",".join(subscription.owner_roles),
                "topic": subscription.topic,
                "callback": subscription.callback,
                "query": subscription.query or "",
                "secret": secret,
                "state": subscription.state,
                "created_at": created_at,
                "governance": Role.GOVERNANCE in subscription.owner_roles,
            },
        )

    def find_same(
        self, owner_id: str, topic: str, callback: str, query: str | None
    ) -> Subscription | None:
        row = self._db.execute(
            select(subscriptions).where(
                subscriptions.c.owner_id == owner_id,
                subscriptions.c.topic == topic,
                subscriptions.c.callback == callback,
                subscriptions.c.query == (query or ""),
            )
        ).first()
        return None if row is None else _subscription(row)

    def get(self, subscription_id: str) -> Subscription | None:
        row = self._db.execute(
            select(subscriptions).where(subscriptions.c.id == subscription_id)
        ).first()
        return None if row is None else _subscription(row)

    def on_topic(self, topic: str, owner_id: str | None) -> list[Subscription]:
        query = select(subscriptions).where(subscriptions.c.topic == topic)
        if owner_id is not None:
            query = query.where(subscriptions.c.owner_id == owner_id)
        rows = self._db.execute(query.order_by(subscriptions.c.created_at, subscriptions.c.id))
        return [_subscription(row) for row in rows]

    def remove(self, subscription_id: str) -> None:
        self._db.execute(delete(subscriptions).where(subscriptions.c.id == subscription_id))

    def candidates(
        self, topic: str, owners: Iterable[str], also: str | None = None
    ) -> list[Subscription]:
        """Callbacks on ``topic`` (or ``also``: the v4 hub's topic hears order events)
        that may hear of an event: those of ``owners``, governance's.

        Disabled callbacks (the receiver answered 410) get nothing more; halted
        ones keep queueing until they are resumed. Run for every order change, so
        prepared once per number of owners.
        """
        wanted = sorted(set(owners))
        statement = _CANDIDATES.get(len(wanted))
        if statement is None:
            statement = _CANDIDATES[len(wanted)] = _candidates(len(wanted))
        params = {f"owner_{n}": owner for n, owner in enumerate(wanted)}
        return [
            Subscription(row[0], row[1], _roles(row[2]), row[3], row[4], row[5] or None, row[6])
            for row in statement.rows(self._db, topic=topic, also=also or topic, **params)
        ]

    def health(self, subscription_id: str) -> CallbackHealth | None:
        row = self._db.execute(
            select(subscriptions).where(subscriptions.c.id == subscription_id)
        ).first()
        return None if row is None else _health(row)

    def all_health(self, owner_id: str | None) -> list[CallbackHealth]:
        query = select(subscriptions)
        if owner_id is not None:
            query = query.where(subscriptions.c.owner_id == owner_id)
        rows = self._db.execute(query.order_by(subscriptions.c.created_at, subscriptions.c.id))
        return [_health(row) for row in rows]

    def resume(self, subscription_id: str) -> None:
        """Active again: the held-back events go out, in order, from the oldest."""
        self._db.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(state="active", failures=0, retry_at=None)
        )


_CANDIDATES: dict[int, Prepared] = {}


def _candidates(owners: int) -> Prepared:
    return Prepared(
        select(
            subscriptions.c.id,
            subscriptions.c.owner_id,
            subscriptions.c.owner_roles,
            subscriptions.c.topic,
            subscriptions.c.callback,
            subscriptions.c.query,
            subscriptions.c.state,
        )
        .where(
            subscriptions.c.topic.in_([bindparam("topic"), bindparam("also")]),
            subscriptions.c.state != literal_column("'disabled'"),
            or_(
                subscriptions.c.owner_id.in_([bindparam(f"owner_{n}") for n in range(owners)]),
                subscriptions.c.governance,
            ),
        )
        .order_by(subscriptions.c.id)
    )


def _roles(text: str) -> tuple[str, ...]:
    return tuple(role for role in text.split(",") if role)


def _health(row: Any) -> CallbackHealth:
    return CallbackHealth(
        subscription=_subscription(row),
        failures=row.failures,
        retry_at=row.retry_at,
        last_attempt_at=row.last_attempt_at,
        last_success_at=row.last_success_at,
        last_status=row.last_status,
        last_error=row.last_error,
        delivered=row.delivered_count,
    )


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        owner_id=row.owner_id,
        owner_roles=_roles(row.owner_roles),
        topic=row.topic,
        callback=row.callback,
        query=row.query or None,
        state=row.state,
    )
