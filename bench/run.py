"""One command: baseline vs. service (SQLite, then PostgreSQL) under the same wrk load.

    .venv/bin/python bench/run.py [--duration 10] [--connections 32] [--skip-postgres]
    .venv/bin/python bench/run.py --workers 1,2 --two-nodes    # scaling: processes and nodes

See bench/README.md for what is measured and how the targets are judged.
Everything runs on 127.0.0.1; every child process and wrk run has a time limit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
LOAD_LUA = BENCH / "load.lua"
HOST = "127.0.0.1"
ORDERS_PATH = "/psi-api/productOrdering/v2/productOrder"
SECRET = "bench-secret-" + "0123456789abcdef" * 2  # >= 32 bytes: no PyJWT key warning
CREATE_BODY = {
    "productOrderItem": [
        {
            "id": "1",
            "action": "add",
            "productOffering": {"id": "leo-broadband"},
            # leo-broadband requires an IMEI: without it the order would wait for information.
            "product": {"productCharacteristic": [{"name": "IMEI", "value": "490154203237518"}]},
        },
        {"id": "2", "action": "add", "productOffering": {"id": "geo-backup"}},
    ]
}
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"

# Targets of issue 3, per row (judged on SQLite with one process; PostgreSQL's in parentheses).
CREATE_MIN_RATIO = 0.15  # create req/s >= 15% of baseline POST req/s
GET_MIN_RATIO = 0.25  # get-by-id req/s >= 25% of baseline GET req/s
LIST_MAX_P99_MS = 50.0  # filtered list on 100k orders: p99 < 50 ms


@dataclass(frozen=True)
class Targets:
    """Issue 10's targets for one backend and set-up: ratios to the bare baseline."""

    title: str
    workers: int  # the set-up they are judged on: this many processes, one node
    create: float  # create req/s / baseline POST req/s
    get: float  # get req/s / baseline GET req/s
    list_state: float  # list-state req/s / baseline GET req/s (and p99 < LIST_MAX_P99_MS)


TARGETS = {
    "postgresql": Targets("PostgreSQL, --workers 2", 2, create=0.08, get=0.12, list_state=0.07),
    "sqlite": Targets("SQLite, default serve", 1, create=0.08, get=0.30, list_state=0.07),
}


