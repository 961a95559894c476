"""``/health`` and ``/ready`` (issue 15, "Health, start and stop").

``/health``: the process answers. ``/ready``: the database answers, its schema is
at the migration head, and the background workers this process was configured to
run are alive; otherwise 503 with a TMF Error. Both are unauthenticated and say
nothing else: no version, no error text (that goes to the log).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from pss_ordering.bootstrap import build_app
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from pss_ordering.store import migrate
from pss_ordering.store.database import make_engine
from tests.conftest import ADMIN_URL, new_postgres_database
from tests.served import free_port

ERROR_KEYS = {"@type", "code", "reason", "message", "status", "requestId"}


def _not_ready(response: Any) -> None:
    assert response.status_code == 503
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert (body["code"], body["status"]) == ("NOT_READY", "503")
    assert body["message"] == "the service is not ready to take requests"  # nothing more
    assert body["requestId"] == response.headers["X-Request-ID"]


@pytest.fixture
def app_on(settings: Settings, clock: ManualClock) -> Iterator[Any]:
    """``app_on(engine)``: a test client of an application on that engine."""
    clients: list[TestClient] = []

    def make(engine: Engine, **changes: Any) -> TestClient:
        client = TestClient(build_app(settings.model_copy(update=changes), engine, clock))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_health_and_ready_answer_anyone_and_say_nothing_else(client: TestClient) -> None:
    health, ready = client.get("/health"), client.get("/ready")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def test_not_ready_when_the_schema_is_behind_the_head(tmp_path: Path, app_on: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0007")
    _not_ready(app_on(engine).get("/ready"))
    migrate.upgrade(engine)
    assert app_on(engine).get("/ready").status_code == 200


@pytest.mark.postgres
def test_not_ready_when_the_postgres_schema_is_behind_the_head(app_on: Any) -> None:
    with new_postgres_database() as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine, "0007")
            client = app_on(engine)
            _not_ready(client.get("/ready"))
            migrate.upgrade(engine)
            assert client.get("/ready").status_code == 200
        finally:
            engine.dispose()


def test_not_ready_when_the_sqlite_file_cannot_be_opened(tmp_path: Path, app_on: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'pss.db'}")
    _not_ready(app_on(engine).get("/ready"))


@pytest.mark.postgres
def test_not_ready_when_postgres_is_not_listening(app_on: Any) -> None:
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    client = app_on(engine)
    _not_ready(client.get("/ready"))
    assert client.get("/health").status_code == 200  # alive, not ready


@pytest.mark.postgres
def test_not_ready_once_the_database_is_dropped(app_on: Any) -> None:
    with new_postgres_database() as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        client = app_on(engine)
        assert client.get("/ready").status_code == 200
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        _not_ready(client.get("/ready"))
        engine.dispose()


@pytest.mark.parametrize("stopped", ["timers", "delivery"])
def test_not_ready_when_a_background_worker_stopped(
    engine: Engine, app_on: Any, stopped: str
) -> None:
    client = app_on(engine, run_workers=True)
    readiness = client.app.state.readiness
    assert set(readiness.watched) == {"timers", "delivery"}
    assert client.get("/ready").status_code == 200
    readiness.watched[stopped].stop()
    _not_ready(client.get("/ready"))
