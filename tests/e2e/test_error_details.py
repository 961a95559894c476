"""Every problem of a create in one answer (issue 11 §3), over HTTP on both databases.

``data/seed001_example_order.json`` is seed 001's example order repaired in syntax
only: its non-breaking spaces are spaces and the two missing commas (after the
``href`` of the customer and of the product's user) are written in. Nothing else
is changed, so the answer to it is the answer a client of that page would get.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from starlette.testclient import TestClient

from pss_ordering.api.contract import to_json_schema
from tests.conftest import Auth
from tests.world import OFFERINGS, ORDERS, PARTIES, World, customer_ref, order_body, provider_ref

SEED_ORDER = json.loads((Path(__file__).parent / "data" / "seed001_example_order.json").read_text())

#: (path, code) of every problem of the seed's order, in the order they are listed.
SEED_PROBLEMS = [
    ("$.orderItem", "unknownField"),  # v5 calls it productOrderItem; checked as that
    ("$.id", "serverSet"),
    ("$.href", "serverSet"),
    ("$.state", "serverSet"),
    ("$.orderDate", "unknownField"),  # v5's creationDate, set by the server
    ("$.completionDate", "serverSet"),
    ("$.expectedCompletionDate", "readOnly"),  # the provider's
    ("$.orderItem[0].state", "serverSet"),
    ("$.orderItem[1].state", "serverSet"),
    ("$.orderItem[2].state", "serverSet"),
    ("$.orderItem[3].state", "serverSet"),
    ("$.relatedParty[0]", "legacyRelatedParty"),
    ("$.relatedParty[1]", "legacyRelatedParty"),
    ("$.relatedParty[2]", "legacyRelatedParty"),
    ("$.orderItem[1].product.relatedParty[0]", "legacyRelatedParty"),
    ("$.externalId", "schema"),  # v5: a list of ExternalIdentifier
    ("$.orderItem[0].billingAccount", "schema"),  # v5: one BillingAccountRef per item
    ("$.orderItem[0].appointment", "schema"),
    ("$.orderItem[0].productOffering.href", "schema"),  # "http: //serverlocation: port/..."
    ("$.orderItem[0].product.place", "schema"),  # v5: a list of RelatedPlaceRefOrValue
    ("$.orderItem[1].productOffering.href", "schema"),
    ("$.orderItem[2].billingAccount", "schema"),
    ("$.orderItem[2].productOffering.href", "schema"),
    ("$.orderItem[2].product.productRelationship[0].id", "required"),
    ("$.orderItem[2].product.productRelationship[0].relationshipType", "required"),
    ("$.orderItem[3].billingAccount", "schema"),
    ("$.orderItem[3].product.productRelationship[0].id", "required"),
    ("$.orderItem[3].product.productRelationship[0].relationshipType", "required"),
    ("$.orderItem[3].product.productRelationship[1].id", "required"),
    ("$.orderItem[3].product.productRelationship[1].relationshipType", "required"),
]


def _problems(response: Any) -> list[tuple[str, str]]:
    return [(d["path"], d["code"]) for d in response.json()["details"]]


def _reasons(response: Any) -> dict[str, str]:
    return {d["path"]: d["reason"] for d in response.json()["details"]}


def _count(client: TestClient, gov: dict[str, str]) -> int:
    return int(client.get(ORDERS, headers=gov).headers["X-Total-Count"])


@pytest.fixture
def seed_world(world: World, client: TestClient, auth: Auth) -> World:
    """The seed's customer (345221, John Doe) and its four offerings, from two providers."""
    john = {"id": "345221", "givenName": "John", "familyName": "Doe"}
    assert client.post(f"{PARTIES}/individual", json=john, headers=world.gov).status_code == 201
    for offering, provider in (
        ("42", "prov-a"),
        ("43", "prov-a"),
        ("51", "prov-b"),
        ("44", "prov-b"),
    ):
        body = {
            "id": offering,
            "name": offering,
            "lifecycleStatus": "active",
            "relatedParty": [provider_ref(provider)],
        }
        response = client.post(OFFERINGS, json=body, headers=auth(provider, "provider"))
        assert response.status_code == 201, response.text
    return world


