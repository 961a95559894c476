"""The TMF622 v4 surface over HTTP, on both databases: what TM Forum's v4.0.0
conformance kit checks (mandatory attributes on every answer, ``?id=``,
``?orderDate=``, ``fields=``, 404), validation against the v4 schema then the v5
rules, v4 errors, and one order read and changed through either surface.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.clock import ManualClock
from tests.conftest import BASE_URL, Auth
from tests.world import ORDERS, World, order_body

V4 = "/tmf-api/productOrderingManagement/v4"
V4_ORDERS = V4 + "/productOrder"
MANDATORY = ("productOrderItem", "href", "id", "orderDate", "relatedParty", "state")
MERGE = {"Content-Type": "application/merge-patch+json"}


def v4_body(*offerings: str, **extra: Any) -> dict[str, Any]:
    """A v4 order: flat relatedParty with the @referredType the v4 schema requires."""
    return {
        "productOrderItem": [
            {"id": str(n), "action": "add", "productOffering": {"id": offering}}
            for n, offering in enumerate(offerings or ("off-a",), start=1)
        ],
        "relatedParty": [{"id": "dave", "role": "customer", "@referredType": "Individual"}],
        **extra,
    }


def assert_v4_order(doc: dict[str, Any]) -> None:
    """The kit's checks on every answer: the mandatory attributes, of the right kinds,
    and an href at the v4 path."""
    assert set(MANDATORY) <= set(doc), sorted(set(MANDATORY) - set(doc))
    assert isinstance(doc["productOrderItem"], list)
    assert isinstance(doc["relatedParty"], list)
    assert isinstance(doc["orderDate"], str) and isinstance(doc["state"], str)
    assert doc["href"] == f"{BASE_URL}{V4_ORDERS}/{doc['id']}"
    assert "creationDate" not in doc and "productOrderMilestone" not in doc


def create_v4(client: TestClient, who: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(V4_ORDERS, json=body, headers=who)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_conformance_kit_checks(
    world: World, client: TestClient, auth: Auth, clock: ManualClock
) -> None:
    """TMF622 v4.0.0 CTK, each request it makes: POST, GET list, GET by id, fields=href,
    fields=id, ?id=, fields=orderDate, ?orderDate=, an unknown id."""
    dave = auth("dave")
    created = client.post(V4_ORDERS, json=v4_body(), headers=dave)
    assert created.status_code == 201
    order = created.json()
    assert_v4_order(order)
    assert created.headers["location"] == order["href"]
    assert order["relatedParty"] == [
        {"id": "dave", "role": "customer", "@referredType": "Individual", "@type": "RelatedParty"}
    ]
    listed = client.get(V4_ORDERS, headers=dave)
    assert listed.status_code == 200 and listed.headers["x-total-count"] == "1"
    for doc in listed.json():
        assert_v4_order(doc)
    by_id = client.get(f"{V4_ORDERS}/{order['id']}", headers=dave)
    assert by_id.status_code == 200
    assert_v4_order(by_id.json())
    assert by_id.json() == order
    for field in ("href", "id", "orderDate"):
        [selected] = client.get(f"{V4_ORDERS}?fields={field}", headers=dave).json()
        assert selected[field] == order[field]
        assert set(selected) <= {"id", "href", "@type", field}
    clock.advance(timedelta(seconds=1))
    world.create(dave)  # another order, which the filters must leave out
    for query in (f"id={order['id']}", f"orderDate={order['orderDate']}"):
        filtered = client.get(f"{V4_ORDERS}?{query}", headers=dave)
        assert filtered.status_code == 200, filtered.text
        assert [doc["id"] for doc in filtered.json()] == [order["id"]]
        assert filtered.headers["x-total-count"] == "1"
        assert_v4_order(filtered.json()[0])
    missing = client.get(f"{V4_ORDERS}/f42b01d2-dba6-4442-a0fa-34e59639fd15", headers=dave)
    assert missing.status_code == 404
    assert_v4_error(missing.json(), 404)


def assert_v4_error(body: dict[str, Any], status: int) -> None:
    """TMF622 v4's Error: code and reason required; message, status, referenceError."""
    assert {"code", "reason", "message", "status", "referenceError", "@type"} <= set(body)
    assert body["status"] == str(status)
    assert body["referenceError"] == f"{BASE_URL}{V4}/openapi.json"


