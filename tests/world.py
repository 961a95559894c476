"""A small marketplace registered through the API: two providers, customers, a PSS.

Loaded as a pytest plugin by the root conftest, so every test level can use ``world``.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Auth

ORDERS = "/psi-api/productOrdering/v2/productOrder"
PARTIES = "/psi-api/partyManagement/v2"
OFFERINGS = "/psi-api/productCatalogManagement/v2/productOffering"


def provider_ref(party: str) -> dict[str, Any]:
    return {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": "provider",
        "partyOrPartyRole": {"@type": "PartyRef", "id": party},
    }


def customer_ref(party: str) -> dict[str, Any]:
    return {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": "customer",
        "partyOrPartyRole": {"@type": "PartyRef", "id": party},
    }


def pss_grant(pss: str) -> dict[str, Any]:
    """A profile's grant to a PSS to order on the party's behalf."""
    return {
        "@type": "RelatedPartyRefOrPartyRoleRef",
        "role": "pss",
        "partyOrPartyRole": {"@type": "PartyRef", "id": pss},
    }


def order_body(*offerings: str, **extra: Any) -> dict[str, Any]:
    items = [
        {"id": str(n), "action": "add", "productOffering": {"id": offering}}
        for n, offering in enumerate(offerings or ("off-a",), start=1)
    ]
    return {"productOrderItem": items, **extra}


class World:
    def __init__(self, client: TestClient, auth: Auth) -> None:
        self.client = client
        self.auth = auth
        self.gov = auth("gov", "governance")

    def publish_imei_offering(self) -> str:
        """prov-a's offering ``off-imei``, which requires an IMEI characteristic."""
        body = {
            "id": "off-imei",
            "name": "needs an IMEI",
            "lifecycleStatus": "active",
            "relatedParty": [provider_ref("prov-a")],
            "prodSpecCharValueUse": [
                {
                    "@type": "ProductSpecificationCharacteristicValueUse",
                    "name": "IMEI",
                    "valueType": "string",
                    "minCardinality": 1,
                }
            ],
        }
        response = self.client.post(OFFERINGS, json=body, headers=self.auth("prov-a", "provider"))
        assert response.status_code == 201, response.text
        return "off-imei"

    def create(self, who: dict[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(ORDERS, json=body or order_body("off-a", "off-b"), headers=who)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def world(client: TestClient, auth: Auth) -> World:
    w = World(client, auth)
    parties = [
        ("organization", {"id": "prov-a", "name": "Provider A"}),
        ("organization", {"id": "prov-b", "name": "Provider B"}),
        ("organization", {"id": "org-c", "name": "Customer Org"}),
        (
            "individual",
            {
                "id": "carol",
                "givenName": "Carol",
                "familyName": "C",
                "relatedParty": [
                    {
                        "@type": "RelatedPartyRefOrPartyRoleRef",
                        "role": "organization",
                        "partyOrPartyRole": {"@type": "PartyRef", "id": "org-c"},
                    }
                ],
            },
        ),
        (
            "individual",
            {
                "id": "dave",
                "givenName": "Dave",
                "familyName": "D",
                "relatedParty": [pss_grant("pss-x")],  # pss-x may order for dave
            },
        ),
    ]
    for kind, body in parties:
        response = client.post(f"{PARTIES}/{kind}", json=body, headers=w.gov)
        assert response.status_code == 201, response.text
    for offering, provider in (("off-a", "prov-a"), ("off-b", "prov-b")):
        response = client.post(
            OFFERINGS,
            json={
                "id": offering,
                "name": offering,
                "lifecycleStatus": "active",
                "relatedParty": [provider_ref(provider)],
            },
            headers=auth(provider, "provider"),
        )
        assert response.status_code == 201, response.text
    return w
