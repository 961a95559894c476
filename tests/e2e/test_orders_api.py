"""Product order endpoints: happy paths and server-set fields (PSI-03-02-01-01, -03-01)."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.conftest import BASE_URL, Auth
from tests.world import ORDERS, World, customer_ref, order_body


def test_create_order_PSI_03_02_01_01(world: World, client: TestClient, auth: Auth) -> None:
    """A customer creates an order; the PSS sets id, href, creationDate, state, @type."""
    response = client.post(
        ORDERS,
        json=order_body("off-a", "off-b", description="two links"),
        headers=auth("dave"),
    )
    assert response.status_code == 201
    order = response.json()
    assert order["state"] == "pending"
    assert order["@type"] == "ProductOrder"
    assert order["creationDate"] == "2026-11-24T12:00:00.000Z"
    assert order["href"] == f"{BASE_URL}{ORDERS}/{order['id']}"
    assert response.headers["location"] == order["href"]
    assert response.headers["etag"] == '"1"'
    assert [i["state"] for i in order["productOrderItem"]] == ["pending", "pending"]
    assert customer_ref("dave") in order["relatedParty"]


def test_draft_order_is_stored_as_draft(world: World, auth: Auth) -> None:
    order = world.create(auth("dave"), order_body("off-a", requestedInitialState="draft"))
    assert order["state"] == "draft"


def test_get_by_id(world: World, client: TestClient, auth: Auth) -> None:
    created = world.create(auth("dave"))
    response = client.get(f"{ORDERS}/{created['id']}", headers=auth("dave"))
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == '"1"'


def test_get_with_fields_keeps_id_and_href(world: World, client: TestClient, auth: Auth) -> None:
    created = world.create(auth("dave"))
    response = client.get(f"{ORDERS}/{created['id']}?fields=state", headers=auth("dave"))
    assert response.json() == {
        "id": created["id"],
        "href": created["href"],
        "@type": "ProductOrder",
        "state": "pending",
    }


def test_list_orders(world: World, client: TestClient, auth: Auth) -> None:
    ids = {world.create(auth("dave"))["id"] for _ in range(3)}
    response = client.get(ORDERS, headers=auth("dave"))
    assert response.status_code == 200
    assert {o["id"] for o in response.json()} == ids
    assert response.headers["x-total-count"] == "3"
    assert response.headers["x-result-count"] == "3"


def test_patch_merge_and_json_patch(world: World, client: TestClient, auth: Auth) -> None:
    created = world.create(auth("dave"))
    url = f"{ORDERS}/{created['id']}"
    merged = client.patch(
        url,
        json={"description": "new words"},
        headers={**auth("dave"), "Content-Type": "application/merge-patch+json"},
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["description"] == "new words"
    assert merged.headers["etag"] == '"2"'
    plain = client.patch(url, json={"notificationContact": "ops@dave"}, headers=auth("dave"))
    assert plain.status_code == 200
    assert plain.json()["notificationContact"] == "ops@dave"
    patched = client.patch(
        url,
        content=b'[{"op": "replace", "path": "/description", "value": "via json patch"}]',
        headers={**auth("dave"), "Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["description"] == "via json patch"
    assert patched.json()["notificationContact"] == "ops@dave"
    assert client.get(url, headers=auth("dave")).json()["description"] == "via json patch"


def test_patch_if_match(world: World, client: TestClient, auth: Auth) -> None:
    created = world.create(auth("dave"))
    url = f"{ORDERS}/{created['id']}"
    stale = client.patch(
        url, json={"description": "x"}, headers={**auth("dave"), "If-Match": '"7"'}
    )
    assert stale.status_code == 412
    fresh = client.patch(
        url, json={"description": "x"}, headers={**auth("dave"), "If-Match": '"1"'}
    )
    assert fresh.status_code == 200


def test_delete_is_governance_only(world: World, client: TestClient, auth: Auth) -> None:
    created = world.create(auth("dave"))
    url = f"{ORDERS}/{created['id']}"
    assert client.delete(url, headers=auth("dave")).status_code == 403
    assert client.delete(url, headers=world.gov).status_code == 204
    assert client.get(url, headers=world.gov).status_code == 404
    assert client.delete(url, headers=world.gov).status_code == 404


def test_pss_creates_on_behalf_of_customer_PSI_03_02_01_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A PSS creates for its customer; both see the order, the PSS as its creator."""
    body = order_body("off-a", relatedParty=[customer_ref("dave")])
    order = world.create(auth("pss-x", "pss"), body)
    assert client.get(f"{ORDERS}/{order['id']}", headers=auth("pss-x", "pss")).status_code == 200
    assert client.get(f"{ORDERS}/{order['id']}", headers=auth("dave")).status_code == 200
    other_pss = client.get(f"{ORDERS}/{order['id']}", headers=auth("pss-y", "pss"))
    assert other_pss.status_code == 404


def test_organisation_creates_for_its_member_PSI_03_02_01_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A user organisation submits on behalf of its community, not for outsiders."""
    for_member = client.post(
        ORDERS,
        json=order_body("off-a", relatedParty=[customer_ref("carol")]),
        headers=auth("org-c"),
    )
    assert for_member.status_code == 201
    for_outsider = client.post(
        ORDERS,
        json=order_body("off-a", relatedParty=[customer_ref("dave")]),
        headers=auth("org-c"),
    )
    assert for_outsider.status_code == 403
    assert client.get(ORDERS, headers=auth("carol")).headers["x-total-count"] == "1"


def test_outbox_records_domain_events(world: World, client: TestClient, auth: Auth) -> None:
    """Create, change and delete each record their event in the same transaction."""
    from pss_ordering.service.unit_of_work import Database

    order = world.create(auth("dave"))
    url = f"{ORDERS}/{order['id']}"
    client.patch(url, json={"description": "d"}, headers=auth("dave"))
    client.delete(url, headers=world.gov)
    database = Database(client.app.state.services.orders._db.engine)  # type: ignore[attr-defined]
    with database.reading() as uow:
        recorded = [name for name, _ in uow.notifications.recorded(order["id"])]
    assert recorded == [
        "orderCreationNotification",
        "orderValueChangeNotification",
        "orderRemoveNotification",
    ]
