"""Optional OpenTelemetry tracing (issue 15): with ``PSS_OTEL_ENABLED`` the service
records spans through the OpenTelemetry SDK — the request (ASGI instrumentation),
the use case it runs, the database work (the commit, and SQLAlchemy's statements),
and each delivery — here collected by the SDK's in-memory exporter. Off, nothing
of OpenTelemetry is needed.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine
from starlette.testclient import TestClient

from pss_ordering import tracing
from pss_ordering.bootstrap import build_app
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.delivery import hub_settings, subscribe
from tests.receiver import Receiver
from tests.world import ORDERS, World, order_body

CREATE = "OrderService.create"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def client(
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    receiver: Receiver,
    exporter: InMemorySpanExporter,
) -> Iterator[TestClient]:
    traced = hub_settings(settings, receiver, otel_enabled=True)
    assert tracing.enable(traced, engine, exporter)
    try:
        with TestClient(build_app(traced, engine, clock)) as c:
            yield c
    finally:
        tracing.disable()


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def test_a_create_is_a_request_span_over_its_use_case_over_its_database_work(
    client: TestClient, world: World, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    response = client.post(
        ORDERS, json=order_body("off-a"), headers={**world.auth("dave"), "X-Request-ID": "t-1"}
    )
    assert response.status_code == 201
    spans = list(exporter.get_finished_spans())
    request = _one(spans, f"POST {ORDERS}")
    assert request.parent is None  # the root of the trace
    assert request.attributes is not None
    assert request.attributes["http.route"] == ORDERS
    assert request.attributes["pss.request_id"] == "t-1"
    use_case = _one(spans, CREATE)
    assert use_case.parent is not None and use_case.parent.span_id == request.context.span_id
    trace = [s for s in spans if s.context.trace_id == request.context.trace_id]
    below = [s.name for s in _children(trace, use_case)]
    assert "db commit" in below
    # Its reads (the customer, the offerings...) are statement spans under the use case.
    statements = [s for s in trace if s.attributes and "db.statement" in s.attributes]
    assert statements and all(_descends(trace, s, use_case) for s in statements)
    assert any("SELECT" in str(s.attributes["db.statement"]) for s in statements if s.attributes)


def _descends(spans: list[ReadableSpan], span: ReadableSpan, ancestor: ReadableSpan) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    while span.parent is not None:
        if span.parent.span_id == ancestor.context.span_id:
            return True
        span = by_id[span.parent.span_id]
    return False


def test_a_delivery_is_a_span_naming_the_request_that_caused_it(
    client: TestClient, world: World, receiver: Receiver, exporter: InMemorySpanExporter
) -> None:
    subscribe(client, world.auth("dave"), receiver.url("/cb"))
    client.post(
        ORDERS, json=order_body("off-a"), headers={**world.auth("dave"), "X-Request-ID": "t-2"}
    )
    exporter.clear()
    _deliver(client)
    deliveries = [s for s in exporter.get_finished_spans() if s.name == "delivery"]
    assert deliveries and receiver.on("/cb")
    assert all(s.attributes and s.attributes["pss.request_id"] == "t-2" for s in deliveries)


def _deliver(client: TestClient) -> None:
    import asyncio

    from pss_ordering.bootstrap import build_delivery_worker

    worker = build_delivery_worker(client.app.state.services)  # type: ignore[attr-defined]

    async def drain() -> None:
        try:
            await worker.drain()
        finally:
            await worker.close()

    asyncio.run(drain())


def test_off_by_default_and_the_service_needs_no_opentelemetry(
    engine: Engine, settings: Settings, auth: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the extra: tracing off works (nothing imported), on says what to install."""
    real_import = builtins.__import__

    def no_opentelemetry(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("opentelemetry"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_opentelemetry)
    assert not tracing.enable(settings, engine)
    with TestClient(build_app(settings, engine)) as c:
        assert c.get(ORDERS, headers=auth("dave")).status_code == 200
    with pytest.raises(tracing.TracingUnavailable, match=r"pss-ordering\[otel\]"):
        tracing.enable(settings.model_copy(update={"otel_enabled": True}), engine)
