"""Group commit of delivery attempts: every lane's attempts go into the next commit.

A lane waits until its attempt is committed before it sends the next event (so
a crash repeats at most the event in flight); while one batch commits, the
attempts of all other lanes gather for the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..domain.delivery import Attempt
from ..service.execution import Executor


class GroupCommit:
    def __init__(self, executor: Executor, record: Callable[[list[Attempt]], None]) -> None:
        self._executor = executor
        self._record = record
        self._queued: list[tuple[Attempt, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def commit(self, attempt: Attempt) -> None:
        """Queue the attempt for the next commit and return once it is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((attempt, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                await self._executor.write(self._record, [a for a, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
