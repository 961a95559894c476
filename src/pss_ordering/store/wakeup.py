"""Waking delivery workers promptly when new deliveries commit, instead of polling slowly.

PostgreSQL: the publishing transaction sends ``NOTIFY pss_deliveries``
(``SqlDeliveries.wake_workers``), which PostgreSQL delivers at commit; workers
``LISTEN``. SQLite: ``PRAGMA data_version`` changes whenever another connection
commits, which costs a few microseconds to ask, so workers ask every 50 ms.

Which of the two a database gets is decided by ``Backend.wakeups``
(``store/database.py``); the worker only waits for the signal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

import psycopg
from sqlalchemy import Engine

from .deliveries import WAKE_CHANNEL

log = logging.getLogger(__name__)
Signal = Callable[[], None]


class Wakeup(Protocol):
    async def run(self, signal: Signal) -> None:
        """Call ``signal`` whenever something may have been committed; runs until cancelled."""


class PostgresListener:
    def __init__(self, engine: Engine, reconnect_seconds: float = 1.0) -> None:
        # Its own connection, outside the pool: psycopg's plain URL, without SQLAlchemy's driver.
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._reconnect = reconnect_seconds

    async def run(self, signal: Signal) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {WAKE_CHANNEL}")
                    signal()  # anything committed while we were not listening
                    async for _ in connection.notifies():
                        signal()
            except psycopg.Error as exc:
                log.warning("LISTEN %s failed (%s); reconnecting", WAKE_CHANNEL, exc)
                await asyncio.sleep(self._reconnect)


class SqliteDataVersion:
    def __init__(self, engine: Engine, interval: float = 0.05) -> None:
        self._engine = engine
        self._interval = interval

    async def run(self, signal: Signal) -> None:
        connection = self._engine.raw_connection()
        try:
            last = None
            while True:
                cursor = connection.cursor()
                cursor.execute("PRAGMA data_version")
                row = cursor.fetchone()
                cursor.close()
                version = row[0] if row else None
                if version != last:
                    last = version
                    signal()
                await asyncio.sleep(self._interval)
        finally:
            connection.close()
