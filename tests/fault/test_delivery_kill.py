"""Delivery survives ``kill -9``: two worker processes on PostgreSQL, killed at random.

The fault test of issue 4 (PSI-01-02-03-08: events go out in their original
order, whatever crashes). Ten customers each register a callback
on a real receiver on 127.0.0.1 and change their orders through the service
layer, committing 5,000 events (and their deliveries, in the same transactions)
while two ``pss-ordering worker`` processes deliver them. A killer thread sends
SIGKILL to a random worker at random moments and starts a replacement, so lanes
die mid-send and their leases must expire before another worker takes over.

Afterwards every event was received by its callback, in commit order, and the
only duplicates are immediate re-sends of the event that was in flight when
its worker died: same ``webhook-id``, same body, right after the first copy.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import Engine, text

from pss_ordering.api.common import Services
from pss_ordering.bootstrap import build_services
from pss_ordering.config import Settings
from pss_ordering.domain.identity import Caller, Role
from tests.receiver import Receiver
from tests.world import order_body, provider_ref

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CALLBACKS = 10
CHANGES_PER_ORDER = 4  # each order: its creation and four value changes
EVENTS = 5_000
GENERATORS = 2  # threads committing changes concurrently
LEASE_SECONDS = 3.0
KILL_AFTER = (50, 300)  # requests received between two kills
DEADLINE_SECONDS = 150.0
WORKER = Path(sys.executable).with_name("pss-ordering")
GOV = Caller("gov", frozenset({Role.GOVERNANCE}))
PROVIDER = Caller("prov-a", frozenset({Role.PROVIDER}))


# -- the worker processes ------------------------------------------------------------------


@dataclass
class Workers:
    """Worker processes (each its own session), their logs, and a count of kills."""

    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kills: int = 0
    started: int = 0
    _files: list[IO[bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        log = (self.logs / f"worker-{self.started}.log").open("wb")
        self._files.append(log)
        self.started += 1
        self.processes.append(
            subprocess.Popen(
                [str(WORKER), "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def kill_one(self, rand: random.Random) -> None:
        """SIGKILL a random live worker (no chance to let go of its leases) and replace it."""
        with self._lock:
            victim = rand.choice(self.processes)
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            self.processes.remove(victim)
            self.kills += 1
            self._start()

    def alive(self) -> int:
        with self._lock:
            return sum(p.poll() is None for p in self.processes)

    def stop(self) -> None:
        """Kill every worker's process group and reap it: no orphans, whatever happened."""
        with self._lock:
            for process in self.processes:
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            self.processes.clear()
            for log in self._files:
                log.close()

    def tail(self, lines: int = 40) -> str:
        text_ = ""
        for path in sorted(self.logs.glob("worker-*.log")):
            content = path.read_text(errors="replace").splitlines()
            errors = [line for line in content if "ERROR" in line or "Traceback" in line]
            if errors:
                text_ += f"--- {path.name}\n" + "\n".join(errors[-lines:]) + "\n"
        return text_


class Killer(threading.Thread):
    """Kills a random worker at random points of the stream: after every 50-300 requests.

    Paced by what the receiver got rather than by the wall clock, so a slow
    machine sees as many kills, each while deliveries flow, as a fast one.
    """

    def __init__(self, workers: Workers, receiver: Receiver, seed: int) -> None:
        super().__init__(name="killer", daemon=True)
        self._workers = workers
        self._receiver = receiver
        self._rand = random.Random(seed)
        self.halt = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            point = self._rand.randint(*KILL_AFTER)
            while point < EVENTS and not self.halt.wait(0.01):
                if len(self._receiver.requests) >= point:
                    self._workers.kill_one(self._rand)
                    point += self._rand.randint(*KILL_AFTER)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)


# -- the database and the events ---------------------------------------------------------


def _customers(services: Services, receiver: Receiver) -> list[Caller]:
    """Ten customers, each with a callback of its own (so ten lanes run in parallel)."""
    services.parties.register(GOV, "organization", {"id": "prov-a", "name": "Provider A"})
    services.offerings.publish(
        PROVIDER,
        {
            "id": "off-a",
            "name": "off-a",
            "lifecycleStatus": "active",
            "relatedParty": [provider_ref("prov-a")],
        },
    )
    customers = []
    for n in range(CALLBACKS):
        party = f"cust-{n}"
        services.parties.register(
            GOV, "individual", {"id": party, "givenName": "Customer", "familyName": str(n)}
        )
        caller = Caller(party, frozenset({Role.CUSTOMER}))
        services.hub.register(caller, "order", receiver.url(f"/cb/{n}"), None)
        customers.append(caller)
    return customers


def _no_check(_: dict[str, Any]) -> None:
    pass


def _generate(services: Services, customers: list[Caller], orders: int) -> None:
    """Create orders and change them, each change its own committed transaction."""
    for n in range(orders):
        customer = customers[n % len(customers)]
        order = services.orders.create(customer, order_body("off-a"))
        for change in range(CHANGES_PER_ORDER):

            def describe(doc: dict[str, Any], text_: str = f"change {change}") -> dict[str, Any]:
                return {**doc, "description": text_}

            services.orders.patch(customer, order.doc["id"], describe, _no_check, None)