# --------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def ensure_wrk(allow_install: bool) -> str:
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if allow_install and apt and os.geteuid() == 0:
        log("wrk not found: installing it with apt-get (Debian package 'wrk')")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "wrk"]):
            subprocess.run(
                cmd,
                env=env,
                check=False,
                timeout=600,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit(
        "bench: the load generator 'wrk' is not installed. Install it with "
        "'apt-get install -y wrk' (Debian/Ubuntu) or 'brew install wrk', then re-run."
    )


def http_get(
    url: str, token: str | None = None, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def http_post(url: str, body: bytes, token: str, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """``root`` and every process descending from it (serve's API processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def tree_cpu_seconds(pids: list[int]) -> float:
    """CPU seconds of these processes and their descendants (those that still exist)."""
    total = 0.0
    for root in pids:
        for pid in process_tree(root):
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += cpu_seconds(pid)
    return total


def postgres_cpu_seconds() -> float:
    """CPU seconds of the processes named ``postgres`` (the local PostgreSQL server).

    The children's times count too: parallel query workers exit, and the postmaster reaps them.
    """
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            if text[text.index("(") + 1 : text.rindex(")")] == "postgres":
                fields = text.rsplit(")", 1)[1].split()
                total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def process_cpu_table() -> dict[int, tuple[str, float]]:
    """pid -> (command line, CPU seconds) for every process: who else used the machine."""
    table: dict[int, tuple[str, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            fields = text.rsplit(")", 1)[1].split()
            cmd = (
                (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
            name = cmd.strip()[:80] or text[text.index("(") + 1 : text.rindex(")")]
            table[int(stat.parent.name)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return table


def top_others(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    wall: float,
    exclude: set[int],
) -> list[str]:
    """The processes (not ours, not wrk, not postgres) that used most CPU between two tables."""
    used = []
    for pid, (name, cpu) in after.items():
        if pid in exclude or name.startswith(("wrk", "postgres")):
            continue
        delta = cpu - before.get(pid, (name, 0.0))[1]
        if delta / wall >= 0.02:
            used.append((delta / wall * 100, f"pid {pid} {name}"))
    return [f"{pct:.0f}% {what}" for pct, what in sorted(used, reverse=True)[:3]]


def machine_cpu_seconds() -> tuple[float, float]:
    """(CPU seconds all processes used, CPU seconds the hypervisor stole) since boot.

    From /proc/stat: user + nice + system, and steal. Interrupt and softirq time (the
    loopback network) belongs to no process and is left out.
    """
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    steal = ticks[7] if len(ticks) > 7 else 0
    tick = os.sysconf("SC_CLK_TCK")
    return (ticks[0] + ticks[1] + ticks[2]) / tick, steal / tick


class Server:
    """A child process serving HTTP on 127.0.0.1:port; always stopped on exit."""

    def __init__(
        self, name: str, argv: list[str], port: int, env: dict[str, str], cwd: Path, log_dir: Path
    ) -> None:
        self.name, self.argv, self.port, self.env, self.cwd = name, argv, port, env, cwd
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Server:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log_path}"
                )
            with contextlib.suppress(OSError):
                if http_get(self.url + "/health", timeout=2)[0] == 200:
                    log(f"{self.name} is up on {self.url} (pid {self.pid})")
                    return self
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.name} did not become healthy in 120 s; see {self.log_path}")

    def __exit__(self, *_exc: object) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)  # our own child's process group
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        self._log.close()


@dataclass(frozen=True)
class Setup:
    """How the service is run: ``workers`` API processes per node, ``nodes`` serve commands
    (each on its own port, same database: two hosts behind a load balancer)."""

    workers: int
    nodes: int = 1

    @property
    def label(self) -> str:
        if self.nodes > 1:
            return f"{self.nodes} nodes x {self.workers}"
        return f"{self.workers} process" + ("es" if self.workers > 1 else "")


class Nodes:
    """The server(s) under load: one, or several nodes that wrk's threads share."""

    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers

    @property
    def name(self) -> str:
        return self.servers[0].name

    @property
    def url(self) -> str:
        return self.servers[0].url

    @property
    def pid(self) -> int:
        return self.servers[0].pid

    @property
    def roots(self) -> list[int]:
        return [server.pid for server in self.servers]

    def pids(self) -> set[int]:
        return {pid for root in self.roots for pid in process_tree(root)}

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.roots)

    @property
    def addresses(self) -> list[str]:
        return [f"{HOST}:{server.port}" for server in self.servers]


# --------------------------------------------------------------------------- load


@dataclass
class Scenario:
    name: str  # create | get | list-...
    method: str
    path: str  # full path, or prefix when ids_file is set
    token: str
    body_file: Path | None = None
    ids_file: Path | None = None
    connections: int | None = None  # None: the run's --connections
    expect_status: int = 200
    note: str = ""


@dataclass
class Result:
    backend: str
    scenario: str
    setup: str
    workers: int
    nodes: int
    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    server_cpu_pct: float
    wrk_cpu_pct: float
    db_cpu_pct: float = 0.0
    other_cpu_pct: float = 0.0
    steal_pct: float = 0.0
    note: str = ""
    baseline: str | None = None
    ratio: float | None = None
    target: str | None = None
    target_met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def noise_pct(self) -> float:
        """CPU that other processes used or the hypervisor stole while this was measured."""
        return self.other_cpu_pct + self.steal_pct


def run_wrk(
    wrk: str,
    url: str,
    scenario: Scenario,
    *,
    duration: float,
    connections: int,
    threads: int,
    nodes: list[str] | None = None,
) -> dict[str, Any]:
    """Run wrk once. With several ``nodes`` (host:port), wrk runs one thread per node (or
    a multiple of them), each thread's connections going to its node (load.lua's setup)."""
    env = dict(os.environ)
    env.pop("BENCH_NODES", None)
    if nodes and len(nodes) > 1 and connections >= len(nodes):
        threads = len(nodes) * max(1, threads // len(nodes))
        env["BENCH_NODES"] = ",".join(nodes)
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LOAD_LUA),
        url,
        "--",
        scenario.method,
        scenario.path,
        str(scenario.body_file) if scenario.body_file else "-",
        scenario.token or "-",
        str(scenario.ids_file) if scenario.ids_file else "-",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration + 60, check=False, env=env
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            raw: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            raw["wrk_cpu_pct"] = 100 * wrk_cpu / (raw["duration_us"] / 1e6)
            return raw
    raise RuntimeError(
        f"wrk gave no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    )


class Profiler:
    """py-spy attached to the server for the measured window (only with --profile)."""

    def __init__(self, pid: int, out: Path, seconds: float, gil: bool) -> None:
        """py-spy on ``pid`` and its subprocesses (serve's API processes)."""
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.argv = [
            exe,
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds) + 1),
            "-r",
            "200",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
            "--subprocesses",
        ]
        if gil:
            self.argv.append("--gil")
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(0.5)
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=15)


