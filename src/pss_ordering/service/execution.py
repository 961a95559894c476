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
PostgreSQL: writes and unbounded reads run on worker threads, at most
``concurrency`` at a time, so threads do not thrash the GIL under load. Bounded
reads run inline too when the server is on this machine (``inline_reads``, set
by ``bootstrap.inline_reads``): a loopback round trip costs less than the hand-off
to a thread and the GIL contention that comes with it (a list: 0.94 -> 0.50 ms of
API CPU); across a network the loop would sit idle for each round trip, so there
they run on threads.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from functools import partial, wraps
from typing import ParamSpec, Protocol, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

from .. import tracing
from .batching import BatchWriter


class Sized(Protocol):
    @property
    def bounded(self) -> bool: ...


P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S", bound=Sized)


class Executor:
    def __init__(
        self, *, writer: BatchWriter | None, concurrency: int, inline_reads: bool | None = None
    ) -> None:
        self._inline_reads = writer is not None if inline_reads is None else inline_reads
        self._concurrency = concurrency
        self._writer = writer
        self._limiter: CapacityLimiter | None = None

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read of bounded cost (by primary key): inline (``inline_reads``), else a thread."""
        if self._inline_reads:
            return use_case(fn)(*args, **kwargs)
        return await self._in_thread(partial(use_case(fn), *args, **kwargs))

    async def scan(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A read whose cost grows with the data (lists, counts): always on a thread."""
        return await self._in_thread(partial(use_case(fn), *args, **kwargs))

    async def read_sized(self, first: Callable[[], S], then: Callable[[S], T]) -> T:
        """A read in two steps: ``first`` is a point read that finds out whether ``then``
        is bounded too. With ``inline_reads``: ``first`` inline, ``then`` inline when
        bounded, else on a thread; otherwise both on one thread."""
        first, then = use_case(first), use_case(then)
        if not self._inline_reads:
            return await self._in_thread(lambda: then(first()))
        sized = first()
        if sized.bounded:
            return then(sized)
        return await self._in_thread(partial(then, sized))

    async def write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = partial(use_case(fn), *args, **kwargs)
        if self._writer is not None:
            # The writer thread runs the call in the caller's context: its request id
            # (log lines, stored events) and its trace span go along.
            context = contextvars.copy_context()
            return await asyncio.wrap_future(self._writer.submit(partial(context.run, call)))
        return await self._in_thread(call)

    async def _in_thread(self, call: Callable[[], T]) -> T:
        """On a worker thread, in this context (anyio copies it)."""
        if self._limiter is None:
            self._limiter = CapacityLimiter(self._concurrency)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    def threaded(self) -> Executor:
        """The same writes, with every read on a thread (for a loop that must not wait on
        the database at all)."""
        return Executor(writer=self._writer, concurrency=self._concurrency, inline_reads=False)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def use_case(fn: Callable[P, T]) -> Callable[P, T]:
    """``fn`` in a trace span named after it, when tracing is on (else ``fn`` itself)."""
    if not tracing.enabled():
        return fn

    @wraps(fn)
    def traced(*args: P.args, **kwargs: P.kwargs) -> T:
        with tracing.span(getattr(fn, "__qualname__", "use case")):
            return fn(*args, **kwargs)

    return traced
