"""Production token verification through a JWKS URL, and the console commands."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import Engine

from pss_ordering.api.auth import Authenticator
from pss_ordering.bootstrap import build_services
from pss_ordering.cli.main import cli
from pss_ordering.cli.seed import DEMO_SEED, load_seed
from pss_ordering.config import Settings
from pss_ordering.domain.errors import Unauthorized
from pss_ordering.domain.identity import Caller, Role
from pss_ordering.signing_secret import development_secret


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def _rs256(key: rsa.RSAPrivateKey, kid: str = "k1") -> str:
    claims = {"sub": "acme", "roles": ["provider"], "exp": int(time.time()) + 60}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_rs256_token_verified_through_jwks(rsa_key: rsa.RSAPrivateKey, jwks_url: str) -> None:
    auth = Authenticator(secret=None, jwks_url=jwks_url)
    caller = auth.authenticate("Bearer " + _rs256(rsa_key))
    assert caller == Caller("acme", frozenset({Role.PROVIDER}))


def test_jwks_rejects_unknown_key(jwks_url: str) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth = Authenticator(secret=None, jwks_url=jwks_url)
    with pytest.raises(Unauthorized):
        auth.authenticate("Bearer " + _rs256(other, kid="k2"))
    with pytest.raises(Unauthorized):
        auth.authenticate("Bearer " + _rs256(other, kid="k1"))


def test_token_command_mints_a_verifiable_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSS_JWT_SECRET", "cli-secret-long-enough-for-hs256-tokens")
    result = CliRunner().invoke(
        cli, ["token", "--party", "alice", "--role", "customer", "--role", "pss"]
    )
    assert result.exit_code == 0, result.output
    auth = Authenticator(secret="cli-secret-long-enough-for-hs256-tokens")
    caller = auth.authenticate("Bearer " + result.stdout.strip())
    assert caller == Caller("alice", frozenset({Role.CUSTOMER, Role.PSS}))
    assert "signed with PSS_JWT_SECRET" in result.stderr


def test_token_command_refuses_a_lifetime_the_service_would_refuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PSS_JWT_SECRET", "cli-secret-long-enough-for-hs256-tokens")
    args = ["token", "--party", "alice", "--role", "customer", "--ttl", "90000"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code != 0
    assert "PSS_JWT_MAX_LIFETIME_SECONDS" in refused.output
    monkeypatch.setenv("PSS_JWT_MAX_LIFETIME_SECONDS", "100000")
    allowed = CliRunner().invoke(cli, args)
    assert allowed.exit_code == 0, allowed.output
    caller = Authenticator(
        secret="cli-secret-long-enough-for-hs256-tokens", max_lifetime_seconds=100_000
    ).authenticate("Bearer " + allowed.stdout.strip())
    assert caller.party_id == "alice"


def test_token_command_uses_the_secret_serve_generated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With nothing configured, serve and token share a generated 0600 secret file; only
    serve creates it, so token run elsewhere refuses instead of minting with a new one."""
    monkeypatch.delenv("PSS_JWT_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    refused = CliRunner().invoke(cli, ["token", "--party", "a", "--role", "customer"])
    assert refused.exit_code == 1
    secret_file = tmp_path / ".pss-ordering.secret"
    assert not secret_file.exists()
    assert str(secret_file) in refused.stderr and "PSS_JWT_SECRET" in refused.stderr
    development_secret(Settings(), create=True)  # what serve does first
    first = CliRunner().invoke(cli, ["token", "--party", "a", "--role", "customer"])
    assert first.exit_code == 0, first.output
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert str(secret_file) in first.stderr
    Authenticator(secret=secret_file.read_text().strip()).authenticate(
        "Bearer " + first.stdout.strip()
    )


def test_migrate_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PSS_DATABASE_URL", f"sqlite:///{tmp_path / 'm.db'}")
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_demo_seed_loads_once(engine: Engine, settings: Settings) -> None:
    services = build_services(settings, engine)
    first = load_seed(services, DEMO_SEED)
    assert first.created == {"organization": 3, "individual": 1, "productOffering": 2}
    assert str(first) == "created 3 organization, 1 individual, 2 productOffering"
    again = load_seed(services, DEMO_SEED)
    assert again.created == {"organization": 0, "individual": 0, "productOffering": 0}
    assert str(again) == "nothing new (6 entries already present)"