def wait_idle(nodes: Nodes, limit: float = 120.0) -> float:
    """Wait until the server has no work left (requests wrk gave up on still run to the end).

    Idle means under 5% of a core over 0.5 s (all its processes together). Returns the
    seconds waited.
    """
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = nodes.cpu_seconds()
        time.sleep(0.5)
        if nodes.cpu_seconds() - before < 0.025:
            break
    return time.monotonic() - started


NOISE_LIMIT_PCT = 15.0  # other processes above this during a measurement: perturbed


def wait_quiet(limit: float) -> bool:
    """Wait (up to ``limit`` s) for 3 s in which the machine is idle (< 10% busy or stolen)."""
    deadline = time.monotonic() + limit
    quiet = 0
    while time.monotonic() < deadline:
        before = sum(machine_cpu_seconds())
        time.sleep(1.0)
        quiet = quiet + 1 if sum(machine_cpu_seconds()) - before < 0.10 else 0
        if quiet >= 3:
            return True
    return False


def measure(
    wrk: str,
    server: Nodes,
    backend: str,
    setup: Setup,
    scenario: Scenario,
    args: argparse.Namespace,
    profile_dir: Path | None,
) -> Result:
    """Measure, and measure again (up to --noise-retries times) when other processes
    interfered; the least perturbed attempt counts."""
    attempts: list[Result] = []
    while True:
        wait_idle(server)
        if args.noise_retries and not wait_quiet(args.quiet_wait):
            log(f"the machine was not quiet for {args.quiet_wait:g} s; measuring anyway")
        result = measure_once(wrk, server, backend, setup, scenario, args, profile_dir)
        attempts.append(result)
        if result.noise_pct <= NOISE_LIMIT_PCT or len(attempts) > args.noise_retries:
            best = min(attempts, key=lambda r: r.noise_pct)
            best.extra["attempts"] = len(attempts)
            best.extra["attempt_rps"] = [round(r.rps, 1) for r in attempts]
            return best
        who = "; ".join(result.extra["other_processes"]) or "no long-lived process"
        log(
            f"other processes used {result.other_cpu_pct:.0f}% CPU ({who}), the hypervisor "
            f"stole {result.steal_pct:.0f}%: measuring again"
        )


