"""X-Total-Count is exact up to PSS_EXACT_COUNT_LIMIT; beyond it, it is omitted (TMF630
allows that) and X-Total-Count-Exceeds says where counting stopped. Here the limit is 3."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.world import ORDERS, World, order_body


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.exact_count_limit = 3
    return settings


@pytest.fixture
def five(world: World, auth: Auth) -> list[dict[str, Any]]:
    """Five orders of dave's: three on off-a alone, two on off-b alone."""
    offerings = ["off-a", "off-a", "off-a", "off-b", "off-b"]
    return [world.create(auth("dave"), order_body(offering)) for offering in offerings]


def _counts(response: Any) -> tuple[str | None, str | None, str]:
    assert response.status_code == 200, response.text
    headers = response.headers
    return (
        headers.get("x-total-count"),
        headers.get("x-total-count-exceeds"),
        headers["x-result-count"],
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("limit=2", (None, "3", "2")),  # 5 matches: counting stopped after 3
        ("limit=2&offset=2", (None, "3", "2")),
        ("limit=2&offset=4", ("5", None, "1")),  # the last page tells the total
        ("limit=10", ("5", None, "5")),  # so does a first page that holds them all
        ("limit=2&offset=9", (None, "3", "0")),  # past the end: counted, and still too many
        ("limit=2&productOrderItem.productOffering.id=off-a", ("3", None, "2")),  # exactly 3
        ("limit=1&productOrderItem.productOffering.id=off-b", ("2", None, "1")),
        ("limit=1&productOrderItem.productOffering.id=off-a,off-b", (None, "3", "1")),
        ("limit=1&state=pending", (None, "3", "1")),
        ("limit=1&state=completed", ("0", None, "0")),
        ("limit=1&description=none", ("0", None, "0")),  # evaluated on documents: exact
    ],
)
def test_total_is_exact_up_to_the_limit(
    client: TestClient, auth: Auth, five: list[dict[str, Any]], query: str, expected: Any
) -> None:
    assert _counts(client.get(f"{ORDERS}?{query}", headers=auth("dave"))) == expected


def test_the_limit_counts_only_what_the_caller_sees(
    client: TestClient, world: World, auth: Auth, five: list[dict[str, Any]]
) -> None:
    """Visibility is applied before counting: carol's two orders and prov-a's three are
    counted exactly while governance, and prov-b (four), see more than the limit."""
    for _ in range(2):
        world.create(auth("carol"), order_body("off-b"))
    assert _counts(client.get(f"{ORDERS}?limit=1", headers=auth("carol"))) == ("2", None, "1")
    assert _counts(client.get(f"{ORDERS}?limit=1", headers=world.gov)) == (None, "3", "1")
    prov_a, prov_b = auth("prov-a", "provider"), auth("prov-b", "provider")
    assert _counts(client.get(f"{ORDERS}?limit=1", headers=prov_a)) == ("3", None, "1")
    assert _counts(client.get(f"{ORDERS}?limit=1", headers=prov_b)) == (None, "3", "1")
    assert _counts(client.get(f"{ORDERS}?limit=9", headers=prov_b)) == ("4", None, "4")
