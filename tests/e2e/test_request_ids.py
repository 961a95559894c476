"""Request ids and the access log (issue 15, "Logs and tracing").

Every response carries ``X-Request-ID``: the client's when well formed (1-64 of
``A-Z a-z 0-9 . _ : -``), else one made up — a malformed id is replaced, never
refused. Every TMF Error body names it (``requestId``); every log line the request
causes carries it, including the delivery of the events it committed and the
firing of the timers it armed, later and elsewhere (stored with them). Each
request leaves one access record: method, route template (never the raw path),
status, duration, party, request id.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.delivery import Deliver, hub_settings, subscribe
from tests.logged import captured
from tests.receiver import Receiver
from tests.world import ORDERS, World, order_body

ID = "X-Request-ID"


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(settings, receiver, default_response_time=timedelta(hours=1))


def test_a_well_formed_id_is_kept_and_returned(client: TestClient, world: World) -> None:
    for given in (
        "abc",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "Root:1-5759e988.bd862e3f",
        "a" * 64,
    ):
        response = client.get(ORDERS, headers={**world.auth("dave"), ID: given})
        assert response.status_code == 200
        assert response.headers[ID] == given


@pytest.mark.parametrize(
    "given",
    ["", "a" * 65, "has space", "semi;colon", "-leading-dash", 'quote"d', "caf\u00e9", "a/b"],
)
def test_a_malformed_id_is_replaced_not_refused(
    client: TestClient, world: World, given: str
) -> None:
    headers: dict[str, Any] = {**world.auth("dave"), ID: given.encode()}
    response = client.get(ORDERS, headers=headers)
    assert response.status_code == 200
    returned = response.headers[ID]
    assert returned != given
    assert 1 <= len(returned) <= 64


def test_a_missing_id_is_generated_and_each_request_gets_its_own(
    client: TestClient, world: World
) -> None:
    first = client.get(ORDERS, headers=world.auth("dave")).headers[ID]
    second = client.get(ORDERS, headers=world.auth("dave")).headers[ID]
    assert first and second and first != second


def _errors(client: TestClient, auth: Auth) -> dict[str, Any]:
    """One request per kind of error response the application gives."""
    dave = auth("dave")
    return {
        "401 no token": client.get(ORDERS),
        "401 bad token": client.get(ORDERS, headers={"Authorization": "Bearer not-a-jwt"}),
        "404 no route": client.get("/no/such/path", headers=dave),
        "404 no order": client.get(f"{ORDERS}/nope", headers=dave),
        "405": client.put(ORDERS, headers=dave),
        "400 query": client.get(f"{ORDERS}?limit=x", headers=dave),
        "413 body": client.post(
            ORDERS,
            content=b"{" + b" " * 70_000 + b"}",
            headers={**dave, "Content-Type": "application/json"},
        ),
        "415": client.post(ORDERS, content=b"x", headers={**dave, "Content-Type": "text/plain"}),
        "400 body": client.post(ORDERS, json={"productOrderItem": []}, headers=dave),
    }


def test_every_error_response_names_its_request_in_header_and_tmf_error_body(
    client: TestClient, world: World
) -> None:
    for kind, response in _errors(client, world.auth).items():
        assert response.status_code == int(kind[:3]), (kind, response.text)
        body = response.json()
        assert body["requestId"] == response.headers[ID], kind
        assert {"code", "reason", "message", "status"} <= body.keys(), kind


def test_a_client_id_is_quoted_in_the_error_it_gets(client: TestClient) -> None:
    response = client.get(ORDERS, headers={ID: "trace-42"})
    assert response.status_code == 401
    assert response.headers[ID] == "trace-42"
    assert response.json()["requestId"] == "trace-42"


def test_one_access_record_per_request_with_the_route_template_not_the_raw_path(
    client: TestClient, world: World, settings: Settings
) -> None:
    order = world.create(world.auth("dave"))
    with captured(settings) as logged:
        ok = client.get(f"{ORDERS}/{order['id']}", headers={**world.auth("dave"), ID: "get-1"})
        denied = client.get(f"{ORDERS}/{order['id']}", headers={ID: "anon-1"})
        missing = client.get("/nowhere/" + order["id"], headers={ID: "lost-1"})
    assert (ok.status_code, denied.status_code, missing.status_code) == (200, 401, 404)
    records = {r["request_id"]: r for r in logged.access()}
    assert len(logged.access()) == 3
    assert records["get-1"] | {"duration_ms": 0} == records["get-1"] | {
        "method": "GET",
        "route": ORDERS + "/{id}",
        "status": 200,
        "party_id": "dave",
        "duration_ms": 0,
    }
    assert records["get-1"]["duration_ms"] >= 0
    assert (records["anon-1"]["status"], records["anon-1"]["party_id"]) == (401, None)
    assert records["lost-1"]["route"] == "(no route)"
    ours = [r for r in logged.records() if r["logger"].startswith("pss_ordering")]
    assert order["id"] not in str(ours)  # ids in paths never reach the service's log


def test_text_lines_carry_the_request_id_too(
    client: TestClient, world: World, settings: Settings
) -> None:
    with captured(settings, log_format="text") as logged:
        client.get(ORDERS, headers={**world.auth("dave"), ID: "text-1"})
    line = next(x for x in logged.text.splitlines() if "pss_ordering.access" in x)
    assert "[text-1]" in line and f"GET {ORDERS} 200" in line


def test_the_events_a_request_commits_are_delivered_under_its_id(
    client: TestClient,
    world: World,
    receiver: Receiver,
    deliver: Deliver,
    engine: Engine,
    settings: Settings,
) -> None:
    """The event stores the request's id; its delivery (later, another thread or node)
    logs under it, a failed attempt included."""
    subscribe(client, world.auth("dave"), receiver.url("/cb"))
    receiver.script("/cb", 500)
    response = client.post(
        ORDERS, json=order_body("off-a"), headers={**world.auth("dave"), ID: "create-7"}
    )
    assert response.status_code == 201
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT DISTINCT correlation_id FROM events")).scalars().all()
    assert stored == ["create-7"]
    with captured(settings, logging.DEBUG) as logged:
        deliver()
    failed = [r for r in logged.records() if r["logger"] == "pss_ordering.events.worker"]
    assert failed and all(r["request_id"] == "create-7" for r in failed)
    assert any(r["level"] == "WARNING" and "HTTP 500" in r["message"] for r in failed)


def test_a_timer_fires_under_the_id_of_the_request_that_armed_it(
    client: TestClient, world: World, engine: Engine, clock: ManualClock, settings: Settings
) -> None:
    """Submitting arms each provider's response deadline; when they pass (two orders'
    deadlines fired in one transaction), each alarm event and the firing's log lines
    carry the id of the request that submitted its order."""
    armed_by = {}
    for request_id in ("submit-9", "submit-10"):
        response = client.post(
            ORDERS, json=order_body("off-a"), headers={**world.auth("dave"), ID: request_id}
        )
        assert response.status_code == 201
        armed_by[response.json()["id"]] = request_id
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT order_id, correlation_id FROM timers")).all()
    armed = {str(order_id): str(request_id) for order_id, request_id in rows}
    assert armed == armed_by
    clock.advance(timedelta(hours=2))
    with captured(settings, logging.DEBUG):
        fired = client.app.state.services.timers.fire_due()  # type: ignore[attr-defined]
    assert fired == 2
    with engine.connect() as conn:
        caused = conn.execute(
            text("SELECT order_id, correlation_id FROM events WHERE topic = 'alarm'")
        ).all()
    assert dict(caused) == armed_by and len(caused) == 2
