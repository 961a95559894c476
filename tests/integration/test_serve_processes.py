"""``serve --workers N`` (issue 10): how many API processes, and where the background
work runs on SQLite.

On SQLite one process at a time runs the timers and the delivery worker: the one
holding the lock on ``<database>.workers.lock``. When it dies another takes over, so
deadlines still fire and events still go out. (PostgreSQL runs them in every process;
see ``test_two_nodes.py`` and ``tests/fault/test_api_process_kill.py``.)
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from pss_ordering.bootstrap import serve_processes
from pss_ordering.cli.main import cli
from pss_ordering.config import Settings
from tests.receiver import Receiver
from tests.served import Served, serve
from tests.world import OFFERINGS, ORDERS, PARTIES, order_body, provider_ref

HUB = "/psi-api/event/v2/topic"
RUNS = re.compile(r"process (\d+) runs the timers and event delivery")
WAIT_SECONDS = 30.0


def test_default_process_count_is_one_on_sqlite_and_the_cores_on_postgresql() -> None:
    sqlite = Settings(database_url="sqlite:///x.db")
    postgres = Settings(database_url="postgresql://db.example/pss")
    assert serve_processes(sqlite) == 1
    assert serve_processes(postgres) == (os.cpu_count() or 1)
    assert serve_processes(sqlite.model_copy(update={"workers": 3})) == 3, "PSS_WORKERS"
    assert serve_processes(postgres.model_copy(update={"workers": 3}), 2) == 2, "--workers"


def test_an_in_memory_database_is_refused_with_several_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PSS_DATABASE_URL", "sqlite:///:memory:")
    result = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code != 0
    assert "in-memory SQLite database lives in one process" in result.output


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _designated(served: Served, after: int = 0) -> list[int]:
    """PIDs that said they run the background work, in order (from the ``after``-th on)."""
    return [int(pid) for pid in RUNS.findall(served.log.read_text())][after:]


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sqlite_runs_the_background_work_in_one_process_and_another_takes_over(
    tmp_path: Path, receiver: Receiver
) -> None:
    env = {
        "PSS_RUN_WORKERS": "true",
        "PSS_CALLBACK_ALLOWED_HOSTS": receiver.host,
        "PSS_TIMER_POLL_SECONDS": "0.1",
        "PSS_DELIVERY_LEASE_SECONDS": "3",
        "PSS_DELIVERY_TIMEOUT_SECONDS": "1",
    }
    with serve(tmp_path, env, args=("--workers", "2"), processes=2) as served:
        processes = served.api_processes()
        assert len(processes) == 2
        _wait(lambda: _designated(served), "a process to run the background work")
        _wait(lambda: "standing by" in served.log.read_text(), "the other to stand by")
        [first] = _designated(served)
        assert first in processes

        gov = {"Authorization": f"Bearer {served.token('gov', 'governance')}"}
        provider = {"Authorization": f"Bearer {served.token('prov-a', 'provider')}"}
        customer = {"Authorization": f"Bearer {served.token('dave')}"}
        with httpx.Client(base_url=served.url(""), timeout=10) as client:
            body = {"id": "prov-a", "name": "A"}
            _ok(client.post(f"{PARTIES}/organization", json=body, headers=gov), 201)
            offering = {
                "id": "off-a",
                "name": "off-a",
                "lifecycleStatus": "active",
                "relatedParty": [provider_ref("prov-a")],
            }
            _ok(client.post(OFFERINGS, json=offering, headers=provider), 201)
            callback = {"callback": receiver.url("/dave")}
            hub = _ok(client.post(f"{HUB}/order/hub", json=callback, headers=customer), 201)
            _ok(client.post(ORDERS, json=order_body("off-a"), headers=customer), 201)
            # Recorded as delivered, not only received: a kill between the two would
            # rightly send it again (at least once), which is not what this test is about.
            health = f"{HUB}/order/hub/{hub['id']}"
            _wait(
                lambda: _ok(client.get(health, headers=customer))["deliveredCount"] == 1,
                "the first delivery, acknowledged",
            )

        # The designated process dies; the other (or its replacement) takes over.
        os.kill(first, signal.SIGKILL)
        _wait(lambda: _designated(served, after=1), "another process to take over")
        [second] = _designated(served, after=1)
        assert second != first

        with httpx.Client(base_url=served.url(""), timeout=10) as client:
            characteristic = {"partyCharacteristic": [{"name": "responseTime", "value": "PT1S"}]}
            _ok(client.patch(f"{PARTIES}/organization/prov-a", json=characteristic, headers=gov))
            order = _ok(client.post(ORDERS, json=order_body("off-a"), headers=customer), 201)
            url = f"{ORDERS}/{order['id']}"
            _wait(
                lambda: "productOrderJeopardyAlert" in _ok(client.get(url, headers=customer)),
                "the deadline to fire",
            )
            _wait(lambda: len(receiver.delivered("/dave")) == 3, "creation and breach events")
            [alert] = _ok(client.get(url, headers=customer))["productOrderJeopardyAlert"]
            assert alert["jeopardyType"] == "responseTimeExceeded"
        types = [e["eventType"] for e in receiver.delivered("/dave")]
        assert types == [
            "orderCreationNotification",
            "orderCreationNotification",
            "orderValueChangeNotification",
        ]
        assert len({r.event_id for r in receiver.on("/dave")}) == 3, "each once"
