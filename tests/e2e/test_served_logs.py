"""What ``serve`` itself logs and answers (issue 15, "Logs and tracing"), on a real
process: its lines are JSON when stderr is not a terminal, there is one access record
per request (uvicorn's own access log is off), and a request refused by the transport
limits before it reaches the application still gets an ``X-Request-ID``, named in its
TMF Error body and in the log line that records the refusal.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.served import Served, answer, send, serve, status_of


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("logs"), {"PSS_HEADER_TIMEOUT_SECONDS": "2"}) as running:
        yield running


def _lines(served: Served) -> list[dict[str, Any]]:
    """serve's log lines; the ones its own output (click.echo) adds are not JSON."""
    found = []
    for line in served.log.read_text().splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def _logged(served: Served, request_id: str) -> list[dict[str, Any]]:
    """The lines of one request, once there are any (they are written before the
    response; the wait only covers a loaded machine's file system)."""
    deadline = time.monotonic() + 10
    while True:
        found = [r for r in _lines(served) if r.get("request_id") == request_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_serve_logs_json_with_one_access_record_per_request(served: Served) -> None:
    request = urllib.request.Request(served.url("/health"), headers={"X-Request-ID": "probe-1"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["X-Request-ID"] == "probe-1"
    records = _logged(served, "probe-1")
    assert [(r["logger"], r["route"], r["status"]) for r in records] == [
        ("pss_ordering.access", "/health", 200)
    ], served.log.read_text()


def test_a_request_refused_by_the_transport_limits_has_a_request_id(served: Served) -> None:
    with served.connect() as sock:
        send(sock, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000)
        response = answer(sock)
    assert status_of(response) == 431
    head, body = response.split(b"\r\n\r\n", 1)
    headers = dict(
        line.decode().lower().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
    )
    request_id = headers["x-request-id"]
    assert json.loads(body)["requestId"] == request_id
    refusals = _logged(served, request_id)
    assert len(refusals) == 1 and refusals[0]["status"] == 431, served.log.read_text()


def test_a_malformed_request_is_a_tmf_error_with_a_request_id(served: Served) -> None:
    with served.connect() as sock:
        send(sock, b"GET /health HTTP/1.1\r\nHost x\r\n\r\n")
        response = answer(sock)
    assert status_of(response) == 400
    body = json.loads(response.split(b"\r\n\r\n", 1)[1])
    assert body["code"] == "BAD_REQUEST" and body["requestId"]
