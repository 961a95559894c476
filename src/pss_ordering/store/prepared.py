"""Statements compiled once per dialect and run through the driver directly.

SQLAlchemy's per-execution work (cache key, parameter processing) costs more
than a primary-key read on SQLite; the hot reads use this instead. Statements
are still written with SQLAlchemy Core, so both dialects get correct SQL.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Table, bindparam, insert
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


def insert_all(table: Table, generated: str | None = None) -> Prepared:
    """``INSERT INTO table (every column) VALUES (...)`` with one parameter per column.

    ``generated`` names a column the database fills in (an autoincrement key).
    """
    return Prepared(
        insert(table).values(
            {c.name: bindparam(c.name) for c in table.columns if c.name != generated}
        )
    )


class Prepared:
    """A statement whose parameters are all ``bindparam``s, except those the dialect
    adds itself with a value (SQLite's ``OFFSET`` after a ``LIMIT``): those keep it."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _sql(self, connection: Connection, params: dict[str, Any]) -> tuple[str, Any]:
        dialect = connection.dialect
        entry = self._compiled.get(dialect.name)
        if entry is None:
            compiled = cast(SQLCompiler, self._statement.compile(dialect=dialect))
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            fixed = {k: v for k, v in compiled.params.items() if v is not None}
            entry = (str(compiled), order, fixed)
            self._compiled[dialect.name] = entry
        sql, order, fixed = entry
        if fixed:
            params = {**fixed, **params}
        if order is not None:
            return sql, tuple(params[name] for name in order)
        return sql, params

    def __call__(self, connection: Connection, **params: Any) -> CursorResult[Any]:
        return connection.exec_driver_sql(*self._sql(connection, params))

    def many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Execute once per parameter set (an INSERT of several rows)."""
        if rows:
            sql, _ = self._sql(connection, rows[0])
            connection.exec_driver_sql(sql, [self._sql(connection, r)[1] for r in rows])

    def rows(self, connection: Connection, **params: Any) -> list[tuple[Any, ...]]:
        """Plain tuples straight from the driver cursor, in the statement's column order.

        The connection's transaction (if any) is the driver connection's, so this
        reads within the unit of work like any other statement.
        """
        sql, bound = self._sql(connection, params)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, bound)
            return list(cursor.fetchall())
        finally:
            cursor.close()
