"""Backups (issue 15): ``pss-ordering backup PATH`` copies a SQLite database that is being
written to, consistently, and the copy restores; PostgreSQL is refused with the pg_dump
way, and a pg_dump restores into a fresh database that the service reads.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from starlette.testclient import TestClient

from pss_ordering.api.auth import mint_token
from pss_ordering.bootstrap import build_app
from pss_ordering.cli.main import cli
from pss_ordering.config import Settings
from pss_ordering.store import migrate
from pss_ordering.store.database import make_engine
from tests.conftest import SECRET, new_postgres_database
from tests.operating import OrderFlow, open_market
from tests.served import serve
from tests.world import OFFERINGS, ORDERS, PARTIES, World, order_body, provider_ref

PG_BIN = Path("/usr/bin")


def _orders_read_back(url: str, ids: list[str]) -> None:
    """The service, on the restored database, serves every order it holds and lists them all."""
    engine = make_engine(url)
    try:
        settings = Settings(database_url=url, jwt_secret=SECRET, run_workers=False)
        with TestClient(build_app(settings, engine)) as client:
            gov = _auth("gov", "governance")
            listed = client.get(ORDERS, params={"limit": 1000}, headers=gov)
            assert listed.status_code == 200, listed.text
            assert {o["id"] for o in listed.json()} == set(ids)
            for order_id in ids:
                response = client.get(f"{ORDERS}/{order_id}", headers=gov)
                assert response.status_code == 200, response.text
    finally:
        engine.dispose()


def _token(party: str, *roles: str) -> str:
    return mint_token(SECRET, party, roles or ("customer",))


def _auth(party: str, *roles: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + _token(party, *roles)}


def test_sqlite_backup_while_orders_are_written_then_restore(tmp_path: Path) -> None:
    """The copy is taken while a client keeps creating orders: it holds every order
    acknowledged before the backup began, each whole (its items and events, foreign keys
    intact), and a service started on it serves them."""
    database = tmp_path / "live.db"
    copy = tmp_path / "backup.db"
    env = {"PSS_DATABASE_URL": f"sqlite:///{database}"}
    with serve(tmp_path, env) as served:
        open_market(served)
        with OrderFlow(served) as flow:
            before = flow.wait_for(20)
            result = CliRunner().invoke(cli, ["backup", str(copy)], env=env)
            assert result.exit_code == 0, result.output
            flow.wait_for(len(before) + 20)  # writes carried on during and after the copy
        assert "backed up" in result.output
        refused = CliRunner().invoke(cli, ["backup", str(copy)], env=env)
        assert refused.exit_code != 0 and "exists" in refused.output

    with sqlite3.connect(copy) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert check.execute("PRAGMA foreign_key_check").fetchall() == []
        held = [row[0] for row in check.execute("SELECT id FROM orders")]
        items = check.execute("SELECT count(*) FROM order_items").fetchone()[0]
        events = check.execute("SELECT count(DISTINCT order_id) FROM events").fetchone()[0]
    assert set(before) <= set(held)
    assert items == events == len(held), "each order with its item and its creation event"

    # Restore (README): with the service stopped, the copy replaces the database file.
    restored = tmp_path / "restored.db"
    shutil.copyfile(copy, restored)
    _orders_read_back(f"sqlite:///{restored}", held)


def test_backup_refuses_postgresql_with_the_pg_dump_way() -> None:
    env = {"PSS_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/nowhere"}
    result = CliRunner().invoke(cli, ["backup", "out.db"], env=env)
    assert result.exit_code != 0
    assert "pg_dump" in result.output


@pytest.mark.postgres
@pytest.mark.parametrize("form", ["custom", pytest.param("plain", marks=pytest.mark.slow)])
def test_postgresql_dump_restores_into_a_fresh_database(
    fresh_postgres_url: str, tmp_path: Path, form: str
) -> None:
    """README's way: ``pg_dump --format=custom`` then ``pg_restore``, or a plain dump fed
    to ``psql``; the service started on the restored database reads the orders."""
    engine = make_engine(fresh_postgres_url)
    migrate.upgrade(engine)
    settings = Settings(database_url=fresh_postgres_url, jwt_secret=SECRET, run_workers=False)
    with TestClient(build_app(settings, engine)) as client:
        world = World(client, _auth)
        _register_market(client, world)
        ids = [world.create(world.auth("dave"), order_body("off-a"))["id"] for _ in range(3)]
    engine.dispose()
    dump = tmp_path / "pss.dump"
    plain = form == "plain"
    subprocess.run(
        [
            str(PG_BIN / "pg_dump"),
            f"--format={form}",
            f"--file={dump}",
            "--no-owner",
            fresh_postgres_url,
        ],
        check=True,
    )
    with new_postgres_database() as target:
        if plain:
            restore = [
                str(PG_BIN / "psql"),
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                f"--file={dump}",
                target,
            ]
        else:
            restore = [str(PG_BIN / "pg_restore"), "--no-owner", f"--dbname={target}", str(dump)]
        subprocess.run(restore, check=True, capture_output=True)
        restored = make_engine(target)
        with restored.connect() as connection:
            head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        restored.dispose()
        assert head, "the restored database is at the schema it was dumped with"
        _orders_read_back(target, ids)


def _register_market(client: TestClient, world: World) -> None:
    response = client.post(
        f"{PARTIES}/organization", json={"id": "prov-a", "name": "A"}, headers=world.gov
    )
    assert response.status_code == 201, response.text
    offering = {
        "id": "off-a",
        "name": "off-a",
        "lifecycleStatus": "active",
        "relatedParty": [provider_ref("prov-a")],
    }
    provider = world.auth("prov-a", "provider")
    assert client.post(OFFERINGS, json=offering, headers=provider).status_code == 201
