"""Durable timers: one row per pending timer, deleted when it fires or is cleared.

Due timers are found through the ``due_at`` index, so the work per tick is
proportional to the timers due, not to the open orders. On PostgreSQL, claimed
rows are locked with ``SKIP LOCKED`` so several workers never fire one twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from .codec import dumps, loads
from .schema import timers


@dataclass(frozen=True, slots=True)
class Timer:
    id: int
    kind: str
    order_id: str
    due_at: str
    payload: dict[str, Any]


class SqlTimers:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def schedule(
        self, kind: str, order_id: str, due_at: str, payload: dict[str, Any] | None = None
    ) -> None:
        """Set the timer of this kind for the order (replacing an earlier one)."""
        self.clear(kind, order_id)
        self._db.execute(
            insert(timers).values(
                kind=kind, order_id=order_id, due_at=due_at, payload=dumps(payload or {})
            )
        )

    def clear(self, kind: str, order_id: str) -> None:
        self._db.execute(delete(timers).where(timers.c.order_id == order_id, timers.c.kind == kind))

    def any_due(self, now: str) -> bool:
        return (
            self._db.execute(select(timers.c.id).where(timers.c.due_at <= now).limit(1)).first()
            is not None
        )

    def claim_due(self, now: str, limit: int) -> list[Timer]:
        """Timers due at ``now``, oldest first, locked for this transaction."""
        query = (
            select(timers)
            .where(timers.c.due_at <= now)
            .order_by(timers.c.due_at, timers.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [
            Timer(row.id, row.kind, row.order_id, row.due_at, loads(row.payload))
            for row in self._db.execute(query)
        ]

    def remove(self, timer_id: int) -> None:
        self._db.execute(delete(timers).where(timers.c.id == timer_id))

    def pending(self, order_id: str) -> list[Timer]:
        rows = self._db.execute(select(timers).where(timers.c.order_id == order_id)).all()
        return [Timer(r.id, r.kind, r.order_id, r.due_at, loads(r.payload)) for r in rows]
