"""Running the delivery worker beside other work: its own thread and event loop.

``serve`` runs it next to the HTTP server (whose loop must not wait on a
receiver); ``pss-ordering worker`` runs it on its own. The same loop runs the
periodic partner sync (``partners.py``: catalogues refreshed, relays kept
registered), so exactly the process that delivers events syncs partners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable

from .worker import DeliveryWorker

log = logging.getLogger(__name__)
Periodic = Callable[[], Awaitable[object]]


class DeliveryThread:
    def __init__(
        self, worker: DeliveryWorker, periodic: Periodic | None = None, every: float = 0.0
    ) -> None:
        """``periodic`` runs at start and then every ``every`` seconds (0: never)."""
        self._worker = worker
        self._periodic = periodic if every > 0 else None
        self._every = every
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="pss-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self, timeout: float = 15) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: stopped already
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def name(self) -> str:
        return self._worker.name

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        repeating = (
            None
            if self._periodic is None
            else asyncio.create_task(repeat(self._periodic, self._every))
        )
        try:
            await self._worker.run(self._stop)
        finally:
            if repeating is not None:
                repeating.cancel()
                await asyncio.gather(repeating, return_exceptions=True)


async def repeat(periodic: Periodic, every: float) -> None:
    """Run ``periodic`` now and then every ``every`` seconds until cancelled; a failure
    is logged and the next round comes as planned."""
    while True:
        try:
            await periodic()
        except Exception:
            log.exception("periodic partner sync failed; tried again in %gs", every)
        await asyncio.sleep(every)
