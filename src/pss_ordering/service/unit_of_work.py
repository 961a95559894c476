"""The unit of work: the only place that opens a transaction and commits."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from ..domain.identity import Caller, Role
from ..domain.visibility import Viewer
from ..store.database import WRITE
from ..store.orders import SqlOrders
from ..store.parties import SqlOfferings, SqlParties
from ..store.timers import SqlTimers


class UnitOfWork:
    """One connection, one transaction; rolled back unless :meth:`commit` is called."""

    orders: SqlOrders
    parties: SqlParties
    offerings: SqlOfferings
    timers: SqlTimers

    def __init__(self, engine: Engine, *, write: bool) -> None:
        self._engine = engine
        self._write = write
        self._connection: Connection | None = None

    def __enter__(self) -> UnitOfWork:
        connection = self._engine.connect()
        if self._write:
            connection = connection.execution_options(**{WRITE: True})
        connection.begin()
        self._connection = connection
        self.orders = SqlOrders(connection)
        self.parties = SqlParties(connection)
        self.offerings = SqlOfferings(connection)
        self.timers = SqlTimers(connection)
        return self

    def commit(self) -> None:
        assert self._connection is not None
        self._connection.commit()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            self._connection.rollback()
        finally:
            self._connection.close()
            self._connection = None

    def viewer(self, caller: Caller) -> Viewer:
        """The caller plus the customers it represents (itself and its community)."""
        if caller.has(Role.CUSTOMER):
            return Viewer(caller, self.parties.community(caller.party_id))
        return Viewer(caller, frozenset({caller.party_id}))


class Database:
    """Hands out units of work; the seam tests replace with another engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def reading(self) -> UnitOfWork:
        return UnitOfWork(self.engine, write=False)

    def writing(self) -> UnitOfWork:
        return UnitOfWork(self.engine, write=True)
