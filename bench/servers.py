"""The processes under load: a server child on a free loopback port, one or several
nodes of it, and py-spy attached to them; plus the two HTTP calls made by hand."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from children import Child
from machine import log, process_tree, tree_cpu_seconds

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


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


class Server(Child):
    """A child process serving HTTP on 127.0.0.1:port; always stopped on exit."""

    def __init__(
        self, name: str, argv: list[str], port: int, env: dict[str, str], cwd: Path, log_dir: Path
    ) -> None:
        super().__init__(name, argv, env, cwd, log_dir)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> Server:
        super().__enter__()
        assert self.proc is not None
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


def wait_for_processes(server: Server, count: int, limit: float = 120.0) -> None:
    """Wait until each of serve's ``count`` processes said it serves requests (the first
    answers /health while the others may still be starting)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.log_path.read_text(errors="replace").count("serves requests") >= count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name}: not all {count} processes started; see {server.log_path}")


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
