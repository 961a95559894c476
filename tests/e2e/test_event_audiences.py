"""Who is told what, over real HTTP to callbacks on 127.0.0.1.

PSI-01-02-03-04 (need-to-know: a callback gets an event only if its owner could
GET the order, in the owner's view), PSI-01-02-03-03 (topics),
PSI-01-02-03-05 and PSI-01-02-02-02 (filter queries in the TOD-01-02-02
syntax), and the PSI event envelope (seed 001, PSID688 ``Event``).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.config import Settings
from tests.conftest import BASE_URL, Auth
from tests.delivery import HUB, Deliver, hub_settings, subscribe
from tests.receiver import Receiver
from tests.world import ORDERS, World, order_body

IMEI = "missing=product.productCharacteristic.value&name=IMEI"


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(settings, receiver)


def _post_event(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> None:
    response = client.post(f"{HUB}/order/event", json=body, headers=headers)
    assert response.status_code == 201, response.text


def _move(order_id: str, item_id: str, state: str, event_id: str) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "eventType": "orderStateChangeNotification",
        "event": {
            "productOrder": {"id": order_id, "productOrderItem": [{"id": item_id, "state": state}]}
        },
    }


def _types(receiver: Receiver, path: str) -> list[str]:
    return [event["eventType"] for event in receiver.delivered(path)]


def _items(event: dict[str, Any]) -> list[str]:
    return [item["id"] for item in event["event"]["productOrder"]["productOrderItem"]]


def test_organisation_callback_gets_its_members_orders_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """org-c may read carol's orders in full, so its callback hears of them; not of dave's."""
    subscribe(client, auth("org-c"), receiver.url("/org-c"))
    carols = world.create(auth("carol"), order_body("off-a", "off-b"))
    world.create(auth("dave"), order_body("off-a"))
    deliver()
    [created] = receiver.delivered("/org-c")
    assert created["eventType"] == "orderCreationNotification"
    assert created["correlationId"] == carols["id"]
    assert _items(created) == ["1", "2"], "the customer's (full) view"


def test_provider_told_of_a_draft_only_once_submitted_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """For the provider, the submission of a draft is the order's creation."""
    dave = auth("dave")
    subscribe(client, dave, receiver.url("/dave"))
    subscribe(client, auth("prov-a", "provider"), receiver.url("/prov-a"))
    draft = world.create(dave, order_body("off-a", "off-b", requestedInitialState="draft"))
    edited = client.patch(f"{ORDERS}/{draft['id']}", json={"description": "v2"}, headers=dave)
    assert edited.status_code == 200, edited.text
    deliver()
    assert receiver.on("/prov-a") == []
    assert _types(receiver, "/dave") == [
        "orderCreationNotification",
        "orderValueChangeNotification",
    ]

    submitted = client.patch(
        f"{ORDERS}/{draft['id']}", json={"state": "acknowledged"}, headers=dave
    )
    assert submitted.status_code == 200, submitted.text
    deliver()
    [creation] = receiver.delivered("/prov-a")
    assert creation["eventType"] == "orderCreationNotification"
    assert creation["title"] == "ProductOrderCreateEvent"
    assert creation["event"]["productOrder"]["state"] == "pending"
    assert _items(creation) == ["1"], "only prov-a's item"
    assert _types(receiver, "/dave")[2:] == ["orderStateChangeNotification"]


def test_draft_cancelled_before_submission_never_reaches_providers_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """Nothing of a draft ever reaches a provider, and it cannot GET it either (404)."""
    dave, prov_a = auth("dave"), auth("prov-a", "provider")
    subscribe(client, dave, receiver.url("/dave"))
    subscribe(client, prov_a, receiver.url("/prov-a"))
    draft = world.create(dave, order_body("off-a", requestedInitialState="draft"))
    cancelled = client.patch(f"{ORDERS}/{draft['id']}", json={"state": "cancelled"}, headers=dave)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    deliver()
    assert receiver.on("/prov-a") == []
    assert _types(receiver, "/dave") == [
        "orderCreationNotification",
        "orderStateChangeNotification",
    ]
    assert client.get(f"{ORDERS}/{draft['id']}", headers=prov_a).status_code == 404
    listed = client.get(f"{HUB}/order/event", headers=prov_a)
    assert listed.headers["x-total-count"] == "0"


