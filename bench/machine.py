"""The machine while a benchmark runs: CPU time per process from /proc, what other
processes and the hypervisor took, and waiting for a quiet moment before measuring."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


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
