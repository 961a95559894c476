"""Engine creation, and the one place that decides which database this is.

Code outside the store never compares dialect names: it asks the database's
:class:`Backend` what it can do (one writer at a time, reads without a round
trip, space to give back, how workers are woken). Within the store, statements
differ per dialect only where their SQL does.

SQLite runs in WAL mode with foreign keys on, and write transactions begin
with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of
failing when a read lock would have to be upgraded. Reads run in autocommit:
each statement sees a consistent WAL snapshot. A connection that writes gets a
64 MB page cache, and the pool hands out the connection returned last, so the
writer's index pages stay cached from batch to batch.

PostgreSQL: the driver runs in autocommit mode; each transaction's ``BEGIN`` and
its writes are queued by ``store.prepared``, sent before any statement SQLAlchemy
executes or together with the commit, and dropped by a rollback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from . import prepared
from .wakeup import PostgresListener, SqliteDataVersion, Wakeup

WRITE = "pss_write"
WRITER_CACHE_KIB = 64 * 1024  # SQLite page cache of a connection that has written


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def shown_url(url: str) -> str:
    """The database as an operator should see it: the password masked, a SQLite file
    by its absolute path (so a command run from another directory says so)."""
    parsed = make_url(normalise_url(url))
    database = parsed.database or ""
    if (
        parsed.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
    ):
        return f"sqlite:///{Path(database).resolve()}"
    return parsed.render_as_string(hide_password=True)


def unreachable(url: str, error: BaseException) -> str:
    """One line on why the database could not be opened, and what to do about it."""
    detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "postgresql" and (
        f'database "{parsed.database}" does not exist' in detail
    ):
        options = " ".join(
            f"{flag} {value}"
            for flag, value in (("-h", parsed.host), ("-p", parsed.port), ("-U", parsed.username))
            if value
        )
        return (
            f"PostgreSQL database '{parsed.database}' does not exist "
            f"({shown_url(url)}): create it (createdb {options} {parsed.database}) "
            "and start again"
        )
    return f"cannot open the database {shown_url(url)}: {detail}"


class Backend:
    """What the code outside the store may ask about the database, decided from its engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        sqlite = engine.dialect.name == "sqlite"
        host = engine.url.host or ""
        #: Writes take one lock for the whole database (SQLite): one writer thread
        #: batches them (group commit), and every writer in the process shares it.
        self.single_writer = sqlite
        #: The database runs in this process (SQLite): a read costs no round trip, and
        #: a thread keeps one connection for its reads.
        self.in_process = sqlite
        #: A round trip costs less than handing a read to a thread: the database is in
        #: this process, or its server on this machine (loopback or a Unix socket).
        self.nearby = (
            sqlite or host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")
        )
        #: Pruned pages stay in the file until this process gives them back (SQLite's
        #: incremental vacuum); PostgreSQL's autovacuum does that itself.
        self.gives_back_space = sqlite

    def wakeups(self) -> Wakeup:
        """What wakes delivery workers when deliveries commit (``store/wakeup.py``)."""
        if self.in_process:
            return SqliteDataVersion(self._engine)
        return PostgresListener(self._engine)


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 20) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=0,
            pool_use_lifo=True,  # the last connection back is warm: its page cache
        )
        _configure_sqlite(engine, sqlite_synchronous)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=10, pool_recycle=1800)
    _configure_postgresql(engine)
    return engine


def _configure_postgresql(engine: Engine) -> None:
    """Round trips: the driver runs in autocommit mode and each transaction's ``BEGIN`` is
    queued (``store.prepared``) to travel with its first statement; queued writes go
    out before anything that could see around them, and with the ``COMMIT`` in one
    round trip; a rollback drops them."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.autocommit = True

    @event.listens_for(engine, "begin")
    def _queue_begin(connection: Connection) -> None:
        prepared.begin(connection)

    @event.listens_for(engine, "before_cursor_execute")
    def _send_queued_first(
        connection: Connection, _cursor: Any, _sql: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        if prepared.has_queued(connection):
            prepared.flush(connection)

    @event.listens_for(engine, "commit")
    def _send_with_commit(connection: Connection) -> None:
        # Commits here, in the pipeline; SQLAlchemy's own COMMIT then finds no
        # transaction and psycopg sends nothing.
        if prepared.has_queued(connection):
            prepared.flush(connection, commit=True)
        else:
            prepared.check_committable(connection)

    @event.listens_for(engine, "rollback")
    def _drop_queued(connection: Connection) -> None:
        prepared.discard(connection)

    @event.listens_for(engine, "rollback_savepoint")
    def _drop_queued_in_savepoint(connection: Connection, _name: str, _ctx: Any) -> None:
        prepared.discard(connection)


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Before WAL mode writes the header of a new file: only an empty file takes it
        # (store/maintenance.py). Asked of a file in use it changes nothing but waits
        # for the write lock, which a connection opened inside a write (a read during
        # a batch) would then wait for until its busy timeout: so only on a new file.
        if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writers take the write lock up front; readers run each statement on its
        # own snapshot (WAL), which costs nothing and never blocks a writer.
        if connection.get_execution_options().get(WRITE, False):
            info = connection.connection.info
            if not info.get("writer_cache"):
                # A create touches ~30 index pages of the big tables; with SQLite's
                # default 2 MB cache most were re-read at every batch (the order
                # INSERT took 240 µs instead of 100 on 20k orders).
                connection.exec_driver_sql(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
                info["writer_cache"] = True
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def insert_if_absent(connection: Connection, table: Table, values: dict[str, Any]) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``: whether the row was inserted.

    Concurrent creators of one key (PostgreSQL) then wait for each other instead of
    failing on the unique constraint, and the losers learn that the row exists.
    """
    if connection.dialect.name == "postgresql":
        statement: Any = postgresql.insert(table).values(values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing()
    result = connection.execute(statement.execution_options(preserve_rowcount=True))
    return bool(result.rowcount == 1)
