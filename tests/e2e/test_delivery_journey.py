"""The journey of issue 4 end to end, over real HTTP on 127.0.0.1.

A customer creates an order -> the provider's callback receives the creation
with only its items (PSI-03-02-01-02, PSI-03-02-01-03, PSI-01-02-03-04) -> the
provider acknowledges by posting an event (PSI-01-02-03-01, PSI-03-02-02-03) ->
the customer's callback receives the state change (PSI-03-02-02-02). Every
event carries the affected order itself, as its receiver may see it
(PSI-01-02-03-02: entity data within events).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.delivery import HUB, Deliver, expected_signature, hub_settings, subscribe
from tests.receiver import Receiver
from tests.world import World, order_body


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(settings, receiver)


def _acknowledge(order_id: str, item_id: str, event_id: str) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "eventType": "orderStateChangeNotification",
        "event": {
            "productOrder": {
                "id": order_id,
                "productOrderItem": [{"id": item_id, "state": "acknowledged"}],
            }
        },
    }


def test_create_acknowledge_by_event_and_notify_PSI_03_02_01_03(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    dave, prov_a, prov_b = auth("dave"), auth("prov-a", "provider"), auth("prov-b", "provider")
    subscribe(client, dave, receiver.url("/dave"))
    provider_hub = subscribe(client, prov_a, receiver.url("/prov-a"))
    order = world.create(dave, order_body("off-a", "off-b"))
    deliver()

    [created] = receiver.delivered("/prov-a")
    assert created["eventType"] == "orderCreationNotification"
    assert created["correlationId"] == order["id"]
    shown = created["event"]["productOrder"]
    assert [item["id"] for item in shown["productOrderItem"]] == ["1"], "only its own item"
    [request] = receiver.on("/prov-a")
    assert request.event_id == created["eventId"]
    assert request.headers["webhook-signature"] == expected_signature(
        provider_hub["secret"], request
    )

    for who, item, event_id in ((prov_a, "1", "a-ack-1"), (prov_b, "2", "b-ack-1")):
        posted = client.post(
            f"{HUB}/order/event", json=_acknowledge(order["id"], item, event_id), headers=who
        )
        assert posted.status_code == 201, posted.text
    deliver()

    to_customer = receiver.delivered("/dave")
    assert [e["eventType"] for e in to_customer] == [
        "orderCreationNotification",
        "orderValueChangeNotification",
        "orderStateChangeNotification",
        "orderValueChangeNotification",
    ]
    state_change = to_customer[2]["event"]["productOrder"]
    assert state_change["state"] == "acknowledged"
    assert {i["id"]: i["state"] for i in state_change["productOrderItem"]} == {
        "1": "acknowledged",
        "2": "acknowledged",
    }
    to_provider_a = [e["eventType"] for e in receiver.delivered("/prov-a")]
    assert to_provider_a == [
        "orderCreationNotification",
        "orderValueChangeNotification",
        "orderStateChangeNotification",
    ], "prov-a is not told that prov-b's item changed, only that the order state did"