def _run_generators(services: Services, customers: list[Caller]) -> None:
    orders = EVENTS // (1 + CHANGES_PER_ORDER)
    errors: list[BaseException] = []

    def generate(mine: list[Caller]) -> None:
        try:
            _generate(services, mine, orders // GENERATORS)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=generate, args=(customers[g::GENERATORS],))
        for g in range(GENERATORS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _expected(engine: Engine) -> dict[str, list[str]]:
    """Per callback path, the event ids queued for it, in commit (deliveries.id) order."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.callback, e.event_id FROM deliveries d"
                " JOIN events e ON e.seq = d.event_seq"
                " JOIN subscriptions s ON s.id = d.subscription_id ORDER BY d.id"
            )
        ).all()
    expected: dict[str, list[str]] = {}
    for callback, event_id in rows:
        expected.setdefault("/" + callback.split("/", 3)[3], []).append(event_id)
    return expected


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM deliveries WHERE state <> 'delivered'")
            ).scalar_one()
        )


def _wait_until_delivered(engine: Engine, workers: Workers, deadline: float) -> int:
    pending = _pending(engine)
    while pending and time.monotonic() < deadline:
        assert workers.alive() == 2, "a worker died on its own:\n" + workers.tail()
        time.sleep(0.2)
        pending = _pending(engine)
    return pending


# -- the test --------------------------------------------------------------------------------


def test_kill_9_loses_nothing_and_keeps_order_PSI_01_02_03_08(
    database: Engine, receiver: Receiver, tmp_path: Path
) -> None:
    """A crash at any moment must never lose a committed event nor reorder a callback's
    events (PSI-01-02-03-08); the only trace it may leave is the in-flight event sent
    again, which receivers de-duplicate by its ``webhook-id``."""
    began = time.monotonic()
    deadline = began + DEADLINE_SECONDS
    url = database.url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url,
        jwt_secret="fault-test-secret-long-enough-for-hs256",
        callback_allowed_hosts=[receiver.host],
        run_workers=False,
    )
    services = build_services(settings, database)
    customers = _customers(services, receiver)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSS_")} | {
        "PSS_DATABASE_URL": url,
        "PSS_JWT_SECRET": settings.jwt_secret or "",
        "PSS_CALLBACK_ALLOWED_HOSTS": receiver.host,
        "PSS_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        "PSS_DELIVERY_TIMEOUT_SECONDS": "1",
        "PSS_DELIVERY_RETRY_SCHEDULE": "0.2,0.5,1,1,1,1,1,1,1,1",
        "PSS_TIMER_POLL_SECONDS": "0.5",
        "PYTHONUNBUFFERED": "1",
    }
    seed = random.SystemRandom().randrange(2**32)
    workers = Workers(env, tmp_path)
    killer = Killer(workers, receiver, seed)
    try:
        workers.start()
        workers.start()
        killer.start()
        _run_generators(services, customers)
        generated = time.monotonic()
        pending = _wait_until_delivered(database, workers, deadline)
        drained = time.monotonic()
    finally:
        killer.halt.set()
        killer.join()
        workers.stop()
        services.executor.close()
    assert killer.errors == []
    assert pending == 0, f"{pending} deliveries still pending (seed {seed})\n{workers.tail()}"

    expected = _expected(database)
    assert sum(len(ids) for ids in expected.values()) == EVENTS
    assert len(expected) == CALLBACKS
    duplicates = 0
    for path, ids in expected.items():
        arrived = receiver.on(path)
        assert all(r.answered == 200 for r in arrived)
        assert all(r.json["eventId"] == r.event_id for r in arrived), "webhook-id is the eventId"
        received = [r.event_id for r in arrived]
        collapsed = [event_id for event_id, _ in groupby(received)]
        # Equal after collapsing *consecutive* repeats: nothing lost, nothing reordered,
        # and every duplicate came right after its first copy (the in-flight event).
        assert collapsed == ids, f"{path}: order broken or events lost\n{workers.tail()}"
        for _, copies in groupby(arrived, key=lambda r: r.event_id):
            bodies = {r.raw for r in copies}
            assert len(bodies) == 1, f"{path}: a re-send differs from the first copy"
        duplicates += len(received) - len(ids)
    assert duplicates <= workers.kills * CALLBACKS, "more re-sends than events in flight at kills"
    with database.connect() as conn:
        states = conn.execute(text("SELECT DISTINCT state FROM subscriptions")).scalars().all()
    assert states == ["active"], "no callback was halted or disabled"
    print(
        f"\nfault test (seed {seed}): {EVENTS} events to {CALLBACKS} callbacks, "
        f"{workers.kills} kills, {duplicates} duplicates; generated in "
        f"{generated - began:.1f}s, all delivered after {drained - began:.1f}s"
    )
