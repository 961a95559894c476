"""SIGTERM lets go at once (issue 15, "Health, start and stop"): two ``serve`` nodes on
one PostgreSQL database, both running the delivery worker; the node that holds a
callback's lease, in the middle of a send to a receiver that does not answer, is
stopped with SIGTERM. It stops accepting, finishes (here: has no) in-flight requests
within ``PSS_SHUTDOWN_TIMEOUT_SECONDS``, then its delivery worker releases its leases,
so the other node takes the callback over and delivers the event *before the stopped
node's stored lease would have expired* — not one lease period later, as after a
SIGKILL (tests/fault/test_delivery_kill.py). Timer claims need no release: a due
timer is claimed by a row lock that ends with the transaction firing it.

The test measures against the lease state the database holds, not the machine's
speed: the lease expiry the stopped node last stored, the row right after it
exited, and the time the other node's delivery was recorded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from pss_ordering.bootstrap import build_services
from pss_ordering.config import Settings
from pss_ordering.domain.identity import Caller, Role
from tests.receiver import Answer, Receiver
from tests.served import Served, answer, send, serve, status_of
from tests.world import ORDERS, order_body, provider_ref

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEASE_SECONDS = 90  # long, so that "before it expires" cannot happen by chance
SEND_TIMEOUT = 30
WAIT = 60.0
GOV = Caller("gov", frozenset({Role.GOVERNANCE}))
PROVIDER = Caller("prov-a", frozenset({Role.PROVIDER}))
CUSTOMER = Caller("cust", frozenset({Role.CUSTOMER}))


def _until(what: Callable[[], Any], message: str) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(message)


def _lease(engine: Engine) -> tuple[str | None, str | None]:
    with engine.connect() as conn:
        owner, until = conn.execute(
            text("SELECT lease_owner, lease_until FROM subscriptions")
        ).one()
    return owner, until


def _owner_pid(owner: str | None) -> int | None:
    """Worker names are host:pid:suffix."""
    return None if owner is None else int(owner.split(":")[1])


def test_a_sigterm_node_releases_its_leases_so_another_takes_over_before_they_expire(
    database: Engine, receiver: Receiver, tmp_path: Path
) -> None:
    url = database.url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url,
        jwt_secret="shutdown-test-secret-long-enough-for-hs256",
        callback_allowed_hosts=[receiver.host],
        run_workers=False,
    )
    services = build_services(settings, database)
    services.parties.register(GOV, "organization", {"id": "prov-a", "name": "Provider A"})
    services.parties.register(
        GOV, "individual", {"id": "cust", "givenName": "C", "familyName": "C"}
    )
    services.offerings.publish(
        PROVIDER,
        {
            "id": "off-a",
            "name": "off-a",
            "lifecycleStatus": "active",
            "relatedParty": [provider_ref("prov-a")],
        },
    )
    services.hub.register(CUSTOMER, "order", receiver.url("/cb"), None)
    receiver.script("/cb", Answer.hold())  # in flight until the test ends; then 200
    env = {
        "PSS_DATABASE_URL": url,
        "PSS_JWT_SECRET": settings.jwt_secret or "",
        "PSS_RUN_WORKERS": "true",
        "PSS_CALLBACK_ALLOWED_HOSTS": receiver.host,
        "PSS_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        "PSS_DELIVERY_TIMEOUT_SECONDS": str(SEND_TIMEOUT),
        "PSS_SHUTDOWN_TIMEOUT_SECONDS": "5",
        "PYTHONUNBUFFERED": "1",
    }
    nodes: dict[int, tuple[Served, contextlib.AbstractContextManager[Served]]] = {}
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            started: contextlib.AbstractContextManager[Served] = serve(tmp_path / name, env)
            node = started.__enter__()
            nodes[node.pid] = (node, started)
        _until(
            lambda: all("runs the timers" in n.log.read_text() for n, _ in nodes.values()),
            "both nodes run the delivery worker",
        )
        services.orders.create(CUSTOMER, order_body("off-a"))
        # One node claims the callback and sends; the receiver holds the send open.
        holder_pid = _until(lambda: _owner_pid(_lease(database)[0]), "a node claims the lane")
        holder_key = next(k for k, (n, _) in nodes.items() if holder_pid in n.api_processes())
        other_pids = [
            p for k, (n, _) in nodes.items() if k != holder_key for p in n.api_processes()
        ]
        _, expiry = _lease(database)
        assert expiry is not None

        holder, stopping = nodes.pop(holder_key)
        stopping.__exit__(None, None, None)  # SIGTERM, then wait for the process to end
        owner, _ = _lease(database)
        assert _owner_pid(owner) != holder_pid, "the stopped node still holds the lease"
        assert "Traceback" not in holder.log.read_text()

        delivered = _until(
            lambda: [r for r in receiver.on("/cb") if r.answered == 200],
            "the other node delivers the event",
        )
        assert len(delivered) == 1
        with database.connect() as conn:
            succeeded_at = conn.execute(
                text("SELECT attempted_at FROM delivery_attempts WHERE status = 200")
            ).scalar_one()
        owner, _ = _lease(database)
        assert owner is None or _owner_pid(owner) in other_pids
        # The takeover happened while the stopped node's lease was still running.
        assert succeeded_at < expiry, (succeeded_at, expiry)
    finally:
        for _, started in nodes.values():
            started.__exit__(None, None, None)
        services.executor.close()


def test_a_sigterm_stops_accepting_and_finishes_the_request_in_flight(tmp_path: Path) -> None:
    """The request whose body is still arriving when SIGTERM comes is answered; new
    connections are refused from then on (``PSS_SHUTDOWN_TIMEOUT_SECONDS`` bounds the wait)."""
    body = b'{"productOrderItem": []}'
    env = {"PSS_SHUTDOWN_TIMEOUT_SECONDS": "30", "PSS_BODY_TIMEOUT_SECONDS": "60"}
    with serve(tmp_path, env) as node:
        head = (
            f"POST {ORDERS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {node.token('dave')}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with node.connect(timeout=60) as sock:
            send(sock, head + body[:5])
            os.killpg(node.pid, signal.SIGTERM)
            _until(lambda: _refused(node), "the server stops accepting connections")
            send(sock, body[5:])
            response = answer(sock)
    assert status_of(response) == 400, response  # answered in full, not cut off


def _refused(node: Served) -> bool:
    try:
        node.connect(timeout=1).close()
    except OSError:
        return True
    return False
