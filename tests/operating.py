"""Helpers for the operating tests (backup, soak): a small market on a served process
and a thread that keeps orders flowing through its HTTP API until stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from tests.served import Served
from tests.world import OFFERINGS, ORDERS, PARTIES, order_body, provider_ref


def ok(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def prune_report(output: str) -> dict[str, list[str]]:
    """``pss-ordering prune``'s table: the cells of each row, by its first cell."""
    return {line.split()[0]: line.split()[1:] for line in output.splitlines() if line.strip()}


def headers(served: Served, party: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {served.token(party, *roles)}"}


def open_market(served: Served) -> None:
    """Provider prov-a (registered by governance) with its offering off-a."""
    with httpx.Client(base_url=served.url(""), timeout=10) as client:
        body = {"id": "prov-a", "name": "A"}
        ok(
            client.post(
                f"{PARTIES}/organization", json=body, headers=headers(served, "gov", "governance")
            ),
            201,
        )
        offering = {
            "id": "off-a",
            "name": "off-a",
            "lifecycleStatus": "active",
            "relatedParty": [provider_ref("prov-a")],
        }
        ok(
            client.post(OFFERINGS, json=offering, headers=headers(served, "prov-a", "provider")),
            201,
        )


class OrderFlow:
    """Creates orders as ``dave`` until stopped; ``then`` does more with each new order."""

    def __init__(
        self, served: Served, then: Callable[[httpx.Client, str], None] | None = None
    ) -> None:
        self.created: list[str] = []
        self._served = served
        self._then = then
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="order-flow", daemon=True)

    def __enter__(self) -> OrderFlow:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._errors:
            raise self._errors[0]

    def wait_for(self, count: int, timeout: float = 60.0) -> list[str]:
        """Until at least ``count`` orders were created (or the flow failed): their ids."""
        with self._progress:
            reached = self._progress.wait_for(
                lambda: len(self.created) >= count or bool(self._errors), timeout
            )
        assert reached and not self._errors, self._errors or f"fewer than {count} orders"
        return list(self.created)

    def run_for(self, seconds: float) -> None:
        """Let the flow run this long (a soak's length), failing at once if it fails."""
        with self._progress:
            self._progress.wait_for(lambda: bool(self._errors), seconds)
        assert not self._errors, self._errors

    def _run(self) -> None:
        customer = headers(self._served, "dave")
        try:
            with httpx.Client(base_url=self._served.url(""), timeout=30) as client:
                while not self._stop.is_set():
                    order = ok(client.post(ORDERS, json=order_body("off-a"), headers=customer), 201)
                    with self._progress:
                        self.created.append(order["id"])
                        self._progress.notify_all()
                    if self._then is not None:
                        self._then(client, order["id"])
        except BaseException as error:
            with self._progress:
                self._errors.append(error)
                self._progress.notify_all()
