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
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from load import Result, Scenario, check_scenario, ensure_wrk, measure
from machine import NOISE_LIMIT_PCT, log
from report import TARGETS, environment, judge, judged_per_row, table, targets_table, verdicts
from servers import HOST, Nodes, Server, Setup, free_port, wait_for_processes

BENCH = Path(__file__).resolve().parent

REPO = BENCH.parent

RESULTS = BENCH / "results"

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