def measure_once(
    wrk: str,
    server: Nodes,
    backend: str,
    setup: Setup,
    scenario: Scenario,
    args: argparse.Namespace,
    profile_dir: Path | None,
) -> Result:
    connections = scenario.connections or args.connections
    if args.warmup > 0:
        run_wrk(
            wrk,
            server.url,
            scenario,
            duration=args.warmup,
            connections=connections,
            threads=args.threads,
            nodes=server.addresses,
        )
    wait_idle(server)
    cpu_before = server.cpu_seconds()
    busy_before, steal_before = machine_cpu_seconds()
    db_before = postgres_cpu_seconds() if backend == "postgresql" else 0.0
    procs_before = process_cpu_table()
    wall_before = time.monotonic()
    profiler: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if profile_dir is not None:
        profiler = Profiler(
            server.pid,
            profile_dir / f"{backend}-{setup.label.replace(' ', '')}-{scenario.name}.txt",
            args.duration,
            args.profile_gil,
        )
    with profiler:
        raw = run_wrk(
            wrk,
            server.url,
            scenario,
            duration=args.duration,
            connections=connections,
            threads=args.threads,
            nodes=server.addresses,
        )
        wall = time.monotonic() - wall_before
        cpu = (server.cpu_seconds() - cpu_before) / wall * 100
        busy_after, steal_after = machine_cpu_seconds()
        busy = (busy_after - busy_before) / wall * 100
        steal = (steal_after - steal_before) / wall * 100
        db = (postgres_cpu_seconds() - db_before) / wall * 100 if backend == "postgresql" else 0
        others = top_others(procs_before, process_cpu_table(), wall, {*server.pids(), os.getpid()})
    drained = wait_idle(server)
    seconds = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    result = Result(
        backend=backend,
        scenario=scenario.name,
        setup=setup.label,
        workers=setup.workers,
        nodes=setup.nodes,
        connections=connections,
        duration_s=round(seconds, 2),
        requests=raw["requests"],
        rps=raw["requests"] / seconds,
        p50_ms=lat["p50"] / 1000,
        p90_ms=lat["p90"] / 1000,
        p99_ms=lat["p99"] / 1000,
        max_ms=lat["max"] / 1000,
        errors=raw["errors"],
        server_cpu_pct=cpu,
        wrk_cpu_pct=raw["wrk_cpu_pct"],
        db_cpu_pct=db,
        note=scenario.note,
    )
    # CPU used by anything but server, database and wrk (other processes: noise in the figures).
    result.other_cpu_pct = max(0.0, busy - cpu - db - result.wrk_cpu_pct)
    result.steal_pct = steal
    result.extra["drain_s"] = round(drained, 1)
    result.extra["other_processes"] = others
    bad = sum(raw["errors"].values())
    log(
        f"{backend:10s} {setup.label:13s} {scenario.name:16s} c={connections:<3d} "
        f"{result.rps:9.1f} req/s  "
        f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
        f"cpu server {cpu:3.0f}% db {db:3.0f}% wrk {result.wrk_cpu_pct:3.0f}% "
        f"other {result.other_cpu_pct:3.0f}% steal {steal:3.0f}%"
        + (f"  ERRORS {raw['errors']}" if bad else "")
    )
    return result


# --------------------------------------------------------------------------- backends


def mint(party: str, roles: list[str]) -> str:
    from pss_ordering.api.auth import mint_token

    return mint_token(SECRET, party, roles, lifetime_seconds=6 * 3600)


def service_scenarios(work: Path, ids_file: Path, body_file: Path) -> list[Scenario]:
    alice = mint("alice", ["customer"])
    governance = mint("pss-operator", ["governance"])
    since = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return [
        Scenario(
            "get",
            "GET",
            ORDERS_PATH + "/",
            alice,
            ids_file=ids_file,
            note="customer alice, 1000 of her order ids in rotation",
        ),
        Scenario(
            "list-state",
            "GET",
            ORDERS_PATH + "?state=pending&limit=20",
            alice,
            note="customer alice: state=pending",
        ),
        Scenario(
            "list-offering",
            "GET",
            ORDERS_PATH + "?productOrderItem.productOffering.id=geo-backup&limit=20",
            alice,
            note="customer alice: item offering=geo-backup",
        ),
        Scenario(
            "list-since",
            "GET",
            ORDERS_PATH + f"?creationDate.gte={since}&limit=20",
            alice,
            note="customer alice: created in the last 30 days",
        ),
        Scenario(
            "list-gov-state",
            "GET",
            ORDERS_PATH + "?state=pending&limit=20",
            governance,
            note="governance (sees all orders): state=pending",
        ),
        Scenario(
            "list-state@c1",
            "GET",
            ORDERS_PATH + "?state=pending&limit=20",
            alice,
            connections=1,
            note="as list-state, one connection: latency without queueing",
        ),
        Scenario(
            "create",
            "POST",
            ORDERS_PATH,
            alice,
            body_file=body_file,
            expect_status=201,
            note="customer alice, 2-item order",
        ),
    ]


