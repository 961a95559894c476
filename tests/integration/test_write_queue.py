"""The write queue keeps its promises when something fails (PostgreSQL).

On PostgreSQL writes are queued and sent with the next statement that needs the
server (store/prepared.py), so an error in one surfaces later than the call that
issued it. These tests pin down where it surfaces and what is kept: an error in a
part (savepoint) is raised in that part and undone alone; a transaction whose
error was swallowed is never reported as committed.
"""

from __future__ import annotations

import psycopg.errors
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from pss_ordering.domain.timers import TimerKind
from pss_ordering.domain.timestamps import Instant
from pss_ordering.service.unit_of_work import Database
from pss_ordering.store.prepared import NotCommitted, insert_all
from pss_ordering.store.schema import timers

DUE = Instant("2030-01-01T00:00:00.000Z")
PROBE = TimerKind.RESPONSE_DEADLINE


def _kinds(database: Database, order_id: str) -> list[str]:
    """The labels (subjects) of the order's timers."""
    with database.reading() as uow:
        return sorted(t.subject for t in uow.timers.pending(order_id))


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_failing_queued_write_is_raised_in_its_part_and_undone_alone(engine: Engine) -> None:
    database = Database(engine)
    with database.writing() as uow:
        uow.timers.schedule(PROBE, "o1", DUE, subject="first")
        uow.commit()
    with database.reading() as uow:
        [existing] = uow.timers.pending("o1")
    with database.writing() as uow:
        uow.timers.schedule(PROBE, "o2", DUE, subject="before")
        with pytest.raises(psycopg.errors.UniqueViolation), uow.part():
            uow.timers.schedule(PROBE, "o2", DUE, subject="inside")
            insert_all(timers).write(
                uow.connection,
                id=existing.id,
                kind="dup",
                order_id="o1",
                due_at=DUE,
                payload="{}",
                subject="",
                correlation_id=None,
            )
        uow.timers.schedule(PROBE, "o2", DUE, subject="after")
        uow.commit()
    assert _kinds(database, "o2") == ["after", "before"], "the part alone was undone"
    assert _kinds(database, "o1") == ["first"]


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_transaction_whose_error_was_swallowed_is_not_reported_committed(
    engine: Engine,
) -> None:
    database = Database(engine)
    with database.writing() as uow:
        uow.timers.schedule(PROBE, "o1", DUE, subject="first")
        uow.commit()
    with database.reading() as uow:
        [existing] = uow.timers.pending("o1")
    with database.writing() as uow:
        uow.timers.schedule(PROBE, "o2", DUE, subject="lost")
        insert_all(timers).write(
            uow.connection,
            id=existing.id,
            kind="dup",
            order_id="o1",
            due_at=DUE,
            payload="{}",
            subject="",
            correlation_id=None,
        )
        with pytest.raises(IntegrityError):
            uow.timers.pending("o1")  # the read sends the queued write: its error
        with pytest.raises(NotCommitted):
            uow.commit()
    assert _kinds(database, "o2") == []
