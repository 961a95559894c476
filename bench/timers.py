"""Timer benchmark: provider response deadlines, from due to breach, and the idle cost.

    .venv/bin/python bench/timers.py                  # SQLite: 100,000 deadlines over 600 s
    .venv/bin/python bench/timers.py --db postgres    # PostgreSQL, 2 worker processes
    .venv/bin/python bench/timers.py --orders 3000 --window 30 --capacity-orders 500 \\
        --idle-orders 0,2000 --idle-seconds 5 --idle-rounds 1 --quiet-wait 0       # smoke test

Three measurements, each on a fresh database, with ``pss-ordering worker`` child
processes on the real clock:

* **capacity**: ``--capacity-orders`` open orders whose deadline has already
  passed when the worker starts: how many breaches per second one worker
  records (what the lag run's rate, ``--orders`` / ``--window``, is compared with);
* **idle**: ``--idle-orders`` (0, 10,000, 100,000) open orders whose deadlines are
  hours away: CPU per second of a worker (and of a process running only the
  timer loop), which must not grow with the number of open orders; the floor is
  a bare Python process that only wakes every poll interval;
* **lag**: ``--orders`` open orders whose deadlines fall uniformly over
  ``--window`` s: per deadline, ``breached_at - due_at`` (the breach record),
  and when the committed breach was first seen by an observer polling the
  database. The floor is the poll interval (``PSS_TIMER_POLL_SECONDS``).

The orders are stored straight through the repository (as ``seed_orders.py``
does), each with its provider's deadline exactly as ``OrderService.create``
leaves it: in the order's bookkeeping, as a milestone on the provider's items,
as a ``response_deadlines`` row and as a ``responseDeadline`` timer.
See bench/README.md ("Timer benchmark"). Every child process is stopped on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from children import Child, common_options, environment, percentile, profile, quiet
from machine import cpu_seconds, machine_cpu_seconds
from report import aligned
from run import RESULTS, SECRET, postgres_database

BENCH = Path(__file__).resolve().parent
LAG_P99_TARGET_S = 1.0  # issue 5: a breach is recorded within one second
IDLE_GROWTH = 1.25  # idle CPU with N open orders <= 1.25 x with none ...
IDLE_SLACK_PCT = 0.2  # ... + 0.2% of a core (below that, the difference is noise)
BATCH = 5000  # orders per seeding transaction
LEAD_FACTOR = 1.5  # lag run: first deadline after 1.5 x the predicted seeding time ...
LEAD_EXTRA_S = 20.0  # ... + 20 s (worker start-up)
ASSUMED_SEED_RATE = 800.0  # orders/s, for the lead when no seeding was measured yet


def log(message: str) -> None:
    print(f"[timers {time.strftime('%H:%M:%S')}] {message}", flush=True)


# =========================================================================== child processes
# `timers.py _timers`: only the timer loop, built as `pss-ordering worker` builds it.
# `timers.py _bare --interval S`: a Python process that wakes every S seconds, nothing else.


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(3600):
        pass


def run_timers_only() -> None:
    from pss_ordering.bootstrap import build_services
    from pss_ordering.config import Settings
    from pss_ordering.service.timers import TimerWorker

    services = build_services(Settings())
    worker = TimerWorker(services.timers, services.settings.timer_poll_seconds)
    worker.start()
    print("firing timers", flush=True)
    try:
        _wait_for_signal()
    finally:
        worker.stop()
        services.executor.close()


def run_bare(interval: float) -> None:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            pass

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    print("bare process waking every", interval, "s", flush=True)
    try:
        _wait_for_signal()
    finally:
        stop.set()
        thread.join()


# =========================================================================== seeding


def open_order(
    rng: random.Random, offering: str, started: datetime, response_times: dict[str, timedelta]
) -> Any:
    """An order for ``offering`` submitted at ``started``, still pending at its one provider,
    with the deadline ``OrderService.create`` gives it; returns (order, its timer row)."""
    from seed_orders import CUSTOMER_WEIGHTS, OFFERINGS

    from pss_ordering.domain import deadlines
    from pss_ordering.domain.orders import ProductOrder
    from pss_ordering.domain.timers import TimerKind
    from pss_ordering.domain.timestamps import format_instant

    order_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    customer = rng.choices(
        [c for c, _ in CUSTOMER_WEIGHTS], weights=[w for _, w in CUSTOMER_WEIGHTS]
    )[0]
    provider = OFFERINGS[offering]
    now = format_instant(started)
    items: list[dict[str, Any]] = [
        {
            "id": str(n),
            "action": "add",
            "quantity": 1,
            "productOffering": {"id": offering},
            "state": "pending",
        }
        for n in range(1, rng.choices([1, 2, 3], weights=[30, 55, 15])[0] + 1)
    ]
    doc: dict[str, Any] = {
        "productOrderItem": items,
        "@type": "ProductOrder",
        "id": order_id,
        "creationDate": now,
        "state": "pending",
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "customer",
                "partyOrPartyRole": {"@type": "PartyRef", "id": customer},
            }
        ],
    }
    order = ProductOrder(
        id=order_id,
        customer_id=customer,
        creator_id=customer,
        item_providers={item["id"]: provider for item in items},
        doc=doc,
        submitted_at=now,
    )
    deadline = deadlines.start(order, provider, now, response_times[provider])
    assert deadline.due_at is not None and not deadlines.owed(order)
    timer = {
        "kind": TimerKind.RESPONSE_DEADLINE,
        "order_id": order_id,
        "due_at": deadline.due_at,
        "payload": "{}",
        "subject": provider,
    }
    return order, timer


def insert_open_orders(
    database_url: str, count: int, seed_value: int, first: float, span: float, anchor: str
) -> int:
    """Store ``count`` open orders, BATCH per transaction. Their ``anchor`` instant
    (``due``: the deadline, ``started``: the submission) is uniform over
    [first, first + span] (epoch seconds, millisecond precision)."""
    from seed_orders import OFFERINGS
    from sqlalchemy import insert

    from pss_ordering.store.database import WRITE, make_engine
    from pss_ordering.store.orders import SqlOrders
    from pss_ordering.store.parties import SqlParties
    from pss_ordering.store.schema import timers

    engine = make_engine(database_url)
    with engine.connect() as conn:
        parties = SqlParties(conn)
        response_times = {}
        for provider in set(OFFERINGS.values()):
            party = parties.get(provider)
            assert party is not None, provider
            rt = party.response_time(None)
            if rt is None:
                raise RuntimeError(f"provider {provider} has no responseTime")
            response_times[provider] = rt
    rng = random.Random(seed_value)
    offerings = sorted(OFFERINGS)
    done = 0
    while done < count:
        with engine.connect() as conn, conn.execution_options(**{WRITE: True}).begin():
            orders = SqlOrders(conn)
            rows = []
            for _ in range(min(BATCH, count - done)):
                moment = datetime.fromtimestamp(round(first + rng.uniform(0, span), 3), UTC)
                offering = rng.choice(offerings)
                rt = response_times[OFFERINGS[offering]]
                started = moment - rt if anchor == "due" else moment
                order, timer = open_order(rng, offering, started, response_times)
                orders.add(order)
                rows.append(timer)
                done += 1
            conn.execute(insert(timers), rows)
    engine.dispose()
    return done


def seed(
    database_url: str,
    count: int,
    workers: int,
    seed_value: int,
    first: float,
    span: float,
    anchor: str,
) -> float:
    """Store ``count`` open orders in ``workers`` processes; returns the seconds taken."""
    started = time.perf_counter()
    if count <= 0:
        return 0.0
    if workers == 1:
        insert_open_orders(database_url, count, seed_value, first, span, anchor)
    else:
        shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = [
                pool.submit(
                    insert_open_orders, database_url, share, seed_value + i, first, span, anchor
                )
                for i, share in enumerate(shares)
            ]
            for future in futures:
                future.result()
    return time.perf_counter() - started


def analyze(database_url: str) -> None:
    from pss_ordering.store.database import make_engine

    engine = make_engine(database_url)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    engine.dispose()


# =========================================================================== measuring


def cpu_ns(pid: int) -> int:
    """CPU time of a process, all its live threads, in ns (scheduler statistics).

    ``/proc/<pid>/stat`` counts in 10 ms ticks, too coarse for an idle process over
    20 s; ``schedstat`` counts nanoseconds. Falls back to ``stat``.
    """
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                total += int((task / "schedstat").read_text().split()[0])
    except OSError:
        return 0
    if total:
        return total

    return int(cpu_seconds(pid) * 1e9)


class DbBackends:
    """The PostgreSQL server processes serving one database: the database's share of CPU
    is theirs, not the whole server's (other databases on the server may be busy)."""

    def __init__(self, admin_url: str, database_url: str, exclude: set[int] | None = None):
        self.admin_url = admin_url
        self.name = database_url.rsplit("/", 1)[1].split("?")[0]
        self.exclude = exclude or set()

    def pids(self) -> set[int]:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
            ).fetchall()
        return {int(r[0]) for r in rows} - self.exclude


