"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), clients, tokens.

PostgreSQL tests never skip silently in CI: with ``CI=true`` an unreachable
server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from pss_ordering.api.auth import mint_token
from pss_ordering.bootstrap import build_app
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from pss_ordering.store import migrate
from pss_ordering.store.database import make_engine
from pss_ordering.store.schema import metadata

pytest_plugins = ["tests.world", "tests.receiver", "tests.delivery"]

SECRET = "test-secret-which-is-long-enough-for-hs256"
BASE_URL = "http://pss.test"
ADMIN_URL = os.environ.get("PSS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _postgres_available() -> bool:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def new_postgres_database() -> Iterator[str]:
    """A database of its own on the server, dropped afterwards; fails in CI when the
    server is unreachable, skips elsewhere."""
    if not _postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is unreachable at {ADMIN_URL} and CI=true")
        pytest.skip("PostgreSQL is not reachable (tests run against it in CI)")
    name = f"pss_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One database for the session's in-process tests (emptied before each)."""
    with new_postgres_database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A database for one test alone, e.g. for service processes it starts."""
    with new_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def _engines() -> Iterator[dict[str, Engine]]:
    engines: dict[str, Engine] = {}
    yield engines
    for created in engines.values():
        created.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest,
    _engines: dict[str, Engine],
    tmp_path_factory: pytest.TempPathFactory,
) -> Engine:
    """A migrated database, emptied before each test (one per backend per session)."""
    backend = request.param
    if backend not in _engines:
        if backend == "sqlite":
            path: Path = tmp_path_factory.mktemp("db") / "pss.db"
            url = f"sqlite:///{path}"
        else:
            url = request.getfixturevalue("postgres_url")
        created = make_engine(url, sqlite_synchronous="OFF")
        migrate.upgrade(created)
        _engines[backend] = created
    db = _engines[backend]
    with db.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))
    return db


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings() -> Settings:
    return Settings(
        jwt_secret=SECRET,
        base_url=BASE_URL,
        max_body_bytes=64_000,
        default_page_limit=20,
        max_page_limit=100,
        run_workers=False,
        callback_allowed_hosts=["127.0.0.1:9999", "receiver.test:443"],
    )


@pytest.fixture
def client(engine: Engine, settings: Settings, clock: ManualClock) -> Iterator[TestClient]:
    with TestClient(build_app(settings, engine, clock), raise_server_exceptions=True) as c:
        yield c


Auth = Callable[..., dict[str, str]]


@pytest.fixture
def auth() -> Auth:
    """``auth("alice", "customer")`` -> headers with a bearer token for that party."""

    def headers(party: str, *roles: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + mint_token(SECRET, party, roles or ("customer",))}

    return headers
