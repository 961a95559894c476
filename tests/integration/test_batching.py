"""Group commit on SQLite: one transaction per batch, a savepoint per use case."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine

from pss_ordering.domain.errors import Conflict
from pss_ordering.domain.timers import TimerKind
from pss_ordering.domain.timestamps import Instant
from pss_ordering.service.batching import BatchWriter
from pss_ordering.service.unit_of_work import Database


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_failing_use_case_does_not_undo_its_batch_mates(engine: Engine) -> None:
    database = Database(engine)
    gate = threading.Event()

    def schedule(order_id: str, fail: bool = False) -> str:
        with database.writing() as uow:
            uow.timers.schedule(
                TimerKind.RESPONSE_DEADLINE, order_id, Instant("2030-01-01T00:00:00.000Z")
            )
            if fail:
                raise Conflict("refused")
            uow.commit()
        return order_id

    def blocker() -> None:
        gate.wait(5)

    writer = BatchWriter(database)
    try:
        first = writer.submit(blocker)  # holds the writer so the next three form one batch
        futures: list[Any] = [
            writer.submit(lambda: schedule("a")),
            writer.submit(lambda: schedule("b", fail=True)),
            writer.submit(lambda: schedule("c")),
        ]
        gate.set()
        first.result(5)
        assert futures[0].result(5) == "a"
        with pytest.raises(Conflict):
            futures[1].result(5)
        assert futures[2].result(5) == "c"
    finally:
        writer.close()
    with database.reading() as uow:
        kept = {t.order_id for o in ("a", "b", "c") for t in uow.timers.pending(o)}
    assert kept == {"a", "c"}


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_cancelled_caller_does_not_stop_the_writer(engine: Engine) -> None:
    """A caller that gave up (its task was cancelled) is skipped; its batch mates are
    answered and the writer thread goes on writing."""
    database = Database(engine)
    gate = threading.Event()
    writer = BatchWriter(database)
    try:
        first = writer.submit(lambda: gate.wait(5))
        abandoned = writer.submit(lambda: "nobody listens")
        kept = writer.submit(lambda: "answered")
        assert abandoned.cancel()
        gate.set()
        first.result(5)
        assert kept.result(5) == "answered"
        assert writer.submit(lambda: "still writing").result(5) == "still writing"
    finally:
        writer.close()
