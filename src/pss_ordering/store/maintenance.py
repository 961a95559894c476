"""SQLite file maintenance: space given back after pruning, and online backups.

Space: a SQLite file never shrinks by itself; pages freed by deletes go to a free
list and are reused. With ``auto_vacuum=INCREMENTAL`` the free pages can be given
back in small steps (``PRAGMA incremental_vacuum(N)``, each a short write
transaction) instead of one ``VACUUM`` that rewrites the whole file while holding
the write lock. The mode can only be chosen before the file has tables, so every
connection asks for it first (``database.make_engine``): a new file takes it, an
existing one keeps its mode. An existing one without it is
converted once by :func:`convert_to_incremental` (a full ``VACUUM``: run it with
the service stopped, ``pss-ordering vacuum``).

Backup: SQLite's online backup API copies the database page by page. It is run as
one step: in WAL mode that reads one consistent snapshot and writers carry on
meanwhile (a backup in several steps restarts whenever another connection writes,
and under steady traffic might never finish).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine

INCREMENTAL = 2
#: Pages given back per step (4 MB with the default page size): one short write each.
RECLAIM_STEP = 1024


def auto_vacuum(engine: Engine) -> int:
    """0 (none), 1 (full) or 2 (incremental)."""
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA auto_vacuum").scalar_one())


def free_pages(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA freelist_count").scalar_one())


def reclaim(engine: Engine, step: int = RECLAIM_STEP) -> int:
    """Give free pages back to the file system, ``step`` pages per write transaction;
    returns how many. Does nothing unless the database uses incremental auto-vacuum."""
    if auto_vacuum(engine) != INCREMENTAL:
        return 0
    given = 0
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        while True:
            before = int(raw.execute("PRAGMA freelist_count").fetchone()[0])
            if not before:
                return given
            raw.execute(f"PRAGMA incremental_vacuum({int(step)})").fetchall()
            after = int(raw.execute("PRAGMA freelist_count").fetchone()[0])
            if after >= before:
                return given  # nothing moved (another writer holds pages): next run
            given += before - after


def convert_to_incremental(engine: Engine) -> None:
    """Once, for a database created without it: incremental auto-vacuum, by a full VACUUM
    (rewrites the file and holds the write lock meanwhile: stop the service first)."""
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA auto_vacuum = INCREMENTAL")
        raw.execute("VACUUM")


def backup(database: Path, target: Path) -> None:
    """Copy a live SQLite database to ``target`` (which must not exist) with the online
    backup API, in one step (one consistent snapshot; writers are not held up in WAL
    mode), then check the copy's integrity."""
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(database, timeout=30)  # only read from
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
            checked = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if checked != "ok":
                raise sqlite3.DatabaseError(f"the copy failed its integrity check: {checked}")
        finally:
            copy.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    partial.rename(target)
