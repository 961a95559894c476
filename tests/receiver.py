"""A real HTTP receiver on 127.0.0.1 whose answers are scripted, for delivery tests.

Each path has a queue of answers (default: 200). An answer is a status (with
headers), ``Answer.held()`` (no answer until the receiver closes: longer than any
client timeout, without a sleep) or ``Answer.connection_reset()`` (close the
connection with a TCP reset, no answer at all). Every request is recorded with its
headers and JSON body; ``wait_delivered`` blocks until enough have arrived (woken
by each arrival, not by polling).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    held: bool = False
    reset: bool = False

    @classmethod
    def hold(cls) -> Answer:
        """Answer 200 only when the receiver closes: the sender's timeout comes first."""
        return cls(200, held=True)

    @classmethod
    def connection_reset(cls) -> Answer:
        return cls(reset=True)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    raw: bytes
    answered: int | None

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._script: dict[str, deque[Answer]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._closing = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                answer = receiver._next(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if answer.reset:
                    receiver._record(Request(self.path, headers, raw, None))
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                if answer.held:
                    receiver._closing.wait()
                receiver._record(Request(self.path, headers, raw, answer.status))
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/cb") -> str:
        return f"http://{self.host}{path}"

    def script(self, path: str, *answers: Answer | int) -> None:
        """Queue answers for ``path`` (after them: 200)."""
        with self._lock:
            self._script[path].extend(a if isinstance(a, Answer) else Answer(a) for a in answers)

    def on(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def delivered(self, path: str) -> list[dict[str, Any]]:
        """Bodies the path accepted (2xx), in arrival order."""
        with self._lock:
            return self._accepted(path)

    def _next(self, path: str) -> Answer:
        with self._lock:
            queue = self._script.get(path)
            return queue.popleft() if queue else Answer()

    def wait_delivered(self, path: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The bodies ``path`` accepted, once there are ``count`` of them (or at ``timeout``,
        however many arrived: the caller's assertion then says what is missing)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self._accepted(path)) >= count, timeout)
            return self._accepted(path)

    def _accepted(self, path: str) -> list[dict[str, Any]]:
        return [
            r.json
            for r in self.requests
            if r.path == path and r.answered is not None and r.answered < 300
        ]

    def _record(self, request: Request) -> None:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()
