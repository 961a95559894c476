"""A delivery worker logs each delivery it could not make, with the reason (issue 15):
a separate ``pss-ordering worker`` started without the settings ``serve`` has (here:
no callback allow-list) refuses every delivery, and says so where the operator looks,
not only in the callback's health (PSI-01-02-02-03, PSI-01-02-03-06)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from starlette.testclient import TestClient

from pss_ordering.bootstrap import build_delivery_worker
from pss_ordering.config import Settings
from tests.conftest import Auth
from tests.delivery import hub_settings, subscribe
from tests.receiver import Receiver
from tests.world import World


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return hub_settings(settings, receiver)


def test_a_worker_without_the_allow_list_logs_each_refusal_PSI_01_02_02_03(
    world: World,
    client: TestClient,
    auth: Auth,
    receiver: Receiver,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dave = auth("dave")
    hub = subscribe(client, dave, receiver.url("/cb"))
    world.create(dave)
    services = client.app.state.services  # type: ignore[attr-defined]
    bare = settings.model_copy(update={"callback_allowed_hosts": []})
    worker = build_delivery_worker(services, bare)

    async def drain() -> None:
        try:
            await worker.drain()
        finally:
            await worker.close()

    with caplog.at_level(logging.WARNING, logger="pss_ordering.events.worker"):
        asyncio.run(drain())
    assert receiver.requests == []
    [record] = [r for r in caplog.records if hub["id"] in r.getMessage()]
    message = record.getMessage()
    assert "failed (refused: " in message and message.endswith(": retry")
    assert "PSS_CALLBACK_ALLOWED_HOSTS" in message and receiver.host in message
