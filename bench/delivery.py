"""Delivery benchmark: events from commit to receipt, 100 callbacks on loopback.

    .venv/bin/python bench/delivery.py --db sqlite                 # 1 worker, 500 deliveries/s
    .venv/bin/python bench/delivery.py --db postgres               # 2 workers, 1,000 deliveries/s
    .venv/bin/python bench/delivery.py --db sqlite --events 500 --duration 3 --rate 200

Measures, in one run and against one receiver process:

* **baseline**: a bare aiohttp client (100 lanes, no database) posting exactly the
  requests the service is about to send: the ceiling of client + receiver here;
* **throughput**: ``--events`` orders created through the service layer (each
  creation event fans out to ``--fanout`` callbacks), then ``pss-ordering worker``
  process(es) started: deliveries/s until everything is received;
* **latency**: while the workers run, orders created at a steady rate
  (``--rate`` deliveries/s) for ``--duration`` s: commit-to-receipt p50/p99/max;
  on SQLite also with the delivery worker inside the generator's process, as
  ``pss-ordering serve`` runs it (``latency-serve``).

See bench/README.md ("Delivery benchmark") for what is measured and how.
Everything runs on 127.0.0.1; every child process is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from children import Child, common_options, environment, percentile, profile, quiet
from machine import cpu_seconds, log, machine_cpu_seconds, postgres_cpu_seconds
from report import aligned
from run import RESULTS, SECRET, postgres_database
from servers import Server, free_port

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
CALLBACK_PATH = "/cb/{:03d}"
TOPIC = "order"

# Targets from issue 4.
THROUGHPUT_TARGET = {"sqlite": (1, 1000.0), "postgresql": (2, 2000.0)}  # workers, deliveries/s
LATENCY_P99_MS = 250.0  # at half the throughput target
RATE_TOLERANCE = 0.95  # the latency run counts only if it achieved 95% of the asked rate


# =========================================================================== receiver
# A child process: `delivery.py _receiver --port P --out DIR`. Raw asyncio protocol
# with httptools (uvloop when installed), so that the receiver is never the limit.


def serve_receiver(port: int, out: Path) -> None:
    import httptools

    ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    records: list[tuple[bytes, bytes, float]] = []

    def answer(body: bytes, status: bytes = b"200 OK") -> bytes:
        return (
            b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )

    def control(url: bytes) -> bytes:
        path, _, query = url.partition(b"?")
        if path == b"/health":
            return answer(b"{}")
        if path == b"/_stats":
            last = records[-1][2] if records else None
            return answer(json.dumps({"count": len(records), "last": last}).encode())
        if path == b"/_reset":
            records.clear()
            return answer(b"{}")
        if path == b"/_dump":  # ?name=<file name> in the output directory
            name = query.decode().removeprefix("name=")
            rows = [(p.decode(), h.decode(), t) for p, h, t in records]
            (out / Path(name).name).write_text(json.dumps(rows))
            return answer(json.dumps({"count": len(rows)}).encode())
        return answer(b"{}", b"404 Not Found")

    class Receiver(asyncio.Protocol):
        def __init__(self) -> None:
            self.parser = httptools.HttpRequestParser(self)
            self.transport: asyncio.Transport | None = None
            self.url = b""
            self.hook = b""

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

        def data_received(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                assert self.transport is not None
                self.transport.close()

        def on_message_begin(self) -> None:
            self.url, self.hook = b"", b""

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            if name.lower() == b"webhook-id":
                self.hook = value

        def on_message_complete(self) -> None:
            now = time.time()
            assert self.transport is not None
            if self.url.startswith(b"/cb/"):
                records.append((self.url, self.hook, now))
                self.transport.write(ok)
            else:
                self.transport.write(control(self.url))
            if not self.parser.should_keep_alive():
                self.transport.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Receiver, HOST, port, backlog=1024)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


# =========================================================================== baseline client
# A child process: `delivery.py _baseline FILE`. The bare client: aiohttp with the
# sender's connector settings and the default asyncio loop (as `pss-ordering worker`),
# one coroutine per callback posting that callback's requests one after the other.


def run_baseline_client(requests_file: Path) -> None:
    import aiohttp

    lanes = [
        (lane["url"], [(headers, body.encode()) for headers, body in lane["requests"]])
        for lane in json.loads(requests_file.read_text())
    ]

    async def main() -> dict[str, Any]:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def lane(url: str, requests: list[tuple[dict[str, str], bytes]]) -> int:
                errors = 0
                for headers, body in requests:
                    async with session.post(
                        url, data=body, headers=headers, allow_redirects=False
                    ) as response:
                        await response.content.read(1024)
                        errors += not 200 <= response.status < 300
                return errors

            started = time.time()
            errors = await asyncio.gather(*(lane(url, reqs) for url, reqs in lanes))
            return {"seconds": time.time() - started, "errors": sum(errors)}

    print("BASELINE_RESULT " + json.dumps(asyncio.run(main())), flush=True)


# =========================================================================== helpers


def http_json(url: str, timeout: float = 30.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


class CpuWindow:
    """CPU of our processes and of the machine between start() and stop()."""

    def __init__(self, pids: dict[str, list[int]], postgres: bool) -> None:
        self.pids, self.postgres = pids, postgres
        self.pct: dict[str, float] = {}

    def start(self) -> None:

        self.before = {k: sum(cpu_seconds(p) for p in v) for k, v in self.pids.items()}
        self.busy, self.steal = machine_cpu_seconds()
        self.db = postgres_cpu_seconds() if self.postgres else 0.0
        self.started = time.monotonic()

    def stop(self) -> dict[str, float]:

        wall = max(time.monotonic() - self.started, 1e-6)
        pct = {
            k: (sum(cpu_seconds(p) for p in v) - self.before[k]) / wall * 100
            for k, v in self.pids.items()
        }
        busy, steal = machine_cpu_seconds()
        pct["db"] = (postgres_cpu_seconds() - self.db) / wall * 100 if self.postgres else 0.0
        pct["steal"] = (steal - self.steal) / wall * 100
        pct["other"] = max(0.0, (busy - self.busy) / wall * 100 - sum(pct.values()) + pct["steal"])
        self.pct = {k: round(v, 1) for k, v in pct.items()}
        return self.pct


@dataclass
class Result:
    phase: str  # baseline | throughput | latency
    backend: str
    workers: int
    deliveries: int
    events: int
    seconds: float
    deliveries_per_s: float
    events_per_s: float
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    ratio: float | None = None
    cpu_pct: dict[str, float] = field(default_factory=dict)
    target: str | None = None
    target_met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# =========================================================================== the marketplace


@dataclass
class Market:
    """Parties, offerings and the 100 callbacks; which callbacks an order reaches."""

    customers: list[str]
    providers: list[str]
    fanout: int
    lanes: dict[str, tuple[str, str]] = field(default_factory=dict)  # sid -> (url, secret)

    @classmethod
    def plan(cls, callbacks: int, fanout: int) -> Market:
        """Every order has one item of one provider; its creation event reaches ``fanout``
        callbacks: its provider's one and its customer's ``fanout - 1``.

        Fan-out 1: all callbacks are customers' (one each); the one provider has none.
        Fan-out F >= 2: callbacks // F providers and as many customers, so that every
        callback gets the same share of the events.
        """
        if fanout == 1:
            return cls([f"bench-cust-{n:03d}" for n in range(callbacks)], ["bench-prov-000"], 1)
        pairs = callbacks // fanout
        if pairs < 1:
            raise SystemExit(f"--fanout {fanout} needs at least {fanout} callbacks")
        return cls(
            customers=[f"bench-cust-{n:03d}" for n in range(pairs)],
            providers=[f"bench-prov-{n:03d}" for n in range(pairs)],
            fanout=fanout,
        )

    def order_body(self, n: int) -> tuple[str, dict[str, Any]]:
        """Order ``n``: consecutive orders go to different customers *and* providers, so
        that no callback gets a burst (its lane delivers one event at a time)."""
        customers, providers = len(self.customers), len(self.providers)
        customer = n % customers
        offering = f"bench-off-{(n + n // customers) % providers:03d}"
        item = {"id": "1", "action": "add", "productOffering": {"id": offering}}
        return self.customers[customer], {"productOrderItem": [item]}

    def setup(self, services: Any, receiver_url: str, work: Path) -> None:
        from pss_ordering.cli.seed import load_seed
        from pss_ordering.domain.identity import Caller, Role

        provider_ref = {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "provider"}
        seed = {
            "organization": [{"id": p, "@type": "Organization", "name": p} for p in self.providers],
            "individual": [
                {"id": c, "@type": "Individual", "givenName": "Bench", "familyName": c}
                for c in self.customers
            ],
            "productOffering": [
                {
                    "id": f"bench-off-{n:03d}",
                    "@type": "ProductOffering",
                    "name": f"Bench offering {n}",
                    "lifecycleStatus": "active",
                    "relatedParty": [
                        {**provider_ref, "partyOrPartyRole": {"@type": "PartyRef", "id": p}}
                    ],
                }
                for n, p in enumerate(self.providers)
            ],
        }
        path = work / "bench-market.json"
        path.write_text(json.dumps(seed))
        load_seed(services, path)
        each = max(self.fanout - 1, 1)
        owners = [(c, Role.CUSTOMER) for c in self.customers for _ in range(each)]
        if self.fanout > 1:
            owners += [(p, Role.PROVIDER) for p in self.providers]
        for n, (party, role) in enumerate(owners):
            url = receiver_url + CALLBACK_PATH.format(n)
            registration = services.hub.register(Caller(party, frozenset({role})), TOPIC, url, None)
            assert registration.secret is not None
            self.lanes[registration.subscription.id] = (url, registration.secret)


def make_services(database_url: str, receiver_host: str) -> tuple[Any, Any]:
    """The services, as ``serve`` builds them, and on SQLite their group-commit writer.

    The executor is rebuilt around a :class:`BatchWriter` held here, so that the
    generator can stamp the moment a batch committed (a done-callback on the
    writer's future), while a delivery worker built from these services shares
    that writer exactly as it does inside ``pss-ordering serve``.
    """
    from dataclasses import replace

    from pss_ordering.bootstrap import build_services
    from pss_ordering.config import Settings
    from pss_ordering.service.batching import BatchWriter
    from pss_ordering.service.execution import Executor

    settings = Settings(
        database_url=database_url,
        jwt_secret=SECRET,
        callback_allowed_hosts=[receiver_host],
        run_workers=False,
    )
    services = build_services(settings)
    if not services.database.backend.single_writer:
        return services, None
    services.executor.close()
    writer = BatchWriter(services.database)
    executor = Executor(writer=writer, concurrency=settings.db_concurrency)
    return replace(services, executor=executor), writer


_SCHEMA: list[Any] = []


def create_order(services: Any, market: Market, n: int) -> str:
    """One order through the service layer, exactly as POST productOrder does."""
    from pss_ordering.api.contract import body_schema
    from pss_ordering.domain.identity import Caller, Role

    if not _SCHEMA:
        _SCHEMA.append(body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder"))
    customer, body = market.order_body(n)
    caller = Caller(customer, frozenset({Role.CUSTOMER}))
    view = services.orders.create(caller, _SCHEMA[0].validate(body))
    return str(view.doc["id"])


def preload(services: Any, market: Market, events: int, chunk: int = 500) -> float:
    """Create ``events`` orders (one creation event each), ``chunk`` per transaction."""
    started = time.monotonic()
    for first in range(0, events, chunk):
        with services.database.batch():
            for n in range(first, min(first + chunk, events)):
                create_order(services, market, n)
    return time.monotonic() - started


def count_deliveries(services: Any) -> tuple[int, int]:
    """(all deliveries, pending deliveries) in the database."""
    from sqlalchemy import func, select

    from pss_ordering.store.schema import deliveries

    with services.database.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
        pending = conn.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.state == "pending")
        ).scalar_one()
    return int(total), int(pending)


def event_index(services: Any, after_seq: int = 0) -> dict[str, tuple[int, str, float]]:
    """event id -> (seq, order id, occurred_at as epoch seconds)."""
    from sqlalchemy import select

    from pss_ordering.domain.timestamps import parse_instant
    from pss_ordering.store.schema import events

    query = select(events.c.event_id, events.c.seq, events.c.order_id, events.c.occurred_at)
    with services.database.engine.connect() as conn:
        rows = conn.execute(query.where(events.c.seq > after_seq))
        return {
            r.event_id: (int(r.seq), r.order_id, parse_instant(str(r.occurred_at)).timestamp())
            for r in rows
        }


def max_seq(services: Any) -> int:
    from sqlalchemy import func, select

    from pss_ordering.store.schema import events

    with services.database.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())


def baseline_requests(services: Any, market: Market, out: Path) -> int:
    """Write the exact requests the workers will send (same URLs, headers, bodies)."""
    import orjson
    from sqlalchemy import select
    from standardwebhooks import Webhook

    from pss_ordering.domain import notifications
    from pss_ordering.store.events import EVENT_COLUMNS, stored_event
    from pss_ordering.store.schema import deliveries, events

    base = services.database.publisher.order_href_base
    moment = datetime.now(UTC)
    lanes, total = [], 0
    for sid, (url, secret) in market.lanes.items():
        signer = Webhook(secret)
        query = (
            select(deliveries.c.audience, *EVENT_COLUMNS)
            .join_from(deliveries, events, events.c.seq == deliveries.c.event_seq)
            .where(deliveries.c.subscription_id == sid, deliveries.c.state == "pending")
            .order_by(deliveries.c.id)
        )
        with services.database.engine.connect() as conn:
            pending = [(row.audience, stored_event(row)) for row in conn.execute(query)]
        requests = []
        for audience, event in pending:
            body = orjson.dumps(notifications.render(event, audience, base)).decode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "pss-ordering",
                "webhook-id": event.event_id,
                "webhook-timestamp": str(int(moment.timestamp())),
                "webhook-signature": signer.sign(event.event_id, moment, body),
            }
            requests.append((headers, body))
        total += len(requests)
        lanes.append({"url": url, "requests": requests})
    out.write_text(json.dumps(lanes))
    return total


# =========================================================================== measuring

Record = tuple[str, str, float]  # callback path, webhook-id, arrival (time.time())


class Receiver:
    """The receiver child process, seen from here."""

    def __init__(self, server: Any, out: Path) -> None:
        self.url, self.pid, self.out = server.url, server.pid, out

    def count(self) -> int:
        return int(http_json(self.url + "/_stats")["count"])

    def reset(self) -> None:
        http_json(self.url + "/_reset")

    def dump(self, name: str) -> list[Record]:
        http_json(self.url + f"/_dump?name={name}", timeout=120)
        return [(p, h, t) for p, h, t in json.loads((self.out / name).read_text())]

    def wait_for(
        self, expected: int, stall: float, on_first: Callable[[], None] | None = None
    ) -> int:
        """Poll until ``expected`` requests arrived, or nothing arrived for ``stall`` s.

        ``on_first`` is called as soon as the first request is seen (starts the CPU window).
        """
        seen, since = -1, time.monotonic()
        while True:
            count = self.count()
            if count and on_first is not None:
                on_first()
                on_first = None
            if count >= expected:
                return count
            if count != seen:
                seen, since = count, time.monotonic()
            elif time.monotonic() - since > stall:
                return count
            time.sleep(0.05)


def delivery_ids(services: Any, after_seq: int = 0) -> dict[tuple[str, str], int]:
    """(callback path, event id) -> delivery id: a callback's commit order.

    Not the events' seq: on PostgreSQL two transactions may take seqs in one order and
    commit in the other; the delivery id of a callback is taken under that callback's
    lock, so its order is the commit order (see ``SqlDeliveries.add_many``).
    """
    from urllib.parse import urlsplit

    from sqlalchemy import select

    from pss_ordering.store.schema import deliveries, events, subscriptions

    query = (
        select(subscriptions.c.callback, events.c.event_id, deliveries.c.id)
        .join_from(deliveries, events, events.c.seq == deliveries.c.event_seq)
        .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
        .where(events.c.seq > after_seq)
    )
    with services.database.engine.connect() as conn:
        return {(urlsplit(r.callback).path, r.event_id): int(r.id) for r in conn.execute(query)}


def check_order(
    records: list[Record],
    index: dict[str, tuple[int, str, float]],
    order: dict[tuple[str, str], int],
) -> dict[str, int]:
    """Per callback: arrivals in commit order? Duplicates? Unknown ids?"""
    last: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    out = {"out_of_order": 0, "duplicates": 0, "unknown": 0}
    for path, hook, _ in sorted(records, key=lambda r: r[2]):
        if hook not in index:
            out["unknown"] += 1
            continue
        if (path, hook) in seen:
            out["duplicates"] += 1
            continue
        seen.add((path, hook))
        position = order[(path, hook)]
        if position < last.get(path, -1):
            out["out_of_order"] += 1
        last[path] = position
    return out


def rate_of(records: list[Record]) -> tuple[float, float]:
    """(deliveries/s between the first and last arrival, that span in seconds)."""
    times = sorted(t for _, _, t in records)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return (len(times) - 1) / span if span > 0 else 0.0, span


def run_baseline(
    receiver: Receiver, requests_file: Path, expected: int, args: argparse.Namespace, work: Path
) -> Result:

    receiver.reset()
    quiet(args.quiet_wait)
    argv = [sys.executable, str(Path(__file__).resolve()), "_baseline", str(requests_file)]
    with Child("baseline-client", argv, dict(os.environ), work, args.logs) as child:
        cpu = CpuWindow({"client": [child.pid], "receiver": [receiver.pid]}, postgres=False)
        received = receiver.wait_for(expected, stall=30, on_first=cpu.start)
        cpu.stop()
        assert child.proc is not None
        child.proc.wait(timeout=60)
    lines = child.log_path.read_text().splitlines()
    found = [x for x in lines if x.startswith("BASELINE_RESULT ")]
    if not found:
        raise RuntimeError(f"the baseline client gave no result; see {child.log_path}")
    client = json.loads(found[0].removeprefix("BASELINE_RESULT "))
    records = receiver.dump("baseline.json")
    rate, span = rate_of(records)
    result = Result(
        phase="baseline",
        backend="aiohttp",
        workers=1,
        deliveries=len(records),
        events=0,
        seconds=round(span, 3),
        deliveries_per_s=rate,
        events_per_s=0.0,
        cpu_pct=cpu.pct,
        extra={"client_seconds": round(client["seconds"], 3), "errors": client["errors"]},
    )
    if received < expected or client["errors"]:
        result.extra["warning"] = f"{received} of {expected} received, {client['errors']} errors"
    log(
        f"baseline   {len(records):7d} requests in {span:6.2f} s: {rate:8.0f}/s  "
        f"cpu client {cpu.pct['client']:3.0f}% receiver {cpu.pct['receiver']:3.0f}% "
        f"other {cpu.pct['other']:3.0f}% steal {cpu.pct['steal']:3.0f}%"
    )
    return result


def start_workers(
    stack: contextlib.ExitStack, args: argparse.Namespace, env: dict[str, str], work: Path
) -> list[Child]:
    argv = [sys.executable, "-c", "from pss_ordering.cli.main import cli; cli()", "worker"]
    return [
        stack.enter_context(Child(f"worker-{i}", argv, env, work, args.logs))
        for i in range(args.workers)
    ]


def wait_acknowledged(services: Any, limit: float = 30.0) -> int:
    """Wait until the workers committed every acknowledgement; returns what is still pending."""
    deadline = time.monotonic() + limit
    while True:
        _, pending = count_deliveries(services)
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(0.1)


def run_throughput(
    services: Any,
    receiver: Receiver,
    args: argparse.Namespace,
    env: dict[str, str],
    stack: contextlib.ExitStack,
    work: Path,
) -> tuple[Result, list[Child]]:

    backend = args.backend
    total, queued = count_deliveries(services)
    index = event_index(services)
    receiver.reset()
    quiet(args.quiet_wait)
    started = time.time()
    workers = start_workers(stack, args, env, work)
    samplers = profile(args, [(w.pid, w.name) for w in workers], "throughput")
    pids = {"workers": [w.pid for w in workers], "receiver": [receiver.pid]}
    cpu = CpuWindow(pids, postgres=backend == "postgresql")
    received = receiver.wait_for(queued, stall=30, on_first=cpu.start)
    cpu.stop()
    for sampler in samplers:
        sampler.stop()
    records = receiver.dump(f"{backend}-throughput.json")
    rate, span = rate_of(records)
    arrivals = sorted(t for _, _, t in records) or [started]
    checks = check_order(records, index, delivery_ids(services))
    result = Result(
        phase="throughput",
        backend=backend,
        workers=args.workers,
        deliveries=len(records),
        events=len(index),
        seconds=round(span, 3),
        deliveries_per_s=rate,
        events_per_s=rate / args.fanout,
        cpu_pct=cpu.pct,
        extra={
            "fanout": args.fanout,
            "callbacks": len(args.market.lanes),
            "queued": queued,
            "deliveries_in_db": total,
            "still_pending": wait_acknowledged(services),
            "first_receipt_after_worker_start_s": round(arrivals[0] - started, 3),
            "wall_from_worker_start_s": round(arrivals[-1] - started, 3),
            **checks,
        },
    )
    if received < queued:
        result.extra["warning"] = f"only {received} of {queued} received"
    wanted, minimum = THROUGHPUT_TARGET[backend]
    result.target = f">= {minimum:,.0f}/s, {wanted} worker(s)"
    if args.workers == wanted:
        result.target_met = rate >= minimum and received >= queued and not any(checks.values())
    log(
        f"throughput {len(records):7d} deliveries in {span:6.2f} s: {rate:8.0f}/s "
        f"({rate / args.fanout:.0f} events/s)  cpu workers {cpu.pct['workers']:3.0f}% "
        f"receiver {cpu.pct['receiver']:3.0f}% db {cpu.pct['db']:3.0f}% "
        f"other {cpu.pct['other']:3.0f}% steal {cpu.pct['steal']:3.0f}%  {checks}"
    )
    return result, workers


async def generate(
    services: Any, writer: Any, market: Market, events_per_s: float, duration: float, first: int
) -> dict[str, float]:
    """Create orders at a steady rate; order id -> time.time() right after its commit.

    SQLite: through the services' :class:`BatchWriter` (the API's group commit); the
    time is taken in the writer thread by a done-callback, i.e. right after the
    batch committed. PostgreSQL: each creation in a thread (as the API does), the
    time taken in that thread right after ``create`` returned, i.e. after its commit.
    """
    from functools import partial

    committed: dict[str, float] = {}
    limiter = asyncio.Semaphore(services.settings.db_concurrency)
    total = max(1, round(events_per_s * duration))

    def stamped(n: int) -> tuple[str, float]:
        order_id = create_order(services, market, n)
        return order_id, time.time()

    async def one(n: int) -> None:
        if writer is not None:
            future = writer.submit(partial(create_order, services, market, n))
            stamp: list[float] = []
            future.add_done_callback(lambda _: stamp.append(time.time()))
            order_id = await asyncio.wrap_future(future)
            committed[order_id] = stamp[0]
        else:
            async with limiter:
                order_id, at = await asyncio.to_thread(stamped, n)
            committed[order_id] = at

    loop = asyncio.get_running_loop()
    tasks = []
    start = loop.time()
    for i in range(total):
        delay = start + i / events_per_s - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(first + i)))
    await asyncio.gather(*tasks)
    return committed


def by_tenth(timed: list[tuple[float, float]]) -> list[float]:
    """p99 latency of the deliveries of each tenth of the run (by commit time): is the
    tail a warm-up, a steady state or a drift?"""
    if not timed:
        return []
    start = min(t for t, _ in timed)
    span = (max(t for t, _ in timed) - start) or 1.0
    tenths: list[list[float]] = [[] for _ in range(10)]
    for moment, latency in timed:
        tenths[min(int((moment - start) / span * 10), 9)].append(latency)
    return [round(percentile(t, 99), 1) if t else 0.0 for t in tenths]


def run_latency(
    services: Any,
    writer: Any,
    receiver: Receiver,
    args: argparse.Namespace,
    workers: list[Child],
    first_order: int,
) -> Result:
    """Orders at a steady rate while delivery runs; commit-to-receipt per delivery.

    With ``workers``, the worker processes deliver. Without, a delivery worker runs
    as ``pss-ordering serve`` runs it: a :class:`DeliveryThread` in this (the
    generator's) process, sharing its executor, hence on SQLite its group commit.
    """

    from pss_ordering.bootstrap import build_delivery_worker
    from pss_ordering.events.background import DeliveryThread

    backend = args.backend
    phase = "latency" if workers else "latency-serve"
    before_seq = max_seq(services)
    total_before, _ = count_deliveries(services)
    receiver.reset()
    events_per_s = args.rate / args.fanout
    quiet(args.quiet_wait)
    thread = None
    if workers:
        samplers = profile(args, [(w.pid, w.name) for w in workers], phase)
        pids = {"workers": [w.pid for w in workers], "generator": [os.getpid()]}
    else:
        thread = DeliveryThread(build_delivery_worker(services))
        thread.start()
        samplers = profile(args, [(os.getpid(), "serve")], phase)
        pids = {"serve": [os.getpid()]}
    cpu = CpuWindow({**pids, "receiver": [receiver.pid]}, postgres=backend == "postgresql")
    cpu.start()
    committed = asyncio.run(
        generate(
            services, writer, args.market, events_per_s, args.warmup + args.duration, first_order
        )
    )
    total_after, _ = count_deliveries(services)
    expected = total_after - total_before
    received = receiver.wait_for(expected, stall=30)
    cpu.stop()
    for sampler in samplers:
        sampler.stop()
    if thread is not None:
        thread.stop()
    records = receiver.dump(f"{backend}-{phase}.json")
    index = event_index(services, before_seq)
    checks = check_order(records, index, delivery_ids(services, before_seq))
    # The first --warmup seconds (lanes claimed, connections opened, caches filled) are
    # delivered and checked, but not measured.
    measured_from = min(committed.values()) + args.warmup if committed else 0.0
    from_commit, from_occurred, timed, warm = [], [], [], []
    for _, hook, arrived in records:
        if hook in index:
            _, order_id, occurred = index[hook]
            latency = (arrived - committed[order_id]) * 1000
            timed.append((committed[order_id], latency))
            if committed[order_id] < measured_from:
                warm.append(latency)
                continue
            from_commit.append(latency)
            from_occurred.append((arrived - occurred) * 1000)
    records = [r for r in records if r[1] in index and committed[index[r[1]][1]] >= measured_from]
    committed = {k: v for k, v in committed.items() if v >= measured_from}
    rate, span = rate_of(records)
    commits = sorted(committed.values())
    commit_span = commits[-1] - commits[0] if len(commits) > 1 else 0.0
    achieved = (len(commits) - 1) / commit_span if commit_span > 0 else 0.0
    late = sum(1 for _, _, t in records if commits and t > commits[-1])
    lat, occ = from_commit or [0.0], from_occurred or [0.0]
    result = Result(
        phase=phase,
        backend=backend,
        workers=len(workers) or 1,
        deliveries=len(records),
        events=len(committed),
        seconds=round(span, 3),
        deliveries_per_s=rate,
        events_per_s=achieved,
        p50_ms=percentile(lat, 50),
        p90_ms=percentile(lat, 90),
        p99_ms=percentile(lat, 99),
        max_ms=max(lat),
        cpu_pct=cpu.pct,
        extra={
            "asked_deliveries_per_s": args.rate,
            "asked_events_per_s": events_per_s,
            "committed_deliveries_per_s": achieved * args.fanout,
            "fanout": args.fanout,
            "expected": expected,
            "received_after_the_last_commit": late,
            "p99_ms_by_tenth_of_the_run": by_tenth(timed),
            "warmup_s": args.warmup,
            "warmup_p99_ms": percentile(warm, 99) if warm else None,
            "from_occurred_at_ms": {
                "p50": percentile(occ, 50),
                "p99": percentile(occ, 99),
                "max": max(occ),
            },
            **checks,
        },
    )
    if received < expected:
        result.extra["warning"] = f"only {received} of {expected} received"
    elif achieved * args.fanout < RATE_TOLERANCE * args.rate:
        result.extra["warning"] = (
            f"the generator committed only {achieved * args.fanout:.0f} deliveries/s "
            f"of the {args.rate:g} asked"
        )
    wanted, target_rate = THROUGHPUT_TARGET[backend]
    result.target = f"p99 < {LATENCY_P99_MS:g} ms at {target_rate / 2:,.0f}/s"
    if result.workers == wanted and args.rate >= target_rate / 2:
        result.target_met = (
            result.p99_ms is not None
            and result.p99_ms < LATENCY_P99_MS
            and achieved * args.fanout >= RATE_TOLERANCE * args.rate
            and received >= expected
            and not any(checks.values())
        )
    log(
        f"{phase:13s} {len(records):7d} deliveries, asked {args.rate:g}/s, committed "
        f"{achieved * args.fanout:.0f}/s: p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms "
        f"max {result.max_ms:.1f} ms  cpu "
        + " ".join(f"{k} {v:.0f}%" for k, v in cpu.pct.items())
        + f"  {checks}"
    )
    return result


# =========================================================================== report


def table(results: list[Result]) -> str:
    header = ["phase", "backend", "workers", "deliveries", "s", "deliv/s", "events/s", "ratio"]
    header += ["p50 ms", "p99 ms", "max ms", "cpu", "db cpu", "recv cpu", "other", "steal"]
    header += ["target", "met"]
    rows = []

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    for r in results:
        main = next((r.cpu_pct[k] for k in ("workers", "serve", "client") if k in r.cpu_pct), 0.0)
        rows.append(
            [
                r.phase,
                r.backend,
                str(r.workers),
                f"{r.deliveries:,}",
                f"{r.seconds:.2f}",
                f"{r.deliveries_per_s:,.0f}",
                "-" if r.phase == "baseline" else f"{r.events_per_s:,.0f}",
                "-" if r.ratio is None else f"{r.ratio:.1%}",
                ms(r.p50_ms),
                ms(r.p99_ms),
                ms(r.max_ms),
                f"{main:.0f}%",
                "-" if r.backend != "postgresql" else f"{r.cpu_pct.get('db', 0):.0f}%",
                f"{r.cpu_pct.get('receiver', 0):.0f}%",
                f"{r.cpu_pct.get('other', 0):.0f}%",
                f"{r.cpu_pct.get('steal', 0):.0f}%",
                r.target or "-",
                "-" if r.target_met is None else ("yes" if r.target_met else "NO"),
            ]
        )
    return aligned(header, rows, right=set(range(2, 16)))


# =========================================================================== main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Delivery benchmark: commit to receipt, 100 callbacks on 127.0.0.1."
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--workers", type=int, help="pss-ordering worker processes (1 on SQLite, 2 on PostgreSQL)"
    )
    parser.add_argument(
        "--events",
        type=int,
        default=10_000,
        help="orders pre-loaded for the throughput run (10000; x fan-out deliveries)",
    )
    parser.add_argument(
        "--fanout",
        type=int,
        default=4,
        help="callbacks each event reaches (4: its provider's one, its customer's three)",
    )
    parser.add_argument("--callbacks", type=int, default=100, help="callbacks registered (100)")
    parser.add_argument(
        "--rate",
        type=float,
        help="latency run: deliveries/s (half the target: 500 SQLite, 1000 PostgreSQL)",
    )
    parser.add_argument("--duration", type=float, default=20, help="latency run: seconds (20)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=3,
        help="latency run: seconds at the rate before measuring (3): lanes claimed, "
        "connections opened, caches filled",
    )
    parser.add_argument(
        "--latency-with",
        choices=["workers", "serve", "both"],
        help="latency run delivered by the worker processes, by a delivery thread in the "
        "generator's process as in 'serve', or both (SQLite: both; PostgreSQL: workers)",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    common_options(parser, "bench_pss_delivery", "py-spy on the workers (perturbs figures)")
    args = parser.parse_args()
    backend = "sqlite" if args.db == "sqlite" else "postgresql"
    args.backend = backend
    if args.workers is None:
        args.workers = THROUGHPUT_TARGET[backend][0]
    if args.rate is None:
        args.rate = THROUGHPUT_TARGET[backend][1] / 2
    if args.latency_with is None:
        args.latency_with = "both" if backend == "sqlite" else "workers"
    args.latency_with = ["workers", "serve"] if args.latency_with == "both" else [args.latency_with]
    if args.fanout < 1 or args.callbacks < 2:
        parser.error("--fanout must be >= 1 and --callbacks >= 2")
    return args


def run(args: argparse.Namespace, database_url: str, work: Path) -> list[Result]:

    backend = args.backend
    results: list[Result] = []
    port = free_port()
    receiver_argv = [sys.executable, str(Path(__file__).resolve()), "_receiver"]
    receiver_argv += ["--port", str(port), "--out", str(work)]
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            Server("receiver", receiver_argv, port, dict(os.environ), work, args.logs)
        )
        receiver = Receiver(server, work)
        host = f"{HOST}:{port}"
        services, writer = make_services(database_url, host)
        stack.callback(services.database.engine.dispose)
        stack.callback(services.executor.close)
        args.market = market = Market.plan(args.callbacks, args.fanout)
        market.setup(services, server.url, work)
        log(
            f"{backend}: {len(market.lanes)} callbacks ({len(market.customers)} customers with "
            f"{max(args.fanout - 1, 1)} each, {len(market.providers) if args.fanout > 1 else 0} "
            f"providers with 1), fan-out {args.fanout}"
        )
        events = 0 if args.skip_throughput else args.events
        if events:
            seconds = preload(services, market, events)
            _, queued = count_deliveries(services)
            log(
                f"{backend}: {events} orders created through the service in {seconds:.1f} s "
                f"({events / seconds:.0f}/s); {queued} deliveries queued"
            )
            if queued != events * args.fanout:
                raise RuntimeError(f"expected {events * args.fanout} deliveries, got {queued}")
            if not args.skip_baseline:
                requests_file = work / "baseline-requests.json"
                expected = baseline_requests(services, market, requests_file)
                results.append(run_baseline(receiver, requests_file, expected, args, work))
        env = {
            **os.environ,
            "PSS_DATABASE_URL": database_url,
            "PSS_JWT_SECRET": SECRET,
            "PSS_CALLBACK_ALLOWED_HOSTS": host,
        }
        latency = [] if args.skip_latency else args.latency_with
        with contextlib.ExitStack() as processes:
            workers: list[Child] = []
            if events:
                result, workers = run_throughput(services, receiver, args, env, processes, work)
                results.append(result)
            elif "workers" in latency:
                workers = start_workers(processes, args, env, work)
            if "workers" in latency:
                for worker in workers:
                    worker.wait_for_line("delivering events")
                results.append(run_latency(services, writer, receiver, args, workers, events))
        if "serve" in latency:  # the worker processes have stopped
            results.append(run_latency(services, writer, receiver, args, [], 2 * events + 1))
    base = next((r for r in results if r.phase == "baseline"), None)
    for r in results:
        if base is not None and r.phase == "throughput" and base.deliveries_per_s:
            r.ratio = r.deliveries_per_s / base.deliveries_per_s
    return results


@contextlib.contextmanager
def database(args: argparse.Namespace, work: Path) -> Iterator[str]:
    if args.backend == "sqlite":
        yield f"sqlite:///{work / 'delivery.db'}"
        return

    with postgres_database(args.pg_admin_url, args.pg_database) as url:
        yield url


def report(args: argparse.Namespace, results: list[Result], stamp: str) -> None:

    env = environment(
        args,
        ("pss-ordering", "aiohttp", "sqlalchemy", "psycopg", "orjson", "httptools"),
        {"market", "logs", "profile_dir"},
    )
    print()
    print(
        f"pss-ordering delivery benchmark  commit {env['commit']}  python {env['python']}  "
        f"{env['cpus']} cpus  {args.backend}, {args.workers} worker process(es), "
        f"{len(args.market.lanes)} callbacks, fan-out {args.fanout}"
    )
    print(table(results))
    print(
        "deliv/s: deliveries / (last - first arrival at the receiver); events/s = deliv/s / "
        "fan-out (latency: as committed). ratio: vs the bare aiohttp client posting the same "
        "requests. Latency: arrival - time.time() right after the creating commit. "
        "cpu: the worker processes' (baseline: the client's; latency-serve: the process that "
        "creates orders and delivers), 100% = one core."
    )
    for r in results:
        if r.phase.startswith("latency"):
            occ = r.extra["from_occurred_at_ms"]
            print(
                f"{r.phase}: from events.occurred_at (stamped before the commit, ms precision) "
                f"p50 {occ['p50']:.1f} ms  p99 {occ['p99']:.1f} ms  max {occ['max']:.1f} ms; "
                f"{r.extra['received_after_the_last_commit']} of {r.deliveries} received after "
                "the generator's last commit"
            )
            tenths = " ".join(f"{v:g}" for v in r.extra["p99_ms_by_tenth_of_the_run"])
            print(
                f"{r.phase}: measured after a {r.extra['warmup_s']:g} s warm-up (its p99: "
                f"{r.extra['warmup_p99_ms'] or 0:.1f} ms); p99 ms by tenth of warm-up + "
                f"run: {tenths}"
            )
        bad = {k: r.extra[k] for k in ("out_of_order", "duplicates", "unknown") if r.extra.get(k)}
        if bad:
            print(f"warning: {r.phase}: {bad}")
        if "warning" in r.extra:
            print(f"warning: {r.phase}: {r.extra['warning']}")
        noise = r.cpu_pct.get("other", 0) + r.cpu_pct.get("steal", 0)
        if noise > 15:
            print(
                f"warning: {r.phase}: other processes and hypervisor steal took {noise:.0f}% "
                "CPU; the figures are perturbed"
            )
    out = {"environment": env, "results": [asdict(r) for r in results]}
    path = RESULTS / f"delivery-{stamp}.json"
    path.write_text(json.dumps(out, indent=2))
    (RESULTS / "delivery-latest.json").write_text(json.dumps(out, indent=2))
    print(f"results: {path}; logs: {args.logs}")
    if args.profile_dir is not None:
        log(
            f"py-spy profiles: {args.profile_dir}; summarise with "
            f"'python bench/profile_summary.py {args.profile_dir}/<file>.txt'"
        )


def main() -> None:
    if sys.argv[1:2] == ["_receiver"]:
        sub = argparse.ArgumentParser()
        sub.add_argument("--port", type=int, required=True)
        sub.add_argument("--out", type=Path, required=True)
        opts = sub.parse_args(sys.argv[2:])
        serve_receiver(opts.port, opts.out)
        return
    if sys.argv[1:2] == ["_baseline"]:
        run_baseline_client(Path(sys.argv[2]))
        return
    args = parse_args()
    sys.path.insert(0, str(BENCH))

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    args.logs = RESULTS / f"delivery-logs-{stamp}"
    args.logs.mkdir()
    args.profile_dir = None
    if args.profile:
        args.profile_dir = RESULTS / f"delivery-profile-{stamp}"
        args.profile_dir.mkdir()
    with tempfile.TemporaryDirectory(prefix="pss-delivery-") as tmp:
        work = Path(tmp)
        with database(args, work) as url:
            results = run(args, url, work)
    report(args, results, stamp)
    if args.check and any(r.target_met is False for r in results):
        sys.exit("bench: delivery targets missed")


if __name__ == "__main__":
    main()
