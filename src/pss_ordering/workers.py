"""The background work of one process, started and stopped together: due timers, event
delivery (with the periodic partner sync on its loop) and retention.

The composition root builds them (``bootstrap.build_workers``); whatever runs the
process runs them: the lifespan of a ``serve`` process, to which the root hands
them (the application never constructs them), or ``pss-ordering worker`` alone
(:func:`until_signalled`). Where they run is :class:`Designated`'s decision:

* PostgreSQL: in every process. Due timers are claimed with ``FOR UPDATE SKIP
  LOCKED`` and deleted in the transaction that fires them, and each callback is
  leased to one delivery worker at a time, so every deadline fires once and every
  callback gets its events once, in order, whatever the number of processes (or of
  nodes sharing the database).
* SQLite: in one designated process, the one holding an exclusive lock on
  ``<database file>.workers.lock``; the others try again every second, so one of
  them takes over when the holder stops or is killed (the kernel releases the lock
  with the process). Running them in every process would also be correct (every
  claim is a write, and SQLite has one write lock), but the processes would poll
  and compete for that lock with each other and with the API's writes for nothing.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .events.background import DeliveryThread
from .service.retention import RetentionWorker
from .service.timers import TimerWorker

log = logging.getLogger(__name__)


class Alive(Protocol):
    def alive(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Workers:
    """The three background workers of a process, as one."""

    timers: TimerWorker
    delivery: DeliveryThread
    retention: RetentionWorker

    @property
    def name(self) -> str:
        """The delivery worker's name, which its leases carry."""
        return self.delivery.name

    def start(self) -> None:
        self.timers.start()
        self.delivery.start()
        self.retention.start()

    def stop(self) -> None:
        """Delivery first: it lets go of its leases while the database is still there."""
        self.delivery.stop()
        self.retention.stop()
        self.timers.stop()

    def alive(self) -> bool:
        return self.timers.alive() and self.delivery.alive()

    def watched(self) -> Mapping[str, Alive]:
        """What readiness watches: the two whose death stops events and deadlines."""
        return {"timers": self.timers, "delivery": self.delivery}


class Designated:
    """Workers in this process: at once, or (with ``lock``) while this process holds an
    exclusive lock on that file, retried every ``retry`` seconds."""

    def __init__(self, make: Callable[[], Workers], lock: Path | None, retry: float = 1.0) -> None:
        self._make = make
        self._lock_path = lock
        self._retry = retry
        self._guard = threading.Lock()
        self._stopped = threading.Event()
        self._waiter: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._workers: Workers | None = None

    @property
    def running(self) -> bool:
        return self._workers is not None

    def alive(self) -> bool:
        """Running (the workers' threads alive), or standing by for the designation."""
        workers = self._workers
        if workers is not None:
            return workers.alive()
        return self._waiter is not None and self._waiter.is_alive()

    def watched(self) -> Mapping[str, Alive]:
        return {"background": self}

    def start(self) -> None:
        if self._lock_path is None:
            self._begin("every process runs them")
            return
        self._waiter = threading.Thread(target=self._wait_for_lock, name="pss-designation")
        self._waiter.daemon = True
        self._waiter.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._waiter is not None:
            self._waiter.join(timeout=10)
        with self._guard:
            if self._workers is not None:
                self._workers.stop()
                self._workers = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the designation
                self._lock_fd = None

    def _wait_for_lock(self) -> None:
        assert self._lock_path is not None
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        waited = False
        while not self._stopped.is_set():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not waited:
                    log.info("timers and delivery run in another process; standing by")
                    waited = True
                self._stopped.wait(self._retry)
                continue
            with self._guard:
                if self._stopped.is_set():
                    break
                self._lock_fd = fd
                self._begin(f"designated by {self._lock_path}")
            return
        os.close(fd)

    def _begin(self, why: str) -> None:
        self._workers = self._make()
        self._workers.start()
        log.info("process %d runs the timers and event delivery (%s)", os.getpid(), why)


def until_signalled(workers: Workers, check_every: float = 1.0) -> bool:
    """Wait, while ``workers`` run, for SIGINT or SIGTERM (after which the caller stops
    them, and delivery lets go of its leases); False when one of them died first."""

    async def wait() -> bool:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        while workers.alive():
            try:
                await asyncio.wait_for(stop.wait(), check_every)
                return True
            except TimeoutError:
                continue
        return False

    return asyncio.run(wait())