class Cpu:
    """CPU of some processes, of the database's server processes (PostgreSQL) and of the
    machine, from start() to stop(); in % of one core."""

    def __init__(self, pids: dict[str, list[int]], db: DbBackends | None) -> None:
        self.pids, self.db = pids, db
        self.pct: dict[str, float] = {}
        self.seconds = 0.0

    def start(self) -> Cpu:

        self.before = {k: sum(cpu_ns(p) for p in v) for k, v in self.pids.items()}
        self.db_before = {p: cpu_ns(p) for p in self.db.pids()} if self.db else {}
        self.busy, self.steal = machine_cpu_seconds()
        self.started = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:

        self.seconds = wall = max(time.monotonic() - self.started, 1e-6)
        pct = {
            k: (sum(cpu_ns(p) for p in v) - self.before[k]) / 1e9 / wall * 100
            for k, v in self.pids.items()
        }
        busy, steal = machine_cpu_seconds()
        db_ns = 0
        if self.db is not None:  # backends that ended meanwhile are lost (rare: pools)
            for pid in self.db.pids() | set(self.db_before):
                db_ns += max(0, cpu_ns(pid) - self.db_before.get(pid, 0))
        pct["db"] = db_ns / 1e9 / wall * 100
        pct["steal"] = (steal - self.steal) / wall * 100
        pct["other"] = max(0.0, (busy - self.busy) / wall * 100 - sum(pct.values()) + pct["steal"])
        self.pct = {k: round(v, 3) for k, v in pct.items()}
        return self.pct


