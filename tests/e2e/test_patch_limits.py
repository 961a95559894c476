"""JSON Patch costs no more than its body: a bounded number of operations, and a
document that may not grow (or be copied into) beyond the body limit.

The amplification of issue 9: ``copy /zz -> /zz/-`` seventeen times doubles the
document each time (a kilobyte becomes a hundred megabytes). It is refused with
413 as soon as the budget is passed, before the change rules (which would answer
403 to a provider) ever see the result, and the order is unchanged.
"""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.conftest import Auth
from tests.world import ORDERS, PARTIES, World

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def amplification(copies: int = 17) -> list[dict[str, Any]]:
    seed = {"op": "add", "path": "/zz", "value": ["x" * 20] * 10}
    return [seed] + [{"op": "copy", "from": "/zz", "path": "/zz/-"}] * copies


def test_copy_amplification_is_refused_before_the_change_rules(
    world: World, client: TestClient, auth: Auth
) -> None:
    dave, prov = auth("dave"), auth("prov-a", "provider")
    order = world.create(dave)
    url = f"{ORDERS}/{order['id']}"
    for who in (prov, dave):
        response = client.patch(url, json=amplification(), headers={**who, **JSON_PATCH})
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
        assert "bytes" in response.json()["message"]
    after = client.get(url, headers=dave)
    assert "zz" not in after.json()
    assert after.headers["etag"] == '"1"'


def test_growth_by_adding_is_bounded_too(world: World, client: TestClient, auth: Auth) -> None:
    """Without copies: the same large value added by many operations (the body stays small
    only if the value is small, so the document's growth is what is bounded)."""
    dave = auth("dave")
    order = world.create(dave)
    url = f"{ORDERS}/{order['id']}"
    big = "y" * 700  # 100 adds of 700 bytes: 70 kB, beyond the tests' 64 kB body limit
    ops = [{"op": "add", "path": "/note/-", "value": {"text": big}} for _ in range(100)]
    ops.insert(0, {"op": "add", "path": "/note", "value": []})
    ops.pop()
    response = client.patch(url, json=ops, headers={**dave, **JSON_PATCH})
    assert response.status_code == 413, response.text


def test_operation_count_is_bounded(world: World, client: TestClient, auth: Auth) -> None:
    dave = auth("dave")
    order = world.create(dave)
    url = f"{ORDERS}/{order['id']}"
    check = {"op": "test", "path": "/id", "value": order["id"]}
    too_many = client.patch(url, json=[check] * 101, headers={**dave, **JSON_PATCH})
    assert too_many.status_code == 413
    assert "101 operations; at most 100" in too_many.json()["message"]
    notes = [{"op": "add", "path": "/note/-", "value": {"text": f"n{n}"}} for n in range(98)]
    allowed = [{"op": "add", "path": "/note", "value": []}, *notes, check]
    response = client.patch(url, json=allowed, headers={**dave, **JSON_PATCH})
    assert response.status_code == 200, response.text
    assert len(response.json()["note"]) == 98


def test_an_ordinary_copy_still_works(world: World, client: TestClient, auth: Auth) -> None:
    dave = auth("dave")
    order = world.create(dave)
    url = f"{ORDERS}/{order['id']}"
    ops = [
        {"op": "add", "path": "/note", "value": [{"text": "hello"}]},
        {"op": "copy", "from": "/note/0", "path": "/note/-"},
    ]
    response = client.patch(url, json=ops, headers={**dave, **JSON_PATCH})
    assert response.status_code == 200, response.text
    assert [n["text"] for n in response.json()["note"]] == ["hello", "hello"]


def test_party_patches_are_bounded_alike(world: World, client: TestClient, auth: Auth) -> None:
    response = client.patch(
        f"{PARTIES}/individual/dave",
        json=[
            {"op": "add", "path": "/zz", "value": ["x" * 20] * 10},
            *[{"op": "copy", "from": "/zz", "path": "/zz/-"}] * 17,
        ],
        headers={**auth("dave"), **JSON_PATCH},
    )
    assert response.status_code == 413, response.text
