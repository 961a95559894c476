"""The first hour over a real ``serve`` (issue 15): it says where it listens, on what
database and with which workers; with no ``PSS_BASE_URL`` the hrefs it returns name
the port it listens on; a restarted ``--demo`` says it loaded nothing new; and a token
signed with another secret gets a 401 that hints at the mismatch in development only.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from pss_ordering.api.auth import mint_token
from pss_ordering.bootstrap import build_app
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from pss_ordering.signing_secret import development_secret
from tests.served import serve

OFFERINGS = "/psi-api/productCatalogManagement/v2/productOffering"


def test_serve_says_where_it_listens_and_derives_hrefs_from_its_port(tmp_path: Path) -> None:
    database = tmp_path / "first.db"
    env = {"PSS_DATABASE_URL": f"sqlite:///{database}", "PSS_BASE_URL": ""}
    with serve(tmp_path, env=env, args=("--demo",)) as served:
        request = urllib.request.Request(
            served.url(OFFERINGS),
            headers={"Authorization": "Bearer " + served.token("alice", "customer")},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            offerings = json.loads(answer.read())
        log = served.log.read_text()
    base = f"http://127.0.0.1:{served.port}"
    assert offerings and all(o["href"].startswith(base + OFFERINGS) for o in offerings)
    assert f"serving on {base} with 1 process" in log
    assert f"hrefs and events name {base} (derived: PSS_BASE_URL is unset)" in log
    assert f"database sqlite:///{database}" in log
    assert "tokens verified with PSS_JWT_SECRET" in log
    assert "background workers (timers, event delivery) not run (PSS_RUN_WORKERS=false" in log
    assert "created 3 organization, 1 individual, 2 productOffering" in log
    with serve(tmp_path, env=env, args=("--demo",)) as again:
        log = again.log.read_text()
    assert "nothing new (6 entries already present)" in log
    assert "{'organization'" not in log


def test_serve_masks_the_database_password(tmp_path: Path, fresh_postgres_url: str) -> None:
    with_password = fresh_postgres_url.replace("://postgres@", "://postgres:hunter2-pw@")
    env = {"PSS_DATABASE_URL": with_password, "PSS_WORKERS": "1"}
    with serve(tmp_path, env=env) as served:
        log = served.log.read_text()
    assert "hunter2-pw" not in log
    assert "database postgresql+psycopg://postgres:***@" in log


@pytest.mark.parametrize("configured", [False, True])
def test_a_bad_signature_hints_at_a_secret_mismatch_in_development_only(
    engine: Engine,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    configured: bool,
) -> None:
    monkeypatch.chdir(tmp_path)
    secret = "a-configured-secret-which-is-long-enough" if configured else None
    settings = Settings(jwt_secret=secret, run_workers=False, base_url="http://pss.test")
    if not configured:
        development_secret(settings, create=True)  # what serve does
    other = mint_token("minted-with-another-secret-long-enough!!", "alice", ("customer",))
    with TestClient(build_app(settings, engine, clock)) as client:
        answer = client.get(OFFERINGS, headers={"Authorization": f"Bearer {other}"})
    assert answer.status_code == 401
    message = answer.json()["message"]
    assert message.startswith("invalid token: Signature verification failed")
    if configured:
        assert message == "invalid token: Signature verification failed"
    else:
        assert "development mode" in message and "pss-ordering token" in message
