"""Durable timers: several workers never fire one twice; a worker thread fires what is due."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import Engine

from pss_ordering.clock import ManualClock
from pss_ordering.service.timers import TimerService, TimerWorker
from pss_ordering.service.unit_of_work import Database, UnitOfWork
from pss_ordering.store.timers import Timer

COUNT = 300


def _schedule(database: Database, clock: ManualClock) -> None:
    with database.writing() as uow:
        for n in range(COUNT):
            uow.timers.schedule("probe", f"order-{n}", "2026-11-24T11:00:00.000Z", {"n": n})
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

    services = [TimerService(database, clock, {"probe": record}) for _ in range(2)]

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
        uow.timers.schedule("probe", "o", "2026-11-24T12:00:01.000Z")
        uow.commit()
    service = TimerService(database, clock, {"probe": lambda _u, _t: None})
    assert service.fire_due() == 0
    clock.advance(timedelta(seconds=1))
    assert service.fire_due() == 1


def test_worker_thread_fires_due_timers(engine: Engine, clock: ManualClock) -> None:
    database = Database(engine)
    _schedule(database, clock)
    seen: list[str] = []
    worker = TimerWorker(
        TimerService(database, clock, {"probe": lambda _u, t: seen.append(t.order_id)}), 0.01
    )
    worker.start()
    deadline = time.monotonic() + 20
    while len(seen) < COUNT and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    assert len(seen) == COUNT