def test_order_date_range_state_and_party_filters(
    world: World, client: TestClient, auth: Auth
) -> None:
    """v4 filter names are translated: orderDate comparisons, relatedParty.id, state."""
    dave = auth("dave")
    order = create_v4(client, dave, v4_body())
    draft = world.create(dave, order_body("off-a", requestedInitialState="draft"))
    for query, expected in (
        (f"orderDate.gte={order['orderDate']}", {order["id"], draft["id"]}),
        ("orderDate.lt=2000-01-01T00:00:00Z", set()),
        ("relatedParty.id=dave", {order["id"], draft["id"]}),
        ("relatedParty.id=someone-else", set()),
        ("state=pending", {order["id"], draft["id"]}),  # a draft is pending in v4
        ("state=acknowledged", set()),
        ("externalId=nothing", set()),
    ):
        found = client.get(f"{V4_ORDERS}?{query}", headers=dave)
        assert found.status_code == 200, (query, found.text)
        assert {doc["id"] for doc in found.json()} == expected, query
    shown = client.get(f"{V4_ORDERS}/{draft['id']}", headers=dave).json()
    assert shown["state"] == "pending"
    newest = client.get(f"{V4_ORDERS}?sort=-orderDate&limit=1", headers=dave)
    assert newest.headers["x-result-count"] == "1"


def test_v5_only_attributes_are_unknown_in_v4(client: TestClient, auth: Auth) -> None:
    for query in (
        "creationDate=2026-01-01T00:00:00Z",
        "productOrderMilestone.id=x",
        "fields=creationDate",
    ):
        response = client.get(f"{V4_ORDERS}?{query}", headers=auth("dave"))
        assert response.status_code == 400, query
        assert_v4_error(response.json(), 400)


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        # the v4 schema, before anything else
        ({"productOrderItem": [{"id": "1"}]}, 400, "action"),
        ({"relatedParty": [{"id": "dave"}]}, 400, "productOrderItem"),
        (v4_body(relatedParty=[{"id": "dave", "role": "customer"}]), 400, "@referredType"),
        (v4_body(orderDate="2026-01-01T00:00:00Z"), 400, "orderDate"),
        (v4_body(state="completed"), 400, "state"),
        (v4_body(externalId=["a"]), 400, "externalId"),
        # then the v5 rules: an unknown offering, a customer that is not the caller
        (v4_body("off-nowhere"), 422, "off-nowhere"),
        (
            v4_body(
                relatedParty=[{"id": "erin", "role": "customer", "@referredType": "Individual"}]
            ),
            403,
            "",
        ),
    ],
)
def test_create_is_validated_v4_then_v5(
    world: World, client: TestClient, auth: Auth, body: dict[str, Any], status: int, named: str
) -> None:
    response = client.post(V4_ORDERS, json=body, headers=auth("dave"))
    assert response.status_code == status, response.text
    assert_v4_error(response.json(), status)
    assert named in response.json()["message"]
    assert client.get(ORDERS, headers=auth("gov", "governance")).json() == []


