"""The need-to-know matrix over HTTP: every role against own, foreign and shared orders.

PSI-03-02-02-04 (write access), PSI-03-02-03-01/-02 (read access),
PSI-03-02-04-01 (list applicable orders). Not visible is always 404, and a
provider never sees another provider's items, in any response or count.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Auth
from tests.world import ORDERS, World, order_body

MERGE = {"Content-Type": "application/merge-patch+json"}

# caller name -> (party, roles)
CALLERS = {
    "owner": ("dave", ("customer",)),
    "other-customer": ("erin", ("customer",)),
    "organisation-of-owner": ("org-c", ("customer",)),
    "prov-a": ("prov-a", ("provider",)),
    "prov-b": ("prov-b", ("provider",)),
    "prov-z": ("prov-z", ("provider",)),
    "creating-pss": ("pss-x", ("pss",)),
    "other-pss": ("pss-y", ("pss",)),
    "governance": ("gov", ("governance",)),
}


def _orders(world: World, auth: Auth) -> dict[str, dict[str, Any]]:
    """dave's two-provider order, carol's (org-c member) prov-a order, a PSS-made order."""
    return {
        "shared": world.create(auth("dave"), order_body("off-a", "off-b")),
        "member": world.create(auth("carol"), order_body("off-a")),
        "by-pss": world.create(
            auth("pss-x", "pss"),
            order_body(
                "off-b",
                relatedParty=[
                    {
                        "@type": "RelatedPartyRefOrPartyRoleRef",
                        "role": "customer",
                        "partyOrPartyRole": {"@type": "PartyRef", "id": "dave"},
                    }
                ],
            ),
        ),
    }


# expected read access: order -> caller -> items visible (None = 404)
EXPECTED: dict[str, dict[str, list[str] | None]] = {
    "shared": {
        "owner": ["1", "2"],
        "other-customer": None,
        "organisation-of-owner": None,
        "prov-a": ["1"],
        "prov-b": ["2"],
        "prov-z": None,
        "creating-pss": None,
        "other-pss": None,
        "governance": ["1", "2"],
    },
    "member": {
        "owner": None,
        "other-customer": None,
        "organisation-of-owner": ["1"],
        "prov-a": ["1"],
        "prov-b": None,
        "prov-z": None,
        "creating-pss": None,
        "other-pss": None,
        "governance": ["1"],
    },
    "by-pss": {
        "owner": ["1"],
        "other-customer": None,
        "organisation-of-owner": None,
        "prov-a": None,
        "prov-b": ["1"],
        "prov-z": None,
        "creating-pss": ["1"],
        "other-pss": None,
        "governance": ["1"],
    },
}


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_get_and_list_PSI_03_02_03_02_and_PSI_03_02_04_01(
    world: World, client: TestClient, auth: Auth, who: str
) -> None:
    orders = _orders(world, auth)
    party, roles = CALLERS[who]
    headers = auth(party, *roles)
    listed = client.get(ORDERS, headers=headers)
    assert listed.status_code == 200
    by_id = {o["id"]: o for o in listed.json()}
    expected_visible = {name for name, row in EXPECTED.items() if row[who] is not None}
    assert set(by_id) == {orders[name]["id"] for name in expected_visible}
    assert listed.headers["x-total-count"] == str(len(expected_visible))
    for name, order in orders.items():
        items = EXPECTED[name][who]
        response = client.get(f"{ORDERS}/{order['id']}", headers=headers)
        if items is None:
            assert response.status_code == 404
            assert order["id"] not in by_id
            continue
        assert response.status_code == 200
        for doc in (response.json(), by_id[order["id"]]):
            assert [i["id"] for i in doc["productOrderItem"]] == items
            if who.startswith("prov-"):
                assert "orderTotalPrice" not in doc
        counted = client.get(f"{ORDERS}?id={order['id']}", headers=headers)
        assert counted.headers["x-total-count"] == "1"


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_patch_PSI_03_02_02_04(world: World, client: TestClient, auth: Auth, who: str) -> None:
    """Owner (and its PSS) may write customer fields; providers only theirs; others 404/403."""
    orders = _orders(world, auth)
    party, roles = CALLERS[who]
    headers = {**auth(party, *roles), **MERGE}
    for name, order in orders.items():
        url = f"{ORDERS}/{order['id']}"
        visible = EXPECTED[name][who] is not None
        customer_write = client.patch(url, json={"description": f"by {who}"}, headers=headers)
        provider_write = client.patch(
            url, json={"expectedCompletionDate": "2027-01-01T00:00:00Z"}, headers=headers
        )
        if not visible:
            assert customer_write.status_code == 404
            assert provider_write.status_code == 404
        elif who == "governance":
            assert customer_write.status_code == 403
            assert provider_write.status_code == 403
        elif who.startswith("prov-"):
            assert customer_write.status_code == 403
            assert "description" in customer_write.json()["message"]
            assert provider_write.status_code == 200, provider_write.text
            assert [i["id"] for i in provider_write.json()["productOrderItem"]] == EXPECTED[name][
                who
            ]
        else:
            assert customer_write.status_code == 200, customer_write.text
            assert provider_write.status_code == 403


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_delete_matrix(world: World, client: TestClient, auth: Auth, who: str) -> None:
    """DELETE is governance-only: 403 for those who can see the order, 404 for the rest."""
    orders = _orders(world, auth)
    party, roles = CALLERS[who]
    for name, order in orders.items():
        response = client.delete(f"{ORDERS}/{order['id']}", headers=auth(party, *roles))
        if EXPECTED[name][who] is None:
            assert response.status_code == 404
        elif who == "governance":
            assert response.status_code == 204
        else:
            assert response.status_code == 403


def test_provider_cannot_touch_other_providers_item(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Writing through its own view, a provider cannot reach another provider's item."""
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    url = f"{ORDERS}/{order['id']}"
    attempt = client.patch(
        url,
        content=b'[{"op": "add", "path": "/productOrderItem/1", "value": {"id": "2"}}]',
        headers={**auth("prov-a", "provider"), "Content-Type": "application/json-patch+json"},
    )
    assert attempt.status_code == 422
    full = client.get(url, headers=auth("dave")).json()
    assert full["productOrderItem"] == order["productOrderItem"]


