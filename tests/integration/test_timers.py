"""Durable timers: several workers never fire one twice; a worker thread fires what is due."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from pss_ordering.clock import ManualClock
from pss_ordering.domain.timers import TimerKind
from pss_ordering.domain.timestamps import Instant
from pss_ordering.service.timers import TimerService, TimerWorker
from pss_ordering.service.unit_of_work import Database, UnitOfWork
from pss_ordering.store.timers import Timer

COUNT = 300
PROBE, WRITTEN = TimerKind.RESPONSE_DEADLINE, TimerKind.RESPONSE_GRACE


def _ignore(_uow: UnitOfWork, _timer: Timer) -> None:
    pass


def _schedule(database: Database, clock: ManualClock) -> None:
    with database.writing() as uow:
        for n in range(COUNT):
            uow.timers.schedule(PROBE, f"order-{n}", Instant("2026-11-24T11:00:00.000Z"), {"n": n})
        uow.commit()
    clock.advance(timedelta(hours=1))


def test_two_workers_fire_each_timer_once(engine: Engine, clock: ManualClock) -> None:
    database = Database(engine)
    _schedule(database, clock)
    fired: list[int] = []
    lock = threading.Lock()

    def record(_uow: UnitOfWork, timer: Timer) -> None:
        with lock:
            fired.append(int(timer.payload["n"]))

    services = [TimerService(database, clock, dict.fromkeys(TimerKind, record)) for _ in range(2)]

    def drain(service: TimerService) -> None:
        while service.fire_due(limit=7):
            pass

    threads = [threading.Thread(target=drain, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(fired) == list(range(COUNT))


def test_timers_not_yet_due_do_not_fire(engine: Engine, clock: ManualClock) -> None:
    database = Database(engine)
    with database.writing() as uow:
        uow.timers.schedule(PROBE, "o", Instant("2026-11-24T12:00:01.000Z"))
        uow.commit()
    service = TimerService(database, clock, dict.fromkeys(TimerKind, _ignore))
    assert service.fire_due() == 0
    clock.advance(timedelta(seconds=1))
    assert service.fire_due() == 1


def test_worker_thread_fires_due_timers(engine: Engine, clock: ManualClock) -> None:
    database = Database(engine)
    _schedule(database, clock)
    seen: list[str] = []
    all_seen = threading.Event()

    def probe(_uow: UnitOfWork, timer: Timer) -> None:
        seen.append(timer.order_id)
        if len(seen) == COUNT:
            all_seen.set()

    worker = TimerWorker(TimerService(database, clock, dict.fromkeys(TimerKind, probe)), 0.01)
    worker.start()
    all_seen.wait(timeout=20)
    worker.stop()
    assert len(seen) == COUNT


def test_a_failing_timer_is_dropped_and_does_not_hold_back_the_others(
    engine: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler that raises is undone alone (a savepoint); the batch still commits."""
    database = Database(engine)
    with database.writing() as uow:
        for n in range(3):
            uow.timers.schedule(PROBE, f"order-{n}", Instant("2026-11-24T11:00:00.000Z"), {"n": n})
        uow.commit()
    done: list[int] = []

    def handler(uow: UnitOfWork, timer: Timer) -> None:
        uow.timers.schedule(WRITTEN, timer.order_id, Instant("2030-01-01T00:00:00.000Z"))
        if timer.payload["n"] == 1:
            raise RuntimeError("cannot fire")
        done.append(int(timer.payload["n"]))

    service = TimerService(database, clock, dict.fromkeys(TimerKind, handler))
    with caplog.at_level(logging.ERROR):
        assert service.fire_due() == 3
    assert done == [0, 2]
    assert "cannot fire" in caplog.text
    assert service.fire_due() == 0, "the failing timer does not come back"
    with database.reading() as uow:
        written = {n: [t.kind for t in uow.timers.pending(f"order-{n}")] for n in range(3)}
    assert written == {0: [WRITTEN], 1: [], 2: [WRITTEN]}, "the failed part was undone"


def test_a_kind_without_a_handler_is_refused_at_start_up(
    engine: Engine, clock: ManualClock
) -> None:
    """Its timers would be armed and never fire: the service is not built."""
    handlers = dict.fromkeys(TimerKind, _ignore)
    del handlers[TimerKind.RESPONSE_GRACE]
    with pytest.raises(ValueError, match=r"no handler for timer kind\(s\) responseGrace"):
        TimerService(Database(engine), clock, handlers)
