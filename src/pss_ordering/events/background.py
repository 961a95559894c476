"""Running the delivery worker beside other work: its own thread and event loop.

``serve`` runs it next to the HTTP server (whose loop must not wait on a
receiver); ``pss-ordering worker`` runs it on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from .worker import DeliveryWorker


class DeliveryThread:
    def __init__(self, worker: DeliveryWorker) -> None:
        self._worker = worker
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

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._worker.run(self._stop)
