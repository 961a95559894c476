"""Durable timers: one row per pending timer, deleted when it fires or is cleared.

Due timers are found through the ``due_at`` index, so the work per tick is
proportional to the timers due, not to the open orders. On PostgreSQL, claimed
rows are locked with ``SKIP LOCKED`` so several workers never fire one twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select

from .. import correlation
from ..domain.timers import TimerKind
from ..domain.timestamps import Instant
from .codec import dumps, loads
from .prepared import Prepared, insert_all
from .schema import timers

# Orders set and clear timers as they change: the statements are prepared once.
_INSERT = insert_all(timers, generated="id")
_CLEAR = Prepared(
    delete(timers).where(
        timers.c.order_id == bindparam("order_id"),
        timers.c.kind == bindparam("kind"),
        timers.c.subject == bindparam("subject"),
    )
)
_CLEAR_ALL_SUBJECTS = Prepared(
    delete(timers).where(
        timers.c.order_id == bindparam("order_id"), timers.c.kind == bindparam("kind")
    )
)


# Only kinds this version fires are claimed: a row of another kind (written by a newer
# version) waits for it instead of failing every tick or being dropped.
_KNOWN = timers.c.kind.in_([kind.value for kind in TimerKind])


@dataclass(frozen=True, slots=True)
class Timer:
    id: int
    kind: TimerKind
    order_id: str
    due_at: Instant
    payload: dict[str, Any]
    subject: str = ""
    correlation_id: str | None = None


class SqlTimers:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def schedule(
        self,
        kind: TimerKind,
        order_id: str,
        due_at: Instant,
        payload: dict[str, Any] | None = None,
        subject: str = "",
        *,
        replace: bool = True,
    ) -> None:
        """Set the timer of this kind for the order and subject, replacing an earlier one
        (``replace=False``: the caller knows there is none, e.g. the order is new)."""
        if replace:
            self.clear(kind, order_id, subject)
        _INSERT.write(
            self._db,
            kind=kind,
            order_id=order_id,
            due_at=due_at,
            payload=dumps(payload) if payload else "{}",
            subject=subject,
            # The request arming it: its firing logs, and its events carry, that id.
            correlation_id=correlation.current_id(),
        )

    def clear(self, kind: TimerKind, order_id: str, subject: str | None = None) -> None:
        """Drop the order's timer of this kind (for one subject, or for all of them)."""
        if subject is None:
            _CLEAR_ALL_SUBJECTS.write(self._db, order_id=order_id, kind=kind)
        else:
            _CLEAR.write(self._db, order_id=order_id, kind=kind, subject=subject)

    def any_due(self, now: Instant) -> bool:
        query = select(timers.c.id).where(timers.c.due_at <= now, _KNOWN).limit(1)
        return self._db.execute(query).first() is not None

    def claim_due(self, now: Instant, limit: int) -> list[Timer]:
        """Timers due at ``now``, oldest first, locked for this transaction."""
        query = (
            select(timers)
            .where(timers.c.due_at <= now, _KNOWN)
            .order_by(timers.c.due_at, timers.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_timer(row) for row in self._db.execute(query)]

    def remove(self, timer_id: int) -> None:
        self._db.execute(delete(timers).where(timers.c.id == timer_id))

    def pending(self, order_id: str) -> list[Timer]:
        query = select(timers).where(timers.c.order_id == order_id, _KNOWN)
        rows = self._db.execute(query).all()
        return [_timer(row) for row in rows]


def _timer(row: Any) -> Timer:
    return Timer(
        row.id,
        TimerKind(row.kind),
        row.order_id,
        row.due_at,
        loads(row.payload),
        row.subject,
        row.correlation_id,
    )
