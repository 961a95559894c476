"""Each create rule refused over HTTP with the right status and the offending field path.

Bad input gets a TMF Error and changes nothing (the order count stays 0).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Auth
from tests.world import ORDERS, World, customer_ref, order_body

ITEM = {"id": "1", "action": "add", "productOffering": {"id": "off-a"}}


def _item(**changes: Any) -> dict[str, Any]:
    return {**ITEM, **changes}


CASES: list[tuple[str, Any, int, str]] = [
    ("no items", {"productOrderItem": []}, 400, "productOrderItem"),
    ("items missing", {"description": "x"}, 400, "productOrderItem"),
    ("not an object", [1, 2], 400, "JSON object"),
    ("unknown field", {**order_body(), "colour": "red"}, 400, "colour"),
    ("unknown @type", {**order_body(), "@type": "Pizza"}, 400, "@type"),
    (
        "bad action",
        {"productOrderItem": [_item(action="upgrade")]},
        400,
        "productOrderItem[0].action",
    ),
    ("item id not string", {"productOrderItem": [_item(id=1)]}, 400, "productOrderItem[0].id"),
    ("bad date", {**order_body(), "requestedStartDate": "soon"}, 400, "requestedStartDate"),
    ("server-set id", {**order_body(), "id": "mine"}, 400, "id"),
    ("server-set state", {**order_body(), "state": "completed"}, 400, "state"),
    (
        "unknown offering",
        {"productOrderItem": [_item(productOffering={"id": "nope"})]},
        422,
        "productOrderItem[0].productOffering.id",
    ),
    (
        "modify without product",
        {"productOrderItem": [_item(action="modify")]},
        422,
        "productOrderItem[0].product.id",
    ),
    (
        "delete without product",
        {"productOrderItem": [_item(action="delete")]},
        422,
        "productOrderItem[0].product.id",
    ),
    ("duplicate item id", {"productOrderItem": [ITEM, ITEM]}, 422, "productOrderItem[1].id"),
    (
        "relationship to missing item",
        {
            "productOrderItem": [
                _item(productOrderItemRelationship=[{"id": "9", "relationshipType": "reliesOn"}])
            ]
        },
        422,
        "productOrderItem[0].productOrderItemRelationship[0].id",
    ),
    (
        "relationship cycle",
        {
            "productOrderItem": [
                _item(productOrderItemRelationship=[{"id": "2", "relationshipType": "reliesOn"}]),
                _item(
                    id="2",
                    productOrderItemRelationship=[{"id": "1", "relationshipType": "reliesOn"}],
                ),
            ]
        },
        422,
        "cycle",
    ),
    (
        "start after completion",
        {
            **order_body(),
            "requestedStartDate": "2027-02-01T00:00:00Z",
            "requestedCompletionDate": "2027-01-01T00:00:00Z",
        },
        422,
        "requestedStartDate",
    ),
    ("priority out of range", {**order_body(), "priority": "7"}, 422, "priority"),
    (
        "two customers",
        {**order_body(), "relatedParty": [customer_ref("dave"), customer_ref("erin")]},
        422,
        "customer",
    ),
]


@pytest.mark.parametrize(("name", "body", "status", "path"), CASES, ids=[c[0] for c in CASES])
def test_create_rule(
    world: World, client: TestClient, auth: Auth, name: str, body: Any, status: int, path: str
) -> None:
    response = client.post(ORDERS, json=body, headers=auth("dave"))
    assert response.status_code == status, response.text
    error = response.json()
    assert error["status"] == str(status)
    assert set(error) >= {"code", "reason", "message", "status"}
    assert path in error["message"]
    assert client.get(ORDERS, headers=world.gov).headers["x-total-count"] == "0"


def test_missing_type_defaults_to_base_type(world: World, auth: Auth) -> None:
    assert world.create(auth("dave"), order_body())["@type"] == "ProductOrder"


def test_priority_within_max_priority_PSI_01_01_02_09(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Governance caps a customer's priority; more urgent (lower) values are refused."""
    capped = client.patch(
        "/psi-api/partyManagement/v2/individual/dave",
        json={
            "partyCharacteristic": [
                {"@type": "StringCharacteristic", "name": "maxPriority", "value": "2"}
            ]
        },
        headers=world.gov,
    )
    assert capped.status_code == 200, capped.text
    urgent = client.post(ORDERS, json={**order_body(), "priority": "1"}, headers=auth("dave"))
    assert urgent.status_code == 422
    assert "maxPriority" in urgent.json()["message"]
    allowed = client.post(ORDERS, json={**order_body(), "priority": "2"}, headers=auth("dave"))
    assert allowed.status_code == 201


