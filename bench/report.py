"""The targets and the printed tables: each service row against the bare baseline of
the same run, and issue 10's targets judged yes/NO per set-up."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from load import Result

REPO = Path(__file__).resolve().parent.parent


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

SCENARIOS_10 = ("create", "get", "list-state")


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
            row = by_name.get(name)
            if row is None or vs not in base:
                continue
            cells[name] = Verdict(
                row.rps / base[vs].rps,
                target,
                row.p99_ms if name.startswith("list") else None,
                sum(row.errors.values()),
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
