"""SQLite gives pruned space back (issue 15): new databases use incremental auto-vacuum,
pruning is followed by ``incremental_vacuum`` steps, and an older database is converted
once by ``pss-ordering vacuum``. Also the ``prune`` command's report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from starlette.testclient import TestClient

from pss_ordering.cli.main import cli
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from pss_ordering.store import maintenance, migrate
from pss_ordering.store.database import make_engine
from tests.conftest import SECRET, Auth
from tests.operating import prune_report
from tests.world import ORDERS, World, order_body

ROUND = 40


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file of this test's own, created by the migrations as ``serve`` does."""
    created = make_engine(f"sqlite:///{tmp_path / 'pss.db'}", sqlite_synchronous="OFF")
    migrate.upgrade(created)
    yield created
    created.dispose()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "retention_events": timedelta(days=1),
            "retention_response_deadlines": timedelta(days=1),
        }
    )


def _pages(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())


def test_a_new_database_uses_incremental_auto_vacuum(engine: Engine) -> None:
    assert maintenance.auto_vacuum(engine) == maintenance.INCREMENTAL


def test_pruned_pages_go_back_and_the_file_levels_off(
    world: World, client: TestClient, auth: Auth, clock: ManualClock, engine: Engine
) -> None:
    """Rounds of orders that governance deletes and whose events the policy then prunes:
    each round's free pages are given back, so the file ends no bigger than after the
    first round instead of growing by a round each time."""
    retention = client.app.state.services.retention  # type: ignore[attr-defined]
    dave = auth("dave")
    sizes = []
    for _ in range(4):
        for _ in range(ROUND):
            order = world.create(dave, order_body("off-a", "off-b"))
            deleted = client.delete(f"{ORDERS}/{order['id']}", headers=world.gov)
            assert deleted.status_code == 204
        clock.advance(timedelta(days=1, seconds=1))
        assert retention.prune().rows["events"] == 2 * ROUND  # creation and deletion
        freed = maintenance.free_pages(engine)
        assert freed > 0
        assert retention.reclaim_space() == freed
        assert maintenance.free_pages(engine) == 0
        sizes.append(_pages(engine))
    assert sizes[-1] <= sizes[0], sizes


def test_an_older_database_is_converted_once_by_the_vacuum_command(
    engine: Engine, tmp_path: Path
) -> None:
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA auto_vacuum = NONE")
        raw.execute("VACUUM")
    assert maintenance.auto_vacuum(engine) == 0
    env = {"PSS_DATABASE_URL": str(engine.url), "PSS_JWT_SECRET": SECRET}
    hinted = CliRunner().invoke(cli, ["prune", "--dry-run"], env=env)
    assert hinted.exit_code == 0, hinted.output
    assert "pss-ordering vacuum" in hinted.output
    converted = CliRunner().invoke(cli, ["vacuum"], env=env)
    assert converted.exit_code == 0, converted.output
    reopened = make_engine(str(engine.url))
    assert maintenance.auto_vacuum(reopened) == maintenance.INCREMENTAL
    reopened.dispose()
    assert "vacuum" not in CliRunner().invoke(cli, ["prune"], env=env).output


def test_prune_command_prints_per_table_what_it_would_delete_then_deletes(
    world: World, auth: Auth, engine: Engine
) -> None:
    """The orders were made at the test clock's start, days before the system clock now."""
    for _ in range(3):
        world.create(auth("dave"), order_body("off-a"))
    env = {
        "PSS_DATABASE_URL": str(engine.url),
        "PSS_JWT_SECRET": SECRET,
        "PSS_RETENTION_EVENTS": "P1D",
    }
    planned = CliRunner().invoke(cli, ["prune", "--dry-run"], env=env)
    assert planned.exit_code == 0, planned.output
    lines = prune_report(planned.output)
    assert lines["table"][:2] == ["would", "delete"]
    assert lines["events"] == ["3", "3"]
    done = CliRunner().invoke(cli, ["prune"], env=env)
    assert done.exit_code == 0, done.output
    lines = prune_report(done.output)
    assert lines["table"][0] == "deleted"
    assert lines["events"] == ["3", "0"]
