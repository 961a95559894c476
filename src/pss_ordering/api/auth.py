"""Bearer-token authentication: a verified JWT becomes a :class:`Caller`.

HS256 with a shared secret serves development and tests; RS256/ES256 with a
configured public key or a JWKS URL serve production. ``sub`` is the party,
``roles`` the list of its roles; ``exp`` is required and may lie at most
``max_lifetime_seconds`` ahead (so may ``exp - iat``); ``iss``/``aud`` are
checked when configured.

Keys from a JWKS URL are fetched off the event loop (``api/jwks.py``):
:class:`AuthPrefetch` awaits what a request's token needs before the route
authenticates it synchronously from the cache.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import jwt
from starlette.types import ASGIApp, Receive, Scope, Send

from ..domain.errors import Unauthorized
from ..domain.identity import Caller, Role
from .jwks import JwksKeys

_ROLES = {role.value: role for role in Role}
_SYMMETRIC = {"HS256", "HS384", "HS512"}
_LEEWAY = 60  # seconds of clock skew tolerated when judging a token's lifetime


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class AuthPrefetch:
    """ASGI middleware: before the route runs, await the JWKS key its token needs."""

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"authorization":
                    await self.auth.prepare(value.decode("latin-1"))
                    break
        await self.app(scope, receive, send)


class Authenticator:
    def __init__(
        self,
        *,
        secret: str | None,
        public_key: str | None = None,
        jwks_url: str | None = None,
        algorithms: Iterable[str] = ("HS256", "RS256", "ES256"),
        issuer: str | None = None,
        audience: str | None = None,
        max_lifetime_seconds: int = 86_400,
        jwks: JwksKeys | None = None,
        signature_hint: str | None = None,
    ) -> None:
        self._secret = secret
        # Development mode only: what a bad signature most likely means (a token
        # minted with another secret). Never set in production, where a 401 says
        # no more than that the signature is invalid.
        self._signature_hint = signature_hint
        self._public_key = public_key
        self._jwks = jwks or (JwksKeys(jwks_url) if jwks_url else None)
        self._max_lifetime = max_lifetime_seconds
        self._algorithms = list(algorithms)
        self._issuer = issuer
        self._audience = audience
        self._cache: dict[str, tuple[float, Caller]] = {}

    @property
    def uses_jwks(self) -> bool:
        return self._jwks is not None

    def authenticate(self, authorization: str | None) -> Caller:
        if not authorization:
            raise Unauthorized("missing Authorization header (expected 'Bearer <JWT>')")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <JWT>'")
        token = token.strip()
        cached = self._cache.get(token)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        claims = self._decode(token)
        self._check_lifetime(claims)
        caller = _caller(claims)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (float(claims["exp"]), caller)
        return caller

    async def prepare(self, authorization: str | None) -> None:
        """Fetch (off the loop) the JWKS key the token names, if it is not yet known, so
        that :meth:`authenticate` never waits. Anything wrong is left to it to report."""
        if self._jwks is None or not authorization:
            return
        token = authorization.partition(" ")[2].strip()
        if not token or token in self._cache:
            return
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return
        kid, algorithm = header.get("kid"), header.get("alg")
        if isinstance(kid, str) and algorithm in self._algorithms and algorithm not in _SYMMETRIC:
            await self._jwks.ensure(kid)

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """``exp`` at most the maximum lifetime ahead, and as far from ``iat`` if given."""
        exp, iat = float(claims["exp"]), claims.get("iat")
        lifetime = exp - time.time()
        if isinstance(iat, int | float):
            lifetime = max(lifetime, exp - iat)
        if lifetime > self._max_lifetime + _LEEWAY:
            raise Unauthorized(
                f"the token's lifetime exceeds the accepted maximum of {self._max_lifetime} s"
            )

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if algorithm not in self._algorithms:
                raise Unauthorized(f"token algorithm '{algorithm}' is not accepted")
            key: Any = self._key(algorithm, token)
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self._issuer,
                audience=self._audience,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self._audience is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.InvalidSignatureError as exc:
            hint = f" ({self._signature_hint})" if self._signature_hint else ""
            raise Unauthorized(f"invalid token: {exc}{hint}") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        except (TypeError, ValueError) as exc:  # a key that does not fit the algorithm
            raise Unauthorized(f"invalid token: {exc}") from None

    def _key(self, algorithm: str, token: str) -> Any:
        if algorithm in _SYMMETRIC:
            if not self._secret:
                raise Unauthorized("symmetric tokens are not accepted by this service")
            return self._secret
        if self._jwks is not None:
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(kid, str):
                raise Unauthorized("the token names no signing key ('kid')")
            return self._jwks.key(kid, algorithm, wait=not _on_event_loop())
        if self._public_key:
            return self._public_key
        raise Unauthorized(f"no key is configured for '{algorithm}' tokens")


def _caller(claims: dict[str, Any]) -> Caller:
    subject = claims.get("sub")
    raw_roles = claims.get("roles")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("the token must carry 'sub'")
    if not isinstance(raw_roles, list):
        raise Unauthorized("the token's 'roles' must be a list of role names")
    roles = frozenset(_ROLES[r] for r in raw_roles if isinstance(r, str) and r in _ROLES)
    if not roles:
        raise Unauthorized(
            "the token carries none of the roles customer, provider, pss, governance"
        )
    return Caller(subject, roles)


def mint_token(
    secret: str,
    party_id: str,
    roles: Iterable[str],
    *,
    lifetime_seconds: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """A development HS256 token (the ``pss-ordering token`` command)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": party_id,
        "roles": list(roles),
        "iat": now,
        "exp": now + lifetime_seconds,
    }
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    """The caller a set of verified claims names (``sub``, ``roles``): the console's
    OpenID Connect sign-in maps an ID token exactly as the API maps a bearer token."""
    return _caller(claims)