def check_scenario(server: Server | Nodes, scenario: Scenario) -> dict[str, Any]:
    """One request by hand before the load: fail loudly on a wrong status, note the totals."""
    if scenario.method == "POST":
        assert scenario.body_file is not None
        status, _ = http_post(
            server.url + scenario.path, scenario.body_file.read_bytes(), scenario.token
        )
        headers: dict[str, str] = {}
    else:
        path = scenario.path
        if scenario.ids_file is not None:
            path += scenario.ids_file.read_text().split()[0]
        status, headers, _ = http_get(server.url + path, scenario.token)
    if status != scenario.expect_status:
        raise RuntimeError(
            f"{server.name} {scenario.name}: expected {scenario.expect_status}, got {status}"
        )
    total = {k.lower(): v for k, v in headers.items()}.get("x-total-count")
    return {"x_total_count": int(total)} if total is not None else {}


def run_backend(
    wrk: str,
    backend: str,
    database_url: str,
    args: argparse.Namespace,
    work: Path,
    body_file: Path,
    log_dir: Path,
    profile_dir: Path | None,
) -> list[Result]:
    import seed_orders

    writers = 1 if database_url.startswith("sqlite") else 2
    log(f"{backend}: storing {args.orders} orders through the repository ({writers} process(es))")
    stats = seed_orders.seed(database_url, args.orders, workers=writers)
    log(f"{backend}: {stats['orders']} orders stored in {stats['seconds']} s")
    ids_file = work / f"{backend}-ids.txt"
    ids_file.write_text("\n".join(seed_orders.sample_ids(database_url, "alice", 1000)) + "\n")
    scenarios = service_scenarios(work, ids_file, body_file)
    if args.scenarios:
        unknown = set(args.scenarios) - {s.name for s in scenarios}
        if unknown:
            sys.exit(f"bench: no scenario named {', '.join(sorted(unknown))}")
        scenarios = [s for s in scenarios if s.name in args.scenarios]
    reads = [s for s in scenarios if s.method != "POST"]
    writes = [s for s in scenarios if s.method == "POST"]
    results = []
    # Every set-up reads the same --orders orders: creates run last, after all reads.
    for phase in (reads, writes):
        for setup in setups(backend, args):
            with serving(backend, setup, database_url, work, log_dir) as nodes:
                for scenario in phase:
                    extra = check_scenario(nodes, scenario)
                    result = measure(wrk, nodes, backend, setup, scenario, args, profile_dir)
                    result.extra.update(extra, orders_stored=stats["orders"])
                    results.append(result)
    return results


def setups(backend: str, args: argparse.Namespace) -> list[Setup]:
    """The set-ups measured on ``backend``: --workers (default: the target's), and with
    --two-nodes on PostgreSQL two single-process nodes as well."""
    counts = args.workers or [TARGETS[backend].workers]
    found = [Setup(workers) for workers in counts]
    if args.two_nodes and backend == "postgresql":
        found.append(Setup(1, nodes=2))
    return found


@contextlib.contextmanager
def serving(
    backend: str, setup: Setup, database_url: str, work: Path, log_dir: Path
) -> Iterator[Nodes]:
    """``pss-ordering serve --workers N`` on ``setup.nodes`` free ports, started one after
    the other (each migrates and seeds the demo data, a no-op after the first)."""
    env = {**os.environ, "PSS_DATABASE_URL": database_url, "PSS_JWT_SECRET": SECRET}
    env.pop("PSS_WORKERS", None)
    with contextlib.ExitStack() as stack:
        servers = []
        for node in range(setup.nodes):
            port = free_port()
            argv = [
                sys.executable,
                "-c",
                "from pss_ordering.cli.main import cli; cli()",
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                str(setup.workers),
                "--demo",
            ]
            name = f"{backend}-{setup.label.replace(' ', '')}" + (
                f"-node{node + 1}" if setup.nodes > 1 else ""
            )
            server = stack.enter_context(Server(name, argv, port, env, work, log_dir))
            wait_for_processes(server, setup.workers)
            servers.append(server)
        yield Nodes(servers)


