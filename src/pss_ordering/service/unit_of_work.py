"""The unit of work: the only place that opens a transaction and commits.

Committing first publishes the events the written orders recorded (stored,
and queued for each qualifying callback), so they commit with the change.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy import Connection, Engine, Transaction

from ..domain.identity import Caller, Role
from ..domain.orders import ProductOrder
from ..domain.visibility import Viewer
from ..store.database import WRITE
from ..store.deliveries import SqlDeliveries
from ..store.events import SqlEvents
from ..store.orders import SqlOrders
from ..store.parties import SqlOfferings, SqlParties
from ..store.received import SqlReceivedEvents
from ..store.response_times import SqlResponseTimes
from ..store.subscriptions import SqlSubscriptions
from ..store.timers import SqlTimers
from .publishing import Publisher

DEFAULT_BASE_URL = "http://127.0.0.1:8080"


class UnitOfWork:
    """One connection, one transaction; rolled back unless :meth:`commit` is called."""

    orders: SqlOrders
    parties: SqlParties
    offerings: SqlOfferings
    timers: SqlTimers
    subscriptions: SqlSubscriptions
    events: SqlEvents
    deliveries: SqlDeliveries
    received: SqlReceivedEvents
    response_times: SqlResponseTimes

    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        *,
        write: bool,
        reuse: Connection | None = None,
        batch: Connection | None = None,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._write = write
        self._reuse = reuse
        self._batch = batch
        self._connection: Connection | None = None
        self._transaction: Transaction | None = None

    def __enter__(self) -> UnitOfWork:
        if self._batch is not None:
            connection = self._batch
            self._transaction = connection.begin_nested()
        else:
            connection = self._reuse or self._engine.connect()
            if self._write:
                connection = connection.execution_options(**{WRITE: True})
            self._transaction = connection.begin()
        self._connection = connection
        self.orders = SqlOrders(connection)
        self.parties = SqlParties(connection)
        self.offerings = SqlOfferings(connection)
        self.timers = SqlTimers(connection)
        self.subscriptions = SqlSubscriptions(connection)
        self.events = SqlEvents(connection)
        self.deliveries = SqlDeliveries(connection)
        self.received = SqlReceivedEvents(connection)
        self.response_times = SqlResponseTimes(connection)
        return self

    @contextmanager
    def part(self) -> Iterator[None]:
        """A part of this unit of work that may fail alone (a savepoint): its writes, and
        the events of the orders it wrote, are undone; the rest still commits."""
        assert self._connection is not None
        mark = self.orders.mark()
        try:
            with self._connection.begin_nested():
                yield
        except BaseException:
            self.orders.forget_since(mark)
            raise

    def commit(self) -> None:
        """Publish the written orders' events, then commit (inside a batch: keep the
        work; the batch commits it with the others)."""
        assert self._transaction is not None
        self._publisher.publish(self, self.orders.take_written())
        self._transaction.commit()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None and self._transaction is not None
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            if self._reuse is None and self._batch is None:
                self._connection.close()
            self._connection = None

    def viewer_for(self, caller: Caller, order: ProductOrder | None) -> Viewer:
        """The viewer as far as one order needs: its community only when it could matter.

        Most reads are by the order's own customer, provider or creator; only when
        a customer reads someone else's order is its membership looked up.
        """
        party = caller.party_id
        if (
            order is not None
            and caller.has(Role.CUSTOMER)
            and order.customer_id != party
            and self.parties.belongs_to(order.customer_id, party)
        ):
            return Viewer(caller, frozenset({party, order.customer_id}))
        return Viewer(caller, frozenset({party}))

    def viewer(self, caller: Caller) -> Viewer:
        """The caller plus the customers it represents (itself and its community)."""
        if caller.has(Role.CUSTOMER):
            return Viewer(caller, self.parties.community(caller.party_id))
        return Viewer(caller, frozenset({caller.party_id}))


class Database:
    """Hands out units of work; the seam tests replace with another engine.

    On SQLite each thread keeps one connection for reads (reads run inline on
    the event loop, where a pool checkout would cost more than the query).
    """

    def __init__(self, engine: Engine, publisher: Publisher | None = None) -> None:
        self.engine = engine
        self.publisher = publisher or Publisher(DEFAULT_BASE_URL)
        self._keep_readers = engine.dialect.name == "sqlite"
        self._readers = threading.local()
        self._batches = threading.local()

    def reading(self) -> UnitOfWork:
        if not self._keep_readers:
            return UnitOfWork(self.engine, self.publisher, write=False)
        reader = getattr(self._readers, "connection", None)
        if reader is None:
            reader = self._readers.connection = self.engine.connect()
        return UnitOfWork(self.engine, self.publisher, write=False, reuse=reader)

    def writing(self) -> UnitOfWork:
        batch = getattr(self._batches, "connection", None)
        return UnitOfWork(self.engine, self.publisher, write=True, batch=batch)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for several units of work on this thread (group commit).

        Each unit of work inside runs in a savepoint, so a failing one leaves the
        others intact; the batch commits them all with one durable commit.
        """
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{WRITE: True})
            with connection.begin():
                self._batches.connection = connection
                try:
                    yield
                finally:
                    self._batches.connection = None
