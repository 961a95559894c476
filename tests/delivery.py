"""Delivery test helpers: settings that allow the loopback receiver, and draining a worker.

Loaded as a pytest plugin. ``deliver()`` runs a real delivery worker (real HTTP,
the app's database and clock) until nothing more is due at the clock's time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook
from starlette.testclient import TestClient

from pss_ordering.bootstrap import build_delivery_worker
from pss_ordering.config import Settings
from tests.receiver import Receiver, Request

SCHEDULE = [10.0, 60.0, 300.0]
HUB = "/psi-api/event/v2/topic"

Deliver = Callable[[], None]


def hub_settings(settings: Settings, receiver: Receiver, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "callback_allowed_hosts": [*settings.callback_allowed_hosts, receiver.host],
            "delivery_retry_schedule": SCHEDULE,
            "delivery_jitter": 0.0,
            "delivery_timeout_seconds": 1.0,
            "delivery_lease_seconds": 30.0,
            **extra,
        }
    )


@pytest.fixture
def deliver(client: TestClient) -> Deliver:
    services = client.app.state.services  # type: ignore[attr-defined]

    def run() -> None:
        worker = build_delivery_worker(services)

        async def drain() -> None:
            try:
                await worker.drain()
            finally:
                await worker.close()

        asyncio.run(drain())

    return run


def subscribe(
    client: TestClient,
    headers: dict[str, str],
    callback: str,
    query: str | None = None,
    topic: str = "order",
) -> dict[str, Any]:
    body = {"callback": callback, **({"query": query} if query else {})}
    response = client.post(f"{HUB}/{topic}/hub", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def expected_signature(secret: str, request: Request) -> str:
    """The Standard Webhooks signature the request should carry (timestamp as sent)."""
    moment = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    return Webhook(secret).sign(request.event_id, moment, request.raw.decode())
