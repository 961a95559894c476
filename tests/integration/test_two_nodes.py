"""Several machines, one database (issue 10): two ``pss-ordering serve`` commands started
separately, on two ports of 127.0.0.1 and one fresh PostgreSQL database, as two hosts
behind a load balancer would be. Node A runs two API processes (``--workers 2``), node
B one; all three run the timers and the delivery worker, and share only the database
and ``PSS_JWT_SECRET``.

They serve one consistent system: an order created through one node is read, patched
(with its ETag) and listed through the other; each callback gets its events once and
in commit order whichever process sends them; a response deadline that all three
processes poll for fires once (one jeopardy alert, one alarm).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from pss_ordering.store.database import make_engine
from tests.conftest import new_postgres_database
from tests.receiver import Receiver
from tests.served import Served, serve
from tests.world import OFFERINGS, ORDERS, PARTIES, order_body, provider_ref

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

HUB = "/psi-api/event/v2/topic"
CUSTOMERS = [f"cust-{n}" for n in range(4)]
WAIT_SECONDS = 60.0


@pytest.fixture(scope="module")
def fresh_database() -> Iterator[str]:
    """A database of its own (fails in CI when PostgreSQL is unreachable, skips locally)."""
    with new_postgres_database() as url:
        yield url


@dataclass
class Cluster:
    a: Served  # --workers 2
    b: Served  # one process
    receiver: Receiver
    engine: Engine

    def client(self, node: Served) -> httpx.Client:
        return httpx.Client(base_url=node.url(""), timeout=10)

    def headers(self, party: str, *roles: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.a.token(party, *roles)}

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())


@pytest.fixture(scope="module")
def cluster(fresh_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    receiver = Receiver()
    tmp: Path = tmp_path_factory.mktemp("nodes")
    env = {
        "PSS_DATABASE_URL": fresh_database,
        # The balancer's address, the same on every node (README "Processes and nodes");
        # unset, each node would name its own port in hrefs.
        "PSS_BASE_URL": "http://balancer.test",
        "PSS_RUN_WORKERS": "true",
        "PSS_CALLBACK_ALLOWED_HOSTS": receiver.host,
        "PSS_TIMER_POLL_SECONDS": "0.1",  # three processes polling often: races if any
        "PSS_DELIVERY_RETRY_SCHEDULE": "0.2,0.5,1,1,1",
        "PSS_DELIVERY_TIMEOUT_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    engine = make_engine(fresh_database)
    try:
        with (
            serve(tmp, env, args=("--workers", "2"), processes=2) as a,
            serve(tmp, env, args=("--workers", "1")) as b,
        ):
            found = Cluster(a, b, receiver, engine)
            _market(found)
            yield found
    finally:
        engine.dispose()
        receiver.close()


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _market(cluster: Cluster) -> None:
    """Parties through node A, offerings through node B."""
    gov = cluster.headers("gov", "governance")
    with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
        for provider in ("prov-a", "prov-b"):
            body: dict[str, Any] = {"id": provider, "name": provider}
            _ok(a.post(f"{PARTIES}/organization", json=body, headers=gov), 201)
        for party in [*CUSTOMERS, "timed"]:
            body = {"id": party, "givenName": "Customer", "familyName": party}
            _ok(a.post(f"{PARTIES}/individual", json=body, headers=gov), 201)
        for offering, provider in (("off-a", "prov-a"), ("off-b", "prov-b")):
            body = {
                "id": offering,
                "name": offering,
                "lifecycleStatus": "active",
                "relatedParty": [provider_ref(provider)],
            }
            headers = cluster.headers(provider, "provider")
            _ok(b.post(OFFERINGS, json=body, headers=headers), 201)


def test_serve_workers_2_runs_two_api_processes_and_every_process_runs_the_workers(
    cluster: Cluster,
) -> None:
    assert len(cluster.a.api_processes()) == 2
    assert cluster.b.api_processes() == [cluster.b.pid]
    for node, count in ((cluster.a, 2), (cluster.b, 1)):
        said = node.log.read_text().count("runs the timers and event delivery")
        assert said == count, node.log.read_text()


def test_an_order_made_on_one_node_is_read_patched_and_listed_on_the_other(
    cluster: Cluster,
) -> None:
    customer = cluster.headers("cust-0")
    with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
        created = _ok(a.post(ORDERS, json=order_body("off-b"), headers=customer), 201)
        url = f"{ORDERS}/{created['id']}"

        read = b.get(url, headers=customer)
        assert _ok(read) == created
        patched = b.patch(
            url,
            json={"description": "written through B"},
            headers={**customer, "If-Match": read.headers["etag"]},
        )
        assert _ok(patched)["description"] == "written through B"

        again = a.get(url, headers=customer)
        assert _ok(again)["description"] == "written through B"
        assert again.headers["etag"] == patched.headers["etag"] != read.headers["etag"]
        stale = a.patch(
            url,
            json={"description": "lost update"},
            headers={**customer, "If-Match": read.headers["etag"]},
        )
        assert stale.status_code == 412, "node A checks the ETag node B's write moved on"

        listed = b.get(ORDERS, params={"state": created["state"]}, headers=customer)
        assert created["id"] in [o["id"] for o in _ok(listed)]
        assert int(listed.headers["x-total-count"]) >= 1
        provider = cluster.headers("prov-b", "provider")
        assert created["id"] in [o["id"] for o in _ok(a.get(ORDERS, headers=provider))]
        assert b.get(url, headers=cluster.headers("cust-1")).status_code == 404


def test_each_callback_gets_its_events_once_in_commit_order_whichever_process_sends(
    cluster: Cluster,
) -> None:
    """Four customers and a provider have callbacks; the customers change their orders
    concurrently through both nodes, so the three processes' delivery workers compete
    for the callbacks' leases while events keep committing."""
    with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
        for n, party in enumerate(CUSTOMERS):
            node = (a, b)[n % 2]
            body = {"callback": cluster.receiver.url(f"/{party}")}
            _ok(node.post(f"{HUB}/order/hub", json=body, headers=cluster.headers(party)), 201)
        body = {"callback": cluster.receiver.url("/prov-b")}
        provider = cluster.headers("prov-b", "provider")
        _ok(b.post(f"{HUB}/order/hub", json=body, headers=provider), 201)

    errors: list[BaseException] = []

    def changes(party: str) -> None:
        try:
            headers = cluster.headers(party)
            with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
                for n in range(5):
                    nodes = (a, b) if n % 2 else (b, a)
                    order = _ok(
                        nodes[0].post(ORDERS, json=order_body("off-b"), headers=headers), 201
                    )
                    for change in range(3):
                        _ok(
                            nodes[change % 2].patch(
                                f"{ORDERS}/{order['id']}",
                                json={"description": f"{party} {n}.{change}"},
                                headers=headers,
                            )
                        )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=changes, args=(party,)) for party in CUSTOMERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert errors == []

    _wait_until_delivered(cluster)
    expected = _queued(cluster)
    assert sorted(expected) == sorted(["/prov-b", *(f"/{p}" for p in CUSTOMERS)])
    for path in CUSTOMERS:
        assert len(expected[f"/{path}"]) == 5 * 4, "a creation and three changes per order"
    for path, ids in expected.items():
        received = [r.event_id for r in cluster.receiver.on(path)]
        assert received == ids, f"{path}: not once each in commit order"
        assert all(r.answered == 200 for r in cluster.receiver.on(path))


