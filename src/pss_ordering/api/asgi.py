"""What every ``serve`` process runs, importable by name: uvicorn's worker processes
are spawned, not forked, and import the application factory and the HTTP protocol.

``pss-ordering serve --workers N`` migrates the database, creates the development
secret and loads seed data once, in the parent; then uvicorn binds the socket and
starts N processes that accept on it. Each calls :func:`app`, which builds its own
settings, engine and services from the environment, and speaks HTTP through
:class:`ServedHttpTools` (the transport limits of :mod:`.transport`).

Background work (timers, event delivery, retention) is placed by :class:`Background`:

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

import fcntl
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from starlette.applications import Starlette

from .. import logs, tracing
from ..bootstrap import build_delivery_worker, build_services, partner_sync, sqlite_file
from ..config import Settings
from ..events.background import DeliveryThread
from ..service.retention import RetentionWorker
from ..service.timers import TimerWorker
from ..store import migrate
from ..store.database import make_engine
from .app import create_app
from .common import Services
from .transport import GuardedHttpToolsProtocol, TransportLimits

log = logging.getLogger(__name__)


class ServedHttpTools(GuardedHttpToolsProtocol):
    """The protocol ``serve`` runs (``http="pss_ordering.api.asgi:ServedHttpTools"``).

    Its limits are the settings', set by :func:`app` in each process before the
    first connection is accepted.
    """

    limits = TransportLimits()


def transport_limits(settings: Settings) -> TransportLimits:
    return TransportLimits(
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        header_timeout=settings.header_timeout_seconds,
    )


def app() -> Starlette:
    """The application of one ``serve`` process, built from the environment (uvicorn factory)."""
    settings = Settings()
    logs.configure(settings)
    ServedHttpTools.limits = transport_limits(settings)
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    tracing.enable(settings, engine)
    # The parent migrated before starting the processes; at head this is one read.
    migrate.upgrade(engine)
    # The application itself starts no background work; Background places it.
    services = build_services(settings.model_copy(update={"run_workers": False}), engine)
    application = create_app(services)
    background = Background(services, designation_lock(settings)) if settings.run_workers else None
    if background is not None:
        application.state.readiness.watch("background", background)
    _run_beside(application, background)
    return application


def designation_lock(settings: Settings) -> Path | None:
    """SQLite: the file whose lock designates the process running background work."""
    database = sqlite_file(settings.database_url)
    return None if database is None else database.with_name(database.name + ".workers.lock")


def _run_beside(application: Starlette, background: Background | None) -> None:
    """Start ``background`` after the application's own start-up, stop it before its
    shutdown (which closes the executor the workers write through)."""
    inner = application.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Starlette) -> AsyncIterator[None]:
        async with inner(app_):
            if background is not None:
                background.start()
            log.info("process %d serves requests", os.getpid())
            try:
                yield
            finally:
                if background is not None:
                    background.stop()

    application.router.lifespan_context = lifespan


class Background:
    """Timers and event delivery in this process: at once, or (with ``lock``) while this
    process holds an exclusive lock on that file, retried every ``retry`` seconds."""

    def __init__(self, services: Services, lock: Path | None, retry: float = 1.0) -> None:
        self._services = services
        self._lock_path = lock
        self._retry = retry
        self._guard = threading.Lock()
        self._stopped = threading.Event()
        self._waiter: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._timers: TimerWorker | None = None
        self._delivery: DeliveryThread | None = None
        self._pruning: RetentionWorker | None = None

    @property
    def running(self) -> bool:
        return self._timers is not None

    def alive(self) -> bool:
        """Running (both workers' threads alive), or standing by for the designation."""
        timers, delivery = self._timers, self._delivery
        if timers is not None and delivery is not None:
            return timers.alive() and delivery.alive()
        return self._waiter is not None and self._waiter.is_alive()

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
            if self._delivery is not None:
                self._delivery.stop()
            if self._pruning is not None:
                self._pruning.stop()
            if self._timers is not None:
                self._timers.stop()
            self._delivery = self._timers = self._pruning = None
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
        services = self._services
        self._timers = TimerWorker(services.timers, services.settings.timer_poll_seconds)
        self._delivery = DeliveryThread(
            build_delivery_worker(services),
            partial(partner_sync, services),
            services.settings.partner_sync_seconds,
        )
        self._pruning = RetentionWorker(services.retention, services.settings.retention_interval)
        self._timers.start()
        self._delivery.start()
        self._pruning.start()
        log.info("process %d runs the timers and event delivery (%s)", os.getpid(), why)
