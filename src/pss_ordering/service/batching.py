"""Group commit for SQLite: one writer thread runs queued use cases in batches.

SQLite allows one writer, and a durable commit costs an fsync. Queued writes
are taken together, each in its own savepoint of one transaction, and
committed with a single fsync; each caller is answered only after that
commit, so an acknowledged write is on disk. A failing use case rolls back
its savepoint and gets its own error; the others still commit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from .unit_of_work import Database

Job = tuple[Callable[[], Any], "Future[Any]"]


class BatchWriter:
    def __init__(self, database: Database, max_batch: int = 64) -> None:
        self._db = database
        self._max = max_batch
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, call: Callable[[], Any]) -> Future[Any]:
        """Queue a use case; the writer thread starts on demand (again after :meth:`close`)."""
        future: Future[Any] = Future()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pss-writer", daemon=True)
                self._thread.start()
            self._queue.put((call, future))
        return future

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(None)
        thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            stop = False
            while len(jobs) < self._max:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
            self._run_batch(jobs)
            if stop:
                return

    def _run_batch(self, jobs: list[Job]) -> None:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self._db.batch():
                for call, future in jobs:
                    try:
                        outcomes.append((future, call(), None))
                    except Exception as error:
                        outcomes.append((future, None, error))
        except Exception as failure:
            for _call, future in jobs:
                _answer(future, None, failure)
            return
        for future, value, raised in outcomes:
            _answer(future, value, raised)


def _answer(future: Future[Any], value: Any, raised: BaseException | None) -> None:
    """Answer one caller. A caller cancelled meanwhile (``asyncio.wrap_future`` cancels
    the future when the awaiting task is cancelled, e.g. a delivery lane at shutdown)
    gets nothing: answering it would raise, stop the writer thread and leave the
    batch's other callers waiting for ever."""
    try:
        if raised is not None:
            future.set_exception(raised)
        else:
            future.set_result(value)
    except InvalidStateError:
        pass
