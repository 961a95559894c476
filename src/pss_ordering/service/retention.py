"""Pruning by the retention policy (``domain/retention.py``): many short transactions.

A run visits each table in turn, one bounded batch per transaction (the batch's
size is ``PSS_RETENTION_BATCH``): on SQLite a batch holds the write lock for about
as long as a group-commit batch of requests, on PostgreSQL no transaction stays
open while the run goes on. A dry run performs the same batches and rolls each
back, so what it reports is exactly what a run at that moment would remove. On
SQLite the free pages are then given back (``store/maintenance.reclaim``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ..clock import Clock
from ..domain.retention import PruneReport, RetentionPolicy
from ..store import maintenance
from ..store.retention import Batch, SqlRetention
from .unit_of_work import Database

log = logging.getLogger(__name__)
Step = Callable[[SqlRetention, Any], Batch]


class RetentionService:
    def __init__(self, database: Database, clock: Clock, policy: RetentionPolicy, batch: int):
        self._db = database
        self._clock = clock
        self._policy = policy
        self._limit = batch

    def prune(self, dry_run: bool = False, stop: Callable[[], bool] = lambda: False) -> PruneReport:
        """Remove (or count, ``dry_run``) what the policy lets go; ``stop`` is asked between
        batches. Tests call this directly."""
        cutoffs = self._policy.cutoffs(self._clock.now())
        limit = self._limit
        passes: list[tuple[Step, Any]] = [
            (lambda r, after: r.events(cutoffs, after, limit), 0),
            (lambda r, after: r.delivery_attempts(cutoffs, after, limit), 0),
            (lambda r, after: r.received_events(cutoffs, after, limit), None),
            (lambda r, after: r.response_deadlines(cutoffs, after, limit), None),
        ]
        report = PruneReport(dry_run)
        for step, after in passes:
            done = False
            while not done:
                if stop():
                    report.interrupted = True
                    return report
                batch = self._batch(step, after, dry_run)
                if batch is None:  # another process is pruning (PostgreSQL)
                    report.interrupted = True
                    return report
                report.batches += 1
                for table, count in batch.rows.items():
                    report.add(table, count)
                after, done = batch.after, batch.done
        return report

    def _batch(self, step: Step, after: Any, dry_run: bool) -> Batch | None:
        with self._db.writing() as uow:
            if not uow.retention.claim_pruner():
                return None
            batch = step(uow.retention, after)
            if not dry_run:
                uow.commit()
        return batch

    def reclaim_space(self) -> int:
        """SQLite: free pages given back to the file system (0 elsewhere)."""
        if not self._db.backend.gives_back_space:
            return 0
        return maintenance.reclaim(self._db.engine)

    def counts(self) -> dict[str, int]:
        with self._db.reading() as uow:
            return uow.retention.counts()


class RetentionWorker:
    """Prunes every ``interval`` in a background thread (first run one interval after
    start), then reclaims SQLite's free pages; stops between batches when asked.
    Without an interval (``PSS_RETENTION_INTERVAL=none``) it does not start."""

    def __init__(self, service: RetentionService, interval: timedelta | None) -> None:
        self._service = service
        self._interval = interval.total_seconds() if interval else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pss-retention", daemon=True)

    def start(self) -> None:
        if self._interval is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        assert self._interval is not None
        while not self._stop.wait(self._interval):
            try:
                report = self._service.prune(stop=self._stop.is_set)
                pages = self._service.reclaim_space()
            except Exception:
                log.exception("pruning failed; trying again at the next interval")
                continue
            if report.total or pages:
                log.info(
                    "pruned %s in %d batches; %d free pages given back",
                    ", ".join(f"{t}={n}" for t, n in report.rows.items() if n),
                    report.batches,
                    pages,
                )
