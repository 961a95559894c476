"""TMF630 querying over HTTP: fields, paging, counts, filters, operators, sort."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.clock import ManualClock
from tests.conftest import Auth
from tests.world import ORDERS, World, order_body


@pytest.fixture
def five(world: World, auth: Auth, clock: ManualClock) -> list[dict[str, Any]]:
    """Five orders by dave, an hour apart, with varied attributes."""
    created = []
    for n in range(5):
        body = order_body(
            "off-a" if n % 2 == 0 else "off-b",
            description=f"order {n}",
            externalId=[{"id": f"ext-{n}"}],
            requestedStartDate=f"2027-01-0{n + 1}T00:00:00+01:00",
            category="residential" if n < 3 else "enterprise",
        )
        created.append(world.create(auth("dave"), body))
        clock.advance(timedelta(hours=1))
    return created


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [o["id"] for o in response.json()]


def test_default_sort_newest_first_and_paging(
    client: TestClient, auth: Auth, five: list[dict[str, Any]]
) -> None:
    newest_first = [o["id"] for o in reversed(five)]
    assert _ids(client.get(ORDERS, headers=auth("dave"))) == newest_first
    page = client.get(f"{ORDERS}?offset=1&limit=2", headers=auth("dave"))
    assert _ids(page) == newest_first[1:3]
    assert page.headers["x-total-count"] == "5"
    assert page.headers["x-result-count"] == "2"


def test_sort_ascending_and_descending(
    client: TestClient, auth: Auth, five: list[dict[str, Any]]
) -> None:
    ids = [o["id"] for o in five]
    assert _ids(client.get(f"{ORDERS}?sort=creationDate", headers=auth("dave"))) == ids
    by_description = client.get(f"{ORDERS}?sort=-description", headers=auth("dave"))
    assert _ids(by_description) == ids[::-1]


def test_fields_selection(client: TestClient, auth: Auth, five: list[dict[str, Any]]) -> None:
    docs = client.get(f"{ORDERS}?fields=description,productOrderItem.id", headers=auth("dave"))
    for doc in docs.json():
        assert set(doc) == {"id", "href", "@type", "description", "productOrderItem"}
        assert doc["productOrderItem"] == [{"id": "1"}]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=pending", [0, 1, 2, 3, 4]),
        ("state=completed", []),
        ("state=completed,pending", [0, 1, 2, 3, 4]),
        ("productOrderItem.productOffering.id=off-b", [1, 3]),
        ("externalId.id=ext-2", [2]),
        ("externalId.id=ext-2,ext-4", [2, 4]),
        ("relatedParty.partyOrPartyRole.id=dave", [0, 1, 2, 3, 4]),
        ("creationDate.gte=2026-11-24T14:00:00Z", [2, 3, 4]),
        ("creationDate.lt=2026-11-24T14:00:00Z", [0, 1]),
        ("creationDate.gt=2026-11-24T13:00:00Z&creationDate.lte=2026-11-24T15:00:00Z", [2, 3]),
        ("creationDate.gt=2026-11-24T15:00:00%2B02:00", [2, 3, 4]),
        ("requestedStartDate.lt=2027-01-03T00:00:00Z", [0, 1, 2]),
        ("category=enterprise", [3, 4]),
        ("category=enterprise&productOrderItem.productOffering.id=off-a", [4]),
        ("description=order 1,order 3", [1, 3]),
        ("state=pending&state=completed", []),
    ],
)
def test_filters(
    client: TestClient, auth: Auth, five: list[dict[str, Any]], query: str, expected: list[int]
) -> None:
    response = client.get(f"{ORDERS}?{query}&sort=creationDate", headers=auth("dave"))
    assert _ids(response) == [five[n]["id"] for n in expected]
    assert response.headers["x-total-count"] == str(len(expected))


def test_residual_filter_pages_and_counts(
    client: TestClient, auth: Auth, five: list[dict[str, Any]]
) -> None:
    """Filters without an index still count before paging."""
    response = client.get(
        f"{ORDERS}?category=residential&limit=2&offset=1&sort=creationDate", headers=auth("dave")
    )
    assert _ids(response) == [five[1]["id"], five[2]["id"]]
    assert response.headers["x-total-count"] == "3"


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=abc",
        "offset=-1",
        "limit=100000",
        "colour=red",
        "sort=colour",
        "fields=colour",
        "creationDate.gt=tomorrow",
        "creationDate=yesterday",
        "state.gt=x",
    ],
)
def test_bad_queries_are_400(world: World, client: TestClient, auth: Auth, query: str) -> None:
    response = client.get(f"{ORDERS}?{query}", headers=auth("dave"))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_QUERY"
