"""A merge patch of an order merges ``productOrderItem`` by item ``id`` (issue 15), as
received events do: a customer supplying missing information names the item and the
field, and the other items (and the item's other fields) stay as they are. The JSON
Patch way (RFC 6902) reaches one field of one item too. Both on both databases.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Auth
from tests.world import ORDERS, World, order_body

IMEI = {"productCharacteristic": [{"name": "IMEI", "value": "490154203237518"}]}


@pytest.fixture
def order(world: World, auth: Auth) -> dict[str, Any]:
    """Two items; the first's offering requires an IMEI it was ordered without."""
    world.publish_imei_offering()
    body = order_body("off-imei", "off-b")
    body["productOrderItem"][1]["quantity"] = 3
    found = world.create(auth("dave"), body)
    assert found["productOrderErrorMessage"], "waiting for the IMEI"
    return found


def _items(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in doc["productOrderItem"]}


def test_a_merge_patch_naming_one_item_changes_that_item_only(
    client: TestClient, auth: Auth, order: dict[str, Any]
) -> None:
    url = f"{ORDERS}/{order['id']}"
    patch = {"productOrderItem": [{"id": "1", "product": IMEI}]}
    supplied = client.patch(url, json=patch, headers=auth("dave"))
    assert supplied.status_code == 200, supplied.text
    doc = supplied.json()
    assert "productOrderErrorMessage" not in doc, "the missing information is supplied"
    items, before = _items(doc), _items(order)
    assert list(items) == ["1", "2"]
    assert items["1"]["product"] == IMEI
    assert items["1"]["productOffering"] == before["1"]["productOffering"]
    assert items["2"] == before["2"], "the item the patch does not name is unchanged"
    assert items["2"]["quantity"] == 3


@pytest.mark.parametrize("entry", [{"id": "9", "quantity": 2}, {"quantity": 2}, "1"])
def test_a_merge_patch_naming_an_item_the_order_lacks_is_refused(
    client: TestClient, auth: Auth, order: dict[str, Any], entry: Any
) -> None:
    url = f"{ORDERS}/{order['id']}"
    answer = client.patch(url, json={"productOrderItem": [entry]}, headers=auth("dave"))
    assert answer.status_code in (400, 422), answer.text
    assert "productOrderItem" in answer.json()["message"]
    assert client.get(url, headers=auth("dave")).json() == order


def test_the_json_patch_way_reaches_one_field_of_one_item(
    client: TestClient, auth: Auth, order: dict[str, Any]
) -> None:
    url = f"{ORDERS}/{order['id']}"
    operations = [{"op": "add", "path": "/productOrderItem/0/product", "value": IMEI}]
    supplied = client.patch(
        url,
        content=json.dumps(operations),
        headers={**auth("dave"), "Content-Type": "application/json-patch+json"},
    )
    assert supplied.status_code == 200, supplied.text
    assert "productOrderErrorMessage" not in supplied.json()
    assert _items(supplied.json())["2"] == _items(order)["2"]
