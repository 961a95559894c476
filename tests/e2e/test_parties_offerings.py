"""Party profiles (PSI-01-01-02-*) and product offerings, as ordering needs them."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.conftest import Auth
from tests.world import OFFERINGS, PARTIES, World, provider_ref

RESPONSE_TIME = {"@type": "StringCharacteristic", "name": "responseTime", "value": "PT4H"}


def test_party_registers_itself(world: World, client: TestClient, auth: Auth) -> None:
    me = auth("newco", "provider")
    created = client.post(f"{PARTIES}/organization", json={"name": "NewCo"}, headers=me)
    assert created.status_code == 201, created.text
    assert created.json()["id"] == "newco"
    assert created.json()["href"].endswith("/organization/newco")
    assert client.get(f"{PARTIES}/organization/newco", headers=me).status_code == 200
    again = client.post(f"{PARTIES}/organization", json={"name": "NewCo"}, headers=me)
    assert again.status_code == 409
    as_other = client.post(
        f"{PARTIES}/organization", json={"id": "someone-else", "name": "X"}, headers=me
    )
    assert as_other.status_code == 403


def test_party_updates_only_itself_PSI_01_01_02_02_and_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    own = client.patch(
        f"{PARTIES}/individual/dave", json={"givenName": "David"}, headers=auth("dave")
    )
    assert own.status_code == 200, own.text
    assert own.json()["givenName"] == "David"
    other = client.patch(
        f"{PARTIES}/individual/carol", json={"givenName": "X"}, headers=auth("dave")
    )
    assert other.status_code == 404
    org = client.patch(
        f"{PARTIES}/organization/prov-a", json={"name": "A2"}, headers=auth("prov-a", "provider")
    )
    assert org.status_code == 200
    assert client.get(f"{PARTIES}/organization/prov-b", headers=auth("prov-a")).status_code == 404


def test_governance_updates_any_party_PSI_01_01_02_07(world: World, client: TestClient) -> None:
    response = client.patch(
        f"{PARTIES}/organization/prov-a", json={"name": "Renamed"}, headers=world.gov
    )
    assert response.status_code == 200
    listed = client.get(f"{PARTIES}/organization", headers=world.gov).json()
    assert {p["id"] for p in listed} == {"prov-a", "prov-b", "org-c"}


def test_only_governance_sets_response_time_PSI_01_01_02_08(
    world: World, client: TestClient, auth: Auth
) -> None:
    body = {"partyCharacteristic": [RESPONSE_TIME]}
    url = f"{PARTIES}/organization/prov-a"
    by_provider = client.patch(url, json=body, headers=auth("prov-a", "provider"))
    assert by_provider.status_code == 403
    assert "responseTime" in by_provider.json()["message"]
    by_gov = client.patch(url, json=body, headers=world.gov)
    assert by_gov.status_code == 200
    assert RESPONSE_TIME in by_gov.json()["partyCharacteristic"]
    bad = client.patch(
        url,
        json={"partyCharacteristic": [{**RESPONSE_TIME, "value": "four hours"}]},
        headers=world.gov,
    )
    assert bad.status_code == 422
    self_registered = client.post(
        f"{PARTIES}/organization",
        json={"name": "Sneaky", "partyCharacteristic": [RESPONSE_TIME]},
        headers=auth("sneaky", "provider"),
    )
    assert self_registered.status_code == 403


def test_only_governance_sets_max_priority_PSI_01_01_02_09(
    world: World, client: TestClient, auth: Auth
) -> None:
    body = {
        "partyCharacteristic": [
            {"@type": "StringCharacteristic", "name": "maxPriority", "value": "0"}
        ]
    }
    url = f"{PARTIES}/individual/dave"
    assert client.patch(url, json=body, headers=auth("dave")).status_code == 403
    assert client.patch(url, json=body, headers=world.gov).status_code == 200


def test_party_delete(world: World, client: TestClient, auth: Auth) -> None:
    assert client.delete(f"{PARTIES}/individual/carol", headers=auth("dave")).status_code == 404
    assert client.delete(f"{PARTIES}/individual/dave", headers=auth("dave")).status_code == 204
    assert client.get(f"{PARTIES}/individual/dave", headers=world.gov).status_code == 404


def test_sub_organisation_members_orders_visible_to_parent_PSI_01_01_02_05(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A sub-organisation names its parent; the parent sees its members' orders."""
    sub = client.post(
        f"{PARTIES}/organization",
        json={
            "name": "Sub",
            "organizationParentRelationship": {
                "@type": "OrganizationParentRelationship",
                "relationshipType": "parent",
                "organization": {"@type": "OrganizationRef", "id": "org-c"},
            },
        },
        headers=auth("sub-org"),
    )
    assert sub.status_code == 201, sub.text
    world.create(auth("sub-org"))
    assert (
        client.get("/psi-api/productOrdering/v2/productOrder", headers=auth("org-c")).headers[
            "x-total-count"
        ]
        == "1"
    )


def test_offerings_published_by_providers_read_by_all(
    world: World, client: TestClient, auth: Auth
) -> None:
    listed = client.get(OFFERINGS, headers=auth("dave"))
    assert {o["id"] for o in listed.json()} == {"off-a", "off-b"}
    filtered = client.get(
        f"{OFFERINGS}?relatedParty.partyOrPartyRole.id=prov-a", headers=auth("dave")
    )
    assert [o["id"] for o in filtered.json()] == ["off-a"]
    assert client.get(f"{OFFERINGS}/off-a", headers=auth("dave")).status_code == 200
    as_customer = client.post(
        OFFERINGS, json={"name": "x", "lifecycleStatus": "active"}, headers=auth("dave")
    )
    assert as_customer.status_code == 403
    for_other = client.post(
        OFFERINGS,
        json={"name": "x", "lifecycleStatus": "active", "relatedParty": [provider_ref("prov-b")]},
        headers=auth("prov-a", "provider"),
    )
    assert for_other.status_code == 403
    not_owner = client.patch(
        f"{OFFERINGS}/off-b", json={"name": "mine"}, headers=auth("prov-a", "provider")
    )
    assert not_owner.status_code == 403
    owner = client.delete(f"{OFFERINGS}/off-a", headers=auth("prov-a", "provider"))
    assert owner.status_code == 204


def test_offering_declares_required_characteristics(
    world: World, client: TestClient, auth: Auth
) -> None:
    body = {
        "id": "off-imei",
        "name": "with IMEI",
        "lifecycleStatus": "active",
        "prodSpecCharValueUse": [
            {
                "@type": "ProductSpecificationCharacteristicValueUse",
                "name": "IMEI",
                "valueType": "string",
                "minCardinality": 1,
            }
        ],
    }
    created = client.post(OFFERINGS, json=body, headers=auth("prov-a", "provider"))
    assert created.status_code == 201, created.text
    assert created.json()["prodSpecCharValueUse"][0]["name"] == "IMEI"
