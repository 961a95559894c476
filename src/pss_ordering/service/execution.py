"""Where use cases run, chosen by database: the event loop must never wait on a lock,
nor on a query whose cost grows with the data.

SQLite: :meth:`Executor.read` runs inline on the calling event loop. The routes
use it only for point reads — one order, party or offering by its primary key,
plus at most the caller's membership of that one order's customer — whose cost
is an index probe (tens of microseconds, less than a thread hand-off) whatever
the size of the database or of the request; the delivery worker uses it on its
own event loop, which serves no requests. A list whose statements each read one
index range in page order, with its count stopped at the count limit, is bounded
too (:meth:`Executor.read_sized`: ~0.3 ms on 100k orders) and runs inline; every
other read of a request (:meth:`Executor.scan`: other lists, residual filters,
figures, delivery health) runs on a worker thread, because its cost grows with
the rows it visits. Writes go
to one writer thread that commits them in batches (:mod:`..service.batching`),
so they queue in-process instead of spinning on SQLite's busy timeout, and share
one fsync.
PostgreSQL: everything runs on worker threads, at most ``concurrency`` at a
time, so threads do not thrash the GIL under load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import ParamSpec, Protocol, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

from .batching import BatchWriter


class Sized(Protocol):
    @property
    def bounded(self) -> bool: ...


P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound=Sized)


class Executor:
    def __init__(self, *, writer: BatchWriter | None, concurrency: int) -> None:
        self._inline_reads = writer is not None
        self._concurrency = concurrency
        self._writer = writer
        self._limiter: CapacityLimiter | None = None

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read of bounded cost (by primary key): inline on SQLite, a thread on PostgreSQL."""
        if self._inline_reads:
            return fn(*args, **kwargs)
        return await self._in_thread(partial(fn, *args, **kwargs))

    async def scan(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read whose cost grows with the data (lists, counts): always on a thread."""
        return await self._in_thread(partial(fn, *args, **kwargs))

    async def read_sized(self, first: Callable[[], S], then: Callable[[S], T]) -> T:
        """A read in two steps: ``first`` is a point read that finds out whether ``then``
        is bounded too. SQLite: ``first`` inline, ``then`` inline when bounded, else on
        a thread. PostgreSQL: both on one thread."""
        if not self._inline_reads:
            return await self._in_thread(lambda: then(first()))
        sized = first()
        if sized.bounded:
            return then(sized)
        return await self._in_thread(partial(then, sized))

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
