"""Hub registration repository."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from ..domain.hub import Subscription
from .schema import subscriptions


class SqlSubscriptions:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, subscription: Subscription, secret: str, created_at: str) -> None:
        self._db.execute(
            insert(subscriptions).values(
                id=subscription.id,
                owner_id=subscription.owner_id,
                owner_roles=",".join(subscription.owner_roles),
                topic=subscription.topic,
                callback=subscription.callback,
                query=subscription.query or "",
                secret=secret,
                state=subscription.state,
                created_at=created_at,
            )
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


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        owner_id=row.owner_id,
        owner_roles=tuple(r for r in row.owner_roles.split(",") if r),
        topic=row.topic,
        callback=row.callback,
        query=row.query or None,
        state=row.state,
    )