def test_seed_example_order_names_every_problem_in_one_answer_PSI_03_02_01_01(
    seed_world: World, client: TestClient, auth: Auth
) -> None:
    """One round trip instead of ten: each problem with its JSON path, reason and code."""
    response = client.post(ORDERS, json=copy.deepcopy(SEED_ORDER), headers=auth("345221"))

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "INVALID_BODY"
    assert _problems(response) == SEED_PROBLEMS
    assert body["message"].startswith(f"{len(SEED_PROBLEMS)} problems")
    reasons = _reasons(response)
    assert reasons["$.state"] == "is set by the server and cannot be supplied"
    assert reasons["$.orderItem[0].state"] == "is set by the server and cannot be supplied"
    assert "productOrderItem" in reasons["$.orderItem"]
    assert "creationDate" in reasons["$.orderDate"]
    assert "provider" in reasons["$.expectedCompletionDate"]
    # the v5 form to write instead, with the party the v4 entry meant
    assert (
        '"partyOrPartyRole": {"@type": "PartyRef", "id": "345221"' in reasons["$.relatedParty[0]"]
    )
    assert (
        "read as Product, the closest match; not ProductRef"
        in reasons["$.orderItem[0].product.place"]
    )
    assert _count(client, seed_world.gov) == 0


def seed_in_v5() -> dict[str, Any]:
    """The seed's order as a TMF622 v5 client writes it, changing only what v5 requires:
    no server-set or provider fields, productOrderItem, externalId as a list, one
    billingAccount per item, relatedParty under partyOrPartyRole, valid hrefs, product
    relationships naming the related product, bundled products as characteristics."""
    party = {"@type": "PartyRef"}
    return {
        "externalId": [{"id": "NiceNameForTheConsumer_42"}],
        "priority": "1",
        "description": "A wonderful 42 order for brand new products",
        "category": "residential",
        "requestedStartDate": "2013-04-12T16:42:23-04:00",
        "requestedCompletionDate": "2013-04-19T16:42:23-04:00",
        "notificationContact": "[email protected]",
        "note": [{"text": "A free text detailing the note", "date": "2013-04-12T16:42:23-04:00"}],
        "relatedParty": [
            {"role": "customer", "partyOrPartyRole": {**party, "id": "345221", "name": "John Doe"}},
            {"role": "partner", "partyOrPartyRole": {**party, "id": "42"}},
            {"role": "seller", "partyOrPartyRole": {**party, "id": "4563"}},
        ],
        "productOrderItem": [
            {
                "id": "1",
                "action": "add",
                "billingAccount": {"id": "123456"},
                "productOffering": {"id": "42"},
                "product": {
                    "productCharacteristic": [
                        {"name": "Colour", "value": "White"},
                        {"name": "Memory", "value": "16"},
                    ]
                },
            },
            {
                "id": "2",
                "action": "modify",
                "productOffering": {"id": "43"},
                "product": {
                    "id": "456",
                    "productCharacteristic": [
                        {"name": "anotherCharacteristic", "value": "itsValue"}
                    ],
                    "relatedParty": [
                        {
                            "role": "user",
                            "partyOrPartyRole": {**party, "id": "5667443", "name": "Jimmy Doe"},
                        }
                    ],
                },
            },
            {
                "id": "3",
                "action": "add",
                "billingAccount": {"id": "123456"},
                "productOffering": {"id": "51"},
                "product": {
                    "productCharacteristic": [
                        {"name": "anotherCharacteristic", "value": "itsValue"}
                    ],
                    "productRelationship": [
                        {"id": "003467488299002", "relationshipType": "reliesOn"}
                    ],
                },
            },
            {
                "id": "4",
                "action": "add",
                "billingAccount": {"id": "1789"},
                "productOffering": {"id": "44"},
                "product": {
                    "productCharacteristic": [
                        {"name": "PSTNNumber", "value": "003427488299002"},
                        {"name": "MobileNumber", "value": "003464553000300"},
                    ]
                },
            },
        ],
    }


def test_seed_example_order_in_v5_is_created_PSI_03_02_01_01(
    seed_world: World, client: TestClient, auth: Auth
) -> None:
    response = client.post(ORDERS, json=seed_in_v5(), headers=auth("345221"))

    assert response.status_code == 201, response.text
    order = response.json()
    assert order["state"] == "pending"
    assert [i["id"] for i in order["productOrderItem"]] == ["1", "2", "3", "4"]
    found = client.get(
        ORDERS, params={"relatedParty.partyOrPartyRole.id": "345221"}, headers=auth("345221")
    )
    assert [o["id"] for o in found.json()] == [order["id"]]


