"""Updating an existing order, field by field and phase by phase, over HTTP (issue 11 §1).

TOD-03-02 (the customer updates an order, "e.g. the billing information", "if the
current state of the order allows that"), PSI-03-02-02-01 (update), PSI-03-02-02-04
(each role its own fields). The expectations are read from the one role x field x
phase table (``field_rights``), so a field added to it is tested here at once; a
few literal cases pin the table itself.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.domain.field_rights import (
    ITEM_FIELD_RIGHTS,
    ORDER_FIELD_RIGHTS,
    Phase,
    Writer,
)
from tests.conftest import Auth
from tests.world import ORDERS, World, customer_ref, order_body

MERGE = {"Content-Type": "application/merge-patch+json"}
QUERY = {"Content-Type": "application/json-patch-query+json"}
CONTACT = {
    "@type": "RelatedPartyRefOrPartyRoleRef",
    "role": "billingContact",
    "partyOrPartyRole": {"@type": "PartyRef", "id": "carol"},
}
#: A value for each order field an owner writes once the order is submitted, or in a
#: draft only (then refused): the table says which.
ORDER_VALUES: dict[str, Any] = {
    "billingAccount": {"id": "ba-2", "@type": "BillingAccountRef"},
    "payment": [{"id": "pay-1", "@type": "PaymentRef"}],
    "notificationContact": "ops@dave.example",
    "category": "B2B product order",
    "description": "changed",
    "externalId": [{"id": "po-77", "@type": "ExternalIdentifier"}],
    "priority": "3",
    "relatedParty": [customer_ref("dave"), CONTACT],
    "requestedStartDate": "2027-01-01T00:00:00Z",
    "requestedCompletionDate": "2027-02-01T00:00:00Z",
    "channel": [{"role": "web", "channel": {"id": "web"}}],
    "agreement": [{"id": "agr-1"}],
    "quote": [{"id": "q-1"}],
    "orderRelationship": [{"relationshipType": "relies on", "id": "x"}],
}
ITEM_VALUES: dict[str, Any] = {
    "billingAccount": {"id": "ba-item", "@type": "BillingAccountRef"},
    "payment": [{"id": "pay-item", "@type": "PaymentRef"}],
    "note": [{"text": "deliver to gate 2"}],
    "requestedStartDate": "2027-01-01T00:00:00Z",
    "requestedEndDate": "2027-03-01T00:00:00Z",
}
PHASES = {
    # how to bring a fresh order (items 1: prov-a, 2: prov-b) into a phase
    Phase.SUBMITTED: [("prov-a", "acknowledged"), ("prov-b", "acknowledged")],
    Phase.STARTED: [("prov-a", "inProgress"), ("prov-b", "acknowledged")],
}


def expected_status(rights: Any, phase: Phase) -> int:
    phases = rights.get(Writer.OWNER, frozenset())
    if phase in phases:
        return 200
    return 403 if not phases - {Phase.CREATE} else 409


def _order_in(world: World, client: TestClient, auth: Auth, phase: Phase) -> str:
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    for provider, state in PHASES[phase]:
        moved = client.patch(
            f"{ORDERS}/{order['id']}",
            json={"state": state},
            headers={**auth(provider, "provider"), **MERGE},
        )
        assert moved.status_code == 200, moved.text
    return str(order["id"])


@pytest.mark.parametrize("phase", list(PHASES))
@pytest.mark.parametrize("field", sorted(ORDER_VALUES))
def test_customer_changes_order_fields_by_phase_TOD_03_02_PSI_03_02_02_04(
    world: World, client: TestClient, auth: Auth, field: str, phase: Phase
) -> None:
    """200 and stored when the table allows the field in the order's phase; 409 (another
    phase) or 403 (never) and nothing changed otherwise."""
    order_id = _order_in(world, client, auth, phase)
    url = f"{ORDERS}/{order_id}"
    before = client.get(url, headers=auth("dave")).json()
    response = client.patch(
        url, json={field: ORDER_VALUES[field]}, headers={**auth("dave"), **MERGE}
    )
    status = expected_status(ORDER_FIELD_RIGHTS[field], phase)
    assert response.status_code == status, response.text
    after = client.get(url, headers=auth("dave")).json()
    if status == 200:
        assert after[field] == ORDER_VALUES[field]
    else:
        assert field in response.json()["message"]
        assert after == before


@pytest.mark.parametrize("item", ["1", "2"])
@pytest.mark.parametrize("field", sorted(ITEM_VALUES))
def test_customer_changes_item_fields_by_item_phase_TOD_03_02(
    world: World, client: TestClient, auth: Auth, field: str, item: str
) -> None:
    """Item 1 is in progress (started), item 2 acknowledged (submitted): each item's
    field is judged by its own phase; set through JSON Patch Query as the ICD does."""
    order_id = _order_in(world, client, auth, Phase.STARTED)
    url = f"{ORDERS}/{order_id}"
    phase = Phase.STARTED if item == "1" else Phase.SUBMITTED
    body = [
        {
            "op": "add",
            "path": f"/productOrderItem/{field}?productOrderItem.id={item}",
            "value": ITEM_VALUES[field],
        }
    ]
    response = client.patch(url, json=body, headers={**auth("dave"), **QUERY})
    status = expected_status(ITEM_FIELD_RIGHTS[field], phase)
    assert response.status_code == status, response.text
    items = {i["id"]: i for i in client.get(url, headers=auth("dave")).json()["productOrderItem"]}
    assert (items[item].get(field) == ITEM_VALUES[field]) is (status == 200)


def test_the_table_itself_TOD_03_02(world: World, client: TestClient, auth: Auth) -> None:
    """Literal cases: billing changes while work runs, dates do not; what an item is
    does not change at all (a new order replaces it); the customer stays the customer."""
    url = f"{ORDERS}/{_order_in(world, client, auth, Phase.STARTED)}"
    dave = {**auth("dave"), **MERGE}
    assert client.patch(url, json={"billingAccount": {"id": "b"}}, headers=dave).status_code == 200
    assert client.patch(url, json={"category": "B2B"}, headers=dave).status_code == 200
    dates = client.patch(url, json={"requestedStartDate": "2027-01-01T00:00:00Z"}, headers=dave)
    assert dates.status_code == 409
    assert "started" in dates.json()["message"]
    query = {**auth("dave"), **QUERY}
    offering = [
        {
            "op": "replace",
            "path": "/productOrderItem/productOffering/id?productOrderItem.id=2",
            "value": "off-a",
        }
    ]
    assert client.patch(url, json=offering, headers=query).status_code == 422
    other = client.patch(url, json={"relatedParty": [customer_ref("erin")]}, headers=dave)
    assert other.status_code == 403
    assert "customer" in other.json()["message"]


def test_a_provider_writes_no_billing_information_PSI_03_02_02_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    url = f"{ORDERS}/{_order_in(world, client, auth, Phase.SUBMITTED)}"
    prov = auth("prov-a", "provider")
    refused = client.patch(url, json={"billingAccount": {"id": "x"}}, headers={**prov, **MERGE})
    assert refused.status_code == 403
    item = [
        {
            "op": "add",
            "path": "/productOrderItem/billingAccount?productOrderItem.id=1",
            "value": {"id": "x"},
        }
    ]
    assert client.patch(url, json=item, headers={**prov, **QUERY}).status_code == 403
    # prov-b's item is not in prov-a's view: selecting it selects nothing
    other = [{"op": "add", "path": "/productOrderItem/note?productOrderItem.id=2", "value": []}]
    response = client.patch(url, json=other, headers={**prov, **QUERY})
    assert response.status_code == 400
    assert "selects nothing" in response.json()["message"]


def test_a_final_order_changes_nothing(world: World, client: TestClient, auth: Auth) -> None:
    order = world.create(auth("dave"), order_body("off-a"))
    url = f"{ORDERS}/{order['id']}"
    client.patch(url, json={"state": "completed"}, headers={**auth("prov-a", "provider"), **MERGE})
    response = client.patch(
        url, json={"billingAccount": {"id": "b"}}, headers={**auth("dave"), **MERGE}
    )
    assert response.status_code == 409


def test_the_served_contract_says_how_updates_work(client: TestClient, auth: Auth) -> None:
    """The media types PATCH accepts are those the served OpenAPI advertises, and it names
    the phase rule and the refusal convention."""
    doc = client.get("/psi-api/productOrdering/v2/openapi.json", headers=auth("dave")).json()
    patch = doc["paths"]["/productOrder/{id}"]["patch"]
    assert "changeRefused" in patch["description"]
    body = patch["requestBody"]
    if "$ref" in body:
        body = doc["components"]["requestBodies"][body["$ref"].rsplit("/", 1)[1]]
    assert set(body["content"]) == {
        "application/json",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/json-patch-query+json",
    }
