"""Deliveries: one row per (callback, event), sent in id order per callback.

A worker sends to a callback only while it holds the callback's *lease*
(``subscriptions.lease_owner``/``lease_until``), so several workers (on
PostgreSQL, ``FOR UPDATE SKIP LOCKED`` while claiming) never send to one
callback at the same time and per-callback order holds. A lease that is not
renewed expires: the lane of a killed worker is taken over, and the event it
had in flight is sent again with the same ``webhook-id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    update,
)

from ..domain.delivery import Attempt, Lane
from .prepared import Prepared, insert_all
from .schema import deliveries, delivery_attempts, subscriptions

WAKE_CHANNEL = "pss_deliveries"
PENDING, DELIVERED = "pending", "delivered"


_INSERT = insert_all(deliveries, generated="id")
_INSERT_ATTEMPT = insert_all(delivery_attempts, generated="id")
# Prepared statements take every value as a named parameter: constants are SQL literals.
_ONE: ColumnElement[int] = literal_column("1")
_ZERO: ColumnElement[int] = literal_column("0")
_DELIVERED = Prepared(
    update(deliveries)
    .where(deliveries.c.id == bindparam("d_id"))
    .values(
        state=literal_column(f"'{DELIVERED}'"),
        attempts=deliveries.c.attempts + _ONE,
        delivered_at=bindparam("at"),
    )
)
_ATTEMPTED = Prepared(
    update(deliveries)
    .where(deliveries.c.id == bindparam("d_id"))
    .values(attempts=deliveries.c.attempts + _ONE)
)
_SUCCEEDED = Prepared(
    update(subscriptions)
    .where(subscriptions.c.id == bindparam("sid"))
    .values(
        failures=_ZERO,
        retry_at=null(),
        last_attempt_at=bindparam("at"),
        last_success_at=bindparam("at"),
        last_status=bindparam("status"),
        last_error=null(),
        delivered_count=subscriptions.c.delivered_count + _ONE,
    )
)
_FAILED = Prepared(
    update(subscriptions)
    .where(subscriptions.c.id == bindparam("sid"), subscriptions.c.lease_owner == bindparam("w"))
    .values(
        state=bindparam("new_state"),
        failures=bindparam("new_failures"),
        retry_at=bindparam("new_retry_at"),
        last_attempt_at=bindparam("at"),
        last_status=bindparam("status"),
        last_error=bindparam("error"),
        lease_owner=null(),
        lease_until=null(),
    )
)


_LOCK_LANES = Prepared(
    text(
        "SELECT pg_advisory_xact_lock(key) FROM (SELECT DISTINCT "
        "hashtextextended(id, 1877) AS key FROM unnest(CAST(:ids AS text[])) AS id "
        "ORDER BY key) AS keys"
    )
)
_NOTIFY = Prepared(text(f"NOTIFY {WAKE_CHANNEL}"))

PENDING_BATCH = 100
_PENDING = Prepared(
    select(deliveries.c.id, deliveries.c.event_seq, deliveries.c.audience)
    .where(
        deliveries.c.subscription_id == bindparam("sid"),
        deliveries.c.state == literal_column(f"'{PENDING}'"),
    )
    .order_by(deliveries.c.id)
    .limit(literal_column(str(PENDING_BATCH)))
)


def _claimable(now: str) -> list[Any]:
    """Active callbacks with a delivery waiting, not leased, and not waiting for a retry."""
    return [
        subscriptions.c.state == "active",
        or_(subscriptions.c.lease_until.is_(None), subscriptions.c.lease_until < now),
        or_(subscriptions.c.retry_at.is_(None), subscriptions.c.retry_at <= now),
        exists().where(
            deliveries.c.subscription_id == subscriptions.c.id, deliveries.c.state == PENDING
        ),
    ]


class SqlDeliveries:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Queue deliveries (subscription_id, event_seq, audience) in this transaction.

        (Publishing stores each event with its deliveries, ``SqlEvents.add``, after
        :meth:`lock_lanes`.)
        """
        self.lock_lanes({row["subscription_id"] for row in rows})
        _INSERT.many(
            self._db,
            [{**row, "state": PENDING, "attempts": 0, "delivered_at": None} for row in rows],
        )

    def lock_lanes(self, subscription_ids: Iterable[str]) -> None:
        """Before queueing deliveries for these callbacks in this transaction.

        A callback's deliveries are sent in id order, which must be the order their
        transactions commit. SQLite has one writer at a time, so it is. On PostgreSQL
        two transactions could take ids in one order and commit in the other; so each
        first takes a lock per callback (held until it commits, in a fixed order
        against deadlocks): a later id of the same callback then commits later. The
        lock is queued with the transaction's other writes, ahead of its deliveries.
        """
        if self._db.dialect.name == "postgresql":
            _LOCK_LANES.write(self._db, ids=sorted(set(subscription_ids)))

    def wake_workers(self) -> None:
        """Tell listening workers (PostgreSQL LISTEN) that there is work, at commit."""
        if self._db.dialect.name == "postgresql":
            _NOTIFY.write(self._db)

    def any_claimable(self, now: str) -> bool:
        """A cheap read before taking the write lock to claim."""
        query = select(subscriptions.c.id).where(*_claimable(now)).limit(1)
        return self._db.execute(query).first() is not None

    def claim(self, worker: str, now: str, until: str, limit: int) -> list[Lane]:
        """Take the lease of up to ``limit`` idle callbacks that have something due."""
        due = (
            select(subscriptions.c.id)
            .where(*_claimable(now))
            .order_by(subscriptions.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [row.id for row in self._db.execute(due)]
        if not ids:
            return []
        self._db.execute(
            update(subscriptions)
            .where(subscriptions.c.id.in_(ids))
            .values(lease_owner=worker, lease_until=until)
        )
        rows = self._db.execute(
            select(
                subscriptions.c.id,
                subscriptions.c.callback,
                subscriptions.c.secret,
                subscriptions.c.failures,
            ).where(subscriptions.c.id.in_(ids))
        )
        return [Lane(r.id, r.callback, r.secret, r.failures) for r in rows]

    def renew(self, worker: str, until: str, subscription_ids: Iterable[str]) -> set[str]:
        """Extend the named leases this worker still holds; returns those callbacks.

        Only the named ones: a lease the worker gave up on without releasing (a
        failed lane) must expire, not be kept alive by the worker's other lanes.
        """
        ids = list(subscription_ids)
        if not ids:
            return set()
        mine = and_(subscriptions.c.id.in_(ids), subscriptions.c.lease_owner == worker)
        self._db.execute(update(subscriptions).where(mine).values(lease_until=until))
        rows = self._db.execute(select(subscriptions.c.id).where(mine))
        return {row.id for row in rows}

    def release(self, worker: str, subscription_ids: Iterable[str]) -> None:
        ids = list(subscription_ids)
        if ids:
            self._db.execute(
                update(subscriptions)
                .where(subscriptions.c.id.in_(ids), subscriptions.c.lease_owner == worker)
                .values(lease_owner=None, lease_until=None)
            )

    def pending(self, subscription_ids: Sequence[str]) -> list[tuple[int, str, int, str]]:
        """The callbacks' next deliveries (up to a batch each), oldest first:
        (id, subscription id, event seq, audience).

        The events themselves are read separately (``SqlEvents.get_many``), so a
        worker that already holds an event, sent to another callback, skips it.
        """
        return [
            (int(row[0]), sid, int(row[1]), str(row[2]))
            for sid in subscription_ids
            for row in _PENDING.rows(self._db, sid=sid)
        ]

    def record(self, worker: str, attempts: Sequence[Attempt]) -> None:
        """Record sends: the attempt rows, the deliveries, the callbacks' health."""
        _INSERT_ATTEMPT.many(
            self._db,
            [
                {
                    "delivery_id": a.delivery_id,
                    "attempted_at": a.attempted_at,
                    "status": a.status,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
                for a in attempts
            ],
        )
        delivered = [a for a in attempts if a.delivered]
        failed = [a for a in attempts if not a.delivered]
        _DELIVERED.many(
            self._db, [{"d_id": a.delivery_id, "at": a.attempted_at} for a in delivered]
        )
        _SUCCEEDED.many(
            self._db,
            [
                {"sid": a.subscription_id, "at": a.attempted_at, "status": a.status}
                for a in delivered
            ],
        )
        _ATTEMPTED.many(self._db, [{"d_id": a.delivery_id} for a in failed])
        _FAILED.many(
            self._db,
            [
                {
                    "sid": a.subscription_id,
                    "w": worker,
                    "new_state": a.state,
                    "new_failures": a.failures,
                    "new_retry_at": a.retry_at,
                    "at": a.attempted_at,
                    "status": a.status,
                    "error": a.error,
                }
                for a in failed
            ],
        )

    def next_retry_at(self, now: str) -> str | None:
        """When the earliest waiting retry falls due (to sleep until then)."""
        query = select(func.min(subscriptions.c.retry_at)).where(
            subscriptions.c.state == "active",
            subscriptions.c.retry_at > now,
            subscriptions.c.lease_owner.is_(None),
        )
        value = self._db.execute(query).scalar_one_or_none()
        return None if value is None else str(value)

    def newest_id(self) -> int:
        return int(
            self._db.execute(select(func.coalesce(func.max(deliveries.c.id), 0))).scalar_one()
        )

    def new_since(self, seen: int) -> tuple[set[str], int]:
        """Callbacks with deliveries newer than id ``seen``, and the newest id now.

        Ids are given out in insertion order; one that commits late (PostgreSQL) may
        be missed here, and is then found by the next claim of its callback.
        """
        rows = self._db.execute(
            select(deliveries.c.subscription_id, func.max(deliveries.c.id))
            .where(deliveries.c.id > seen)
            .group_by(deliveries.c.subscription_id)
        ).all()
        return {row[0] for row in rows}, max([seen, *(int(row[1]) for row in rows)])

    def pending_counts(self, subscription_ids: Iterable[str]) -> dict[str, int]:
        ids = list(subscription_ids)
        if not ids:
            return {}
        rows = self._db.execute(
            select(deliveries.c.subscription_id, func.count())
            .where(and_(deliveries.c.subscription_id.in_(ids), deliveries.c.state == PENDING))
            .group_by(deliveries.c.subscription_id)
        )
        return {row[0]: int(row[1]) for row in rows}
