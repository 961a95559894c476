"""How pruning runs (issue 15): the background thread prunes and then gives SQLite's
space back, stops between batches when asked; on PostgreSQL one pruner at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from pss_ordering.cli.main import cli
from pss_ordering.clock import ManualClock
from pss_ordering.domain.retention import PruneReport, RetentionPolicy
from pss_ordering.service.retention import RetentionService, RetentionWorker
from pss_ordering.service.unit_of_work import Database
from pss_ordering.store import migrate
from pss_ordering.store.database import make_engine
from pss_ordering.store.retention import _PRUNER_LOCK
from tests.conftest import SECRET
from tests.operating import prune_report

DAY = timedelta(days=1)
POLICY = RetentionPolicy(
    events=DAY, delivery_attempts=DAY, received_events=DAY, response_deadlines=DAY
)


class Recording(RetentionService):
    """A retention service that records its runs (and may be told to stop mid-run)."""

    def __init__(self, engine: Engine, clock: ManualClock) -> None:
        super().__init__(Database(engine), clock, POLICY, batch=1)
        self.runs = threading.Semaphore(0)
        self.reclaimed = threading.Event()

    def prune(self, dry_run: bool = False, stop: Callable[[], bool] = lambda: False) -> PruneReport:
        report = super().prune(dry_run, stop)
        self.runs.release()
        return report

    def reclaim_space(self) -> int:
        pages = super().reclaim_space()
        self.reclaimed.set()
        return pages


def _received(engine: Engine, count: int) -> None:
    with engine.begin() as connection:
        for n in range(count):
            connection.execute(
                text(
                    "INSERT INTO received_events (sender_id, event_id, topic, received_at, body) "
                    "VALUES ('prov-a', :n, 'order', '2026-11-20T00:00:00.000Z', '{}')"
                ),
                {"n": f"evt-{n}"},
            )


def test_the_worker_prunes_every_interval_then_reclaims(engine: Engine, clock: ManualClock) -> None:
    _received(engine, 3)
    service = Recording(engine, clock)
    worker = RetentionWorker(service, timedelta(milliseconds=10))
    worker.start()
    try:
        assert service.runs.acquire(timeout=30) and service.runs.acquire(timeout=30)
        assert service.reclaimed.wait(30)
    finally:
        worker.stop()
    assert service.counts()["received_events"] == 0


def test_a_run_stops_between_batches_when_asked(engine: Engine, clock: ManualClock) -> None:
    _received(engine, 5)
    service = RetentionService(Database(engine), clock, POLICY, batch=1)
    report = service.prune(stop=lambda: service.counts()["received_events"] <= 3)
    assert report.interrupted and report.rows["received_events"] == 2
    assert service.counts()["received_events"] == 3


def test_without_an_interval_the_worker_does_not_run(engine: Engine, clock: ManualClock) -> None:
    service = Recording(engine, clock)
    worker = RetentionWorker(service, None)
    worker.start()
    worker.stop()
    assert not service.runs.acquire(blocking=False)


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Engine]:
    created = make_engine(postgres_url)
    migrate.upgrade(created)
    yield created
    created.dispose()


@pytest.mark.postgres
def test_postgresql_runs_one_pruner_at_a_time(postgres: Engine, clock: ManualClock) -> None:
    """Every process runs the background work on PostgreSQL: a run that finds another
    pruning (the advisory lock taken) stops at once and deletes nothing."""
    with postgres.begin() as connection:
        connection.execute(text("DELETE FROM received_events"))
    _received(postgres, 2)
    service = RetentionService(Database(postgres), clock, POLICY, batch=10)
    with postgres.connect() as other, other.begin():
        other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PRUNER_LOCK})
        report = service.prune()
    assert report.interrupted and report.total == 0
    assert service.counts()["received_events"] == 2
    assert service.prune().rows["received_events"] == 2


@pytest.mark.postgres
def test_prune_command_on_postgresql(postgres: Engine, postgres_url: str) -> None:
    """``prune --dry-run`` then ``prune`` against PostgreSQL (the records were received
    on 2026-11-20, days before the system clock's now)."""
    with postgres.begin() as connection:
        connection.execute(text("DELETE FROM received_events"))
    _received(postgres, 4)
    env = {
        "PSS_DATABASE_URL": postgres_url,
        "PSS_JWT_SECRET": SECRET,
        "PSS_RETENTION_RECEIVED_EVENTS": "P2D",
    }
    planned = CliRunner().invoke(cli, ["prune", "--dry-run"], env=env)
    assert planned.exit_code == 0, planned.output
    assert prune_report(planned.output)["received_events"] == ["4", "4"]
    done = CliRunner().invoke(cli, ["prune"], env=env)
    assert done.exit_code == 0, done.output
    assert prune_report(done.output)["received_events"] == ["4", "0"]
    assert "SQLite" not in done.output


@pytest.mark.postgres
def test_prune_command_stops_in_one_line_when_a_lock_is_held_too_long(
    postgres: Engine, postgres_url: str
) -> None:
    """A batch waits at most PostgreSQL's lock timeout (2 s) for a row someone holds."""
    with postgres.begin() as connection:
        connection.execute(text("DELETE FROM received_events"))
    _received(postgres, 1)
    env = {"PSS_DATABASE_URL": postgres_url, "PSS_JWT_SECRET": SECRET}
    env["PSS_RETENTION_RECEIVED_EVENTS"] = "P2D"
    with postgres.connect() as other, other.begin():
        other.execute(text("LOCK TABLE received_events IN ACCESS EXCLUSIVE MODE"))
        stopped = CliRunner().invoke(cli, ["prune"], env=env)
    assert stopped.exit_code == 1
    assert "lock timeout" in stopped.output and "run it again" in stopped.output
    assert "Traceback" not in stopped.output
