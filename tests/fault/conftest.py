"""What the fault tests share: the session's PostgreSQL database, migrated and emptied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from pss_ordering.store import migrate
from pss_ordering.store.database import make_engine
from pss_ordering.store.schema import metadata


@pytest.fixture
def database(postgres_url: str) -> Iterator[Engine]:
    """The session's PostgreSQL database, migrated and emptied."""
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))
    try:
        yield engine
    finally:
        engine.dispose()
