"""The unit of work: one transaction and the repositories that work in it; the only
thing that commits.

Its jobs, and where the others went:

* the transaction: opened on entry, rolled back on exit unless committed;
* the repositories: inherited from :class:`~..store.repositories.Repositories`,
  each built when first used;
* publishing is the first step of :meth:`UnitOfWork.commit`, named there: the
  events recorded by the orders written in this unit of work are stored and
  queued for their callbacks (:mod:`.publishing`) in this transaction, then it
  commits;
* group commit is a :class:`Batch`, opened by the writer thread
  (:mod:`.batching`) with :meth:`Database.batch`. A unit of work opened for
  writing on a thread running a batch is a savepoint of it, and says so
  (``batched``): its ``commit`` releases the savepoint, and the batch commits
  all of them at once, durably, before any caller is answered;
* whom a caller represents is resolved by :mod:`.callers`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol

from sqlalchemy import Connection, Engine, Transaction

from .. import correlation, tracing
from ..domain.orders import ProductOrder
from ..store.database import WRITE, Backend
from ..store.prepared import Savepoint
from ..store.repositories import Repositories
from .publishing import Publisher

DEFAULT_BASE_URL = "http://127.0.0.1:8080"


class Publishing(Protocol):
    def publish(self, uow: UnitOfWork, written: list[ProductOrder]) -> None: ...


class UnitOfWork(Repositories):
    """One transaction; rolled back unless :meth:`commit` is called."""

    def __init__(
        self,
        connection: Connection,
        publisher: Publishing,
        *,
        batched: bool = False,
        owns_connection: bool = False,
        read_only: bool = False,
    ) -> None:
        super().__init__(connection)
        self.batched = batched
        self._publisher = publisher
        self._owns_connection = owns_connection
        self._read_only = read_only
        self._transaction: Transaction | Savepoint | None = None
        self._caused_by: dict[str, str | None] = {}

    def __enter__(self) -> UnitOfWork:
        # A read opens no transaction of its own: each statement reads a consistent
        # snapshot (SQLite in WAL mode, PostgreSQL in READ COMMITTED), and on
        # PostgreSQL a BEGIN and a ROLLBACK would be two more round trips.
        connection = self.connection
        if self.batched:
            self._transaction = Savepoint(connection)  # through the driver: ~1 µs, not ~40
        elif not self._read_only:
            self._transaction = connection.begin()
        return self

    @contextmanager
    def part(self) -> Iterator[None]:
        """A part of this unit of work that may fail alone (a savepoint): its writes, and
        the events of the orders it wrote, are undone; the rest still commits."""
        mark = self.orders.mark()
        try:
            with Savepoint(self.connection):
                yield
            # Its events are published at commit with the others (one lock order for
            # all lanes), under the request id this part ran under (a timer's).
            for order in self.orders.written_since(mark):
                self._caused_by.setdefault(order.id, correlation.current_id())
        except BaseException:
            self.orders.forget_since(mark)
            raise

    def caused_by(self, order_id: str) -> str | None:
        """The request id the order's events were caused under: its part's, or this one's."""
        return self._caused_by.get(order_id) or correlation.current_id()

    def commit(self) -> None:
        """Publish, then commit: durably, or (``batched``) into the batch, which commits
        durably before the caller is answered."""
        assert not self._read_only, "a unit of work opened for reading does not commit"
        assert self._transaction is not None
        with tracing.span("db commit", batched=self.batched):
            self._publisher.publish(self, self.orders.take_written())
            self._transaction.commit()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._transaction is not None and self._transaction.is_active:
                self._transaction.rollback()
            elif self._read_only and self.connection.in_transaction():
                self.connection.rollback()  # one SQLAlchemy began for a statement it ran
        finally:
            if self._owns_connection:
                self.connection.close()


class Batch:
    """One write transaction that the use cases run together by the group-commit writer
    share, each in a savepoint (see :meth:`Database.batch`)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection


class Database:
    """Hands out units of work; the seam tests replace with another engine.

    On SQLite each thread keeps one connection for reads (reads run inline on
    the event loop, where a pool checkout would cost more than the query).
    """

    def __init__(self, engine: Engine, publisher: Publisher | None = None) -> None:
        self.engine = engine
        self.publisher = publisher or Publisher(DEFAULT_BASE_URL)
        self.backend = Backend(engine)
        self._keep_readers = self.backend.in_process
        self._readers = threading.local()
        self._batches = threading.local()

    def reading(self) -> UnitOfWork:
        """A unit of work that only reads (and never commits)."""
        if not self._keep_readers:
            return UnitOfWork(
                self.engine.connect(), self.publisher, owns_connection=True, read_only=True
            )
        reader = getattr(self._readers, "connection", None)
        if reader is None:
            reader = self._readers.connection = self.engine.connect()
        return UnitOfWork(reader, self.publisher, read_only=True)

    def writing(self) -> UnitOfWork:
        """A write transaction of its own, or a savepoint of the batch this thread runs."""
        batch = self.running_batch()
        if batch is not None:
            return UnitOfWork(batch.connection, self.publisher, batched=True)
        connection = self.engine.connect().execution_options(**{WRITE: True})
        return UnitOfWork(connection, self.publisher, owns_connection=True)

    def running_batch(self) -> Batch | None:
        """The batch the calling thread runs, if any."""
        batch: Batch | None = getattr(self._batches, "batch", None)
        return batch

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """One transaction for the units of work this thread opens until it ends (group
        commit): each is a savepoint, so a failing one leaves the others intact, and
        the batch commits them all with one durable commit."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{WRITE: True})
            with connection.begin():
                batch = self._batches.batch = Batch(connection)
                try:
                    yield batch
                finally:
                    self._batches.batch = None