def db_backends(
    args: argparse.Namespace, database_url: str, exclude: set[int] | None = None
) -> DbBackends | None:
    if args.backend != "postgresql":
        return None
    return DbBackends(args.pg_admin_url, database_url, exclude)


@contextlib.contextmanager
def children(
    kind: str, count: int, args: argparse.Namespace, env: dict[str, str], work: Path, tag: str
) -> Iterator[list[Any]]:
    """``count`` child processes of ``kind`` (worker | timers | bare), ready when yielded."""
    if kind == "worker":
        argv = [sys.executable, "-c", "from pss_ordering.cli.main import cli; cli()", "worker"]
        ready = "firing timers"
    elif kind == "timers":
        argv, ready = [sys.executable, str(Path(__file__).resolve()), "_timers"], "firing timers"
    else:
        argv = [sys.executable, str(Path(__file__).resolve()), "_bare"]
        argv += ["--interval", str(args.poll)]
        ready = "bare process"
    with contextlib.ExitStack() as stack:
        procs = [
            stack.enter_context(Child(f"{tag}-{kind}-{i}", argv, env, work, args.logs))
            for i in range(count)
        ]
        for proc in procs:
            proc.wait_for_line(ready, limit=120)
        yield procs


def deadline_rows(database_url: str) -> list[tuple[str, float, float | None]]:
    """(order id, due, breached) per deadline, as epoch seconds."""
    from sqlalchemy import select

    from pss_ordering.domain.timestamps import parse_instant
    from pss_ordering.store.database import make_engine
    from pss_ordering.store.schema import response_deadlines as rd

    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(rd.c.order_id, rd.c.due_at, rd.c.breached_at)).all()
    engine.dispose()
    return [
        (
            r.order_id,
            parse_instant(r.due_at).timestamp(),
            None if r.breached_at is None else parse_instant(r.breached_at).timestamp(),
        )
        for r in rows
    ]


def counts(database_url: str) -> dict[str, int]:
    """Timers left, breaches recorded, alarm events and orders with more than one alarm."""
    from sqlalchemy import func, select

    from pss_ordering.store.database import make_engine
    from pss_ordering.store.schema import events, orders, response_deadlines, timers

    engine = make_engine(database_url)
    alarms = select(events.c.order_id).where(events.c.topic == "alarm")
    doubled = (
        select(events.c.order_id)
        .where(events.c.topic == "alarm")
        .group_by(events.c.order_id)
        .having(func.count() > 1)
    )
    with engine.connect() as conn:

        def n(query: Any) -> int:
            return int(
                conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            )

        out = {
            "orders": n(select(orders.c.id)),
            "timers": n(select(timers.c.id)),
            "breached": n(
                select(response_deadlines.c.order_id).where(
                    response_deadlines.c.breached_at.is_not(None)
                )
            ),
            "alarm_events": n(alarms),
            "orders_alarmed_twice": n(doubled),
        }
    engine.dispose()
    return out


class Observer:
    """Polls the database for committed breaches: order id -> when first seen (time.time()).

    Each poll reads the deadlines breached since the latest ``breached_at`` seen,
    less an overlap (``breached_at`` is stamped inside the worker's transaction,
    which commits up to a batch later), through the ``breached_at`` index.
    """

    OVERLAP_S = 3.0

    def __init__(self, database_url: str) -> None:
        from pss_ordering.store.database import make_engine

        self.engine = make_engine(database_url, pool_size=1)
        self.seen: dict[str, float] = {}
        self.latest = ""

    def poll(self) -> int:
        from sqlalchemy import select

        from pss_ordering.domain.timestamps import format_instant, parse_instant
        from pss_ordering.store.schema import response_deadlines as rd

        since = ""
        if self.latest:
            since = format_instant(parse_instant(self.latest) - timedelta(seconds=self.OVERLAP_S))
        query = select(rd.c.order_id, rd.c.breached_at).where(rd.c.breached_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        now = time.time()
        for order_id, breached in rows:
            if order_id not in self.seen:
                self.seen[order_id] = now
            self.latest = max(self.latest, breached)
        return len(self.seen)

    def backend_pid(self) -> set[int]:
        """PostgreSQL: the server process serving the observer (not the workers' share)."""
        if self.engine.dialect.name != "postgresql":
            return set()
        with self.engine.connect() as conn:
            return {int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())}

    def close(self) -> None:
        self.engine.dispose()


