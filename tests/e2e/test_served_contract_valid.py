"""Every OpenAPI document the service serves is a valid OpenAPI document
(openapi-spec-validator), and what its examples show is accepted (issue 15).

PSID620 declares ``accessProbability`` an integer between 0 and 1 with the example
0.75; the service serves it as a number (README "Deviations from the PSI files") and
accepts the example, on both databases.
"""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from pss_ordering.api.routes.docs import SERVED
from tests.world import World, provider_ref

OFFERINGS = "/psi-api/productCatalogManagement/v2/productOffering"


def _offering(probability: object) -> dict[str, object]:
    return {
        "name": "probable",
        "lifecycleStatus": "active",
        "accessProbability": probability,
        "relatedParty": [provider_ref("prov-a")],
    }


@pytest.mark.parametrize("api", sorted(SERVED))
def test_every_served_openapi_document_validates(client: TestClient, api: str) -> None:
    answer = client.get(f"{SERVED[api][0]}/openapi.json")
    assert answer.status_code == 200
    validate(answer.json())


@pytest.mark.parametrize("probability", [0.75, 0, 1, 0.0])
def test_an_offering_with_the_documented_access_probability_is_accepted(
    world: World, client: TestClient, probability: float
) -> None:
    provider = world.auth("prov-a", "provider")
    created = client.post(OFFERINGS, json=_offering(probability), headers=provider)
    assert created.status_code == 201, created.text
    read = client.get(f"{OFFERINGS}/{created.json()['id']}", headers=provider)
    assert read.json()["accessProbability"] == probability


@pytest.mark.parametrize("probability", [1.5, -0.1, "0.75"])
def test_an_access_probability_outside_0_to_1_is_refused(
    world: World, client: TestClient, probability: object
) -> None:
    provider = world.auth("prov-a", "provider")
    answer = client.post(OFFERINGS, json=_offering(probability), headers=provider)
    assert answer.status_code == 400, answer.text
    assert "accessProbability" in answer.json()["message"]
