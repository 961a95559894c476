"""Soak (issue 15, slow suite): a served SQLite database under steady traffic with the
retention policy on levels off instead of growing.

Orders flow through the HTTP API (created by a customer, acknowledged by the provider's
received event, deleted by governance once fifty newer ones exist: orders themselves
are kept until governance deletes them, so the soak deletes them to show that all the
rest follows); two loopback callbacks receive every event and fail one request in
seven; the background worker prunes every two seconds with retentions of seconds.
Rows per table and the file's size are taken at the start, after one phase of traffic
and after a second, equal one; they are printed; the second phase must not grow what
the first one grew.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import deque
from pathlib import Path

import httpx
import pytest

from pss_ordering.store.schema import metadata
from tests.operating import OrderFlow, headers, ok, open_market
from tests.receiver import Receiver
from tests.served import serve
from tests.world import ORDERS

#: Each of the two phases lasts this long: several times every retention below, so the
#: middle is already past the first orders' retention (a soak's length, not a wait).
PHASE_SECONDS = float(os.environ.get("PSS_SOAK_PHASE_SECONDS", "50"))
#: The traffic's pace: a load delivery keeps up with (each order makes three events for
#: two callbacks) on a busy 2-core machine; faster, undelivered events pile up (and are
#: rightly kept), which would be a test of delivery capacity, not of retention.
ORDERS_PER_SECOND = float(os.environ.get("PSS_SOAK_ORDERS_PER_SECOND", "4"))
LIVE_ORDERS = 50
EVENTS = "/psi-api/event/v2/topic/order/event"
HUB = "/psi-api/event/v2/topic/order/hub"
RETENTION = {
    "PSS_RETENTION_INTERVAL": "PT2S",
    "PSS_RETENTION_EVENTS": "PT10S",
    "PSS_RETENTION_DELIVERY_ATTEMPTS": "PT5S",
    "PSS_RETENTION_RECEIVED_EVENTS": "PT5S",
    "PSS_RETENTION_RESPONSE_DEADLINES": "PT10S",
    "PSS_METRICS_WINDOW": "PT5S",
    "PSS_RETENTION_BATCH": "200",
}


def _measure(database: Path) -> dict[str, int]:
    """Rows per table, and the database file's and its WAL's sizes in bytes."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = {
            table.name: connection.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]
            for table in metadata.sorted_tables
        }
        rows["pending deliveries"] = connection.execute(
            "SELECT count(*) FROM deliveries WHERE state = 'pending'"
        ).fetchone()[0]
    wal = database.with_name(database.name + "-wal")
    rows["file bytes"] = database.stat().st_size
    rows["wal bytes"] = wal.stat().st_size if wal.exists() else 0
    return rows


def _table(snapshots: dict[str, dict[str, int]]) -> str:
    names = list(next(iter(snapshots.values())))
    width = max(len(name) for name in names)
    lines = [f"{'':<{width}}  " + "  ".join(f"{when:>10}" for when in snapshots)]
    for name in names:
        cells = "  ".join(f"{snapshot[name]:>10}" for snapshot in snapshots.values())
        lines.append(f"{name:<{width}}  {cells}")
    return "\n".join(lines)


@pytest.mark.slow
def test_rows_and_file_size_level_off_with_pruning_on(tmp_path: Path, receiver: Receiver) -> None:
    database = tmp_path / "soak.db"
    env = {
        "PSS_DATABASE_URL": f"sqlite:///{database}",
        "PSS_RUN_WORKERS": "true",
        "PSS_TIMER_POLL_SECONDS": "0.2",
        "PSS_CALLBACK_ALLOWED_HOSTS": receiver.host,
        "PSS_DELIVERY_RETRY_SCHEDULE": "0.2,0.5,1",
        "PSS_DELIVERY_JITTER": "0",
        "PSS_DELIVERY_TIMEOUT_SECONDS": "1",
        "PSS_DELIVERY_LEASE_SECONDS": "5",
        "PSS_DEFAULT_RESPONSE_TIME": "PT1H",
        **RETENTION,
    }
    for path in ("/dave", "/prov-a"):  # one request in seven fails, retried at once
        receiver.script(path, *([200] * 6 + [500]) * 10_000)
    live: deque[str] = deque()

    with serve(tmp_path, env) as served:
        open_market(served)
        gov = headers(served, "gov", "governance")
        provider = headers(served, "prov-a", "provider")
        with httpx.Client(base_url=served.url(""), timeout=10) as client:
            ok(
                client.post(
                    HUB, json={"callback": receiver.url("/dave")}, headers=headers(served, "dave")
                ),
                201,
            )
            ok(client.post(HUB, json={"callback": receiver.url("/prov-a")}, headers=provider), 201)

        def acknowledge_then_retire(client: httpx.Client, order_id: str) -> None:
            event = {
                "eventId": f"ack-{order_id}",
                "eventType": "orderStateChangeNotification",
                "event": {
                    "productOrder": {
                        "id": order_id,
                        "productOrderItem": [{"id": "1", "state": "acknowledged"}],
                    }
                },
            }
            ok(client.post(EVENTS, json=event, headers=provider), 201)
            live.append(order_id)
            if len(live) > LIVE_ORDERS:
                retired = client.delete(f"{ORDERS}/{live.popleft()}", headers=gov)
                assert retired.status_code == 204, retired.text
            time.sleep(1 / ORDERS_PER_SECOND)  # the traffic's pace, not a wait for anything

        snapshots = {"start": _measure(database)}
        with OrderFlow(served, then=acknowledge_then_retire) as flow:
            flow.run_for(PHASE_SECONDS)
            snapshots["middle"] = _measure(database)
            first_half = len(flow.created)
            flow.run_for(PHASE_SECONDS)
            snapshots["end"] = _measure(database)
            orders = len(flow.created)
        delivered = len(receiver.delivered("/dave")) + len(receiver.delivered("/prov-a"))

    print(f"\nsoak: {orders} orders ({first_half} in the first phase), {delivered} deliveries")
    print(_table(snapshots))
    start, middle, end = (snapshots[when] for when in ("start", "middle", "end"))
    for name in (*RETAINED, "file bytes"):
        first, second = middle[name] - start[name], end[name] - middle[name]
        assert second <= first / 2 + 50, (
            f"{name} keeps growing: {start[name]}, {middle[name]}, {end[name]}"
        )
    assert orders - first_half >= first_half / 2, "traffic kept flowing in the second phase"
    assert delivered > orders, "the callbacks kept receiving"


RETAINED = (
    "orders",
    "order_items",
    "events",
    "event_providers",
    "deliveries",
    "delivery_attempts",
    "received_events",
    "response_deadlines",
    "timers",
    "pending deliveries",
)