def by_tenth(rows: list[tuple[str, float, float | None]]) -> list[float]:
    """p99 lag of each tenth of the window (by due time): steady, or falling behind?"""
    lags = [b - d for _, d, b in sorted(rows, key=lambda r: r[1]) if b is not None]
    size = max(1, len(lags) // 10)
    return [
        round(percentile(lags[i : i + size], 99), 3)
        for i in range(0, size * 10, size)
        if lags[i : i + size]
    ]


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "min": min(values),
    }


# =========================================================================== the phases


@dataclass
class Result:
    phase: str  # capacity | idle | lag
    backend: str
    process: str  # worker | timers | bare
    workers: int
    open_orders: int
    seconds: float
    cpu_pct: dict[str, float] = field(default_factory=dict)
    breaches: int = 0
    per_s: float = 0.0  # capacity/lag: breaches per second
    lag_s: dict[str, float] = field(default_factory=dict)  # breached_at - due_at
    seen_s: dict[str, float] = field(default_factory=dict)  # first seen committed - due_at
    ratio: float | None = None
    target: str | None = None
    target_met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def worker_env(database_url: str, args: argparse.Namespace) -> dict[str, str]:

    env = {**os.environ, "PSS_DATABASE_URL": database_url, "PSS_JWT_SECRET": SECRET}
    env["PSS_TIMER_POLL_SECONDS"] = str(args.poll)
    return env


def run_capacity(args: argparse.Namespace, database_url: str, work: Path) -> Result:
    """A backlog of deadlines already passed: breaches per second of the worker(s)."""
    from seed_orders import prepare

    backend, n = args.backend, args.capacity_orders
    prepare(database_url)
    now = time.time()
    seconds = seed(database_url, n, args.seed_workers, 5, now - 120, 60, "due")
    args.seed_rates.append((n, n / seconds))
    analyze(database_url)
    log(f"capacity: {n} overdue deadlines stored in {seconds:.1f} s ({n / seconds:.0f}/s)")
    quiet(args.quiet_wait)
    env = worker_env(database_url, args)
    with children("worker", args.workers, args, env, work, "capacity") as procs:
        samplers = profile(args, [(p.pid, p.name) for p in procs], "capacity")
        cpu = Cpu({"workers": [p.pid for p in procs]}, db_backends(args, database_url))
        observer = Observer(database_url)
        limit = time.monotonic() + max(120.0, n / 20)
        firing = False
        while observer.poll() < n and time.monotonic() < limit:
            if not firing and observer.seen:  # from the first commit: start-up left out
                cpu.start()
                firing = True
            time.sleep(0.05)
        if not firing:
            cpu.start()
        cpu.stop()
        for sampler in samplers:
            sampler.stop()
        observer.close()
    rows = deadline_rows(database_url)
    breached = sorted(b for _, _, b in rows if b is not None)
    span = breached[-1] - breached[0] if len(breached) > 1 else 0.0
    rate = (len(breached) - 1) / span if span > 0 else 0.0
    result = Result(
        phase="capacity",
        backend=backend,
        process="worker",
        workers=args.workers,
        open_orders=n,
        seconds=round(span, 3),
        cpu_pct=cpu.pct,
        breaches=len(breached),
        per_s=rate,
        extra={"seed_seconds": round(seconds, 1), **counts(database_url)},
    )
    busy = cpu.pct["workers"]
    result.extra["worker_cpu_pct_while_firing"] = round(busy, 1)
    log(
        f"capacity: {len(breached)} of {n} breaches recorded in {span:.2f} s: {rate:.0f}/s "
        f"({1000 / rate if rate else 0:.1f} ms each)  cpu workers {busy:.0f}% while firing  "
        f"db {cpu.pct['db']:.0f}%  {result.extra}"
    )
    return result