def wait_for_processes(server: Server, count: int, limit: float = 120.0) -> None:
    """Wait until each of serve's ``count`` processes said it serves requests (the first
    answers /health while the others may still be starting)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.log_path.read_text(errors="replace").count("serves requests") >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name}: not all {count} processes started; see {server.log_path}")


def run_baseline(
    wrk: str, args: argparse.Namespace, work: Path, body_file: Path, log_dir: Path
) -> list[Result]:
    ids_file = work / "baseline-ids.txt"
    ids_file.write_text("\n".join(str(uuid.uuid4()) for _ in range(1000)) + "\n")
    token = mint("alice", ["customer"])
    port = free_port()
    argv = [sys.executable, str(BENCH / "baseline_app.py"), "--host", HOST, "--port", str(port)]
    scenarios = [
        Scenario(
            "POST",
            "POST",
            ORDERS_PATH,
            token,
            body_file=body_file,
            expect_status=201,
            note="parse + echo the create body",
        ),
        Scenario(
            "GET",
            "GET",
            ORDERS_PATH + "/",
            token,
            ids_file=ids_file,
            note="fixed ~0.6 kB order document",
        ),
    ]
    results = []
    with Server("baseline", argv, port, dict(os.environ), work, log_dir) as server:
        for scenario in scenarios:
            check_scenario(server, scenario)
            results.append(
                measure(wrk, Nodes([server]), "baseline", Setup(1), scenario, args, None)
            )
    return results


@contextlib.contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"dropped PostgreSQL database {name}")


# --------------------------------------------------------------------------- report


def judge(results: list[Result]) -> None:
    base = {r.scenario: r for r in results if r.backend == "baseline"}
    for r in results:
        if r.backend == "baseline":
            continue
        if r.scenario == "create" and "POST" in base:
            r.baseline, r.ratio = "POST", r.rps / base["POST"].rps
            r.target, r.target_met = (
                f">= {CREATE_MIN_RATIO:.0%} of POST",
                r.ratio >= CREATE_MIN_RATIO,
            )
        elif "GET" in base and r.connections == base["GET"].connections:
            r.baseline, r.ratio = "GET", r.rps / base["GET"].rps
        if r.scenario == "get" and r.ratio is not None:
            r.target, r.target_met = f">= {GET_MIN_RATIO:.0%} of GET", r.ratio >= GET_MIN_RATIO
        if r.scenario.startswith("list-"):
            r.target, r.target_met = f"p99 < {LIST_MAX_P99_MS:g} ms", r.p99_ms < LIST_MAX_P99_MS
        if sum(r.errors.values()):
            r.target_met = False


def judged_per_row(r: Result) -> bool:
    """Issue 3's per-row targets are defined for SQLite with one process (others: in ( ))."""
    return r.backend == "sqlite" and r.workers == 1 and r.nodes == 1


def table(results: list[Result]) -> str:
    header = [
        "scenario",
        "backend",
        "setup",
        "conn",
        "req/s",
        "p50 ms",
        "p99 ms",
        "ratio",
        "vs",
        "srv cpu",
        "db cpu",
        "wrk cpu",
        "other",
        "steal",
        "errors",
        "target",
        "met",
    ]
    rows = []
    for r in results:
        met = "-" if r.target_met is None else ("yes" if r.target_met else "NO")
        if r.target_met is not None and not judged_per_row(r):
            met = f"({met})"
        rows.append(
            [
                r.scenario,
                r.backend,
                r.setup if r.backend != "baseline" else "-",
                str(r.connections),
                f"{r.rps:,.0f}",
                f"{r.p50_ms:.2f}",
                f"{r.p99_ms:.2f}",
                "-" if r.ratio is None else f"{r.ratio:.1%}",
                r.baseline or "-",
                f"{r.server_cpu_pct:.0f}%",
                "-" if r.backend != "postgresql" else f"{r.db_cpu_pct:.0f}%",
                f"{r.wrk_cpu_pct:.0f}%",
                f"{r.other_cpu_pct:.0f}%",
                f"{r.steal_pct:.0f}%",
                str(sum(r.errors.values())),
                r.target or "-",
                met,
            ]
        )
    return aligned(header, rows, right={3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14})


