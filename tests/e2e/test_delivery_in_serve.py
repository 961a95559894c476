"""Delivery runs inside the service (``serve``): its worker thread starts and stops with
the application and delivers what commits, without anyone draining it by hand.

The only test that waits for a background thread; it polls with a bound.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.delivery import hub_settings, subscribe
from tests.receiver import Receiver
from tests.world import World, order_body


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(settings, receiver, run_workers=True)


def _wait_for(receiver: Receiver, path: str, count: int) -> list[str]:
    return [e["eventType"] for e in receiver.wait_delivered(path, count)]


def test_serve_delivers_in_order_as_changes_commit_PSI_03_02_01_03(
    world: World, client: TestClient, auth: Auth, receiver: Receiver
) -> None:
    dave = auth("dave")
    subscribe(client, dave, receiver.url("/dave"))
    order = world.create(dave, order_body("off-a"))
    assert _wait_for(receiver, "/dave", 1) == ["orderCreationNotification"]
    for text in ("one", "two", "three"):
        response = client.patch(
            f"/psi-api/productOrdering/v2/productOrder/{order['id']}",
            json={"description": text},
            headers=dave,
        )
        assert response.status_code == 200
    assert _wait_for(receiver, "/dave", 4) == [
        "orderCreationNotification",
        *["orderValueChangeNotification"] * 3,
    ]
    received = receiver.delivered("/dave")
    assert [e["event"]["productOrder"].get("description") for e in received[1:]] == [
        "one",
        "two",
        "three",
    ]