def measure_idle(
    args: argparse.Namespace, process: str, database_url: str, work: Path, tag: str
) -> dict[str, float]:
    """CPU of one ``process`` (worker | timers | bare) over ``--idle-seconds``, once ready."""
    env = worker_env(database_url, args)
    quiet(args.quiet_wait)
    with children(process, 1, args, env, work, tag) as procs:
        time.sleep(args.settle)
        cpu = Cpu({"process": [procs[0].pid]}, db_backends(args, database_url)).start()
        time.sleep(args.idle_seconds)
        pct = cpu.stop()
    return {**pct, "seconds": round(cpu.seconds, 2)}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def run_idle(args: argparse.Namespace, work: Path) -> list[Result]:
    """Idle CPU per second with 0, 10,000, 100,000 open orders whose deadlines are hours away.

    One database per number of orders, and ``--idle-rounds`` rounds that measure each
    process on each database in turn (and the bare process), so that a change in the
    machine's load hits every number alike; each figure is the median over the rounds.
    """
    from seed_orders import prepare

    backend = args.backend
    postgres = backend == "postgresql"
    samples: dict[tuple[str, int], list[dict[str, float]]] = {}
    timers: dict[int, int] = {}
    with contextlib.ExitStack() as stack:
        urls = {}
        for n in args.idle_orders:
            url = urls[n] = stack.enter_context(database(args, work, f"idle{n}"))
            prepare(url)
            if n:
                seconds = seed(
                    url, n, args.seed_workers, 100 + n, time.time() - 3600, 3600, "started"
                )
                args.seed_rates.append((n, n / seconds))
                analyze(url)
                log(f"idle: {n} open orders stored in {seconds:.1f} s ({n / seconds:.0f}/s)")
            timers[n] = counts(url)["timers"]
        for round_no in range(1, args.idle_rounds + 1):
            pct = measure_idle(args, "bare", urls[args.idle_orders[0]], work, f"idle-r{round_no}")
            samples.setdefault(("bare", 0), []).append(pct)
            log(f"idle round {round_no} bare process: {pct['process']:.3f}% of a core")
            for n in args.idle_orders:
                for process in args.idle_processes:
                    tag = f"idle-r{round_no}-{n}"
                    pct = measure_idle(args, process, urls[n], work, tag)
                    samples.setdefault((process, n), []).append(pct)
                    log(
                        f"idle round {round_no} {process:6s} {n:7d} open orders: "
                        f"{pct['process']:.3f}% of a core  db {pct['db']:.3f}%  "
                        f"other {pct['other']:.0f}% steal {pct['steal']:.0f}%"
                    )
        fired = {n: timers[n] - counts(url)["timers"] for n, url in urls.items()}
    results: list[Result] = []
    for (process, n), runs in samples.items():
        keys = ("process", "db", "other", "steal")
        result = Result(
            "idle",
            "-" if process == "bare" else backend,
            process,
            1,
            n,
            round(sum(r["seconds"] for r in runs), 1),
            cpu_pct={k: round(median([r[k] for r in runs]), 3) for k in keys},
            extra={"rounds": [r["process"] for r in runs], "db_rounds": [r["db"] for r in runs]},
        )
        if process != "bare" and fired.get(n):
            result.extra["warning"] = f"{fired[n]} timers fired while idle"
        results.append(result)
    for r in results:
        zero = next((z for z in results if z.process == r.process and z.open_orders == 0), None)
        if r.process == "bare" or zero is None:
            continue
        own, base = r.cpu_pct["process"], zero.cpu_pct["process"]
        r.ratio = own / base if base > 0 else None
        if r.open_orders:
            r.target = f"<= {IDLE_GROWTH:g} x at 0 orders (+{IDLE_SLACK_PCT:g}%)"
            r.target_met = own <= base * IDLE_GROWTH + IDLE_SLACK_PCT
            if postgres:  # the database's share counts too
                db, db0 = r.cpu_pct["db"], zero.cpu_pct["db"]
                r.target_met = r.target_met and db <= db0 * IDLE_GROWTH + IDLE_SLACK_PCT
            if "warning" in r.extra:
                r.target_met = False
    return results