def test_retired_offering_cannot_be_added(world: World, client: TestClient, auth: Auth) -> None:
    retired = client.patch(
        "/psi-api/productCatalogManagement/v2/productOffering/off-a",
        json={"lifecycleStatus": "retired"},
        headers=auth("prov-a", "provider"),
    )
    assert retired.status_code == 200, retired.text
    response = client.post(ORDERS, json=order_body("off-a"), headers=auth("dave"))
    assert response.status_code == 422
    assert "not orderable" in response.json()["message"]


def test_items_attributed_to_offering_providers(
    world: World, client: TestClient, auth: Auth
) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    for provider, item in (("prov-a", "1"), ("prov-b", "2")):
        doc = client.get(f"{ORDERS}/{order['id']}", headers=auth(provider, "provider")).json()
        assert [i["id"] for i in doc["productOrderItem"]] == [item]


@pytest.mark.parametrize(
    ("who", "status"),
    [(("prov-a", "provider"), 403), (("gov", "governance"), 403)],
)
def test_only_customers_and_pss_create(
    world: World, client: TestClient, auth: Auth, who: tuple[str, str], status: int
) -> None:
    response = client.post(ORDERS, json=order_body(), headers=auth(*who))
    assert response.status_code == status


def test_patch_refusals(world: World, client: TestClient, auth: Auth) -> None:
    order = world.create(auth("dave"), order_body("off-a"))
    url = f"{ORDERS}/{order['id']}"
    dave = auth("dave")
    changed_offering = client.patch(
        url,
        json={
            "productOrderItem": [
                {**order["productOrderItem"][0], "productOffering": {"id": "off-b"}}
            ]
        },
        headers=dave,
    )
    assert changed_offering.status_code == 422
    assert "replaces" in changed_offering.json()["message"]
    server_field = client.patch(url, json={"creationDate": "2020-01-01T00:00:00Z"}, headers=dave)
    assert server_field.status_code in (400, 403)
    unknown = client.patch(url, json={"colour": "red"}, headers=dave)
    assert unknown.status_code == 400
    assert "colour" in unknown.json()["message"]
    bad_type = client.patch(url, json={"description": 5}, headers=dave)
    assert bad_type.status_code == 400
    assert "description" in bad_type.json()["message"]
    rewritten_note = client.patch(url, json={"note": [{"text": "a"}]}, headers=dave)
    assert rewritten_note.status_code == 200
    edited = client.patch(url, json={"note": [{"text": "b"}]}, headers=dave)
    assert edited.status_code == 403
    assert "append-only" in edited.json()["message"]
    bad_patch = client.patch(
        url,
        content=b'[{"op": "remove", "path": "/nothing/here"}]',
        headers={**dave, "Content-Type": "application/json-patch+json"},
    )
    assert bad_patch.status_code == 400
    not_ops = client.patch(
        url,
        content=b'{"op": "remove"}',
        headers={**dave, "Content-Type": "application/json-patch+json"},
    )
    assert not_ops.status_code == 400
    assert client.get(url, headers=dave).json()["note"] == [{"text": "a", "author": "dave"}]
