"""A small OpenID Connect issuer for the console's sign-in tests: discovery, an
authorization endpoint that signs in whoever the test names, a token endpoint that
checks the PKCE verifier (S256) and answers with an RS256 ID token, and its JWKS.

It runs as a real HTTP server on 127.0.0.1 (a thread), since the console fetches
discovery, keys and tokens over HTTP like it would from any issuer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.served import free_port

CLIENT_ID = "pss-console"


@dataclass
class Issuer:
    url: str
    user: tuple[str, tuple[str, ...]] = ("nobody", ())
    extra_claims: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    verified: list[str] = field(default_factory=list)  # code challenges checked at /token
    key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
            ]
        )

    async def discovery(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def authorize(self, request: Request) -> Response:
        """Signs in ``self.user`` at once and sends the browser back with a code."""
        params = dict(request.query_params)
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**params, "user": self.user}
        back = {"code": code, "state": params.get("state", "")}
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(back)}", 302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        grant = self.codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if grant is None or challenge != grant["code_challenge"]:
            return JSONResponse({"error": "invalid_grant"}, 400)
        self.verified.append(challenge)
        party, roles = grant["user"]
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": party,
            "aud": grant["client_id"],
            "iat": now,
            "exp": now + 300,
            "nonce": grant.get("nonce"),
            "roles": list(roles),
            **self.extra_claims,
        }
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
        return JSONResponse(
            {
                "access_token": "opaque",
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )

    async def jwks(self, _request: Request) -> Response:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return JSONResponse({"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]})


@contextmanager
def running_issuer() -> Iterator[Issuer]:
    port = free_port()
    issuer = Issuer(f"http://127.0.0.1:{port}")
    server = uvicorn.Server(
        uvicorn.Config(issuer.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    ready = threading.Event()
    while not server.started and thread.is_alive():
        ready.wait(0.01)  # uvicorn gives no event to wait on; bounded by the thread's life
    try:
        yield issuer
    finally:
        server.should_exit = True
        thread.join(10)
