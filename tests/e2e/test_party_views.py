"""A provider (and the creating PSS) reads whom it serves (issue 11 §4, PSI security.md).

PSI security.md ("when an order is created, the party information of the customer
is made visible to the provider"), PSI-01-01-02-02/-04 (a party updates only its
own profile),
PSI-03-02-03-01/-02 (what each role sees): the limited view of ``party_views.py``
of every party named on an order the caller sees, for as long as it sees one;
404 exactly as for an unknown id to everyone else; 403 for a change by a reader of
the limited view. Every role x operation, lists and counts included.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.domain.party_views import LIMITED_FIELDS
from tests.conftest import Auth
from tests.e2e.test_icd_examples import ICD
from tests.world import (
    ORDERS,
    PARTIES,
    World,
    customer_ref,
    order_body,
    provider_ref,
    pss_grant,
)

MERGE = {"Content-Type": "application/merge-patch+json"}
CONTACT = {
    "@type": "RelatedPartyRefOrPartyRoleRef",
    "role": "billingContact",
    "partyOrPartyRole": {"@type": "PartyRef", "id": "carol"},
}
DAVE_PRIVATE = {
    "birthDate": "1980-01-01T00:00:00Z",
    "gender": "undisclosed",
    "contactMedium": [
        {"@type": "EmailContactMedium", "contactType": "email", "emailAddress": "d@x.example"}
    ],
    "partyCharacteristic": [
        {"@type": "StringCharacteristic", "name": "maxPriority", "value": "2"},
    ],
}
UNKNOWN = "nobody-at-all"
#: dave and carol are both members of org-c: carol is on dave's side.
ORG_C = {
    "@type": "RelatedPartyRefOrPartyRoleRef",
    "role": "organization",
    "partyOrPartyRole": {"@type": "PartyRef", "id": "org-c"},
}
#: A registered party unrelated to dave, which dave names as a contact anyway.
STRANGER = {
    "@type": "RelatedPartyRefOrPartyRoleRef",
    "role": "technicalContact",
    "partyOrPartyRole": {"@type": "PartyRef", "id": "prov-z"},
}


def _get(client: TestClient, who: dict[str, str], kind: str, party: str) -> Any:
    return client.get(f"{PARTIES}/{kind}/{party}", headers=who)


def _not_found_like_unknown(client: TestClient, who: dict[str, str], kind: str, party: str) -> None:
    seen = _get(client, who, kind, party)
    unknown = _get(client, who, kind, UNKNOWN)
    assert seen.status_code == unknown.status_code == 404
    assert seen.json()["message"].replace(party, "?") == unknown.json()["message"].replace(
        UNKNOWN, "?"
    )


@pytest.fixture
def served(world: World, client: TestClient, auth: Auth) -> dict[str, str]:
    """dave's order with prov-a (naming carol as billing contact, and prov-b — which
    has no item in it — as a related party), and pss-x's order for dave with prov-b."""
    dave = auth("dave")
    extra = client.patch(
        f"{PARTIES}/individual/dave", json=DAVE_PRIVATE, headers={**world.gov, **MERGE}
    )
    assert extra.status_code == 200, extra.text
    colleague = client.patch(
        f"{PARTIES}/individual/dave",
        json={"relatedParty": [pss_grant("pss-x"), ORG_C]},
        headers={**world.gov, **MERGE},
    )
    assert colleague.status_code == 200, colleague.text
    related = [customer_ref("dave"), CONTACT, provider_ref("prov-b"), STRANGER]
    mine = world.create(dave, order_body("off-a", relatedParty=related))
    for_dave = world.create(
        auth("pss-x", "pss"), order_body("off-b", relatedParty=[customer_ref("dave")])
    )
    return {"dave": mine["id"], "pss": for_dave["id"]}