def aligned(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [fmt(header), fmt(["-" * w for w in widths])]
    lines += [fmt(row) for row in rows]
    return "\n".join(lines)


@dataclass
class Verdict:
    """One cell of the targets table: a measured ratio against its target."""

    ratio: float
    target: float
    p99_ms: float | None = None  # lists: also p99 < LIST_MAX_P99_MS
    errors: int = 0

    @property
    def met(self) -> bool:
        p99_ok = self.p99_ms is None or self.p99_ms < LIST_MAX_P99_MS
        return self.ratio >= self.target and p99_ok and not self.errors

    def cell(self, judged: bool) -> str:
        text = f"{self.ratio:.1%} >= {self.target:.0%}"
        if self.p99_ms is not None:
            text += f", p99 {self.p99_ms:.1f} ms"
        met = "yes" if self.met else "NO"
        return f"{text}: {met if judged else f'({met})'}"


def verdicts(results: list[Result]) -> list[tuple[str, str, bool, dict[str, Verdict]]]:
    """Per backend and set-up: (backend, setup, judged?, scenario -> verdict) against issue
    10's targets. Judged (yes/NO) on the target's set-up; other set-ups in ( ), to compare."""
    base = {r.scenario: r for r in results if r.backend == "baseline"}
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        if r.backend in TARGETS:
            groups.setdefault((r.backend, r.setup), []).append(r)
    found = []
    for (backend, setup), rows in groups.items():
        targets = TARGETS[backend]
        by_name = {r.scenario: r for r in rows}
        cells: dict[str, Verdict] = {}
        for name, vs, target in (
            ("create", "POST", targets.create),
            ("get", "GET", targets.get),
            ("list-state", "GET", targets.list_state),
        ):
            r = by_name.get(name)
            if r is None or vs not in base:
                continue
            cells[name] = Verdict(
                r.rps / base[vs].rps,
                target,
                r.p99_ms if name.startswith("list") else None,
                sum(r.errors.values()),
            )
        judged = rows[0].workers == targets.workers and rows[0].nodes == 1
        found.append((backend, setup, judged, cells))
    return found


def targets_table(results: list[Result]) -> str:
    rows = []
    for backend, setup, judged, cells in verdicts(results):
        title = TARGETS[backend].title if judged else f"{backend}, {setup}"
        rows.append([title, *(cells[n].cell(judged) if n in cells else "-" for n in SCENARIOS_10)])
    header = ["set-up", "create (vs POST)", "get by id (vs GET)", "list state=, 20/page (vs GET)"]
    return aligned(header, rows, right=set())


SCENARIOS_10 = ("create", "get", "list-state")


def environment(wrk: str, args: argparse.Namespace) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "src"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    ).stdout.strip()
    versions = {}
    from importlib.metadata import PackageNotFoundError, version

    for name in (
        "pss-ordering",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "sqlalchemy",
        "psycopg",
        "orjson",
    ):
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = version(name)
    wrk_version = subprocess.run(
        [wrk, "-v"], capture_output=True, text=True, check=False, timeout=10
    ).stdout.splitlines()[:1]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit + ("+dirty-src" if dirty else ""),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "wrk": wrk_version[0] if wrk_version else "",
        "packages": versions,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }


# --------------------------------------------------------------------------- main


