"""The migrations produce exactly the schema the code declares, on both databases,
from an empty database as from an older revision, and keep the rows they find."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from pss_ordering.store import migrate
from pss_ordering.store.database import make_engine
from pss_ordering.store.schema import metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no tables at all, of its own for this test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = make_engine(url, sqlite_synchronous="OFF")
    yield engine
    engine.dispose()


def head() -> str:
    found = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert found is not None
    return found


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def snapshot(engine: Engine) -> dict[str, Any]:
    """Revision, tables with their columns and indexes, and the rows of every table."""
    found = inspect(engine)
    tables = sorted(found.get_table_names())
    with engine.connect() as conn:
        rows = {
            t: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{t}"')).all()), key=repr)
            for t in tables
        }
    return {
        "revision": revision(engine),
        "columns": {t: [c["name"] for c in found.get_columns(t)] for t in tables},
        "indexes": {t: sorted(i["name"] or "" for i in found.get_indexes(t)) for t in tables},
        "rows": rows,
    }


def test_migrated_schema_matches_metadata(engine: Engine) -> None:
    assert schema_diff(engine) == []


def test_an_empty_database_is_brought_to_head(empty_engine: Engine) -> None:
    assert inspect(empty_engine).get_table_names() == []
    migrate.upgrade(empty_engine)
    assert revision(empty_engine) == head()
    assert schema_diff(empty_engine) == []


def test_upgrading_a_database_at_head_changes_nothing(empty_engine: Engine) -> None:
    """A second ``serve`` start (or a second node) runs the upgrade again: nothing of the
    schema or the rows may change."""
    migrate.upgrade(empty_engine)
    _insert_order(empty_engine, "o-1", submitted=True)
    before = snapshot(empty_engine)
    assert before["rows"]["orders"], "the snapshot must hold a row to keep"
    migrate.upgrade(empty_engine)
    assert snapshot(empty_engine) == before


def test_items_stored_before_0007_get_their_orders_columns(empty_engine: Engine) -> None:
    """0007 copies each order's customer, creator, creation and submission onto its
    items (the provider's and the offering's lists read them there): an item stored
    by an older version must be listed like a new one."""
    migrate.upgrade(empty_engine, "0006")
    _insert_order(empty_engine, "o-old", submitted=True)
    _insert_order(empty_engine, "o-draft", submitted=False)
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        items = conn.execute(
            text(
                "SELECT order_id, customer_id, creator_id, creation_date, submitted_at "
                "FROM order_items ORDER BY order_id"
            )
        ).all()
    assert [tuple(row) for row in items] == [
        ("o-draft", "alice", "pss-x", "2026-11-01T10:00:00.000Z", None),
        ("o-old", "alice", "pss-x", "2026-11-01T10:00:00.000Z", "2026-11-01T10:00:01.000Z"),
    ]


def _insert_order(engine: Engine, order_id: str, *, submitted: bool) -> None:
    """An order and its one item, in the columns every revision since 0006 has."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orders (id, customer_id, creator_id, state, creation_date, "
                "version, item_providers, doc, meta, submitted_at) VALUES (:id, 'alice', "
                "'pss-x', 'acknowledged', '2026-11-01T10:00:00.000Z', 1, '{}', '{}', '{}', "
                ":submitted)"
            ),
            {"id": order_id, "submitted": "2026-11-01T10:00:01.000Z" if submitted else None},
        )
        conn.execute(
            text(
                "INSERT INTO order_items (order_id, item_id, provider_id, offering_id, state) "
                "VALUES (:id, '1', 'leo', 'leo-broadband', 'acknowledged')"
            ),
            {"id": order_id},
        )
