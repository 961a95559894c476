"""The same thing created many times at once answers as when created one after another.

On PostgreSQL concurrent inserts of one key really race: before, the losers hit
the unique constraint and answered 500. Now exactly one creates (201) and every
other answers like a sequential duplicate: the existing registration (200) for
a callback, 409 for a party or an offering. On SQLite writes queue, so the
same test checks that the answers are the same there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
from starlette.testclient import TestClient

from tests.conftest import Auth
from tests.delivery import HUB
from tests.world import OFFERINGS, PARTIES, World, provider_ref


def at_once(times: int, call: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """``call`` from ``times`` threads released together."""
    barrier = threading.Barrier(times)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        response = call()
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == times
    return answers


def statuses(answers: list[httpx.Response]) -> list[int]:
    return sorted(a.status_code for a in answers)


def test_the_same_callback_registered_20_times_at_once(client: TestClient, auth: Auth) -> None:
    """Three rounds (three callbacks), as the window of the race is narrow."""
    dave = auth("dave")
    for round_ in range(3):
        body: dict[str, Any] = {
            "callback": f"https://receiver.test/hook-{round_}",
            "query": "state=completed",
        }

        def subscribe(body: dict[str, Any] = body) -> httpx.Response:
            response: httpx.Response = client.post(f"{HUB}/order/hub", json=body, headers=dave)
            return response

        answers = at_once(20, subscribe)
        assert statuses(answers) == [200] * 19 + [201], [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        assert sum("secret" in a.json() for a in answers) == 1
    listed = client.get(f"{HUB}/order/hub", headers=dave).json()
    assert len(listed) == 3


def test_the_same_party_registered_10_times_at_once(client: TestClient, auth: Auth) -> None:
    gov = auth("gov", "governance")
    body = {"id": "twin", "name": "Twin Org"}
    answers = at_once(10, lambda: client.post(f"{PARTIES}/organization", json=body, headers=gov))
    assert statuses(answers) == [201] + [409] * 9, [a.text for a in answers]
    assert all(a.json()["code"] == "CONFLICT" for a in answers if a.status_code == 409)
    again = client.post(f"{PARTIES}/organization", json=body, headers=gov)
    assert again.status_code == 409


def test_the_same_offering_published_10_times_at_once(
    world: World, client: TestClient, auth: Auth
) -> None:
    prov = auth("prov-a", "provider")
    body = {
        "id": "off-twin",
        "name": "twin",
        "lifecycleStatus": "active",
        "relatedParty": [provider_ref("prov-a")],
    }
    answers = at_once(10, lambda: client.post(OFFERINGS, json=body, headers=prov))
    assert statuses(answers) == [201] + [409] * 9, [a.text for a in answers]
    assert client.post(OFFERINGS, json=body, headers=prov).status_code == 409
