"""Transport limits of ``serve`` (api/transport.py), over raw sockets on 127.0.0.1.

Before: a 16 MB header and 20,000 headers were answered 200, a connection
that sent half its headers (or nothing) was held forever, and so was one that
trickled an unread body. Now each is refused and closed by the server: 431 for
headers too large or too many, 408 for headers or a body not complete in time
(1 s here), 503 beyond the connection limit.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import Served, answer, send, serve, status_of

ORDERS = "/psi-api/productOrdering/v2/productOrder"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {
        "PSS_HEADER_TIMEOUT_SECONDS": "1",
        "PSS_BODY_TIMEOUT_SECONDS": "1",
        "PSS_MAX_CONNECTIONS": "400",
    }
    with serve(tmp_path_factory.mktemp("transport"), env) as running:
        yield running


def tmf_error(response: bytes) -> dict[str, str]:
    body: dict[str, str] = json.loads(response.split(b"\r\n\r\n", 1)[1])
    return body


def get_health(served: Served) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status
    finally:
        connection.close()


def test_an_oversized_header_is_431(served: Served) -> None:
    with served.connect() as sock:
        send(sock, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000)
        response = answer(sock)
    assert status_of(response) == 431
    assert tmf_error(response)["code"] == "HEADERS_TOO_LARGE"


def test_a_16_mb_header_is_cut_off(served: Served) -> None:
    """The server refuses and closes long before 16 MB have arrived (the client may see
    the 431 or, with its own bytes still in flight, a reset)."""
    with served.connect() as sock:
        sent_all = send(sock, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (16 << 20))
        response = answer(sock)
    assert not sent_all or status_of(response) == 431
    assert status_of(response) in (431, None)


def test_twenty_thousand_headers_are_431(served: Served) -> None:
    fields = b"".join(b"X-%d: a\r\n" % n for n in range(20_000))
    with served.connect() as sock:
        send(sock, b"GET /health HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        response = answer(sock)
    assert status_of(response) in (431, None)


def test_one_header_too_many_is_431_and_the_limit_itself_is_fine(served: Served) -> None:
    def with_fields(count: int) -> bytes:
        fields = b"".join(b"X-%d: a\r\n" % n for n in range(count))
        return b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + fields + b"\r\n"

    with served.connect() as sock:
        send(sock, with_fields(98))  # with Host and Connection: 100
        assert status_of(answer(sock)) == 200
    with served.connect() as sock:
        send(sock, with_fields(99))
        response = answer(sock)
    assert status_of(response) == 431
    assert "more than 100 header fields" in tmf_error(response)["message"]


def test_slowloris_connections_are_closed_and_service_goes_on(served: Served) -> None:
    """150 connections that never finish their headers (one still trickling): each is
    answered 408 and closed by the server; meanwhile ordinary requests are served."""
    slow = [served.connect() for _ in range(150)]
    try:
        for sock in slow:
            send(sock, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        assert get_health(served) == 200
        send(slow[0], b"a")  # a trickle does not extend the deadline
        answers = [answer(sock) for sock in slow]
    finally:
        for sock in slow:
            sock.close()
    assert {status_of(a) for a in answers} <= {408, None}
    assert sum(status_of(a) == 408 for a in answers) >= 140
    assert "headers did not arrive within 1 s" in tmf_error(answers[0])["message"]


def test_a_silent_connection_is_closed(served: Served) -> None:
    with served.connect() as sock:
        assert status_of(answer(sock)) == 408


def test_a_body_that_never_finishes_is_408(served: Served) -> None:
    token = served.token("dave")
    with served.connect() as sock:
        send(
            sock,
            f"POST {ORDERS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode(),
        )
        response = answer(sock)
    assert status_of(response) == 408
    assert "body did not arrive within 1 s" in tmf_error(response)["message"]


def test_an_unread_body_cannot_keep_the_connection(served: Served) -> None:
    """Refused before its body was read (401): the answer closes the connection, so the
    rest of the body cannot trickle into a kept-alive connection forever."""
    with served.connect() as sock:
        send(
            sock,
            f"POST {ORDERS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{".encode(),
        )
        response = answer(sock)
    assert status_of(response) == 401
    assert b"connection: close" in response.lower()


def test_keep_alive_still_works(served: Served) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        for _ in range(3):
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("connection") != "close"
    finally:
        connection.close()


def test_connections_beyond_the_limit_are_503(tmp_path: Path) -> None:
    with serve(tmp_path, {"PSS_MAX_CONNECTIONS": "5"}) as small:
        held: list[socket.socket] = [small.connect() for _ in range(5)]
        try:
            with small.connect() as sock:
                send(sock, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                response = answer(sock)
            assert status_of(response) == 503
            # A TMF Error like every other refusal, not uvicorn's plain text.
            assert tmf_error(response)["code"] == "SERVICE_UNAVAILABLE"
            assert tmf_error(response)["status"] == "503"
        finally:
            for sock in held:
                sock.close()
