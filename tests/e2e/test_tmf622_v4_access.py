"""Need-to-know and the event hub on the TMF622 v4 surface, over HTTP on both databases.

Every role of the v5 visibility matrix (PSI-03-02-03-02 read access,
PSI-03-02-04-01 lists, PSI-03-02-02-04 write access) gets on the v4 paths exactly
the answers it gets on the v5 ones: the same orders, the same items of them, the
same statuses for every operation. v4 hub registrations (PSI-01-02-02-01) receive
the order events in v4 shape at ``{callback}/listener/{eventName}``, each in its
receiver's own view (PSI-01-02-03-04).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from tests.conftest import BASE_URL, Auth
from tests.delivery import SCHEDULE, Deliver, hub_settings
from tests.e2e.test_tmf622_v4 import V4, V4_ORDERS, assert_v4_order
from tests.e2e.test_visibility_matrix import CALLERS, EXPECTED, _orders, listed_as_expected
from tests.receiver import Receiver
from tests.world import ORDERS, World, order_body

MERGE = {"Content-Type": "application/merge-patch+json"}
ROLES = {**CALLERS, "stranger": ("nobody", ())}


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(settings, receiver)


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_v4_reads_PSI_03_02_03_02_and_PSI_03_02_04_01(
    world: World, client: TestClient, auth: Auth, who: str
) -> None:
    """The same orders and items as in v5; a provider's view holds only its items."""
    orders = _orders(world, auth)
    party, roles = CALLERS[who]
    headers = auth(party, *roles)
    by_id = listed_as_expected(client, V4_ORDERS, headers, orders, who)
    for name, order in orders.items():
        items = EXPECTED[name][who]
        response = client.get(f"{V4_ORDERS}/{order['id']}", headers=headers)
        counted = client.get(f"{V4_ORDERS}?id={order['id']}", headers=headers)
        if items is None:
            assert response.status_code == 404
            assert counted.headers["x-total-count"] == "0"
            continue
        assert response.status_code == 200
        assert counted.headers["x-total-count"] == "1"
        for doc in (response.json(), by_id[order["id"]]):
            assert_v4_order(doc)
            assert [i["id"] for i in doc["productOrderItem"]] == items
            if who.startswith("prov-"):
                assert "orderTotalPrice" not in doc


def _v4_of(order: dict[str, Any]) -> dict[str, Any]:
    """A v5 create body, as the v4 client would send it."""
    v4: dict[str, Any] = {"productOrderItem": order["productOrderItem"]}
    v4["relatedParty"] = [
        {
            "id": p["partyOrPartyRole"]["id"],
            "role": p["role"],
            "@referredType": "Individual",
        }
        for p in order.get("relatedParty", [])
    ]
    return v4


@pytest.mark.parametrize("who", sorted(ROLES))
def test_every_operation_answers_as_in_v5_PSI_03_02_02_04(
    world: World, client: TestClient, auth: Auth, who: str
) -> None:
    """POST, PATCH (a customer's field, a provider's), DELETE: for every role, the v4
    answer has the status the v5 one has, on orders of every kind."""
    party, roles = ROLES[who]
    headers = auth(party, *roles) if roles else {}
    for_dave = order_body(
        "off-a",
        relatedParty=[
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "customer",
                "partyOrPartyRole": {"@type": "PartyRef", "id": "dave"},
            }
        ],
    )
    statuses = [
        (
            client.post(ORDERS, json=for_dave, headers=headers).status_code,
            client.post(V4_ORDERS, json=_v4_of(for_dave), headers=headers).status_code,
        )
    ]
    twins = _orders(world, auth)  # the same orders again, for the v4 DELETE
    for name, v5_order in _orders(world, auth).items():
        v4_url, v5_url = f"{V4_ORDERS}/{v5_order['id']}", f"{ORDERS}/{v5_order['id']}"
        for body in (
            {"description": f"by {who}"},
            {"expectedCompletionDate": "2027-01-01T00:00:00Z"},
        ):
            statuses.append(
                (
                    client.patch(v5_url, json=body, headers={**headers, **MERGE}).status_code,
                    client.patch(v4_url, json=body, headers={**headers, **MERGE}).status_code,
                )
            )
        statuses.append(
            (
                client.get(v5_url, headers=headers).status_code,
                client.get(v4_url, headers=headers).status_code,
            )
        )
        twin = f"{V4_ORDERS}/{twins[name]['id']}"
        statuses.append(
            (
                client.delete(v5_url, headers=headers).status_code,
                client.delete(twin, headers=headers).status_code,
            )
        )
    assert [v4 for _, v4 in statuses] == [v5 for v5, _ in statuses]
    assert {v4 for _, v4 in statuses} != {404} or who in ("other-customer", "prov-z", "other-pss")


