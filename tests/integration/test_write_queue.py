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

from pss_ordering.service.unit_of_work import Database
from pss_ordering.store.prepared import NotCommitted, insert_all
from pss_ordering.store.schema import timers

DUE = "2030-01-01T00:00:00.000Z"


def _kinds(database: Database, order_id: str) -> list[str]:
    with database.reading() as uow:
        return sorted(t.kind for t in uow.timers.pending(order_id))


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_failing_queued_write_is_raised_in_its_part_and_undone_alone(engine: Engine) -> None:
    database = Database(engine)
    with database.writing() as uow:
        uow.timers.schedule("first", "o1", DUE)
        uow.commit()
    with database.reading() as uow:
        [existing] = uow.timers.pending("o1")
    with database.writing() as uow:
        uow.timers.schedule("before", "o2", DUE)
        with pytest.raises(psycopg.errors.UniqueViolation), uow.part():
            uow.timers.schedule("inside", "o2", DUE)
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
        uow.timers.schedule("after", "o2", DUE)
        uow.commit()
    assert _kinds(database, "o2") == ["after", "before"], "the part alone was undone"
    assert _kinds(database, "o1") == ["first"]


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_transaction_whose_error_was_swallowed_is_not_reported_committed(
    engine: Engine,
) -> None:
    database = Database(engine)
    with database.writing() as uow:
        uow.timers.schedule("first", "o1", DUE)
        uow.commit()
    with database.reading() as uow:
        [existing] = uow.timers.pending("o1")
    with database.writing() as uow:
        uow.timers.schedule("lost", "o2", DUE)
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