def test_v5_order_read_and_patched_through_v4(world: World, client: TestClient, auth: Auth) -> None:
    """What v4 cannot show (milestones, further external ids, a PartyRoleRef's partyId,
    an item's note) survives a v4 PATCH; the change itself is visible in v5."""
    dave = auth("dave")
    order = world.create(
        dave,
        order_body(
            "off-a",
            externalId=[{"id": "e-1", "owner": "shop"}, {"id": "e-2"}],
            relatedParty=[
                {
                    "@type": "RelatedPartyRefOrPartyRoleRef",
                    "role": "contact",
                    "partyOrPartyRole": {"@type": "PartyRoleRef", "id": "r-1", "partyId": "p-1"},
                }
            ],
        ),
    )
    v4 = client.get(f"{V4_ORDERS}/{order['id']}", headers=dave)
    assert_v4_order(v4.json())
    assert v4.json()["externalId"] == "e-1"
    assert v4.json()["orderDate"] == order["creationDate"]
    assert {
        "id": "r-1",
        "role": "contact",
        "@referredType": "PartyRole",
        "@type": "RelatedParty",
    } in v4.json()["relatedParty"]
    patched = client.patch(
        f"{V4_ORDERS}/{order['id']}",
        json={"description": "through v4"},
        headers={**dave, **MERGE, "If-Match": v4.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert_v4_order(patched.json())
    after = client.get(f"{ORDERS}/{order['id']}", headers=dave)
    expected = {**order, "description": "through v4"}
    assert after.json() == expected
    assert after.headers["etag"] == patched.headers["etag"]


def test_v4_order_read_and_patched_through_v5(world: World, client: TestClient, auth: Auth) -> None:
    dave = auth("dave")
    order = create_v4(client, dave, v4_body("off-a", externalId="mine"))
    v5 = client.get(f"{ORDERS}/{order['id']}", headers=dave)
    assert v5.status_code == 200
    doc = v5.json()
    assert doc["creationDate"] == order["orderDate"]
    assert doc["externalId"] == [{"@type": "ExternalIdentifier", "id": "mine"}]
    assert doc["relatedParty"][0]["partyOrPartyRole"]["id"] == "dave"
    changed = client.patch(
        f"{ORDERS}/{order['id']}",
        json={"description": "through v5"},
        headers={**dave, **MERGE, "If-Match": v5.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    again = client.get(f"{V4_ORDERS}/{order['id']}", headers=dave).json()
    assert again == {**order, "description": "through v5"}


def test_lifecycle_and_field_rights_through_v4(
    world: World, client: TestClient, auth: Auth
) -> None:
    """The provider acknowledges its item with a v4 JSON Patch; the customer may not move
    an item; the customer cancels through v4; ETags are checked (412)."""
    dave, prov_a = auth("dave"), auth("prov-a", "provider")
    order = create_v4(client, dave, v4_body("off-a", "off-b"))
    url = f"{V4_ORDERS}/{order['id']}"
    json_patch = {"Content-Type": "application/json-patch+json"}
    forbidden = client.patch(
        url,
        json=[{"op": "replace", "path": "/productOrderItem/0/state", "value": "acknowledged"}],
        headers={**dave, **json_patch},
    )
    assert forbidden.status_code == 403
    assert_v4_error(forbidden.json(), 403)
    moved = client.patch(
        url,
        json=[{"op": "replace", "path": "/productOrderItem/0/state", "value": "acknowledged"}],
        headers={**prov_a, **json_patch},
    )
    assert moved.status_code == 200, moved.text
    assert [i["id"] for i in moved.json()["productOrderItem"]] == ["1"]
    assert moved.json()["productOrderItem"][0]["state"] == "acknowledged"
    stale = client.patch(
        url, json={"state": "cancelled"}, headers={**dave, **MERGE, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    cancelled = client.patch(url, json={"state": "cancelled"}, headers={**dave, **MERGE})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] in ("assessingCancellation", "cancelled")
    bad_state = client.patch(url, json={"state": "draft"}, headers={**dave, **MERGE})
    assert bad_state.status_code == 400, "draft is no v4 state"
    removed_items = client.patch(url, json={"productOrderItem": None}, headers={**dave, **MERGE})
    assert removed_items.status_code == 400 and "productOrderItem" in removed_items.text


def test_draft_submitted_through_v4(world: World, client: TestClient, auth: Auth) -> None:
    """A v5 draft is pending in v4; setting acknowledged submits it, as in v5."""
    dave = auth("dave")
    draft = world.create(dave, order_body("off-a", requestedInitialState="draft"))
    url = f"{V4_ORDERS}/{draft['id']}"
    untouched = client.patch(url, json={"description": "still a draft"}, headers={**dave, **MERGE})
    assert untouched.status_code == 200
    assert client.get(f"{ORDERS}/{draft['id']}", headers=dave).json()["state"] == "draft"
    submitted = client.patch(url, json={"state": "acknowledged"}, headers={**dave, **MERGE})
    assert submitted.status_code == 200, submitted.text
    assert client.get(f"{ORDERS}/{draft['id']}", headers=dave).json()["state"] != "draft"


def test_patch_and_fields_are_bounded(world: World, client: TestClient, auth: Auth) -> None:
    dave = auth("dave")
    order = create_v4(client, dave, v4_body())
    url = f"{V4_ORDERS}/{order['id']}"
    for body, headers in (
        ({"orderDate": "2020-01-01T00:00:00Z"}, MERGE),  # not in ProductOrder_Update
        ({"priority": 1}, MERGE),  # a string in v4
        ([{"op": "remove", "path": "/nothing"}], {"Content-Type": "application/json-patch+json"}),
    ):
        response = client.patch(url, json=body, headers={**dave, **headers})
        assert response.status_code == 400, (body, response.text)
        assert_v4_error(response.json(), 400)
    assert (
        client.patch(url, content=b"x", headers={**dave, "Content-Type": "text/plain"}).status_code
        == 415
    )
    assert client.get(f"{url}?fields=nothing", headers=dave).status_code == 400
    assert client.get(f"{url}?state=x", headers=dave).status_code == 400
    assert client.get(f"{url}?fields=state", headers=dave).json() == {
        "id": order["id"],
        "href": order["href"],
        "@type": "ProductOrder",
        "state": "pending",
    }
    assert client.get(url).status_code == 401
    assert_v4_error(client.get(url).json(), 401)
    assert client.get(url, headers=dave).json() == order, "nothing changed"


def test_served_v4_openapi(client: TestClient) -> None:
    doc = client.get(f"{V4}/openapi.json").json()
    assert doc["swagger"] == "2.0"
    assert doc["host"] == "pss.test" and doc["basePath"] == V4 + "/"
    assert set(doc["paths"]) >= {"/productOrder", "/productOrder/{id}", "/hub", "/hub/{id}"}
    assert set(doc["paths"]["/hub/{id}"]) == {"get", "delete"}
    assert "/hub/{id}/resume" in doc["paths"]
    assert not any("cancel" in path.lower() for path in doc["paths"])
    assert "ProductOrder_Create" in doc["definitions"] and "components" not in doc
    assert doc["x-pss-v5-mapping"]["renamed"] == {"orderDate": "creationDate"}
    params = {p["name"] for p in doc["paths"]["/productOrder"]["get"]["parameters"]}
    assert {"fields", "offset", "limit", "id", "orderDate", "state"} <= params


HOSTILE_QUERIES = (
    "sort=-",
    "sort=",
    ".gt=1",
    "orderDate.gt=not-a-date",
    "relatedParty..id=1",
    "fields=",
    "fields=,",
    "state=",
    "limit=0",
    "offset=-1",
    "id=" + "x" * 3000,
    "productOrderItem.product.relatedParty.id.gte=%00",
    "externalId.id=1",
)


def test_hostile_list_queries_are_400_or_answered(client: TestClient, auth: Auth) -> None:
    for query in HOSTILE_QUERIES:
        response = client.get(f"{V4_ORDERS}?{query}", headers=auth("dave"))
        assert response.status_code in (200, 400), (query, response.text)
        if response.status_code == 400:
            assert_v4_error(response.json(), 400)
