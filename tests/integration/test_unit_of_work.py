"""The unit of work does one job, and says how its commit ends: durably on its own, or
(``batched``) as a savepoint that the batch commits; a reading one never commits."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from pss_ordering.domain.orders import ProductOrder
from pss_ordering.domain.timers import TimerKind
from pss_ordering.domain.timestamps import Instant
from pss_ordering.service.unit_of_work import Database, UnitOfWork

DUE = Instant("2030-01-01T00:00:00.000Z")


class Recorder:
    """A publisher that remembers what each commit asked it to publish."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def publish(self, uow: UnitOfWork, written: list[ProductOrder]) -> None:
        self.calls.append([order.id for order in written])


def _scheduled(database: Database, order_id: str) -> bool:
    with database.reading() as uow:
        return bool(uow.timers.pending(order_id))


def test_commit_publishes_then_commits_durably(engine: Engine) -> None:
    recorder = Recorder()
    database = Database(engine, recorder)  # type: ignore[arg-type]
    with database.writing() as uow:
        assert not uow.batched
        uow.timers.schedule(TimerKind.RESPONSE_DEADLINE, "own", DUE)
        uow.commit()
    assert recorder.calls == [[]]  # publishing is a step of every commit
    assert _scheduled(database, "own")


def test_without_commit_nothing_is_kept_or_published(engine: Engine) -> None:
    recorder = Recorder()
    database = Database(engine, recorder)  # type: ignore[arg-type]
    with database.writing() as uow:
        uow.timers.schedule(TimerKind.RESPONSE_DEADLINE, "dropped", DUE)
    assert recorder.calls == []
    assert not _scheduled(database, "dropped")


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_in_a_batch_commit_is_a_savepoint_until_the_batch_commits(engine: Engine) -> None:
    database = Database(engine)
    with database.batch() as batch:
        assert database.running_batch() is batch
        with database.writing() as uow:
            assert uow.batched and uow.connection is batch.connection
            uow.timers.schedule(TimerKind.RESPONSE_DEADLINE, "kept", DUE)
            uow.commit()
        with database.writing() as uow:
            # no commit: its savepoint rolls back
            uow.timers.schedule(TimerKind.RESPONSE_DEADLINE, "undone", DUE)
        assert not _scheduled(database, "kept")  # not committed yet: another connection
    assert database.running_batch() is None
    assert _scheduled(database, "kept")
    assert not _scheduled(database, "undone")


def test_a_reading_unit_of_work_does_not_commit(engine: Engine) -> None:
    database = Database(engine)
    with database.reading() as uow, pytest.raises(AssertionError):
        uow.commit()


def test_repositories_are_built_when_first_used(engine: Engine) -> None:
    database = Database(engine)
    with database.reading() as uow:
        built: dict[str, Any] = vars(uow)
        assert "orders" not in built
        assert uow.orders is uow.orders
        assert "orders" in vars(uow) and "timers" not in vars(uow)
