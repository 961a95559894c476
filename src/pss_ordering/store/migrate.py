"""Bring a database to the latest schema through Alembic (never ``create_all``).

On PostgreSQL an advisory lock serialises processes that start together, and a
lock timeout keeps a migration from queueing forever behind live traffic.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from .database import WRITE

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x7055_0622


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL lock_timeout = '10s'"))
                connection.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)


def head() -> str:
    """The newest revision this code knows (read from the migration scripts, once)."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None
    return found


def at_head(engine: Engine, expected: str) -> bool:
    """Whether the database answers and its schema is at ``expected`` (one small read;
    raises the driver's error when the database cannot be reached)."""
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        return list(versions) == [expected]
