"""Response deadlines are durable timers (issue 5): they survive a stop and never fire twice.

Deadlines that fall due while the service is down fire once when it starts
again; with two timer workers on the same database (PostgreSQL: ``SKIP
LOCKED``), each deadline is breached exactly once.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from pss_ordering.bootstrap import build_app, build_services
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from pss_ordering.service.timers import TimerService
from pss_ordering.store.schema import events
from tests.conftest import Auth
from tests.world import OFFERINGS, PARTIES, World, order_body, provider_ref

ORDERS = 40


def _create_orders(engine: Engine, settings: Settings, clock: ManualClock, auth: Auth) -> None:
    with TestClient(build_app(settings, engine, clock)) as client:
        market = World(client, auth)
        _register(client, market, auth)
        for _n in range(ORDERS):
            market.create(auth("dave"), order_body("off-a", "off-b"))


def _register(client: TestClient, market: World, auth: Auth) -> None:
    for provider, offering in (("prov-a", "off-a"), ("prov-b", "off-b")):
        client.post(
            f"{PARTIES}/organization", json={"id": provider, "name": provider}, headers=market.gov
        )
        client.post(
            OFFERINGS,
            json={
                "id": offering,
                "name": offering,
                "lifecycleStatus": "active",
                "relatedParty": [provider_ref(provider)],
            },
            headers=auth(provider, "provider"),
        )


def _alarms(engine: Engine) -> Counter[tuple[str, str]]:
    """Alarm events stored, per (order, provider): one per breach."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(events.c.order_id, events.c.details).where(events.c.topic == "alarm")
        )
        return Counter((row.order_id, json.loads(row.details)["provider"]) for row in rows)


def test_deadlines_due_while_stopped_fire_once_at_start(
    engine: Engine, settings: Settings, clock: ManualClock, auth: Auth
) -> None:
    _create_orders(engine, settings, clock, auth)
    clock.advance(timedelta(days=2))  # the service is down while every deadline passes
    restarted = build_services(settings, engine, clock)
    fired = 0
    while batch := restarted.timers.fire_due(limit=25):
        fired += batch
    assert fired == 2 * ORDERS
    assert restarted.timers.fire_due() == 0
    alarms = _alarms(engine)
    assert len(alarms) == 2 * ORDERS and set(alarms.values()) == {1}


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_two_workers_never_breach_a_deadline_twice(
    engine: Engine, settings: Settings, clock: ManualClock, auth: Auth
) -> None:
    _create_orders(engine, settings, clock, auth)
    clock.advance(timedelta(days=2))
    workers: list[TimerService] = [build_services(settings, engine, clock).timers for _ in range(2)]
    fired = [0, 0]

    def drain(index: int) -> None:
        while batch := workers[index].fire_due(limit=5):
            fired[index] += batch

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(fired) == 2 * ORDERS
    alarms = _alarms(engine)
    assert len(alarms) == 2 * ORDERS and set(alarms.values()) == {1}