def run_lag(args: argparse.Namespace, database_url: str, work: Path) -> list[Result]:
    """``--orders`` deadlines uniform over ``--window`` s: due-to-breach lag per deadline."""
    from seed_orders import prepare

    backend, n, window = args.backend, args.orders, args.window
    prepare(database_url)
    if args.lead is not None:
        lead = args.lead
    else:
        # only seeding of >= 10,000 orders predicts 100,000 well (indexes grow)
        rates = [rate for count, rate in args.seed_rates if count >= 10_000]
        rate = min(rates) if rates else ASSUMED_SEED_RATE
        lead = n / rate * LEAD_FACTOR + LEAD_EXTRA_S
    origin = time.time() + lead
    log(
        f"lag: storing {n} open orders, deadlines uniform over {window:g} s from "
        f"{lead:.0f} s from now ({n / window:.0f}/s)"
    )
    seconds = seed(database_url, n, args.seed_workers, 1000, origin, window, "due")
    analyze(database_url)
    slack = origin - time.time()
    log(f"lag: stored in {seconds:.1f} s ({n / seconds:.0f}/s); first deadline in {slack:.0f} s")
    if slack < 5:
        log(
            f"warning: the first deadlines are {'past' if slack < 0 else 'too close'} "
            "(seeding was slower than predicted); their lag includes the worker's start. "
            "Rerun with a larger --lead."
        )
    env = worker_env(database_url, args)
    results: list[Result] = []
    observer = Observer(database_url)
    db = db_backends(args, database_url, observer.backend_pid())
    with children("worker", args.workers, args, env, work, "lag") as procs:
        pids = {"workers": [p.pid for p in procs], "observer": [os.getpid()]}
        idle_for = origin - time.time() - 2 - args.settle
        if idle_for >= 5:  # free: the workers idle until the first deadline
            time.sleep(args.settle)
            cpu = Cpu(pids, db).start()
            time.sleep(idle_for)
            cpu.stop()
            idle = Result(
                "idle-before-lag",
                backend,
                "worker",
                args.workers,
                n,
                round(cpu.seconds, 1),
                cpu_pct=cpu.pct,
            )
            results.append(idle)
            log(
                f"lag: workers idle with {n} open orders (deadlines ahead) for {cpu.seconds:.0f}"
                f" s: {cpu.pct['workers']:.3f}% of a core, db {cpu.pct['db']:.3f}%"
            )
        while time.time() < origin - 0.5:
            time.sleep(0.05)
        samplers = profile(args, [(p.pid, p.name) for p in procs], "lag")
        cpu = Cpu(pids, db).start()
        end = origin + window + max(30.0, window * 0.1)
        while observer.poll() < n and time.time() < end:
            time.sleep(args.observe)
        cpu.stop()
        for sampler in samplers:
            sampler.stop()
    observer.close()
    rows = deadline_rows(database_url)
    lag = [b - d for _, d, b in rows if b is not None]
    seen = [observer.seen[o] - d for o, d, _ in rows if o in observer.seen]
    # from the handler's stamp to the observer seeing it committed: the rest of the
    # worker's transaction (up to 100 timers), its commit, and the observer's poll
    commit = [observer.seen[o] - b for o, _, b in rows if o in observer.seen and b is not None]
    breached = sorted(b for _, _, b in rows if b is not None)
    span = breached[-1] - breached[0] if len(breached) > 1 else 0.0
    check = counts(database_url)
    result = Result(
        phase="lag",
        backend=backend,
        process="worker",
        workers=args.workers,
        open_orders=n,
        seconds=round(span, 1),
        cpu_pct=cpu.pct,
        breaches=len(lag),
        per_s=(len(breached) - 1) / span if span > 0 else 0.0,
        lag_s=stats(lag),
        seen_s=stats(seen),
        target=f"p99 < {LAG_P99_TARGET_S:g} s",
        extra={
            "window_s": window,
            "asked_per_s": n / window,
            "lead_s": round(lead, 1),
            "slack_at_start_s": round(slack, 1),
            "seed_seconds": round(seconds, 1),
            "poll_s": args.poll,
            "observe_s": args.observe,
            "not_breached": n - len(lag),
            "not_seen": n - len(seen),
            "breach_to_seen_s": stats(commit),
            "p99_by_tenth_s": by_tenth(rows),
            "early": sum(1 for x in lag if x < 0),
            **check,
        },
    )
    capacity = next((r.per_s for r in args.results if r.phase == "capacity"), None)
    if capacity:
        result.extra["share_of_capacity"] = round(n / window / capacity, 3)
    result.target_met = bool(
        lag
        and result.lag_s["p99"] < LAG_P99_TARGET_S
        and len(lag) == n
        and slack >= 5
        and check["orders_alarmed_twice"] == 0
        and check["alarm_events"] == n
    )
    results.append(result)
    log(
        f"lag: {len(lag)} of {n} breached; breach record - due: "
        + "  ".join(f"{k} {v:.3f} s" for k, v in result.lag_s.items())
        + "; first seen committed - due: "
        + "  ".join(f"{k} {v:.3f} s" for k, v in result.seen_s.items())
        + f"  cpu workers {cpu.pct['workers']:.0f}% db {cpu.pct['db']:.0f}% "
        f"observer {cpu.pct['observer']:.0f}% other {cpu.pct['other']:.0f}% "
        f"steal {cpu.pct['steal']:.0f}%  {check}"
    )
    return results


# =========================================================================== report


def floor(poll: float) -> dict[str, float]:
    """Lag of a poll every ``poll`` s with free handling: uniform over [0, poll]."""
    return {"p50": poll * 0.5, "p90": poll * 0.9, "p99": poll * 0.99, "max": poll}


def met_cell(r: Result, name: str, values: dict[str, float]) -> str:
    """The target is judged on the breach record; the committed figure is shown in ( )."""
    if r.target_met is None or not values:
        return "-"
    if name == "breach record":
        return "yes" if r.target_met else "NO"
    return "(yes)" if values["p99"] < LAG_P99_TARGET_S else "(NO)"


def lag_table(results: list[Result], poll: float) -> str:
    header = ["run", "backend", "workers", "deadlines", "window s", "asked/s", "done/s"]
    header += ["of cap.", "p50 s", "p90 s", "p99 s", "max s", "p99/floor", "cpu", "db cpu"]
    header += ["other", "steal", "target", "met"]
    rows = []
    for r in results:
        if r.phase not in ("capacity", "lag"):
            continue
        share = r.extra.get("share_of_capacity")
        lines: list[tuple[str, dict[str, float]]] = [("-", {})]
        if r.phase == "lag":
            lines = [("breach record", r.lag_s), ("seen committed", r.seen_s)]
        for name, values in lines:
            label = r.phase if r.phase == "capacity" else f"lag: {name}"
            cpu = r.cpu_pct.get("workers", 0.0)
            if r.phase == "capacity":
                cpu = r.extra.get("worker_cpu_pct_while_firing", cpu)
            rows.append(
                [
                    label,
                    r.backend,
                    str(r.workers),
                    f"{r.open_orders:,}",
                    "-" if r.phase == "capacity" else f"{r.extra['window_s']:g}",
                    "-" if r.phase == "capacity" else f"{r.extra['asked_per_s']:,.0f}",
                    f"{r.per_s:,.0f}",
                    "-" if share is None else f"{share:.0%}",
                    *(f"{values[k]:.3f}" if k in values else "-" for k in ("p50", "p90", "p99")),
                    f"{values['max']:.3f}" if "max" in values else "-",
                    f"{values['p99'] / (poll * 0.99):.2f}" if "p99" in values else "-",
                    f"{cpu:.0f}%",
                    "-" if r.backend != "postgresql" else f"{r.cpu_pct.get('db', 0):.0f}%",
                    f"{r.cpu_pct.get('other', 0):.0f}%",
                    f"{r.cpu_pct.get('steal', 0):.0f}%",
                    r.target or "-",
                    met_cell(r, name, values),
                ]
            )
    f = floor(poll)
    rows.append(
        ["floor: poll", "-", "-", "-", "-", "-", "-", "-"]
        + [f"{f[k]:.3f}" for k in ("p50", "p90", "p99", "max")]
        + ["1.00", "-", "-", "-", "-", "-", "-"]
    )
    return aligned(header, rows, right=set(range(2, 17)))


