"""Delivery and deadlines survive ``kill -9`` of API processes: ``serve --workers 2`` on
PostgreSQL, one of its processes killed at random (issue 10).

As ``test_delivery_kill.py``, but the deliveries are sent by the API processes of one
``pss-ordering serve --workers 2`` (every process runs the delivery worker and the
timers) instead of ``pss-ordering worker`` processes. Ten customers' callbacks receive
5,000 order events committed meanwhile through the service layer, and every order's
provider has a two-second response time, so a thousand deadlines fall due while the
processes are being killed. A killer SIGKILLs one API process after every 50-300
requests the receiver got; uvicorn's supervisor starts a replacement.

Afterwards every event was received by its callback, in commit order (the only
duplicates are immediate re-sends of an event in flight at a kill), every deadline
fired exactly once (one alarm per order, no timer left), and ``serve`` still answers.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from datetime import timedelta
from itertools import groupby
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from pss_ordering.bootstrap import build_services
from pss_ordering.config import Settings
from tests.fault.test_delivery_kill import (
    CALLBACKS,
    CHANGES_PER_ORDER,
    EVENTS,
    _customers,
    _expected,
    _pending,
    _run_generators,
)
from tests.receiver import Receiver
from tests.served import Served, serve
from tests.world import ORDERS

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEASE_SECONDS = 3.0
KILL_AFTER = (50, 300)  # requests received between two kills
DEADLINE_SECONDS = 180.0
ORDERS_MADE = EVENTS // (1 + CHANGES_PER_ORDER)


class ApiKiller(threading.Thread):
    """SIGKILLs one of serve's API processes after every 50-300 received requests
    (never the supervisor), once both are up again."""

    def __init__(self, served: Served, receiver: Receiver, seed: int) -> None:
        super().__init__(name="killer", daemon=True)
        self._served = served
        self._receiver = receiver
        self._rand = random.Random(seed)
        self.halt = threading.Event()
        self.kills = 0
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            point = self._rand.randint(*KILL_AFTER)
            while not self.halt.wait(0.01):
                if len(self._receiver.requests) < point:
                    continue
                processes = self._served.api_processes()
                if len(processes) < 2 or self._served.pid in processes:
                    continue  # a replacement is being started
                os.kill(self._rand.choice(processes), signal.SIGKILL)
                self.kills += 1
                point += self._rand.randint(*KILL_AFTER)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_kill_9_of_api_processes_loses_no_event_and_fires_each_deadline_once(
    database: Engine, receiver: Receiver, tmp_path: Path
) -> None:
    url = database.url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url,
        jwt_secret="fault-test-secret-long-enough-for-hs256",
        callback_allowed_hosts=[receiver.host],
        run_workers=False,
        default_response_time=timedelta(seconds=2),  # every order: a deadline 2 s later
    )
    services = build_services(settings, database)
    customers = _customers(services, receiver)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSS_")} | {
        "PSS_DATABASE_URL": url,
        "PSS_RUN_WORKERS": "true",
        "PSS_CALLBACK_ALLOWED_HOSTS": receiver.host,
        "PSS_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        "PSS_DELIVERY_TIMEOUT_SECONDS": "1",
        "PSS_DELIVERY_RETRY_SCHEDULE": "0.2,0.5,1,1,1,1,1,1,1,1",
        "PSS_TIMER_POLL_SECONDS": "0.2",
        "PYTHONUNBUFFERED": "1",
    }
    seed = random.SystemRandom().randrange(2**32)
    began = time.monotonic()
    with serve(tmp_path, env, args=("--workers", "2"), processes=2) as served:
        killer = ApiKiller(served, receiver, seed)
        try:
            killer.start()
            _run_generators(services, customers)
            deadline = began + DEADLINE_SECONDS
            while time.monotonic() < deadline and (
                _pending(database) or _breaches(database) < ORDERS_MADE
            ):
                time.sleep(0.2)
        finally:
            killer.halt.set()
            killer.join()
            services.executor.close()
        # serve still serves (its supervisor replaced every killed process).
        with httpx.Client(base_url=served.url(""), timeout=10) as client:
            assert client.get("/health").status_code == 200
            customer = customers[0].party_id
            listed = client.get(
                ORDERS, headers={"Authorization": f"Bearer {served.token(customer)}"}
            )
            assert listed.status_code == 200, listed.text
            assert listed.json()[0]["productOrderJeopardyAlert"][0]["name"] == (
                "responseTimeExceeded"
            )
    assert killer.errors == []
    assert killer.kills >= 1, "no API process was killed"
    pending = _pending(database)
    assert pending == 0, f"{pending} deliveries still pending (seed {seed})\n{_tail(served)}"

    # Every deadline fired once: one breach, one alarm per order, no timer left.
    assert _breaches(database) == ORDERS_MADE
    assert _count(database, "SELECT count(*) FROM events WHERE topic = 'alarm'") == ORDERS_MADE
    assert (
        _count(database, "SELECT count(DISTINCT order_id) FROM events WHERE topic = 'alarm'")
        == ORDERS_MADE
    )
    assert _count(database, "SELECT count(*) FROM timers WHERE kind = 'responseDeadline'") == 0

    # Every event once, in commit order; duplicates only right after their first copy.
    expected = _expected(database)
    assert len(expected) == CALLBACKS
    assert sum(len(ids) for ids in expected.values()) == EVENTS + ORDERS_MADE, (
        "each order: its creation, four changes and its breach"
    )
    duplicates = 0
    for path, ids in expected.items():
        arrived = receiver.on(path)
        assert all(r.answered == 200 for r in arrived)
        received = [r.event_id for r in arrived]
        collapsed = [event_id for event_id, _ in groupby(received)]
        assert collapsed == ids, f"{path}: order broken or events lost (seed {seed})"
        for _, copies in groupby(arrived, key=lambda r: r.event_id):
            assert len({r.raw for r in copies}) == 1, f"{path}: a re-send differs"
        duplicates += len(received) - len(ids)
    assert duplicates <= killer.kills * CALLBACKS, "more re-sends than events in flight"
    print(
        f"\napi fault test (seed {seed}): {EVENTS + ORDERS_MADE} events to {CALLBACKS} "
        f"callbacks, {ORDERS_MADE} deadlines, {killer.kills} API processes killed, "
        f"{duplicates} duplicates, {time.monotonic() - began:.1f}s"
    )


def _breaches(engine: Engine) -> int:
    return _count(engine, "SELECT count(*) FROM response_deadlines WHERE breached_at IS NOT NULL")


def _tail(served: Served, lines: int = 40) -> str:
    content = served.log.read_text(errors="replace").splitlines()
    return "\n".join([line for line in content if "ERROR" in line or "Traceback" in line][-lines:])