def worker_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of process counts, e.g. 1,2")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Benchmark the service against a bare ASGI baseline."
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement (10)")
    parser.add_argument(
        "--warmup", type=float, default=2, help="unmeasured seconds before each (2)"
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (1: the server keeps a core)"
    )
    parser.add_argument(
        "--orders", type=int, default=100_000, help="orders stored before the run (100000)"
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--workers",
        type=worker_counts,
        default=None,
        help="serve --workers for each measured set-up, e.g. 1,2 (default: the target's: "
        "1 on SQLite, 2 on PostgreSQL)",
    )
    parser.add_argument(
        "--scenarios",
        type=lambda text: [part.strip() for part in text.split(",") if part.strip()],
        default=None,
        help="only these service scenarios, e.g. create,get,list-state (default: all)",
    )
    parser.add_argument(
        "--two-nodes",
        action="store_true",
        help="PostgreSQL: also measure two serve processes on two ports, one database "
        "(wrk: one thread per node, half the connections each)",
    )
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", PG_ADMIN_URL),
        help="PostgreSQL URL used to create and drop the bench database",
    )
    parser.add_argument("--pg-database", default="bench_pss", help="database created for the run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="attach py-spy to the service during each measurement (perturbs figures)",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile: only sample threads holding the GIL",
    )
    parser.add_argument(
        "--noise-retries",
        type=int,
        default=2,
        help="measure again when other processes used > 15%% CPU meanwhile (2)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="before each measurement, wait up to this many s for an idle machine (30)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a SQLite target is missed"
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    args = parser.parse_args()

    wrk = ensure_wrk(not args.no_install)
    sys.path.insert(0, str(BENCH))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    log_dir = RESULTS / f"logs-{stamp}"
    log_dir.mkdir()
    profile_dir = None
    if args.profile:
        profile_dir = RESULTS / f"profile-{stamp}"
        profile_dir.mkdir()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pss-bench-") as tmp:
        work = Path(tmp)
        body_file = work / "create.json"
        body_file.write_text(json.dumps(CREATE_BODY, separators=(",", ":")))
        results += run_baseline(wrk, args, work, body_file, log_dir)
        if not args.skip_sqlite:
            url = f"sqlite:///{work / 'bench.db'}"
            results += run_backend(wrk, "sqlite", url, args, work, body_file, log_dir, profile_dir)
        if not args.skip_postgres:
            with postgres_database(args.pg_admin_url, args.pg_database) as url:
                results += run_backend(
                    wrk, "postgresql", url, args, work, body_file, log_dir, profile_dir
                )
    judge(results)
    env = environment(wrk, args)
    print()
    print(
        f"pss-ordering benchmark  commit {env['commit']}  python {env['python']}  "
        f"{env['cpus']} cpus  wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s "
        f"(+{args.warmup:g}s warm-up)  {args.orders:,} orders stored"
    )
    print(table(results))
    print(
        "ratio: service req/s / baseline req/s at the same connections (create vs POST, "
        "get and lists vs GET). Per-row targets (issue 3) are defined for SQLite with one "
        "process; the others are in ( )."
    )
    if any(r.backend in TARGETS for r in results):
        print()
        print("targets (issue 10; ratios to the bare baseline of this run):")
        print(targets_table(results))
    totals = {
        (r.backend, r.scenario): r.extra["x_total_count"]
        for r in results
        if "x_total_count" in r.extra
    }
    if totals:
        print(
            "rows matching each list filter (X-Total-Count): "
            + ", ".join(f"{b}/{s}={n}" for (b, s), n in totals.items())
        )
    out = {"environment": env, "results": [asdict(r) for r in results]}
    path = RESULTS / f"bench-{stamp}.json"
    path.write_text(json.dumps(out, indent=2))
    (RESULTS / "latest.json").write_text(json.dumps(out, indent=2))
    noisy = [r for r in results if r.noise_pct > NOISE_LIMIT_PCT]
    if noisy:
        print(
            "warning: other processes and hypervisor steal took > 15% CPU during "
            + ", ".join(f"{r.backend}/{r.scenario}" for r in noisy)
            + "; those figures are perturbed"
        )
    print(f"results: {path}")
    if profile_dir is not None:
        print(
            f"py-spy profiles (collapsed stacks): {profile_dir}; summarise with "
            f"'python bench/profile_summary.py {profile_dir}/<file>.txt'"
        )
    failed = [
        f"{r.backend}/{r.setup}/{r.scenario}"
        for r in results
        if judged_per_row(r) and r.target_met is False
    ]
    failed += [
        f"{backend}/{setup}/{name}"
        for backend, setup, judged, cells in verdicts(results)
        for name, verdict in cells.items()
        if judged and not verdict.met
    ]
    if args.check and failed:
        sys.exit("bench: targets missed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
