"""Firing durable timers: claim what is due, run its handler, delete it, in one transaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from .. import correlation, tracing
from ..clock import Clock
from ..domain.timers import TimerKind
from ..domain.timestamps import format_instant
from ..store.timers import Timer
from .unit_of_work import Database, UnitOfWork

log = logging.getLogger(__name__)
Handler = Callable[[UnitOfWork, Timer], None]


class TimerService:
    def __init__(
        self, database: Database, clock: Clock, handlers: Mapping[TimerKind, Handler]
    ) -> None:
        """``handlers`` must cover every kind: a kind without one would be armed and never
        fire, so it is refused here, when the service is built (at start-up)."""
        unhandled = [kind.value for kind in TimerKind if kind not in handlers]
        if unhandled:
            raise ValueError(
                f"no handler for timer kind(s) {', '.join(unhandled)}: "
                "their timers would never fire"
            )
        self._db = database
        self._clock = clock
        self._handlers = handlers

    def fire_due(self, limit: int = 100) -> int:
        """Fire up to ``limit`` due timers; returns how many fired. Tests call this directly.

        An idle tick is one indexed read; the write transaction (and its commit)
        is only opened when something is due.
        """
        now = format_instant(self._clock.now())
        with self._db.reading() as uow:
            if not uow.timers.any_due(now):
                return 0
        with self._db.writing() as uow:
            due = uow.timers.claim_due(now, limit)
            for timer in due:
                # Under the id of the request that armed it (or a new one).
                with correlation.bound(timer.correlation_id or correlation.new_id()):
                    self._fire(uow, timer, self._handlers[timer.kind])
                uow.timers.remove(timer.id)
            uow.commit()
        return len(due)

    @staticmethod
    def _fire(uow: UnitOfWork, timer: Timer, handler: Handler) -> None:
        try:
            with tracing.span("timer", kind=timer.kind), uow.part():
                handler(uow, timer)
        except Exception:
            # One timer that cannot fire must not hold back the others
            # (nor fire again and again): it is logged and dropped.
            log.exception("timer %s (%s) for %s failed", timer.id, timer.kind, timer.order_id)


class TimerWorker:
    """Runs :meth:`TimerService.fire_due` in a background thread until stopped."""

    def __init__(self, service: TimerService, interval: float) -> None:
        self._service = service
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pss-timers", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                fired = self._service.fire_due()
            except Exception:
                log.exception("firing timers failed; retrying")
                fired = 0
            if not fired:
                self._stop.wait(self._interval)