def test_v4_hub_receives_v4_events_in_its_view_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth, receiver: Receiver, deliver: Deliver
) -> None:
    dave, prov_a = auth("dave"), auth("prov-a", "provider")
    hubs = {}
    for name, who in (("dave", dave), ("prov-a", prov_a)):
        response = client.post(
            f"{V4}/hub", json={"callback": receiver.url(f"/{name}")}, headers=who
        )
        assert response.status_code == 201, response.text
        assert response.json()["secret"].startswith("whsec_")
        hubs[name] = response.json()
    state_only = client.post(
        f"{V4}/hub",
        json={
            "callback": receiver.url("/states"),
            "query": "eventType=ProductOrderStateChangeEvent",
        },
        headers=dave,
    )
    assert state_only.status_code == 201
    gov = auth("gov", "governance")
    watching = client.post(f"{V4}/hub", json={"callback": receiver.url("/gov")}, headers=gov)
    assert watching.status_code == 201
    order = world.create(dave, order_body("off-a", "off-b"))
    for provider in (prov_a, auth("prov-b", "provider")):
        acknowledged = client.patch(
            f"{V4_ORDERS}/{order['id']}",
            json=[{"op": "replace", "path": "/productOrderItem/0/state", "value": "acknowledged"}],
            headers={**provider, "Content-Type": "application/json-patch+json"},
        )
        assert acknowledged.status_code == 200, acknowledged.text
    deliver()
    [state_change] = receiver.delivered("/states/listener/productOrderStateChangeEvent")
    assert state_change["event"]["productOrder"]["state"] == "acknowledged"
    assert state_change["title"] == "ProductOrderStateChangeEvent"
    [created] = receiver.delivered("/dave/listener/productOrderCreateEvent")
    assert created["eventType"] == "ProductOrderCreateEvent"
    shown = created["event"]["productOrder"]
    assert_v4_order(shown)
    assert shown["href"] == f"{BASE_URL}{V4_ORDERS}/{order['id']}"
    assert [i["id"] for i in shown["productOrderItem"]] == ["1", "2"]
    assert created["correlationId"] == order["id"] and created["eventId"] == created["id"]
    [for_provider] = receiver.delivered("/prov-a/listener/productOrderCreateEvent")
    assert [i["id"] for i in for_provider["event"]["productOrder"]["productOrderItem"]] == ["1"]
    changed = receiver.delivered("/dave/listener/productOrderAttributeValueChangeEvent")
    assert changed, "the acknowledgement changed the item"
    assert receiver.on("/states/listener/productOrderCreateEvent") == []
    assert receiver.on("/dave") == [] and receiver.on("/prov-a") == []
    # the v5 hub lists its own registrations only; a v4 one is removed on the v4 path
    assert client.get("/psi-api/event/v2/topic/order/hub", headers=dave).json() == []
    assert client.delete(f"{V4}/hub/{hubs['dave']['id']}", headers=prov_a).status_code == 404
    v5_path = f"/psi-api/event/v2/topic/order/hub/{hubs['dave']['id']}"
    assert client.delete(v5_path, headers=dave).status_code == 404
    assert client.delete(f"{V4}/hub/{hubs['dave']['id']}", headers=dave).status_code == 204
    client.patch(f"{V4_ORDERS}/{order['id']}", json={"description": "x"}, headers={**dave, **MERGE})
    deliver()
    assert len(receiver.on("/dave/listener/productOrderAttributeValueChangeEvent")) == len(changed)
    assert client.delete(f"{V4_ORDERS}/{order['id']}", headers=gov).status_code == 204
    deliver()
    [deleted] = receiver.delivered("/gov/listener/productOrderDeleteEvent")
    assert deleted["eventType"] == "ProductOrderDeleteEvent"
    assert deleted["event"]["productOrder"]["id"] == order["id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"callback": "http://elsewhere.test/cb"}, 422),  # not an allowed host
        ({"callback": "http://127.0.0.1:9999/cb", "query": "not a query"}, 422),
        ({}, 400),
        ({"callback": "http://127.0.0.1:9999/cb", "topic": "x"}, 400),
    ],
)
def test_v4_hub_refuses(client: TestClient, auth: Auth, body: dict[str, Any], status: int) -> None:
    response = client.post(f"{V4}/hub", json=body, headers=auth("dave"))
    assert response.status_code == status, response.text
    assert client.post(f"{V4}/hub", json=body).status_code == 401


def test_v4_callback_halts_and_is_resumed_PSI_01_02_03_07(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    clock: ManualClock,
) -> None:
    """A v4 callback that keeps failing is halted like any other; its owner (or
    governance) sees its health and resumes it on the v4 hub, nobody else."""
    dave = auth("dave")
    listener = "/v4/listener/productOrderCreateEvent"
    receiver.script(listener, *([500] * (len(SCHEDULE) + 1)))
    hub = client.post(f"{V4}/hub", json={"callback": receiver.url("/v4")}, headers=dave).json()
    world.create(dave, order_body("off-a"))
    deliver()
    for wait in SCHEDULE:
        clock.advance(timedelta(seconds=wait))
        deliver()
    url = f"{V4}/hub/{hub['id']}"
    halted = client.get(url, headers=dave)
    assert halted.status_code == 200, halted.text
    assert halted.json()["state"] == "halted"
    assert halted.json()["callback"] == receiver.url("/v4")
    for other in (auth("erin"), auth("prov-a", "provider")):
        assert client.get(url, headers=other).status_code == 404
        assert client.post(f"{url}/resume", headers=other).status_code == 404
    assert (
        client.get(f"/psi-api/event/v2/topic/order/hub/{hub['id']}", headers=dave).status_code
        == 404
    )
    resumed = client.post(f"{url}/resume", headers=auth("gov", "governance"))
    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["state"], resumed.json()["pendingCount"]) == ("active", 1)
    deliver()
    [created] = receiver.delivered(listener)
    assert created["eventType"] == "ProductOrderCreateEvent"
    assert client.get(url, headers=dave).json()["deliveredCount"] == 1


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("eventType=ProductOrderStateChangeEvent", 201),
        ("eventType=ProductOrderCreateEvent", 201),
        # a typo, and the v5 name a v4 hub never hears: the callback would wait for ever
        ("eventType=ProductOrderStateChangeEvnt", 422),
        ("eventType=orderStateChangeNotification", 422),
    ],
)
def test_v4_hub_queries_name_events_a_v4_hub_hears_PSI_01_02_03_04(
    client: TestClient, auth: Auth, receiver: Receiver, query: str, status: int
) -> None:
    response = client.post(
        f"{V4}/hub",
        json={"callback": receiver.url("/v4"), "query": query},
        headers=auth("dave"),
    )
    assert response.status_code == status, response.text
