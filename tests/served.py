"""A real ``pss-ordering serve`` process on 127.0.0.1 and raw-socket helpers, for the
transport tests: what a connection may hold is decided before the application, in
the server, so it is tested against the server itself. The multi-process and
two-node tests use it too (``serve(..., args=("--workers", "2"), processes=2)``).

The process runs in its own session; stopping it signals exactly that group.
Every socket has a timeout, so no test can hang.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pss_ordering.api.auth import mint_token

SERVE = Path(sys.executable).with_name("pss-ordering")
SECRET = "served-secret-which-is-long-enough-for-hs256"
READY_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    port: int
    log: Path
    pid: int = 0  # the serve command (with --workers N > 1: uvicorn's supervisor)

    def token(self, party: str, *roles: str) -> str:
        return mint_token(SECRET, party, roles or ("customer",))

    def connect(self, timeout: float = 10.0) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.settimeout(timeout)
        return sock

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def api_processes(self) -> list[int]:
        """The processes serving HTTP: serve itself, or with --workers N > 1 its N workers."""
        workers = [
            pid
            for pid in _children(self.pid)
            if b"spawn_main" in _cmdline(pid)  # not multiprocessing's resource tracker
        ]
        return workers or [self.pid]


def _children(pid: int) -> list[int]:
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in listed.split()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@contextlib.contextmanager
def serve(
    tmp_path: Path,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    processes: int = 1,
    port: int | None = None,
) -> Iterator[Served]:
    """Start ``serve`` on a free port (or ``port``) with a fresh SQLite database (unless
    ``env`` names another ``PSS_DATABASE_URL``); stop it afterwards. Returns once
    ``processes`` API processes said they serve requests."""
    port = port or free_port()
    log_path = tmp_path / f"serve-{port}.log"
    environment = {
        **os.environ,
        "PSS_DATABASE_URL": f"sqlite:///{tmp_path / f'serve-{port}.db'}",
        "PSS_JWT_SECRET": SECRET,
        "PSS_RUN_WORKERS": "false",
        "PSS_SQLITE_SYNCHRONOUS": "OFF",
        **(env or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(SERVE), "serve", "--port", str(port), *args],
            env=environment,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_healthy(process, port, log_path, processes)
            yield Served(port, log_path, process.pid)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_until_healthy(
    process: subprocess.Popen[bytes], port: int, log: Path, processes: int = 1
) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
                if answer.status == 200 and serving(log) >= processes:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"serve did not become healthy:\n{log.read_text()}")


def serving(log: Path) -> int:
    """How many API processes have said, in serve's log, that they serve requests."""
    return log.read_text(errors="replace").count("serves requests")


def send(sock: socket.socket, data: bytes) -> bool:
    """Send what the server will take; False once it has closed the connection."""
    try:
        sock.sendall(data)
    except OSError:
        return False
    return True


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (b'' if it just closed or reset)."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int | None:
    if not response.startswith(b"HTTP/1.1 "):
        return None
    return int(response[9:12])
