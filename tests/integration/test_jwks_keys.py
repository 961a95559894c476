"""JWKS keys are fetched off the event loop, with a short timeout, cached, and not
fetched again for unknown ``kid``s (api/jwks.py); a key of the wrong type is a 401.

A local JWKS endpoint on 127.0.0.1 counts its fetches and can be made slow or
failing. Time is the keys' injected clock wherever a period matters.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import Engine
from starlette.testclient import TestClient

from pss_ordering.api.auth import Authenticator
from pss_ordering.api.jwks import JwksKeys
from pss_ordering.bootstrap import build_app
from pss_ordering.clock import ManualClock
from pss_ordering.config import Settings
from pss_ordering.domain.errors import ServiceUnavailable, Unauthorized


class Endpoint:
    """A JWKS endpoint: ``delay`` seconds before answering, ``status`` to answer."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.delay = 0.0
        self.status = 200
        self.fetches = 0
        self._lock = threading.Lock()
        self.release = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with endpoint._lock:
                    endpoint.fetches += 1
                if endpoint.delay:
                    endpoint.release.wait(endpoint.delay)
                body = json.dumps({"keys": endpoint.keys}).encode()
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def endpoint(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Iterator[Endpoint]:
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk = json.loads(ECAlgorithm.to_jwk(ec_key.public_key()))
    served = Endpoint([{**rsa_jwk, "kid": "rsa-1"}, {**ec_jwk, "kid": "ec-1"}])
    thread = threading.Thread(target=served.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.release.set()
        served.server.shutdown()
        served.server.server_close()


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token(key: Any, algorithm: str, kid: str, **claims: Any) -> str:
    body = {"sub": "acme", "roles": ["provider"], "exp": int(time.time()) + 600, **claims}
    return "Bearer " + jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})


def keys(endpoint: Endpoint, **options: Any) -> tuple[JwksKeys, Ticks]:
    ticks = Ticks()
    return JwksKeys(endpoint.url, clock=ticks, **{"timeout": 2.0, **options}), ticks


def test_rsa_and_ec_keys_verify_their_tokens(
    endpoint: Endpoint, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    auth = Authenticator(secret=None, jwks=keys(endpoint)[0])
    assert auth.authenticate(token(rsa_key, "RS256", "rsa-1")).party_id == "acme"
    assert auth.authenticate(token(ec_key, "ES256", "ec-1", sub="other")).party_id == "other"
    assert endpoint.fetches == 1


def test_es256_token_naming_an_rsa_key_is_401(
    endpoint: Endpoint, ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    auth = Authenticator(secret=None, jwks=keys(endpoint)[0])
    with pytest.raises(Unauthorized, match="not a key for ES256"):
        auth.authenticate(token(ec_key, "ES256", "rsa-1"))
    with pytest.raises(Unauthorized, match="not a key for RS256"):
        auth.authenticate(token(rsa_key, "RS256", "ec-1"))


def test_es256_token_naming_an_rsa_key_over_http(
    endpoint: Endpoint,
    engine: Engine,
    settings: Settings,
    clock: ManualClock,
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    jwks_settings = settings.model_copy(update={"jwt_secret": None, "jwt_jwks_url": endpoint.url})
    with TestClient(build_app(jwks_settings, engine, clock)) as client:
        response = client.get(
            "/psi-api/productOrdering/v2/productOrder",
            headers={"Authorization": token(ec_key, "ES256", "rsa-1")},
        )
    assert response.status_code == 401, response.text
    assert "not a key for ES256" in response.json()["message"]


def test_an_unknown_kid_is_fetched_for_once(endpoint: Endpoint, rsa_key: rsa.RSAPrivateKey) -> None:
    jwks, ticks = keys(endpoint, min_refresh_seconds=0, unknown_kid_seconds=60)
    auth = Authenticator(secret=None, jwks=jwks)
    for _ in range(20):
        with pytest.raises(Unauthorized, match="'nope' is not known"):
            auth.authenticate(token(rsa_key, "RS256", "nope"))
    assert endpoint.fetches == 1
    ticks.now += 61  # the negative entry expires: one more look
    with pytest.raises(Unauthorized):
        auth.authenticate(token(rsa_key, "RS256", "nope"))
    assert endpoint.fetches == 2


def test_random_kids_cannot_cause_a_fetch_each(
    endpoint: Endpoint, rsa_key: rsa.RSAPrivateKey
) -> None:
    jwks, ticks = keys(endpoint, min_refresh_seconds=10)
    auth = Authenticator(secret=None, jwks=jwks)
    for n in range(50):
        with pytest.raises(Unauthorized):
            auth.authenticate(token(rsa_key, "RS256", f"random-{n}"))
    assert endpoint.fetches == 1
    ticks.now += 11
    with pytest.raises(Unauthorized):
        auth.authenticate(token(rsa_key, "RS256", "random-again"))
    assert endpoint.fetches == 2


def test_keys_are_cached_then_refreshed_in_the_background(
    endpoint: Endpoint, rsa_key: rsa.RSAPrivateKey
) -> None:
    jwks, ticks = keys(endpoint, cache_seconds=300)
    auth = Authenticator(secret=None, jwks=jwks)
    for n in range(5):
        auth.authenticate(token(rsa_key, "RS256", "rsa-1", sub=f"p{n}"))
    assert endpoint.fetches == 1
    ticks.now += 301
    endpoint.delay = 30  # the refresh hangs; the known key keeps serving meanwhile
    assert auth.authenticate(token(rsa_key, "RS256", "rsa-1", sub="later")).party_id == "later"
    endpoint.release.set()
    deadline = time.monotonic() + 10
    while jwks.fetches < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert endpoint.fetches == 2


def test_a_failing_endpoint_is_503_for_new_kids_and_known_keys_keep_working(
    endpoint: Endpoint, rsa_key: rsa.RSAPrivateKey
) -> None:
    jwks, ticks = keys(endpoint, cache_seconds=300, min_refresh_seconds=10)
    auth = Authenticator(secret=None, jwks=jwks)
    auth.authenticate(token(rsa_key, "RS256", "rsa-1"))
    endpoint.status = 500
    ticks.now += 301
    with pytest.raises(ServiceUnavailable):
        auth.authenticate(token(rsa_key, "RS256", "rotated-in"))
    assert auth.authenticate(token(rsa_key, "RS256", "rsa-1", sub="still")).party_id == "still"


def test_a_slow_endpoint_never_blocks_the_event_loop(
    endpoint: Endpoint, rsa_key: rsa.RSAPrivateKey
) -> None:
    """While a request waits for a hanging fetch (bounded by the timeout), the loop runs
    other work; the request is then told 503 without anyone having blocked."""
    endpoint.delay = 30
    jwks, _ = keys(endpoint, timeout=0.5)
    auth = Authenticator(secret=None, jwks=jwks)
    header = token(rsa_key, "RS256", "rsa-1")

    async def scenario() -> int:
        ticks = 0
        waiting = asyncio.create_task(auth.prepare(header))
        while not waiting.done():
            await asyncio.sleep(0.01)
            ticks += 1
        await waiting
        with pytest.raises(ServiceUnavailable):
            auth.authenticate(header)  # on the loop: decides from the cache, never waits
        return ticks

    assert asyncio.run(scenario()) >= 5
    assert endpoint.fetches == 1
