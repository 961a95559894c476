"""The v4 translation on its own: v5 documents shown in v4 and put back, v4 queries.

The property that makes a v4 PATCH safe: putting back the unchanged v4 form of any
v5 order gives that order, so a v4 client changes exactly what it changed.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pss_ordering.api.routes.orders_v4 import ORDER_ATTRIBUTES
from pss_ordering.domain.errors import InvalidQuery
from pss_ordering.tmf4.documents import order_to_v4, order_to_v5
from pss_ordering.tmf4.queries import query_to_v5

text = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8)
party_ref = st.fixed_dictionaries(
    {"@type": st.sampled_from(["PartyRef", "PartyRoleRef"]), "id": text},
    optional={"name": text, "@referredType": text, "partyId": text, "href": text},
)
related = st.fixed_dictionaries(
    {"@type": st.just("RelatedPartyRefOrPartyRoleRef"), "partyOrPartyRole": party_ref},
    optional={"role": text},
)
product = st.one_of(
    st.fixed_dictionaries({"@type": st.just("ProductRef"), "id": text}),
    st.fixed_dictionaries(
        {"@type": st.just("Product")},
        optional={
            "name": text,
            "relatedParty": st.lists(related, max_size=2),
            "productRelationship": st.lists(
                st.fixed_dictionaries(
                    {"@type": st.just("ProductRelationship"), "id": text, "relationshipType": text}
                ),
                max_size=2,
            ),
        },
    ),
)
item: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"id": text, "action": st.sampled_from(["add", "modify", "delete", "noChange"])},
    optional={
        "state": st.sampled_from(["pending", "acknowledged", "inProgress", "completed"]),
        "note": st.lists(st.fixed_dictionaries({"text": text}), max_size=2),
        "requestedStartDate": st.just("2027-01-01T00:00:00.000Z"),
        "product": product,
        "productOffering": st.fixed_dictionaries({"id": text}),
    },
)
order_fields: dict[str, st.SearchStrategy[Any]] = {
    "id": text,
    "@type": st.just("ProductOrder"),
    "creationDate": st.just("2026-11-24T12:00:00.000Z"),
    "state": st.sampled_from(["draft", "pending", "acknowledged", "cancelled"]),
    "productOrderItem": st.lists(item, min_size=1, max_size=3, unique_by=lambda i: str(i["id"])),
}
order = st.fixed_dictionaries(
    order_fields,
    optional={
        "relatedParty": st.lists(related, max_size=3),
        "externalId": st.lists(
            st.fixed_dictionaries(
                {"@type": st.just("ExternalIdentifier"), "id": text}, optional={"owner": text}
            ),
            max_size=3,
        ),
        "description": text,
        "productOrderMilestone": st.lists(st.fixed_dictionaries({"id": text}), max_size=2),
        "requestedInitialState": st.just("draft"),
    },
)


@settings(max_examples=60, deadline=None)
@given(order)
def test_an_unchanged_v4_document_puts_back_the_v5_order(doc: dict[str, Any]) -> None:
    assert order_to_v5(order_to_v4(doc), doc) == doc


@settings(max_examples=40, deadline=None)
@given(order, text)
def test_a_v4_change_changes_only_that(doc: dict[str, Any], description: str) -> None:
    v4 = order_to_v4(doc)
    v4["description"] = description
    v4["productOrderItem"][0]["quantity"] = 2
    after = order_to_v5(v4, doc)
    assert after["description"] == description
    assert after["productOrderItem"][0] == {**doc["productOrderItem"][0], "quantity": 2}
    assert after["productOrderItem"][1:] == doc["productOrderItem"][1:]
    rest = {k: v for k, v in doc.items() if k not in ("description", "productOrderItem")}
    assert {k: v for k, v in after.items() if k in rest} == rest


def test_v4_shapes() -> None:
    doc = {
        "id": "o1",
        "creationDate": "2026-11-24T12:00:00.000Z",
        "state": "draft",
        "externalId": [{"id": "e1", "owner": "shop"}, {"id": "e2"}],
        "relatedParty": [
            {
                "role": "customer",
                "partyOrPartyRole": {"@type": "PartyRef", "id": "dave", "name": "Dave"},
            }
        ],
        "productOrderItem": [
            {
                "id": "1",
                "action": "add",
                "note": [{"text": "n"}],
                "product": {
                    "@type": "Product",
                    "productRelationship": [{"id": "p0", "relationshipType": "reliesOn"}],
                },
            }
        ],
        "productOrderMilestone": [{"id": "m"}],
    }
    assert order_to_v4(doc) == {
        "id": "o1",
        "orderDate": "2026-11-24T12:00:00.000Z",
        "state": "pending",
        "externalId": "e1",
        "relatedParty": [
            {
                "id": "dave",
                "name": "Dave",
                "role": "customer",
                "@referredType": "Party",
                "@type": "RelatedParty",
            }
        ],
        "productOrderItem": [
            {
                "id": "1",
                "action": "add",
                "product": {
                    "@type": "Product",
                    "productRelationship": [
                        {"relationshipType": "reliesOn", "product": {"id": "p0"}}
                    ],
                },
            }
        ],
    }


def test_new_v4_documents_become_v5() -> None:
    v4 = {
        "orderDate": "x",
        "externalId": "e1",
        "relatedParty": [{"id": "r", "role": "contact", "@referredType": "PartyRole"}],
        "productOrderItem": [
            {"id": "1", "action": "add", "product": {"id": "p1"}},
            {"id": "2", "action": "add", "product": {"id": "p2", "name": "n", "isBundle": False}},
        ],
    }
    assert order_to_v5(v4) == {
        "creationDate": "x",
        "externalId": [{"@type": "ExternalIdentifier", "id": "e1"}],
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "contact",
                "partyOrPartyRole": {
                    "@type": "PartyRoleRef",
                    "id": "r",
                    "@referredType": "PartyRole",
                },
            }
        ],
        "productOrderItem": [
            {"id": "1", "action": "add", "product": {"@type": "ProductRef", "id": "p1"}},
            {
                "id": "2",
                "action": "add",
                "product": {"@type": "Product", "id": "p2", "name": "n", "isBundle": False},
            },
        ],
    }


@pytest.mark.parametrize(
    ("v4", "v5"),
    [
        ([("orderDate", "t")], [("creationDate", "t")]),
        ([("orderDate.gt", "t")], [("creationDate.gt", "t")]),
        ([("relatedParty.id", "d")], [("relatedParty.partyOrPartyRole.id", "d")]),
        ([("relatedParty.role", "c")], [("relatedParty.role", "c")]),
        ([("externalId", "e")], [("externalId.id", "e")]),
        ([("state", "pending,held")], [("state", "pending,draft,held")]),
        ([("sort", "-orderDate,id")], [("sort", "-creationDate,id")]),
        ([("limit", "5"), ("offset", "1")], [("limit", "5"), ("offset", "1")]),
        (
            [("productOrderItem.product.relatedParty.name", "n")],
            [("productOrderItem.product.relatedParty.partyOrPartyRole.name", "n")],
        ),
    ],
)
def test_queries(v4: list[tuple[str, str]], v5: list[tuple[str, str]]) -> None:
    assert query_to_v5(v4, ORDER_ATTRIBUTES) == v5


@pytest.mark.parametrize("name", ["creationDate", "productOrderMilestone.id", "", "sort"])
def test_unknown_v4_attributes(name: str) -> None:
    with pytest.raises(InvalidQuery):
        query_to_v5(
            [(name, "x")] if name != "sort" else [("sort", "creationDate")], ORDER_ATTRIBUTES
        )
