"""The write path's cost in statements and round trips, counted (not timed).

PostgreSQL: libpq's protocol trace of the connection a use case checks out. A round
trip is a point where the client waits for the server: a ``Sync`` (extended
protocol, one per pipeline or per statement outside one) or a simple ``Query``; a
statement is an ``Execute`` or a simple ``Query``. SQLite: the statements the driver
runs (its trace callback). Timing is noise on a shared machine; these counts are
not, so a change that adds a round trip to a create fails here.

Before the lean write path (issue 10) a create on PostgreSQL took 23 round trips and
26 statements (3 and 16 now, with a callback to queue for), a PATCH 17 and 20 (5).
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from psycopg import pq
from sqlalchemy import Engine, event

from pss_ordering.api.common import Services
from pss_ordering.api.contract import body_schema
from pss_ordering.bootstrap import build_services
from pss_ordering.cli.seed import DEMO_SEED, load_seed
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from pss_ordering.domain.hub import Subscription
from pss_ordering.domain.identity import Caller, Role

# The benchmark's order (bench/run.py): two items of two providers, nothing missing.
CREATE_BODY: dict[str, Any] = {
    "productOrderItem": [
        {
            "id": "1",
            "action": "add",
            "productOffering": {"id": "leo-broadband"},
            "product": {"productCharacteristic": [{"name": "IMEI", "value": "490154203237518"}]},
        },
        {"id": "2", "action": "add", "productOffering": {"id": "geo-backup"}},
    ]
}
ALICE = Caller("alice", frozenset({Role.CUSTOMER}))

# Ceilings: what the write path does today (see bench/README.md, "Write path").
# PostgreSQL, a create: BEGIN + 4 reads (customer, community, organisations, offerings
# with providers) | 2 timers, order, items, parties, deadlines + callbacks | lane lock,
# event with providers and deliveries, NOTIFY, COMMIT.
PG_CREATE_ROUND_TRIPS = 3
PG_CREATE_STATEMENTS = 16
PG_PATCH_ROUND_TRIPS = 5
# SQLite, a create in a group-commit batch: SAVEPOINT, the same 4 reads, 2 timers, the
# order, 2 items, its party, 2 deadlines, callbacks, event, 2 providers, a delivery,
# RELEASE (a row of an executemany counts as a statement).
SQLITE_CREATE_STATEMENTS = 19


def _services(engine: Engine, settings: Settings, clock: ManualClock) -> Services:
    services = build_services(settings, engine, clock)
    load_seed(services, DEMO_SEED)
    with services.database.writing() as uow:  # alice's callback: deliveries are queued too
        uow.subscriptions.add(
            Subscription("cb-alice", "alice", ("customer",), "order", "http://h/cb", None),
            "whsec_c2VjcmV0",
            "2026-11-24T12:00:00.000Z",
        )
        uow.commit()
    return services


def _create(services: Services) -> str:
    body = body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder").validate(
        copy.deepcopy(CREATE_BODY)
    )
    order_id: str = services.orders.create(ALICE, body).doc["id"]
    return order_id


@contextmanager
def _postgres_trace(engine: Engine) -> Iterator[Counter[str]]:
    """Count the frontend messages of every connection checked out meanwhile."""
    counts: Counter[str] = Counter()
    fd, path = tempfile.mkstemp(prefix="pss-trace-")
    traced: list[Any] = []

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        pgconn = dbapi_connection.pgconn
        pgconn.trace(fd)
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        traced.append(pgconn)

    event.listen(engine, "checkout", on_checkout)
    try:
        yield counts
    finally:
        event.remove(engine, "checkout", on_checkout)
        for pgconn in traced:
            pgconn.untrace()
        with open(path) as trace:
            for line in trace:
                fields = line.split("\t")
                if len(fields) > 2 and fields[0] == "F":
                    counts[fields[2]] += 1
        os.close(fd)
        os.unlink(path)


def _round_trips(counts: Counter[str]) -> int:
    return counts["Sync"] + counts["Query"]


def _statements(counts: Counter[str]) -> int:
    return counts["Execute"] + counts["Query"]


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_create_on_postgresql_is_three_round_trips(
    engine: Engine, settings: Settings, clock: ManualClock
) -> None:
    services = _services(engine, settings, clock)
    _create(services)  # statements are prepared on first use: count a later one
    with _postgres_trace(engine) as counts:
        _create(services)
    assert _round_trips(counts) <= PG_CREATE_ROUND_TRIPS, counts
    assert _statements(counts) <= PG_CREATE_STATEMENTS, counts


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_patch_on_postgresql_is_five_round_trips(
    engine: Engine, settings: Settings, clock: ManualClock
) -> None:
    services = _services(engine, settings, clock)
    order_id = _create(services)

    def patched(doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "description": "changed"}

    no_check: Callable[[dict[str, Any]], None] = lambda _doc: None  # noqa: E731
    with _postgres_trace(engine) as counts:
        services.orders.patch(ALICE, order_id, patched, no_check, None)
    assert _round_trips(counts) <= PG_PATCH_ROUND_TRIPS, counts


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_create_on_sqlite_runs_few_statements(
    engine: Engine, settings: Settings, clock: ManualClock
) -> None:
    services = _services(engine, settings, clock)
    statements: list[str] = []

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    event.listen(engine, "checkout", on_checkout)
    try:
        with services.database.batch():  # as the group-commit writer runs it
            statements.clear()  # BEGIN IMMEDIATE: once per batch
            _create(services)
            assert len(statements) <= SQLITE_CREATE_STATEMENTS, statements
    finally:
        event.remove(engine, "checkout", on_checkout)
