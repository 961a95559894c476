"""Every order request example of the PSI ICD (PSID622), in every media type, over HTTP.

TOD-03-02 (create and update a product order; "e.g. the billing information"),
PSI-03-02-01-01 (create), PSI-03-02-02-01 and PSI-03-02-02-04 (update, by role).
Each example either works as the ICD shows it, or is refused for the reason
named in ``REFUSED`` — and then works once that one reason is repaired, so the
reason is the only thing the service holds against it. A new example in the
ICD fails :func:`test_every_order_example_is_judged` until it is listed here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Auth
from tests.world import OFFERINGS, ORDERS, World, provider_ref

# The PSI release's file, as the service ships and serves it (unchanged).
ICD = (
    Path(__file__).parents[2]
    / "src/pss_ordering/api/contract/PSID622-ProductOrdering-v5.0.0.oas.json"
)
CONTRACT = json.loads(ICD.read_text())
CUSTOMER = "ff55-hjy4"  # the examples' customer (relatedParty role Customer)
PROVIDER = "prov-tmf"
OFFERING_IDS = ("14277", "14305", "14344", "14354")


def _examples() -> list[tuple[str, str, str, Any]]:
    """(request body, media type, example name, value) for every order request example."""
    found = []
    examples = CONTRACT["components"]["examples"]
    for body_name, body in CONTRACT["components"]["requestBodies"].items():
        if not body_name.startswith("ProductOrder"):
            continue
        for media, content in body["content"].items():
            for name, ref in content.get("examples", {}).items():
                value = examples[ref["$ref"].rsplit("/", 1)[1]]["value"]
                found.append((body_name, media, name, value))
    return found


EXAMPLES = _examples()
Repair = Callable[[dict[str, Any]], None]


def _dates_in_order(body: dict[str, Any]) -> None:
    body["requestedStartDate"] = "2019-05-01T08:13:59.506Z"


def _no_intent(body: dict[str, Any]) -> None:
    _dates_in_order(body)
    del body["intentSpecification"]
    intent = body["productOrderItem"][2]["product"]["intent"]
    intent.update(creationDate="2023-03-09T08:42:33.044Z", lifecycleStatus="active")
    expression = intent["expression"]
    expression["expressionValue"] = json.dumps(expression["expressionValue"])


def _offering_and_dates(body: dict[str, Any]) -> None:
    _dates_in_order(body)
    body["productOrderItem"][0]["productOffering"] = {"id": "14305"}


#: example -> (status, the PSI reason it is refused for, the repair that makes it work)
REFUSED: dict[str, tuple[int, str, Repair]] = {
    # PSI-03-02-01-01 / seed 000: "dates are consistent" — the example asks to start
    # on 3 May and complete on 2 May.
    "CreateProductOrder1": (
        422,
        "requestedStartDate: must not be after requestedCompletionDate",
        _dates_in_order,
    ),
    # The ICD's own schema (ProductOrder_FVO) has no order-level intentSpecification
    # (the intent belongs to the product, where this example also has it), and its
    # Intent requires creationDate and lifecycleStatus, which the example's lacks, and
    # its Expression's expressionValue is a string, where the example has an object;
    # the example has the dates of the first one too.
    "CreateProductOrder_with_intent_specification": (400, "intentSpecification", _no_intent),
    # PSI-03-02-01-02: an item is routed to the provider of its offering; this one
    # names none (and has the dates of the others).
    "CreateProductOrder2": (
        422,
        "productOffering.id: is required to route the item to its provider",
        _offering_and_dates,
    ),
}
#: examples that work as the ICD shows them
WORKS = {
    "updateProductOrder_using_application-json",
    "updateProductOrder_using_merge-patch_json",
    "updateProductOrder_using_json-patch_json",
    "updateProductOrder_using_json-patch_query",
}


def test_every_order_example_is_judged() -> None:
    """The table covers the ICD: nothing is left out, nothing listed is gone."""
    names = {name for _, _, name, _ in EXAMPLES}
    assert len(EXAMPLES) == 7
    assert names == set(REFUSED) | WORKS
    assert {media for *_, media, _, _ in [(None, *e) for e in EXAMPLES]} >= {
        "application/json",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/json-patch-query+json",
    }


@pytest.fixture
def tmf(world: World, client: TestClient, auth: Auth) -> World:
    """The examples' offerings, all from one provider."""
    for offering in OFFERING_IDS:
        response = client.post(
            OFFERINGS,
            json={
                "id": offering,
                "name": offering,
                "lifecycleStatus": "active",
                "relatedParty": [provider_ref(PROVIDER)],
            },
            headers=auth(PROVIDER, "provider"),
        )
        assert response.status_code == 201, response.text
    return world


def _create(client: TestClient, auth: Auth, body: Any) -> Any:
    return client.post(ORDERS, json=body, headers=auth(CUSTOMER))


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if e[0] == "ProductOrder_FVO"], ids=lambda e: e[2]
)
def test_create_examples_TOD_03_02_PSI_03_02_01_01(
    tmf: World, client: TestClient, auth: Auth, example: tuple[str, str, str, Any]
) -> None:
    """Refused for its documented reason, nothing stored; repaired, it is created."""
    _, media, name, value = example
    assert media == "application/json"
    status, reason, repair = REFUSED[name]
    refused = _create(client, auth, copy.deepcopy(value))
    assert refused.status_code == status, refused.text
    assert reason in refused.json()["message"]
    assert client.get(ORDERS, headers=auth(CUSTOMER)).json() == []
    body = copy.deepcopy(value)
    repair(body)
    created = _create(client, auth, body)
    assert created.status_code == 201, created.text
    assert created.json()["category"] == value["category"]


def _acknowledged_order(client: TestClient, auth: Auth) -> dict[str, Any]:
    body = copy.deepcopy(CONTRACT["components"]["examples"]["CreateProductOrder1_request"])
    body = body["value"]
    _dates_in_order(body)
    created = _create(client, auth, body)
    assert created.status_code == 201, created.text
    order = created.json()
    ack = client.patch(
        f"{ORDERS}/{order['id']}",
        json={"state": "acknowledged"},
        headers={**auth(PROVIDER, "provider"), "Content-Type": "application/merge-patch+json"},
    )
    assert ack.status_code == 200, ack.text
    return dict(order)


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if e[0] == "ProductOrder_MVO"], ids=lambda e: e[2]
)
def test_update_examples_TOD_03_02_PSI_03_02_02_04(
    tmf: World, client: TestClient, auth: Auth, example: tuple[str, str, str, Any]
) -> None:
    """Each update example, in its own media type, by the customer of an order its
    provider acknowledged: it works, and changes what the ICD's response shows."""
    _, media, name, value = example
    assert name in WORKS
    order = _acknowledged_order(client, auth)
    url = f"{ORDERS}/{order['id']}"
    response = client.patch(
        url, content=json.dumps(value), headers={**auth(CUSTOMER), "Content-Type": media}
    )
    assert response.status_code == 200, response.text
    after = client.get(url, headers=auth(CUSTOMER)).json()
    expected = CONTRACT["components"]["examples"][f"{name}_response"]["value"]
    assert after["category"] == expected["category"]
    items = {item["id"]: item for item in after["productOrderItem"]}
    if media == "application/json-patch-query+json":
        assert items["120"]["billingAccount"]["id"] == "1889"
        assert all("billingAccount" not in items[i] for i in ("100", "110", "130"))
    else:
        assert items["120"]["billingAccount"]["id"] == "1513"