def test_the_provider_reads_the_limited_view_of_whom_it_serves_PSI_03_02_03_01(
    served: dict[str, str], client: TestClient, auth: Auth
) -> None:
    prov_a = auth("prov-a", "provider")
    dave = _get(client, prov_a, "individual", "dave")
    assert dave.status_code == 200, dave.text
    body = dave.json()
    assert set(body) <= LIMITED_FIELDS["individual"]
    assert body["givenName"] == "Dave"
    assert body["contactMedium"] == DAVE_PRIVATE["contactMedium"]
    for private in ("birthDate", "gender", "partyCharacteristic", "relatedParty"):
        assert private not in body
    carol = _get(client, prov_a, "individual", "carol")
    assert carol.status_code == 200
    assert set(carol.json()) <= LIMITED_FIELDS["individual"]
    assert "relatedParty" not in carol.json(), "carol's membership of org-c is not for it"


def test_the_creating_pss_reads_the_customer_PSI_03_02_03_01(
    served: dict[str, str], client: TestClient, auth: Auth
) -> None:
    body = _get(client, auth("pss-x", "pss"), "individual", "dave").json()
    assert body["id"] == "dave"
    assert "partyCharacteristic" not in body
    _not_found_like_unknown(client, auth("pss-x", "pss"), "individual", "carol")


@pytest.mark.parametrize(
    ("who", "kind", "party"),
    [
        (("erin", "customer"), "individual", "dave"),  # another customer
        (("pss-y", "pss"), "individual", "dave"),  # a PSS that created none of his orders
        (("prov-z", "provider"), "individual", "dave"),  # a provider of none of them
        (("prov-b", "provider"), "individual", "carol"),  # named on an order prov-b is not in
        (("prov-z", "provider"), "organization", "org-c"),  # named on no order of its
        # a registered party dave names as a contact, but unrelated to him: naming it
        # does not hand its details to dave's provider
        (("prov-a", "provider"), "organization", "prov-z"),
        (("prov-a", "customer"), "individual", "dave"),  # prov-a, acting as a customer
    ],
)
def test_everyone_else_gets_404_as_for_an_unknown_id_PSI_03_02_03_02(
    served: dict[str, str],
    client: TestClient,
    auth: Auth,
    who: tuple[str, ...],
    kind: str,
    party: str,
) -> None:
    _not_found_like_unknown(client, auth(*who), kind, party)