def test_provider_never_sees_drafts(world: World, client: TestClient, auth: Auth) -> None:
    draft = world.create(auth("dave"), order_body("off-a", requestedInitialState="draft"))
    prov = auth("prov-a", "provider")
    assert client.get(f"{ORDERS}/{draft['id']}", headers=prov).status_code == 404
    assert client.get(ORDERS, headers=prov).headers["x-total-count"] == "0"


def test_filters_apply_visibility_before_counting(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Filtering on another provider's offering reveals nothing to a provider."""
    world.create(auth("dave"), order_body("off-a", "off-b"))
    prov_a = auth("prov-a", "provider")
    response = client.get(f"{ORDERS}?productOrderItem.productOffering.id=off-b", headers=prov_a)
    assert response.json() == []
    assert response.headers["x-total-count"] == "0"
    mine = client.get(f"{ORDERS}?productOrderItem.productOffering.id=off-a", headers=prov_a)
    assert mine.headers["x-total-count"] == "1"


def test_mixed_roles_see_union_with_per_order_views(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A party that is both customer and provider: full view of its own, item view otherwise."""
    own = world.create(auth("prov-a", "customer"), order_body("off-b"))
    theirs = world.create(auth("dave"), order_body("off-a", "off-b"))
    both = auth("prov-a", "customer", "provider")
    listed = {o["id"]: o for o in client.get(ORDERS, headers=both).json()}
    assert set(listed) == {own["id"], theirs["id"]}
    assert [i["id"] for i in listed[theirs["id"]]["productOrderItem"]] == ["1"]
    assert [i["id"] for i in listed[own["id"]]["productOrderItem"]] == ["1"]
    filtered = client.get(f"{ORDERS}?productOrderItem.productOffering.id=off-b", headers=both)
    assert [o["id"] for o in filtered.json()] == [own["id"]]
    assert filtered.headers["x-total-count"] == "1"
