"""What the delivery and timer benchmarks share: child processes, py-spy, percentiles."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from machine import log, wait_quiet


class Child:
    """A child process in its own session: SIGINT on exit, SIGKILL after 15 s."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, logs: Path):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.log_path = logs / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Child:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_for_line(self, text: str, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            if text in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not say '{text}' in {limit:g} s; see {self.log_path}")

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


class Sampler:
    """py-spy attached to a process from start() to stop() (only with --profile)."""

    def __init__(self, pid: int, out: Path, gil: bool, idle: bool) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.argv = [exe, "record", "-p", str(pid), "-r", "200", "-f", "raw", "-o", str(out)]
        self.argv += ["--nonblocking"] + (["--gil"] if gil else []) + (["--idle"] if idle else [])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def profile(args: argparse.Namespace, targets: list[tuple[int, str]], phase: str) -> list[Sampler]:
    """py-spy on each (pid, name) (only with --profile); stop() each sampler to write its file."""
    if args.profile_dir is None:
        return []
    samplers = [
        Sampler(
            pid,
            args.profile_dir / f"{args.backend}-{phase}-{name}.txt",
            args.profile_gil,
            args.profile_idle,
        )
        for pid, name in targets
    ]
    for sampler in samplers:
        sampler.start()
    return samplers


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def quiet(seconds: float) -> None:
    if seconds and not wait_quiet(seconds):
        log(f"the machine was not quiet for {seconds:g} s; measuring anyway")


def environment(
    args: argparse.Namespace, packages: tuple[str, ...], skip: set[str]
) -> dict[str, object]:
    """What a result was measured with: commit, Python, machine, packages, the options."""
    import platform
    from datetime import UTC, datetime
    from importlib.metadata import PackageNotFoundError, version

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent.parent), *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        return done.stdout.strip()

    versions = {}
    for name in packages:
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = version(name)
    settings = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in skip
    }
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "--short", "HEAD")
        + ("+dirty-src" if git("status", "--porcelain", "src") else ""),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "packages": versions,
        "settings": settings,
    }


def common_options(parser: argparse.ArgumentParser, pg_database: str, profiled: str) -> None:
    """The options the delivery and timer benchmarks share."""
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL URL used to create and drop the bench database(s)",
    )
    parser.add_argument("--pg-database", default=pg_database)
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="before each measurement, wait up to this many s for an idle machine (30; 0: no)",
    )
    parser.add_argument("--profile", action="store_true", help=profiled)
    parser.add_argument("--profile-gil", action="store_true", help="with --profile: --gil")
    parser.add_argument(
        "--profile-idle",
        action="store_true",
        help="with --profile: --idle, so that waits (locks, I/O) show too",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