def test_business_rules_are_all_named_in_one_answer(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A well-formed order breaking several rules: one 422 listing each (issue 11 §3)."""
    items = [
        {"id": "1", "action": "add", "productOffering": {"id": "nope"}},
        {"id": "1", "action": "modify", "productOffering": {"id": "off-a"}},
    ]
    body = {
        "productOrderItem": items,
        "requestedStartDate": "2026-12-02T00:00:00Z",
        "requestedCompletionDate": "2026-12-01T00:00:00Z",
    }
    response = client.post(ORDERS, json=body, headers=auth("dave"))

    assert response.status_code == 422, response.text
    assert _problems(response) == [
        ("$.productOrderItem[0].productOffering.id", "businessRule"),
        ("$.productOrderItem[1].id", "businessRule"),
        ("$.productOrderItem[1].product.id", "businessRule"),
        ("$.requestedStartDate", "businessRule"),
    ]
    assert _count(client, world.gov) == 0


def test_closest_branch_of_a_oneof_is_named(world: World, client: TestClient, auth: Auth) -> None:
    """A product without @type is a Product or a ProductRef: the answer reads it as the one
    it came closest to and names the field that breaks it."""
    item = {"id": "1", "action": "add", "productOffering": {"id": "off-a"}}
    placed = {**item, "product": {"place": {"role": "DeliveryPlace"}}}
    valued = {**item, "id": "2", "product": {"productCharacteristic": {"name": "x"}}}
    response = client.post(
        ORDERS,
        json=order_body() | {"productOrderItem": [placed, valued]},
        headers=auth("dave"),
    )

    assert response.status_code == 400, response.text
    assert _problems(response) == [
        ("$.productOrderItem[0].product.place", "schema"),
        ("$.productOrderItem[1].product.productCharacteristic", "schema"),
    ]
    for reason in _reasons(response).values():
        assert (
            reason == 'is not of type "array" (read as Product, the closest match; not ProductRef)'
        )


# --- relatedParty: the customer in the document is the customer the service acts on -----------

V4_CUSTOMER = {"role": "customer", "id": "dave", "name": "Dave D"}
REFUSED = {
    "v4 flat form": ([V4_CUSTOMER], "legacyRelatedParty"),
    "v4 form with a party too": (
        [{**customer_ref("dave"), "name": "Dave D"}],
        "legacyRelatedParty",
    ),
    "v2 form of another party": ([{"role": "customer", "id": "345221"}], "legacyRelatedParty"),
    "customer without a party": ([{"role": "customer"}], "customerNotNamed"),
    "customer without an id": (
        [{"role": "customer", "partyOrPartyRole": {"@type": "PartyRef", "name": "Dave"}}],
        "customerNotNamed",
    ),
    "customer as a party role": (
        [
            {
                "role": "customer",
                "partyOrPartyRole": {"@type": "PartyRoleRef", "id": "r-1", "partyId": "dave"},
            }
        ],
        "customerNotNamed",
    ),
}


def test_a_customer_role_named_as_the_icd_does_is_the_party_of_that_id(
    world: World, client: TestClient, auth: Auth
) -> None:
    """The PSI ICD names the customer by a PartyRoleRef (@referredType Customer) without
    partyId: a role's id is its party's here, so the document and the service agree."""
    role = {"@type": "PartyRoleRef", "@referredType": "Customer", "id": "dave", "name": "Dave"}
    related = [{"role": "Customer", "partyOrPartyRole": role}]
    response = client.post(ORDERS, json=order_body(relatedParty=related), headers=auth("dave"))

    assert response.status_code == 201, response.text
    found = client.get(
        ORDERS, params={"relatedParty.partyOrPartyRole.id": "dave"}, headers=auth("dave")
    )
    assert [o["id"] for o in found.json()] == [response.json()["id"]]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_related_party_read_otherwise_than_stored_is_refused(
    world: World, client: TestClient, auth: Auth, case: str
) -> None:
    """No relatedParty entry is accepted that the service would read with another meaning
    than a reader of the stored document; the answer shows the v5 form."""
    related, code = REFUSED[case]
    response = client.post(ORDERS, json=order_body(relatedParty=related), headers=auth("dave"))

    assert response.status_code == 400, response.text
    assert _problems(response) == [("$.relatedParty[0]", code)]
    assert "partyOrPartyRole" in response.json()["details"][0]["reason"]
    assert _count(client, world.gov) == 0


def test_v4_related_party_in_a_product_is_refused(
    world: World, client: TestClient, auth: Auth
) -> None:
    body = order_body()
    body["productOrderItem"][0]["product"] = {"relatedParty": [{"role": "user", "id": "u-1"}]}
    response = client.post(ORDERS, json=body, headers=auth("dave"))

    assert response.status_code == 400
    assert _problems(response) == [
        ("$.productOrderItem[0].product.relatedParty[0]", "legacyRelatedParty")
    ]


def test_v4_customer_from_a_pss_is_refused_not_read_as_no_customer_PSI_03_02_01_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    response = client.post(
        ORDERS, json=order_body(relatedParty=[V4_CUSTOMER]), headers=auth("pss-x", "pss")
    )

    assert response.status_code == 400
    assert _problems(response) == [("$.relatedParty[0]", "legacyRelatedParty")]


ACCEPTED = {
    "named customer": [customer_ref("dave")],
    "customer role in capitals": [{**customer_ref("dave"), "role": "Customer"}],
    "no customer named": [],
    "other parties only": [
        {"role": "seller", "partyOrPartyRole": {"@type": "PartyRef", "id": "s-1"}}
    ],
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_accepted_customer_is_the_one_the_document_names_PSI_03_02_01_04(
    world: World, client: TestClient, auth: Auth, case: str
) -> None:
    """Whatever form is accepted, the stored document's customer is the party the service
    acts on: the only customer entry, found by the customer's own relatedParty filter."""
    body = order_body("off-a", relatedParty=ACCEPTED[case])
    created = client.post(ORDERS, json=body, headers=auth("dave"))
    assert created.status_code == 201, created.text

    for view in (
        created.json(),
        client.get(f"{ORDERS}/{created.json()['id']}", headers=auth("prov-a", "provider")).json(),
    ):
        customers = [r for r in view["relatedParty"] if r["role"].lower() == "customer"]
        assert customers == [customer_ref("dave") | {"@type": customers[0].get("@type")}]
        assert customers[0]["role"] == "customer"
    found = client.get(
        ORDERS,
        params={"relatedParty.partyOrPartyRole.id": "dave", "relatedParty.role": "customer"},
        headers=auth("dave"),
    )
    assert [o["id"] for o in found.json()] == [created.json()["id"]]


# --- the served contract documents the answer ------------------------------------------------


def test_served_error_schema_documents_details(
    world: World, client: TestClient, auth: Auth
) -> None:
    """The Error the OpenAPI document serves has ``details``, and the answers match it."""
    doc = client.get("/psi-api/productOrdering/v2/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "details" in json.dumps(schemas["Error"])
    definitions = {k: to_json_schema(v) for k, v in schemas.items()}
    error_schema = {"definitions": definitions, **definitions["Error"]}
    detail_schema = {"definitions": definitions, **definitions["ErrorDetail"]}
    response = client.post(ORDERS, json=copy.deepcopy(SEED_ORDER), headers=auth("dave"))

    jsonschema_rs.validate(error_schema, response.json())
    for detail in response.json()["details"]:
        jsonschema_rs.validate(detail_schema | {"additionalProperties": False}, detail)


# --- the same class in the other bodies whose relatedParty the service reads -------------------


def test_v4_related_party_in_a_profile_or_an_offering_is_refused_PSI_01_01_02_02(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A profile's grants and memberships, an offering's provider, are read from
    relatedParty too: a v4 entry would be stored as naming a party the service ignores."""
    grant = [{"role": "pss", "id": "pss-y"}]
    registered = client.post(
        f"{PARTIES}/individual",
        json={"id": "erin", "givenName": "Erin", "familyName": "E", "relatedParty": grant},
        headers=auth("erin"),
    )
    patched = client.patch(
        f"{PARTIES}/individual/dave",
        json={"relatedParty": grant},
        headers={**auth("dave"), "Content-Type": "application/merge-patch+json"},
    )
    replaced = client.patch(
        f"{PARTIES}/individual/dave",
        json=[{"op": "add", "path": "/relatedParty/-", "value": grant[0]}],
        headers={**auth("dave"), "Content-Type": "application/json-patch+json"},
    )
    published = client.post(
        OFFERINGS,
        json={
            "id": "off-v4",
            "name": "v4",
            "lifecycleStatus": "active",
            "relatedParty": [{"role": "provider", "id": "prov-b"}],
        },
        headers=auth("prov-a", "provider"),
    )

    for response in (registered, patched, replaced, published):
        assert response.status_code == 400, response.text
        [(path, code)] = _problems(response)
        assert path.startswith("$.relatedParty[") and code == "legacyRelatedParty"
    dave = client.get(f"{PARTIES}/individual/dave", headers=auth("dave")).json()
    assert all("partyOrPartyRole" in r for r in dave["relatedParty"])
    assert client.get(f"{OFFERINGS}/off-v4", headers=world.gov).status_code == 404
