"""One measurement: wrk against a scenario, with the CPU every party used meanwhile,
repeated while other processes perturbed it."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from machine import (
    NOISE_LIMIT_PCT,
    log,
    machine_cpu_seconds,
    postgres_cpu_seconds,
    process_cpu_table,
    top_others,
    wait_quiet,
)
from servers import Nodes, Profiler, Server, Setup, http_get, http_post, wait_idle

BENCH = Path(__file__).resolve().parent


LOAD_LUA = BENCH / "load.lua"


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