def idle_table(results: list[Result]) -> str:
    header = ["process", "backend", "open orders", "seconds", "cpu % core", "vs 0 orders"]
    header += ["db cpu %", "other", "steal", "target", "met"]
    rows = []
    for r in results:
        if not r.phase.startswith("idle"):
            continue
        main = r.cpu_pct.get("process", r.cpu_pct.get("workers", 0.0))
        label = r.process if r.workers == 1 else f"{r.process} x{r.workers}"
        if r.phase != "idle":
            label += " (before lag)"
        rows.append(
            [
                label,
                r.backend,
                f"{r.open_orders:,}" if r.backend != "-" else "-",
                f"{r.seconds:g}",
                f"{main:.3f}",
                "-" if r.ratio is None else f"{r.ratio:.2f}",
                "-" if r.backend != "postgresql" else f"{r.cpu_pct.get('db', 0):.3f}",
                f"{r.cpu_pct.get('other', 0):.0f}%",
                f"{r.cpu_pct.get('steal', 0):.0f}%",
                r.target or "-",
                "-" if r.target_met is None else ("yes" if r.target_met else "NO"),
            ]
        )
    return aligned(header, rows, right=set(range(2, 9)))


def report(args: argparse.Namespace, results: list[Result], stamp: str) -> None:

    env = environment(
        args,
        ("pss-ordering", "sqlalchemy", "psycopg", "orjson"),
        {"logs", "results", "seed_rates", "profile_dir"},
    )
    print()
    print(
        f"pss-ordering timer benchmark  commit {env['commit']}  python {env['python']}  "
        f"{env['cpus']} cpus  {args.backend}, {args.workers} worker process(es), "
        f"poll {args.poll:g} s"
    )
    if any(r.phase in ("capacity", "lag") for r in results):
        print(lag_table(results, args.poll))
        print(
            "breach record: response_deadlines.breached_at - due_at (stamped by the handler, "
            "ms precision); seen committed: when an observer polling every "
            f"{args.observe:g} s first saw the committed breach - due_at. floor: a poll every "
            f"{args.poll:g} s finds a deadline uniformly 0..{args.poll:g} s late. done/s: "
            "breaches / (last - first breached_at); of cap.: asked rate / capacity. "
            "cpu: the worker processes (capacity: while firing), 100% = one core."
        )
    if any(r.phase.startswith("idle") for r in results):
        print()
        print(idle_table(results))
        print(
            "cpu % core: CPU seconds per second of the process (all threads, from "
            "/proc/<pid>/task/*/schedstat) while idle; bare: a Python process waking every "
            f"{args.poll:g} s, nothing else; worker: pss-ordering worker (timers + event "
            "delivery); timers: only the timer loop. vs 0 orders: ratio to the same process "
            "with no open orders."
        )
    for r in results:
        if r.phase == "lag" and r.extra.get("breach_to_seen_s"):
            gap = r.extra["breach_to_seen_s"]
            print(
                "lag: from breached_at to seen committed (the rest of the worker's transaction "
                f"of up to 100 timers, its commit, the observer's {args.observe:g} s poll): "
                + "  ".join(f"{k} {gap[k]:.3f} s" for k in ("p50", "p99", "max"))
            )
            print(
                "lag: breach record p99 per tenth of the window (s): "
                + " ".join(f"{v:.2f}" for v in r.extra["p99_by_tenth_s"])
            )
            if "share_of_capacity" in r.extra:
                print(
                    f"lag: asked {r.extra['asked_per_s']:.0f} breaches/s = "
                    f"{r.extra['share_of_capacity']:.0%} of the capacity measured in this run"
                )
        if "warning" in r.extra:
            print(f"warning: {r.phase} {r.process} {r.open_orders}: {r.extra['warning']}")
        bad = {k: r.extra[k] for k in ("not_breached", "early") if r.extra.get(k)}
        if r.extra.get("orders_alarmed_twice"):
            bad["orders_alarmed_twice"] = r.extra["orders_alarmed_twice"]
        if bad:
            print(f"warning: {r.phase}: {bad}")
        noise = r.cpu_pct.get("other", 0) + r.cpu_pct.get("steal", 0)
        if noise > 15:
            print(
                f"warning: {r.phase} {r.process} {r.open_orders}: other processes and hypervisor "
                f"steal took {noise:.0f}% CPU; the figures are perturbed"
            )
    out = {"environment": env, "results": [asdict(r) for r in results]}
    path = RESULTS / f"timers-{stamp}.json"
    path.write_text(json.dumps(out, indent=2))
    (RESULTS / "timers-latest.json").write_text(json.dumps(out, indent=2))
    print(f"results: {path}; logs: {args.logs}")
    if args.profile_dir is not None:
        print(
            f"py-spy profiles: {args.profile_dir}; summarise with "
            f"'python bench/profile_summary.py {args.profile_dir}/<file>.txt'"
        )


