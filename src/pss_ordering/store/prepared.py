"""Statements compiled once per dialect and run through the driver directly, and the
queue that sends a unit of work's writes to PostgreSQL together.

SQLAlchemy's per-execution work (cache key, parameter processing, events) costs
more than a primary-key read on SQLite; the hot statements use this instead.
They are still written with SQLAlchemy Core, so both dialects get correct SQL.

Writes whose result nobody reads (:meth:`Prepared.write`, :meth:`Prepared.many`)
run at once on SQLite, which is in-process. On PostgreSQL each statement would
be a round trip, so they are queued on the connection and sent in one pipeline
(psycopg pipeline mode) with whatever needs the server next: the next read
(:meth:`Prepared.rows`, which waits for its rows, and the queued writes before
it, in one round trip), any other statement (``store.database`` flushes the
queue before SQLAlchemy executes one) or the commit (one round trip for the
writes and the ``COMMIT``). The order of statements is the order they were
issued, so nothing reads around a queued write. A rollback, or a rollback to a
savepoint, drops what was queued and not sent (it was issued after the last
statement that went out, hence inside what is rolled back); an error in a queued
write surfaces at the round trip that sent it, which is inside the unit of work.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from operator import itemgetter
from types import TracebackType
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Table, bindparam, insert
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from .. import tracing

_Pick = Callable[[dict[str, Any]], tuple[Any, ...]]
_Entry = tuple[str, _Pick | None, dict[str, Any]]
# (sql, parameters, executemany) of writes not yet sent, per connection (PostgreSQL only).
_Queued = list[tuple[str, Any, bool]]
_QUEUES: weakref.WeakKeyDictionary[Connection, _Queued] = weakref.WeakKeyDictionary()
_BEGIN, _COMMIT = "BEGIN", "COMMIT"
_INERROR = 3  # psycopg.pq.TransactionStatus.INERROR: a statement of the transaction failed
MULTI_ROW_MAX = 16  # INSERTs of up to this many rows are one statement (PostgreSQL)


def _picker(names: tuple[str, ...]) -> _Pick:
    """The positional parameters (SQLite's ``?``) from the named ones, in order."""
    if len(names) > 1:
        return cast(_Pick, itemgetter(*names))
    if names:
        name = names[0]
        return lambda params: (params[name],)
    return lambda _params: ()


def insert_all(table: Table, generated: str | None = None) -> Prepared:
    """``INSERT INTO table (every column) VALUES (...)`` with one parameter per column.

    ``generated`` names a column the database fills in (an autoincrement key).
    """
    return InsertAll(table, tuple(c.name for c in table.columns if c.name != generated))


class Prepared:
    """A statement whose parameters are all ``bindparam``s, except those the dialect
    adds itself with a value (SQLite's ``OFFSET`` after a ``LIMIT``): those keep it."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[str, _Entry] = {}

    def _entry(self, dialect_name: str, connection: Connection) -> _Entry:
        entry = self._compiled.get(dialect_name)
        if entry is None:
            compiled = cast(SQLCompiler, self._statement.compile(dialect=connection.dialect))
            pick = _picker(tuple(compiled.positiontup or ())) if compiled.positional else None
            fixed = {k: v for k, v in compiled.params.items() if v is not None}
            entry = self._compiled[dialect_name] = (str(compiled), pick, fixed)
        return entry

    def _sql(self, connection: Connection, params: dict[str, Any]) -> tuple[str, Any]:
        sql, pick, fixed = self._entry(connection.dialect.name, connection)
        if fixed:
            params = {**fixed, **params}
        if pick is not None:
            return sql, pick(params)
        return sql, params

    def __call__(self, connection: Connection, **params: Any) -> CursorResult[Any]:
        """Through SQLAlchemy, for callers that want its result object (queued writes
        are sent first, see ``store.database``)."""
        return connection.exec_driver_sql(*self._sql(connection, params))

    def rows(self, connection: Connection, **params: Any) -> list[tuple[Any, ...]]:
        """Plain tuples straight from the driver cursor, in the statement's column order.

        The connection's transaction (if any) is the driver connection's, so this
        reads within the unit of work like any other statement; on PostgreSQL the
        writes queued before it go out in the same round trip.
        """
        sql, bound = self._sql(connection, params)
        with tracing.statement(connection.dialect.name, sql):
            if connection.dialect.name == "postgresql":
                return cast(list[tuple[Any, ...]], _send(connection, (sql, bound), want="rows"))
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, bound)
                return list(cursor.fetchall())
            finally:
                cursor.close()

    def rowcount(self, connection: Connection, **params: Any) -> int:
        """Execute now (with the queued writes before it) and say how many rows it changed."""
        sql, bound = self._sql(connection, params)
        with tracing.statement(connection.dialect.name, sql):
            if connection.dialect.name == "postgresql":
                return cast(int, _send(connection, (sql, bound), want="rowcount"))
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, bound)
                return int(cursor.rowcount)
            finally:
                cursor.close()

    def write(self, connection: Connection, **params: Any) -> None:
        """A write whose result nobody reads: now on SQLite, queued on PostgreSQL."""
        _write(connection, *self._sql(connection, params), many=False)

    def many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """A write once per parameter set (an INSERT of several rows), like :meth:`write`."""
        if rows:
            sql, _ = self._sql(connection, rows[0])
            _write(connection, sql, [self._sql(connection, r)[1] for r in rows], many=True)


class InsertAll(Prepared):
    """``INSERT`` of every column; several rows are one multi-row statement on PostgreSQL
    (one statement to parse, plan and execute instead of one per row)."""

    def __init__(self, table: Table, columns: tuple[str, ...]) -> None:
        super().__init__(insert(table).values({c: bindparam(c) for c in columns}))
        self._table = table
        self._columns = columns
        self._multi: dict[int, str] = {}

    def many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        if connection.dialect.name != "postgresql" or len(rows) > MULTI_ROW_MAX:
            super().many(connection, rows)
            return
        if len(rows) <= 1:
            if rows:
                self.write(connection, **rows[0])
            return
        sql = self._multi.get(len(rows))
        if sql is None:
            statement = insert(self._table).values(
                [{c: bindparam(f"{c}_{n}") for c in self._columns} for n in range(len(rows))]
            )
            sql = self._multi[len(rows)] = str(statement.compile(dialect=connection.dialect))
        params = {f"{c}_{n}": row[c] for n, row in enumerate(rows) for c in self._columns}
        _write(connection, sql, params, many=False)


def read_together(
    connection: Connection, reads: list[tuple[Prepared, dict[str, Any]]]
) -> list[list[tuple[Any, ...]]]:
    """Several reads (and the writes queued before them) in one round trip on PostgreSQL;
    one after the other on SQLite. Each read's rows, in order."""
    if connection.dialect.name != "postgresql" or len(reads) < 2:
        return [statement.rows(connection, **params) for statement, params in reads]
    queued = _QUEUES.pop(connection, None)
    raw: Any = connection.connection.driver_connection
    cursors = [raw.cursor() for _ in reads]
    try:
        with raw.pipeline(), raw.cursor() as writes:
            for sql, params, many in queued or ():
                if many:
                    writes.executemany(sql, params)
                else:
                    writes.execute(sql, params)
            for cursor, (statement, params) in zip(cursors, reads, strict=True):
                cursor.execute(*statement._sql(connection, params))
        return [cursor.fetchall() for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


def _write(connection: Connection, sql: str, params: Any, *, many: bool) -> None:
    if connection.dialect.name == "postgresql":
        queued = _QUEUES.get(connection)
        if queued is None:
            queued = _QUEUES[connection] = []
        queued.append((sql, params, many))
        return
    raw = connection.connection.driver_connection
    if many:
        raw.executemany(sql, params)  # type: ignore[union-attr]
    else:
        raw.execute(sql, () if params is None else params)  # type: ignore[union-attr]


class Savepoint:
    """A savepoint of the connection's transaction, sent through the driver.

    SQLAlchemy's ``begin_nested`` compiles its ``SAVEPOINT`` and ``RELEASE`` anew each
    time (~40 µs; SQLite's own savepoint costs ~1 µs), and group commit takes one per
    use case. On PostgreSQL the ``SAVEPOINT`` is queued like a write (rolling back a
    savepoint still in the queue just drops it and what followed), and the ``RELEASE``
    goes out with the writes before it: an error in one of them is raised inside the
    part it belongs to, which can still be rolled back alone, not in the next one.
    Used like SQLAlchemy's (``commit``, ``rollback``, ``is_active``, or as a context).
    """

    _names = itertools.count(1)

    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self._name = f"pss_{next(Savepoint._names)}"
        self.is_active = True
        self._marker: tuple[str, Any, bool] = (f"SAVEPOINT {self._name}", None, False)
        if connection.dialect.name == "postgresql":
            _QUEUES.setdefault(connection, []).append(self._marker)
        else:
            _write(connection, self._marker[0], None, many=False)

    def commit(self) -> None:
        if not self.is_active:
            return
        _write(self._db, f"RELEASE SAVEPOINT {self._name}", None, many=False)
        try:
            flush(self._db)
        except BaseException:
            self.rollback()  # what failed was inside: undo it, and raise here
            raise
        self.is_active = False

    def rollback(self) -> None:
        if not self.is_active:
            return
        self.is_active = False
        queued = _QUEUES.get(self._db)
        if queued is not None:
            for at in range(len(queued) - 1, -1, -1):
                if queued[at] is self._marker:  # never sent: forget it and what followed
                    del queued[at:]
                    return
            queued.clear()  # all of it was issued after the savepoint was sent
        name = self._name
        _write(self._db, f"ROLLBACK TO SAVEPOINT {name}", None, many=False)
        _write(self._db, f"RELEASE SAVEPOINT {name}", None, many=False)

    def __enter__(self) -> Savepoint:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


def has_queued(connection: Connection) -> bool:
    return connection in _QUEUES


def begin(connection: Connection) -> None:
    """PostgreSQL: the transaction's ``BEGIN``, queued to travel with its first statement
    (the driver runs in autocommit mode, so it sends no ``BEGIN`` of its own)."""
    _QUEUES[connection] = [(_BEGIN, None, False)]


def flush(connection: Connection, *, commit: bool = False) -> None:
    """Send the queued writes (and, with ``commit``, the ``COMMIT``) in one round trip.

    A transaction that never sent anything (its queue is its ``BEGIN``) has nothing
    to commit: its queue is dropped instead.
    """
    queued = _QUEUES.get(connection)
    if queued is None:
        return
    if commit and len(queued) == 1 and queued[0][0] is _BEGIN:
        del _QUEUES[connection]
        return
    if commit:
        try:
            status = _send(connection, (_COMMIT, None), want="status")
        except BaseException:
            _roll_back(connection)
            raise
        if status != _COMMIT:
            raise NotCommitted("the transaction had failed: PostgreSQL rolled it back")
        return
    _send(connection, None, want=None)


def _roll_back(connection: Connection) -> None:
    """End a transaction whose commit failed, at the driver: SQLAlchemy counts a failed
    commit as ended and would hand the connection back to the pool still inside it."""
    discard(connection)
    connection.connection.driver_connection.rollback()  # type: ignore[union-attr]


class NotCommitted(Exception):
    """A ``COMMIT`` that PostgreSQL answered with ``ROLLBACK``: an earlier statement of the
    transaction failed (and whoever saw the error went on). Nothing was written."""


def check_committable(connection: Connection) -> None:
    """Before a ``COMMIT`` with nothing queued: refuse one the server would turn into a
    ``ROLLBACK`` (the transaction failed earlier) rather than report a commit."""
    raw: Any = connection.connection.driver_connection
    if raw.pgconn.transaction_status == _INERROR:
        raw.rollback()
        raise NotCommitted("the transaction had failed: it is rolled back, not committed")


def discard(connection: Connection) -> None:
    """Forget the queued writes: what they would have written is being rolled back."""
    _QUEUES.pop(connection, None)


def _send(connection: Connection, statement: tuple[str, Any] | None, *, want: str | None) -> Any:
    """PostgreSQL: the queued writes, then ``statement``, in one pipeline (one round trip)."""
    queued = _QUEUES.pop(connection, None)
    raw: Any = connection.connection.driver_connection
    with raw.cursor() as cursor:
        if queued is None:
            assert statement is not None
            cursor.execute(*statement)
        else:
            with raw.pipeline():
                for sql, params, many in queued:
                    if many:
                        cursor.executemany(sql, params)
                    else:
                        cursor.execute(sql, params)
                if statement is not None:
                    cursor.execute(*statement)
        if want == "rows":
            return cursor.fetchall()
        if want == "rowcount":
            return cursor.rowcount
        if want == "status":
            return cursor.statusmessage
        return None