def test_unrelated_callbacks_get_nothing_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """Another customer, a provider with no item in it and another PSS hear nothing."""
    subscribe(client, auth("erin"), receiver.url("/erin"))
    subscribe(client, auth("prov-z", "provider"), receiver.url("/prov-z"))
    subscribe(client, auth("pss-y", "pss"), receiver.url("/pss-y"))
    subscribe(client, auth("prov-b", "provider"), receiver.url("/prov-b"))
    order = world.create(auth("dave"), order_body("off-a"))
    _post_event(client, auth("prov-a", "provider"), _move(order["id"], "1", "acknowledged", "a1"))
    deliver()
    assert [r.path for r in receiver.requests] == []


def test_provider_not_told_of_another_providers_missing_information_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """An information request about prov-a's item names that item and what it lacks;
    prov-b cannot see that item, so it is not told (nor does it list the event)."""
    dave, prov_a, prov_b = auth("dave"), auth("prov-a", "provider"), auth("prov-b", "provider")
    subscribe(client, dave, receiver.url("/dave"))
    subscribe(client, prov_a, receiver.url("/prov-a"))
    subscribe(client, prov_b, receiver.url("/prov-b"))
    order = world.create(dave, order_body("off-a", "off-b"))
    _post_event(client, prov_a, _info_required(order["id"], "info-1"))
    deliver()
    assert "orderInformationRequiredNotification" in _types(receiver, "/dave")
    assert "orderInformationRequiredNotification" in _types(receiver, "/prov-a")
    for event in receiver.delivered("/prov-b"):
        assert event["eventType"] != "orderInformationRequiredNotification"
        assert "productOrderItem/1" not in str(event)
    listed = client.get(
        f"{HUB}/order/event",
        params={"eventType": "orderInformationRequiredNotification"},
        headers=prov_b,
    )
    assert listed.json() == [] and listed.headers["x-total-count"] == "0"


def _info_required(order_id: str, event_id: str) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "eventType": "orderInformationRequiredNotification",
        "resourcePath": f"/productOrder/{order_id}/productOrderItem/1",
        "fieldPath": IMEI,
        "event": {"productOrder": {"id": order_id}},
    }


QUERIES = {
    "/state-changes": "eventType=orderStateChangeNotification",
    "/tmf-state-changes": "eventType=ProductOrderStateChangeEvent",
    "/off-a": "event.productOrder.productOrderItem.productOffering.id=off-a",
    "/acknowledged": "state=acknowledged",
    "/urgent": "event.priority=1",
    "/urgent-state-changes": "event.priority=1&eventType=orderStateChangeNotification",
}


