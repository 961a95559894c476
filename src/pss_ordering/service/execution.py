"""Where use cases run, chosen by database: the event loop must never wait on a lock.

SQLite: reads run inline on the event loop (a primary-key read takes tens of
microseconds, less than a thread hand-off) and writes go to one writer thread
that commits them in batches (:mod:`..service.batching`), so they queue
in-process instead of spinning on SQLite's busy timeout, and share one fsync.
PostgreSQL: both run on worker threads, at most ``concurrency`` at a time, so
threads do not thrash the GIL under load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import ParamSpec, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

from .batching import BatchWriter

P = ParamSpec("P")
T = TypeVar("T")


class Executor:
    def __init__(self, *, writer: BatchWriter | None, concurrency: int) -> None:
        self._inline_reads = writer is not None
        self._concurrency = concurrency
        self._writer = writer
        self._limiter: CapacityLimiter | None = None

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._inline_reads:
            return fn(*args, **kwargs)
        return await self._in_thread(partial(fn, *args, **kwargs))

    async def write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._writer is not None:
            return await asyncio.wrap_future(self._writer.submit(partial(fn, *args, **kwargs)))
        return await self._in_thread(partial(fn, *args, **kwargs))

    async def _in_thread(self, call: Callable[[], T]) -> T:
        if self._limiter is None:
            self._limiter = CapacityLimiter(self._concurrency)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