def test_never_another_provider_of_the_same_order_PSI_03_02_03_02(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Named on an order both serve, a provider is hidden from the other (as in its view
    of the order); named on an order it does not serve, it is still not on the
    customer's side, so naming it shows it to no one."""
    both = order_body(
        "off-a", "off-b", relatedParty=[provider_ref("prov-a"), provider_ref("prov-b")]
    )
    world.create(auth("dave"), both)
    _not_found_like_unknown(client, auth("prov-a", "provider"), "organization", "prov-b")
    _not_found_like_unknown(client, auth("prov-b", "provider"), "organization", "prov-a")
    world.create(auth("dave"), order_body("off-a", relatedParty=[provider_ref("prov-b")]))
    _not_found_like_unknown(client, auth("prov-a", "provider"), "organization", "prov-b")


def test_full_profile_for_itself_and_governance(
    served: dict[str, str], world: World, client: TestClient, auth: Auth
) -> None:
    for who in (auth("dave"), world.gov):
        body = _get(client, who, "individual", "dave").json()
        assert body["birthDate"] == DAVE_PRIVATE["birthDate"]
        assert body["partyCharacteristic"] == DAVE_PRIVATE["partyCharacteristic"]


def test_lists_and_counts_show_what_get_shows_PSI_03_02_03_01(
    served: dict[str, str], world: World, client: TestClient, auth: Auth
) -> None:
    def listed(who: dict[str, str], query: str = "") -> tuple[str, list[str]]:
        response = client.get(f"{PARTIES}/individual{query}", headers=who)
        assert response.status_code == 200, response.text
        return response.headers["X-Total-Count"], [p["id"] for p in response.json()]

    prov_a, prov_b = auth("prov-a", "provider"), auth("prov-b", "provider")
    assert listed(prov_a) == ("2", ["carol", "dave"])
    assert listed(prov_b) == ("1", ["dave"])  # through pss-x's order only
    assert listed(auth("pss-x", "pss")) == ("1", ["dave"])
    assert listed(auth("erin")) == ("0", [])
    assert listed(auth("prov-z", "provider")) == ("0", [])
    assert listed(world.gov)[0] == "2"
    # a filter on what the limited view hides finds nothing: counts do not leak it
    assert listed(prov_a, "?gender=undisclosed") == ("0", [])
    assert listed(auth("dave"), "?gender=undisclosed") == ("1", ["dave"])
    full = client.get(f"{PARTIES}/individual", headers=prov_a).json()
    assert all(set(p) <= LIMITED_FIELDS["individual"] | {"href"} for p in full)


def test_a_limited_reader_changes_nothing_403_PSI_01_01_02_02_PSI_01_01_02_04(
    served: dict[str, str], client: TestClient, auth: Auth
) -> None:
    prov_a = auth("prov-a", "provider")
    url = f"{PARTIES}/individual/dave"
    assert (
        client.patch(url, json={"givenName": "X"}, headers={**prov_a, **MERGE}).status_code == 403
    )
    assert client.delete(url, headers=prov_a).status_code == 403
    stranger = auth("prov-z", "provider")
    assert (
        client.patch(url, json={"givenName": "X"}, headers={**stranger, **MERGE}).status_code == 404
    )
    assert client.delete(url, headers=stranger).status_code == 404
    assert _get(client, auth("dave"), "individual", "dave").json()["givenName"] == "Dave"


def test_only_while_it_sees_such_an_order(
    served: dict[str, str], world: World, client: TestClient, auth: Auth
) -> None:
    """A draft shows nothing to its provider; once the orders are gone, nor does the party."""
    prov_a = auth("prov-a", "provider")
    draft = world.create(
        auth("dave"),
        order_body(
            "off-a", requestedInitialState="draft", relatedParty=[customer_ref("dave"), CONTACT]
        ),
    )
    assert draft["state"] == "draft"
    assert _get(client, prov_a, "individual", "carol").status_code == 200  # through dave's
    assert client.delete(f"{ORDERS}/{served['dave']}", headers=world.gov).status_code == 204
    _not_found_like_unknown(client, prov_a, "individual", "carol")
    _not_found_like_unknown(client, prov_a, "individual", "dave")
    assert _get(client, auth("prov-b", "provider"), "individual", "dave").status_code == 200
    submitted = client.patch(
        f"{ORDERS}/{draft['id']}", json={"state": "acknowledged"}, headers={**auth("dave"), **MERGE}
    )
    assert submitted.status_code == 200, submitted.text
    assert _get(client, prov_a, "individual", "carol").status_code == 200


@pytest.mark.parametrize("kind", ["individual", "organization"])
def test_psid632_json_patch_query_examples_PSI_01_01_02_01_PSI_01_01_02_03(
    world: World, client: TestClient, auth: Auth, kind: str
) -> None:
    """The party ICD's JSON Patch Query update examples work on a party's own profile."""
    contract = json.loads((ICD.parent / "PSID632-Party_Management-v5.0.0.oas.json").read_text())
    name = "Individual" if kind == "individual" else "Organization"
    example = contract["components"]["examples"][f"{name}_update_example_JSON_Patch_Query_request"]
    op = example["value"][0]
    attribute = op["path"].rsplit("=", 1)[1]
    party = "dave" if kind == "individual" else "org-c"
    who = auth(party)
    seeded = [{"@type": "StringCharacteristic", "name": attribute, "value": "0"}]
    url = f"{PARTIES}/{kind}/{party}"
    assert (
        client.patch(
            url, json={"partyCharacteristic": seeded}, headers={**who, **MERGE}
        ).status_code
        == 200
    )
    response = client.patch(
        url,
        content=json.dumps(example["value"]),
        headers={**who, "Content-Type": "application/json-patch-query+json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["partyCharacteristic"][0]["value"] == op["value"]