def test_filter_queries_PSI_01_02_03_05_and_PSI_01_02_02_02(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """Each callback gets exactly the events its query selects (dot paths into the event,
    '&' as AND, any list element may match, resource fallback, seed or TMF event names)."""
    dave = auth("dave")
    for path, query in QUERIES.items():
        subscribe(client, dave, receiver.url(path), query)
    urgent = world.create(dave, order_body("off-a", "off-b", priority="1"))
    only_b = world.create(dave, order_body("off-b"))
    _post_event(client, auth("prov-a", "provider"), _move(urgent["id"], "1", "acknowledged", "1"))
    _post_event(client, auth("prov-b", "provider"), _move(urgent["id"], "2", "acknowledged", "2"))
    _post_event(client, auth("prov-b", "provider"), _move(only_b["id"], "1", "acknowledged", "3"))
    deliver()

    def got(path: str) -> list[tuple[str, str]]:
        return [(e["correlationId"], e["eventType"]) for e in receiver.delivered(path)]

    urgent_id, only_b_id = urgent["id"], only_b["id"]
    state_changes = [
        (urgent_id, "orderStateChangeNotification"),
        (only_b_id, "orderStateChangeNotification"),
    ]
    assert got("/state-changes") == state_changes
    assert got("/tmf-state-changes") == state_changes
    assert got("/off-a") == [
        (urgent_id, "orderCreationNotification"),
        (urgent_id, "orderValueChangeNotification"),
        (urgent_id, "orderStateChangeNotification"),
        (urgent_id, "orderValueChangeNotification"),
    ]
    assert got("/acknowledged") == [
        (urgent_id, "orderStateChangeNotification"),
        (urgent_id, "orderValueChangeNotification"),
        (only_b_id, "orderStateChangeNotification"),
        (only_b_id, "orderValueChangeNotification"),
    ]
    assert got("/urgent") == got("/off-a")
    assert got("/urgent-state-changes") == [(urgent_id, "orderStateChangeNotification")]


def test_topics_keep_order_events_to_order_callbacks_PSI_01_02_03_03(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    dave = auth("dave")
    subscribe(client, dave, receiver.url("/inquiry"), topic="inquiry")
    subscribe(client, dave, receiver.url("/order"))
    world.create(dave, order_body("off-a"))
    deliver()
    assert receiver.on("/inquiry") == []
    assert _types(receiver, "/order") == ["orderCreationNotification"]


def test_information_required_and_removal_notifications_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """orderInformationRequiredNotification carries resourcePath and fieldPath exactly as
    seed 001 shows them; governance's DELETE is announced as orderRemoveNotification."""
    dave, prov_a = auth("dave"), auth("prov-a", "provider")
    subscribe(client, dave, receiver.url("/dave"))
    subscribe(client, prov_a, receiver.url("/prov-a"))
    order = world.create(dave, order_body("off-a"))
    _post_event(client, prov_a, _info_required(order["id"], "info-1"))
    deliver()
    for path in ("/dave", "/prov-a"):
        [info] = [
            e
            for e in receiver.delivered(path)
            if e["eventType"] == "orderInformationRequiredNotification"
        ]
        assert info["resourcePath"] == f"/productOrder/{order['id']}/productOrderItem/1"
        assert info["fieldPath"] == IMEI
        assert info["title"] == "ProductOrderInformationRequiredEvent"

    assert client.delete(f"{ORDERS}/{order['id']}", headers=world.gov).status_code == 204
    deliver()
    for path in ("/dave", "/prov-a"):
        removal = receiver.delivered(path)[-1]
        assert removal["eventType"] == "orderRemoveNotification"
        assert removal["title"] == "ProductOrderDeleteEvent"
        assert removal["correlationId"] == order["id"]
        assert "resourcePath" not in removal and "fieldPath" not in removal


def test_envelope_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    """Every event carries eventId (= webhook-id), eventTime, eventType, a correlationId
    that is the order id on every event of the order, the domain, and the order with
    its id and href."""
    dave = auth("dave")
    subscribe(client, dave, receiver.url("/dave"))
    order = world.create(dave, order_body("off-a"))
    _post_event(client, auth("prov-a", "provider"), _move(order["id"], "1", "acknowledged", "1"))
    _post_event(client, auth("prov-a", "provider"), _move(order["id"], "1", "inProgress", "2"))
    deliver()
    requests = receiver.on("/dave")
    assert len(requests) == 5
    ids = set()
    for request in requests:
        event = request.json
        assert event["eventId"] == request.event_id
        ids.add(event["eventId"])
        assert event["eventTime"] == "2026-11-24T12:00:00.000Z"
        assert event["eventType"]
        assert event["correlationId"] == order["id"]
        assert event["domain"] == "productOrdering"
        shown = event["event"]["productOrder"]
        assert shown["id"] == order["id"]
        assert shown["href"] == f"{BASE_URL}{ORDERS}/{order['id']}"
    assert len(ids) == len(requests), "each event has its own eventId"