# =========================================================================== main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Timer benchmark: response deadlines from due to breach, and idle cost."
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--workers", type=int, help="pss-ordering worker processes (1 on SQLite, 2 on PostgreSQL)"
    )
    parser.add_argument("--orders", type=int, default=100_000, help="lag run: deadlines (100000)")
    parser.add_argument(
        "--window", type=float, default=600, help="lag run: seconds the deadlines spread over (600)"
    )
    parser.add_argument(
        "--lead",
        type=float,
        help="lag run: seconds from the start of seeding to the first deadline "
        "(default: 1.5 x the predicted seeding time + 20 s)",
    )
    parser.add_argument(
        "--capacity-orders", type=int, default=3000, help="capacity run: overdue deadlines (3000)"
    )
    parser.add_argument(
        "--idle-orders",
        default="0,10000,100000",
        help="idle runs: open orders, comma-separated, ascending (0,10000,100000)",
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=20, help="idle runs: seconds measured (20)"
    )
    parser.add_argument(
        "--idle-rounds",
        type=int,
        default=3,
        help="idle runs: rounds over every process and number of orders; medians (3)",
    )
    parser.add_argument(
        "--idle-processes",
        default="worker,timers",
        help="idle runs: worker (pss-ordering worker), timers (only the timer loop)",
    )
    parser.add_argument(
        "--poll", type=float, default=0.5, help="PSS_TIMER_POLL_SECONDS for the workers (0.5)"
    )
    parser.add_argument(
        "--observe", type=float, default=0.1, help="lag run: the observer's poll (0.1 s)"
    )
    parser.add_argument(
        "--settle", type=float, default=3, help="seconds after a process is ready (3)"
    )
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--skip-lag", action="store_true")
    common_options(
        parser,
        "bench_pss_timers",
        "py-spy on the workers during the capacity and lag runs (perturbs figures)",
    )
    args = parser.parse_args()
    args.backend = "sqlite" if args.db == "sqlite" else "postgresql"
    if args.workers is None:
        args.workers = 1 if args.backend == "sqlite" else 2
    args.seed_workers = 1 if args.backend == "sqlite" else 2
    args.idle_orders = sorted(int(x) for x in args.idle_orders.split(",") if x.strip())
    args.idle_processes = [p.strip() for p in args.idle_processes.split(",") if p.strip()]
    if not set(args.idle_processes) <= {"worker", "timers"}:
        parser.error("--idle-processes: worker and/or timers")
    if args.window <= 0 or args.orders < 1:
        parser.error("--window and --orders must be positive")
    return args


@contextlib.contextmanager
def database(args: argparse.Namespace, work: Path, name: str) -> Iterator[str]:
    """A fresh database for one phase (SQLite file, or a PostgreSQL database dropped after)."""
    if args.backend == "sqlite":
        yield f"sqlite:///{work / f'{name}.db'}"
        return

    with postgres_database(args.pg_admin_url, f"{args.pg_database}_{name}") as url:
        yield url


def main() -> None:
    if sys.argv[1:2] == ["_timers"]:
        run_timers_only()
        return
    if sys.argv[1:2] == ["_bare"]:
        run_bare(float(sys.argv[3]))
        return
    args = parse_args()
    sys.path.insert(0, str(BENCH))

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    args.logs = RESULTS / f"timers-logs-{stamp}"
    args.logs.mkdir()
    args.profile_dir = None
    if args.profile:
        args.profile_dir = RESULTS / f"timers-profile-{stamp}"
        args.profile_dir.mkdir()
    args.seed_rates = []
    args.results = results = []
    with tempfile.TemporaryDirectory(prefix="pss-timers-") as tmp:
        work = Path(tmp)
        if not args.skip_capacity:
            with database(args, work, "capacity") as url:
                results.append(run_capacity(args, url, work))
        if not args.skip_idle:
            results += run_idle(args, work)
        if not args.skip_lag:
            with database(args, work, "lag") as url:
                results += run_lag(args, url, work)
    report(args, results, stamp)
    if args.check and any(r.target_met is False for r in results):
        sys.exit("bench: timer targets missed")


if __name__ == "__main__":
    main()
