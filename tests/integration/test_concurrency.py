"""Concurrent PATCHes by a customer and a provider never lose each other's change.

Both append notes with JSON Patch (``add /note/-``) and no ``If-Match``; every
append must survive and the version must count every write. On PostgreSQL the
two writers really interleave (row versions are compare-and-set); on SQLite
writes queue on the database lock.
"""

from __future__ import annotations

import threading

from starlette.testclient import TestClient

from tests.conftest import Auth
from tests.world import ORDERS, World, order_body

ROUNDS = 15
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def test_racing_appends_all_land(world: World, client: TestClient, auth: Auth) -> None:
    order = world.create(auth("dave"), order_body("off-a", "off-b", note=[{"text": "start"}]))
    url = f"{ORDERS}/{order['id']}"
    writers = {"dave": auth("dave"), "prov-a": auth("prov-a", "provider")}
    failures: list[str] = []
    barrier = threading.Barrier(len(writers))

    def append_notes(name: str) -> None:
        barrier.wait()
        for n in range(ROUNDS):
            op = [{"op": "add", "path": "/note/-", "value": {"text": f"{name}-{n}"}}]
            response = client.patch(url, json=op, headers={**writers[name], **JSON_PATCH})
            if response.status_code != 200:
                failures.append(f"{name}-{n}: {response.status_code} {response.text}")

    threads = [threading.Thread(target=append_notes, args=(name,)) for name in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    final = client.get(url, headers=auth("dave"))
    texts = [note["text"] for note in final.json()["note"]]
    assert texts[0] == "start"
    assert sorted(texts[1:]) == sorted(f"{w}-{n}" for w in writers for n in range(ROUNDS))
    for name in writers:
        mine = [t for t in texts if t.startswith(name)]
        assert mine == [f"{name}-{n}" for n in range(ROUNDS)]
    assert final.headers["etag"] == f'"{1 + 2 * ROUNDS}"'


def test_if_match_loser_gets_412(world: World, client: TestClient, auth: Auth) -> None:
    """With If-Match, the second writer on the same version is told, not silently merged."""
    order = world.create(auth("dave"))
    url = f"{ORDERS}/{order['id']}"
    first = client.patch(
        url, json={"description": "a"}, headers={**auth("dave"), "If-Match": '"1"'}
    )
    second = client.patch(
        url, json={"description": "b"}, headers={**auth("dave"), "If-Match": '"1"'}
    )
    assert (first.status_code, second.status_code) == (200, 412)
    assert client.get(url, headers=auth("dave")).json()["description"] == "a"
