"""Typos are 4xx, never an empty 200 (issue 15, the first hour): misspelt filter paths,
operators and enumerated values on every list (PSI-03-02-04-01 list orders, TMF630),
registrations whose query names an event type nothing is published as
(PSI-01-02-02-02), and allow-listed callback names that resolve where no delivery may
go (PSI-01-02-02-03), on both databases.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.config import Settings
from tests.conftest import BASE_URL, SECRET
from tests.world import World

ORDERS = "/psi-api/productOrdering/v2/productOrder"
OFFERINGS = "/psi-api/productCatalogManagement/v2/productOffering"
ORGANIZATIONS = "/psi-api/partyManagement/v2/organization"
EVENTS = "/psi-api/event/v2/topic/order/event"
HUB = "/psi-api/event/v2/topic/{topic}/hub"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        jwt_secret=SECRET,
        base_url=BASE_URL,
        run_workers=False,
        callback_allowed_hosts=["127.0.0.1:9999", "localhost:9998", "receiver.test:443"],
    )


def refused(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert {"code", "reason", "message", "status"} <= body.keys()
    assert body["status"] == str(status) or body["status"] == status
    for word in words:
        assert word in body["message"], body["message"]
    return str(body["message"])


@pytest.mark.parametrize(
    ("url", "params", "words"),
    [
        (
            ORDERS,
            {"productOrderItem.productOfering.id": "x"},
            ("'productOfering'", "productOffering"),
        ),
        (ORDERS, {"relatedParty.partyOrPartyRole.idd": "x"}, ("'idd'", "did you mean 'id'")),
        (ORDERS, {"creationDate.ge": "2026-01-01T00:00:00Z"}, ("operator 'ge'", "gte")),
        (ORDERS, {"creationDate.gtee": "2026-01-01T00:00:00Z"}, ("operator 'gtee'", "gte")),
        (ORDERS, {"state": "pendng"}, ("unknown value 'pendng'", "did you mean 'pending'")),
        (ORDERS, {"state": "pending,acknowleged"}, ("'acknowleged'",)),
        (ORDERS, {"productOrderItem.state": "inprogress"}, ("'inprogress'", "inProgress")),
        (ORDERS, {"productOrderItem.action": "ad"}, ("'ad'", "add")),
        (ORDERS, {"sort": "-creationDat"}, ("'creationDat'", "creationDate")),
        (ORDERS, {"fields": "productOrderItem.stat"}, ("'stat'", "state")),
        (ORDERS, {"fields": "state.id"}, ("'state' is a value",)),
        (ORDERS, {"state.id": "x"}, ("unknown operator 'id'",)),
        (OFFERINGS, {"lifecycleStatuss": "active"}, ("'lifecycleStatuss'",)),
        (OFFERINGS, {"relatedParty.partyOrPartyRole.idd": "acme"}, ("'idd'",)),
        (ORGANIZATIONS, {"nmae": "x"}, ("'nmae'", "name")),
        (EVENTS, {"eventTyp": "orderCreationNotification"}, ("'eventTyp'", "eventType")),
    ],
)
def test_misspelt_filters_are_400_PSI_03_02_04_01(
    world: World, client: TestClient, url: str, params: dict[str, str], words: tuple[str, ...]
) -> None:
    refused(client.get(url, params=params, headers=world.gov), 400, *words)


@pytest.mark.parametrize(
    "params",
    [
        {"productOrderItem.productOffering.id": "off-a"},
        {"relatedParty.partyOrPartyRole.id": "carol"},
        {"creationDate.gte": "2026-01-01T00:00:00Z"},
        {"state": "pending,acknowledged"},
        {"productOrderItem.product.productCharacteristic.value": "1"},
        {"fields": "productOrderItem.state", "sort": "-creationDate"},
    ],
)
def test_correct_filters_still_answer(
    world: World, client: TestClient, params: dict[str, str]
) -> None:
    world.create(world.auth("carol", "customer"))
    assert client.get(ORDERS, params=params, headers=world.gov).status_code == 200


@pytest.mark.parametrize(
    ("topic", "query", "words"),
    [
        (
            "order",
            "eventType=orderCreatedNotification",
            ("did you mean 'orderCreationNotification'",),
        ),
        ("order", "eventType=ProductOrderCreatedEvent", ("'ProductOrderCreatedEvent'",)),
        ("order", "eventType=AlarmCreateEvent", ("topic 'order'",)),
        ("alarm", "eventType=orderStateChangeNotification", ("AlarmCreateEvent",)),
        ("inquiry", "eventType=orderStateChangeNotification", ("event types: none",)),
    ],
)
def test_a_query_naming_an_event_type_never_published_is_refused_PSI_01_02_02_02(
    world: World, client: TestClient, topic: str, query: str, words: tuple[str, ...]
) -> None:
    url = HUB.format(topic=topic)
    body = {"callback": "http://127.0.0.1:9999/cb", "query": query}
    refused(client.post(url, json=body, headers=world.auth("prov-a", "provider")), 422, *words)
    assert client.get(url, headers=world.gov).json() == []


def test_a_callback_name_resolving_to_loopback_is_refused_at_registration_PSI_01_02_02_03(
    world: World, client: TestClient
) -> None:
    body = {"callback": "http://localhost:9998/cb"}
    refused(
        client.post(HUB.format(topic="order"), json=body, headers=world.gov),
        422,
        "'localhost' resolves to",
        "PSS_CALLBACK_ALLOWED_NETWORKS",
    )
    assert client.get(HUB.format(topic="order"), headers=world.gov).json() == []


@pytest.fixture
def loopback_allowed(settings: Settings) -> Settings:
    return settings.model_copy(update={"callback_allowed_networks": ["127.0.0.0/8", "::1/128"]})


def test_a_loopback_name_is_accepted_when_its_network_is_allowed(
    engine: Any, clock: Any, auth: Any, loopback_allowed: Settings
) -> None:
    from pss_ordering.bootstrap import build_app

    with TestClient(build_app(loopback_allowed, engine, clock)) as client:
        answer = client.post(
            HUB.format(topic="order"),
            json={"callback": "http://localhost:9998/cb"},
            headers=auth("gov", "governance"),
        )
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("event.productOrder.productOrderItem.productOfering.id=x", ("'productOfering'",)),
        ("event.productOrdr.id=x", ("'productOrdr'", "productOrder")),
        ("event.priorty=1", ("'priorty'", "priority")),
        ("staet=acknowledged", ("'staet'", "state")),
        ("state=acknowleged", ("unknown value 'acknowleged'", "acknowledged")),
        ("eventType=orderStateChangeNotification&event.productOrder.stat=held", ("'stat'",)),
    ],
)
def test_a_query_path_or_value_its_events_never_carry_is_refused_PSI_01_02_02_02(
    world: World, client: TestClient, query: str, words: tuple[str, ...]
) -> None:
    body = {"callback": "http://127.0.0.1:9999/cb", "query": query}
    refused(client.post(HUB.format(topic="order"), json=body, headers=world.gov), 422, *words)
    assert client.get(HUB.format(topic="order"), headers=world.gov).json() == []


@pytest.mark.parametrize(
    "query",
    [
        "eventType=orderStateChangeNotification",
        "eventType=ProductOrderStateChangeEvent",
        "event.productOrder.productOrderItem.productOffering.id=off-a",
        "event.priority=1",
        "state=acknowledged",
        "event.productOrder.relatedParty.partyOrPartyRole.id=carol",
        "domain=productOrdering&correlationId=x",
        "resourcePath=/productOrder/1/productOrderItem/1",
    ],
)
def test_a_query_naming_what_order_events_carry_is_accepted(
    world: World, client: TestClient, query: str
) -> None:
    body = {"callback": "http://127.0.0.1:9999/cb", "query": query}
    answer = client.post(HUB.format(topic="order"), json=body, headers=world.gov)
    assert answer.status_code == 201, answer.text