def test_a_deadline_polled_by_every_process_fires_once(cluster: Cluster) -> None:
    """prov-a must answer within two seconds; nobody answers. Every process polls the
    timers every 0.1 s, yet each order gets one jeopardy alert and one alarm."""
    gov = cluster.headers("gov", "governance")
    customer = cluster.headers("timed")
    with cluster.client(cluster.a) as a, cluster.client(cluster.b) as b:
        characteristic = {"partyCharacteristic": [{"name": "responseTime", "value": "PT2S"}]}
        _ok(b.patch(f"{PARTIES}/organization/prov-a", json=characteristic, headers=gov))
        body = {"callback": cluster.receiver.url("/gov-alarm")}
        _ok(a.post(f"{HUB}/alarm/hub", json=body, headers=gov), 201)
        orders = [
            _ok((a, b)[n % 2].post(ORDERS, json=order_body("off-a"), headers=customer), 201)
            for n in range(10)
        ]
        ids = {order["id"] for order in orders}

        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and _breached(cluster, ids) < len(ids):
            time.sleep(0.1)
        assert _breached(cluster, ids) == len(ids)
        _wait_until_delivered(cluster)

        for n, order in enumerate(orders):
            shown = _ok((b, a)[n % 2].get(f"{ORDERS}/{order['id']}", headers=customer))
            [alert] = shown["productOrderJeopardyAlert"]
            assert alert["jeopardyType"] == "responseTimeExceeded"
    alarms = cluster.rows(
        "SELECT order_id, count(*) FROM events WHERE topic = 'alarm' GROUP BY order_id"
    )
    assert {order_id: count for order_id, count in alarms if order_id in ids} == dict.fromkeys(
        ids, 1
    )
    received = cluster.receiver.on("/gov-alarm")
    assert sorted(r.json["event"]["alarm"]["alarmedObject"]["id"] for r in received) == sorted(ids)
    assert len({r.event_id for r in received}) == len(received), "each alarm delivered once"
    timers_left = [row for row in cluster.rows("SELECT order_id FROM timers") if row[0] in ids]
    assert timers_left == [], "each fired deadline's timer is gone"


# -- helpers -----------------------------------------------------------------------------


def _breached(cluster: Cluster, ids: set[str]) -> int:
    rows = cluster.rows("SELECT order_id FROM response_deadlines WHERE breached_at IS NOT NULL")
    return sum(1 for (order_id,) in rows if order_id in ids)


def _wait_until_delivered(cluster: Cluster) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        [(pending,)] = cluster.rows("SELECT count(*) FROM deliveries WHERE state <> 'delivered'")
        if not pending:
            return
        time.sleep(0.1)
    raise AssertionError(f"{pending} deliveries still pending after {WAIT_SECONDS:g} s")


def _queued(cluster: Cluster) -> dict[str, list[str]]:
    """Per order-topic callback path, the event ids queued for it in commit order."""
    rows = cluster.rows(
        "SELECT s.callback, e.event_id FROM deliveries d"
        " JOIN events e ON e.seq = d.event_seq"
        " JOIN subscriptions s ON s.id = d.subscription_id"
        " WHERE s.topic = 'order' ORDER BY d.id"
    )
    queued: dict[str, list[str]] = {}
    for callback, event_id in rows:
        queued.setdefault("/" + callback.split("/", 3)[3], []).append(event_id)
    return queued
