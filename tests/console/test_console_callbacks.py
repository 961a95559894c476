"""Callbacks' delivery health in the console, and resume (PSI-01-02-03-07), on both
databases: the owner sees its own, governance every one, another provider none."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.delivery import Deliver, hub_settings, subscribe
from tests.receiver import Receiver
from tests.world import World, order_body

HUB = "/psi-api/event/v2/topic/order/hub"


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(settings, receiver)


@pytest.mark.parametrize("resumer", [("prov-a", "provider"), ("gov", "governance")])
def test_a_disabled_callback_is_shown_and_resumed_in_the_console_PSI_01_02_03_07(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    deliver: Deliver,
    console: Any,
    resumer: tuple[str, str],
) -> None:
    owner = auth("prov-a", "provider")
    hub = subscribe(client, owner, receiver.url("/prov-a"))
    receiver.script("/prov-a", 410)  # Gone: delivery to it is disabled at once
    world.create(auth("dave"), order_body("off-a"))
    deliver()
    assert client.get(f"{HUB}/{hub['id']}", headers=owner).json()["state"] == "disabled"

    assert receiver.url("/prov-a") not in console("prov-b", "provider").get("/callbacks").text
    signed = console(*resumer)
    page = signed.get("/callbacks").text
    assert receiver.url("/prov-a") in page and "disabled" in page
    resumed = signed.submit(page, f"/callbacks/order/{hub['id']}/resume")
    assert resumed.status_code == 303, resumed.text
    assert client.get(f"{HUB}/{hub['id']}", headers=owner).json()["state"] == "active"
    other = console("prov-b", "provider")
    token = re.findall(r'name="csrf" value="([^"]+)"', other.get("/callbacks").text)[0]
    refused = other.http.post(f"/console/callbacks/order/{hub['id']}/resume", data={"csrf": token})
    assert refused.status_code == 404  # another provider's callback does not exist for it
