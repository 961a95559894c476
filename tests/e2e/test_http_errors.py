"""Bad requests get a TMF Error with the right status and change nothing; never a 500."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
from starlette.testclient import TestClient

from tests.conftest import SECRET, Auth
from tests.world import ORDERS, World, order_body


def _assert_error(response: object, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body: dict[str, str] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == str(status)
    assert body["code"] and body["reason"] and body["message"]
    return body


def _token(**claims: object) -> dict[str, str]:
    base = {"sub": "dave", "roles": ["customer"], "exp": int(time.time()) + 60}
    base.update(claims)
    payload = {k: v for k, v in base.items() if v is not None}
    return {"Authorization": "Bearer " + jwt.encode(payload, SECRET, algorithm="HS256")}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic ZGF2ZTpwdw=="},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-jwt"},
        _token(exp=int(time.time()) - 10),
        _token(exp=None),
        _token(sub=None),
        _token(roles=None),
        _token(roles=["emperor"]),
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": "dave", "roles": ["customer"], "exp": int(time.time()) + 60},
                "another-secret-that-is-also-long-enough",
                algorithm="HS256",
            )
        },
    ],
    ids=[
        "none",
        "basic",
        "empty",
        "garbage",
        "expired",
        "no-exp",
        "no-sub",
        "no-roles",
        "unknown-role",
        "wrong-key",
    ],
)
def test_401_for_every_bad_token(world: World, client: TestClient, headers: dict[str, str]) -> None:
    for response in (
        client.get(ORDERS, headers=headers),
        client.post(ORDERS, json=order_body(), headers=headers),
        client.get(f"{ORDERS}/x", headers=headers),
    ):
        _assert_error(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get(ORDERS, headers=world.gov).headers["x-total-count"] == "0"


def test_400_malformed_json(world: World, client: TestClient, auth: Auth) -> None:
    response = client.post(
        ORDERS,
        content=b'{"productOrderItem": [',
        headers={**auth("dave"), "Content-Type": "application/json"},
    )
    _assert_error(response, 400)


def test_415_unsupported_media_type(world: World, client: TestClient, auth: Auth) -> None:
    response = client.post(
        ORDERS, content=b"<order/>", headers={**auth("dave"), "Content-Type": "application/xml"}
    )
    _assert_error(response, 415)
    no_type = client.post(ORDERS, content=b"{}", headers=auth("dave"))
    _assert_error(no_type, 415)


def test_413_body_over_limit(world: World, client: TestClient, auth: Auth) -> None:
    big = order_body(description="x" * 70_000)
    _assert_error(client.post(ORDERS, json=big, headers=auth("dave")), 413)

    def chunks() -> Iterator[bytes]:
        for _ in range(80):
            yield b" " * 1000

    streamed = client.post(
        ORDERS, content=chunks(), headers={**auth("dave"), "Content-Type": "application/json"}
    )
    _assert_error(streamed, 413)
    assert client.get(ORDERS, headers=auth("dave")).headers["x-total-count"] == "0"


def test_404_and_405(world: World, client: TestClient, auth: Auth) -> None:
    _assert_error(client.get(f"{ORDERS}/does-not-exist", headers=auth("dave")), 404)
    _assert_error(client.get("/psi-api/nothing", headers=auth("dave")), 404)
    _assert_error(client.put(f"{ORDERS}/x", json={}, headers=auth("dave")), 405)


def test_412_bad_if_match(world: World, client: TestClient, auth: Auth) -> None:
    order = world.create(auth("dave"))
    response = client.patch(
        f"{ORDERS}/{order['id']}",
        json={"description": "x"},
        headers={**auth("dave"), "If-Match": "garbage"},
    )
    _assert_error(response, 400)


def test_errors_do_not_leak_existence(world: World, client: TestClient, auth: Auth) -> None:
    """A foreign order and a missing order answer with the same words."""
    order = world.create(auth("dave"))
    foreign = _assert_error(client.get(f"{ORDERS}/{order['id']}", headers=auth("erin")), 404)
    missing = _assert_error(client.get(f"{ORDERS}/nope", headers=auth("erin")), 404)
    assert foreign["message"].replace(order["id"], "ID") == missing["message"].replace("nope", "ID")


def test_integers_beyond_64_bits_are_refused(client: TestClient, auth: Auth) -> None:
    """orjson would read them as floats and the answer would differ from the request."""
    body = (
        b'{"name": "o", "lifecycleStatus": "active", "bundledGroupProductOffering": '
        b'[{"bundledGroupProductOfferingOption": {"numberRelOfferUpperLimit": '
        b"1894863826513328865280}}]}"
    )
    response = client.post(
        "/psi-api/productCatalogManagement/v2/productOffering",
        content=body,
        headers={**auth("prov-x", "provider"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "64 bits" in response.json()["message"]
    fine = client.post(
        "/psi-api/productCatalogManagement/v2/productOffering",
        content=body.replace(b"1894863826513328865280", b"18446744073709551615"),
        headers={**auth("prov-x", "provider"), "Content-Type": "application/json"},
    )
    assert fine.status_code == 201, fine.text
    note = (
        b'{"name": "o", "lifecycleStatus": "active", "description": "ref: 12345678901234567890123"}'
    )
    text = client.post(
        "/psi-api/productCatalogManagement/v2/productOffering",
        content=note,
        headers={**auth("prov-x", "provider"), "Content-Type": "application/json"},
    )
    assert text.status_code == 201, "long digit runs inside strings are text"
