"""The retention policy's SQL: one bounded batch per call, inside the caller's transaction.

Every batch has the same shape, whatever the table: find at most ``limit``
candidates by walking an index from the oldest end (the primary key where ids
follow time, else the table's time index), re-check in the ``DELETE`` itself that
each may go (so a rule holds at the instant of deleting, not of reading), and
delete by primary key. A batch's cost and lock time are bounded by ``limit``, not
by the table. On PostgreSQL candidates are locked ``SKIP LOCKED`` (a row someone
is writing is left for the next run) and one pruner runs at a time (an advisory
lock per batch, tried, never waited for).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    tuple_,
)

from ..domain.retention import LIVE_CALLBACK_STATES, Cutoffs
from ..response_time.repository import OPEN
from .deliveries import PENDING
from .schema import (
    deliveries,
    delivery_attempts,
    event_providers,
    events,
    received_events,
    response_deadlines,
    subscriptions,
)

_PRUNER_LOCK = 0x7055_0015


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows removed per table; where the next batch starts; whether the pass is done."""

    rows: dict[str, int]
    after: Any
    done: bool


def _still_wanted(seq: ColumnElement[Any]) -> ColumnElement[bool]:
    """The event is pending for a live callback (active, or halted until resumed)."""
    return exists().where(
        deliveries.c.event_seq == seq,
        deliveries.c.state == PENDING,
        subscriptions.c.id == deliveries.c.subscription_id,
        subscriptions.c.state.in_(LIVE_CALLBACK_STATES),
    )


def _event_stays(cutoffs: Cutoffs) -> ColumnElement[bool]:
    """The event outlives this run: young, or still wanted (else the events pass takes it
    with its deliveries and attempts, and no other pass counts them)."""
    return or_(events.c.occurred_at >= cutoffs.events, _still_wanted(events.c.seq))


class SqlRetention:
    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self._postgres = connection.dialect.name == "postgresql"

    def claim_pruner(self) -> bool:
        """PostgreSQL: whether this transaction is the one pruner now (else skip the run)."""
        if not self._postgres:
            return True  # SQLite: the write transaction already excludes other writers
        self._db.execute(text("SET LOCAL lock_timeout = '2s'"))
        return bool(
            self._db.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _PRUNER_LOCK}
            ).scalar_one()
        )

    def _locked(self, query: Select[Any], table: Any) -> Select[Any]:
        return query.with_for_update(skip_locked=True, of=table) if self._postgres else query

    def _oldest(
        self, key: Any, moment: Any, after: Any, cutoff: str, limit: int
    ) -> tuple[list[Any], bool]:
        """Walk ``key`` (ids that follow time) from ``after``: the leading run of rows older
        than ``cutoff``, and whether the walk is done (a younger row, or the end)."""
        rows = self._db.execute(
            select(key, moment).where(key > after).order_by(key).limit(limit)
        ).all()
        old: list[Any] = []
        for row in rows:
            if row[1] >= cutoff:
                return old, True
            old.append(row[0])
        return old, len(rows) < limit

    def events(self, cutoffs: Cutoffs, after: int, limit: int) -> Batch:
        """Events older than the cutoff that no live callback still waits for, with the
        providers told of them, their deliveries and those deliveries' attempts."""
        old, done = self._oldest(events.c.seq, events.c.occurred_at, after, cutoffs.events, limit)
        if not old:
            return Batch({}, after, True)
        going = [
            row.seq
            for row in self._db.execute(
                self._locked(
                    select(events.c.seq).where(events.c.seq.in_(old), ~_still_wanted(events.c.seq)),
                    events,
                )
            )
        ]
        rows: dict[str, int] = {}
        if going:
            their_deliveries = select(deliveries.c.id).where(deliveries.c.event_seq.in_(going))
            for table, statement in (
                (
                    "delivery_attempts",
                    delete(delivery_attempts).where(
                        delivery_attempts.c.delivery_id.in_(their_deliveries)
                    ),
                ),
                ("deliveries", delete(deliveries).where(deliveries.c.event_seq.in_(going))),
                (
                    "event_providers",
                    delete(event_providers).where(event_providers.c.event_seq.in_(going)),
                ),
                ("events", delete(events).where(events.c.seq.in_(going))),
            ):
                rows[table] = self._delete(statement)
        return Batch(rows, old[-1], done)

    def delivery_attempts(self, cutoffs: Cutoffs, after: int, limit: int) -> Batch:
        """Attempts older than the cutoff, except those of a delivery still pending (a
        halted callback's last state) and those whose event goes with its own pass."""
        old, done = self._oldest(
            delivery_attempts.c.id,
            delivery_attempts.c.attempted_at,
            after,
            cutoffs.delivery_attempts,
            limit,
        )
        if not old:
            return Batch({}, after, True)
        finished = (
            select(deliveries.c.id)
            .join(events, events.c.seq == deliveries.c.event_seq)
            .where(deliveries.c.state != PENDING, _event_stays(cutoffs))
        )
        going = self._locked(
            select(delivery_attempts.c.id).where(
                delivery_attempts.c.id.in_(old), delivery_attempts.c.delivery_id.in_(finished)
            ),
            delivery_attempts,
        )
        ids = [row.id for row in self._db.execute(going)]
        count = (
            0
            if not ids
            else self._delete(delete(delivery_attempts).where(delivery_attempts.c.id.in_(ids)))
        )
        return Batch({"delivery_attempts": count}, old[-1], done)

    def received_events(self, cutoffs: Cutoffs, after: Any, limit: int) -> Batch:
        """Idempotency records received before the cutoff (their sender's resend window)."""
        r = received_events
        old = r.c.received_at < cutoffs.received_events
        keys = self._walk((r.c.received_at, r.c.sender_id, r.c.event_id), old, after, limit, r)
        count = (
            0
            if not keys
            else self._delete(
                delete(r).where(
                    tuple_(r.c.sender_id, r.c.event_id).in_([key[1:] for key in keys]), old
                )
            )
        )
        return Batch({"received_events": count}, keys[-1] if keys else after, len(keys) < limit)

    def response_deadlines(self, cutoffs: Cutoffs, after: Any, limit: int) -> Batch:
        """Closed or answered deadlines that started before the cutoff; open ones stay."""
        rd = response_deadlines
        old = and_(rd.c.started_at < cutoffs.response_deadlines, ~OPEN)
        keys = self._walk((rd.c.started_at, rd.c.order_id, rd.c.provider_id), old, after, limit, rd)
        count = (
            0
            if not keys
            else self._delete(
                delete(rd).where(
                    tuple_(rd.c.order_id, rd.c.provider_id).in_([key[1:] for key in keys]), old
                )
            )
        )
        return Batch({"response_deadlines": count}, keys[-1] if keys else after, len(keys) < limit)

    def _walk(
        self,
        key: tuple[ColumnElement[Any], ...],
        where: ColumnElement[bool],
        after: tuple[Any, ...] | None,
        limit: int,
        table: Any,
    ) -> list[tuple[Any, ...]]:
        """The next ``limit`` keys (time first, then the primary key) matching ``where``
        after ``after``, along the table's time index."""
        query = select(*key).where(where)
        if after is not None:
            query = query.where(tuple_(*key) > tuple_(*after))
        query = query.order_by(*key).limit(limit)
        return [tuple(row) for row in self._db.execute(self._locked(query, table))]

    def _delete(self, statement: Any) -> int:
        result = self._db.execute(statement.execution_options(preserve_rowcount=True))
        return max(int(result.rowcount), 0)

    def counts(self) -> dict[str, int]:
        """Rows per pruned table (for ``prune`` and the soak test's figures)."""
        tables = (
            events,
            event_providers,
            deliveries,
            delivery_attempts,
            received_events,
            response_deadlines,
        )
        return {
            table.name: int(self._db.execute(select(func.count()).select_from(table)).scalar_one())
            for table in tables
        }
