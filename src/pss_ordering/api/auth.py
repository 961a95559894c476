"""Bearer-token authentication: a verified JWT becomes a :class:`Caller`.

HS256 with a shared secret serves development and tests; RS256/ES256 with a
configured public key or a JWKS URL serve production. ``sub`` is the party,
``roles`` the roles; ``exp`` is required; ``iss``/``aud`` are checked when
configured.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import jwt

from ..domain.errors import Unauthorized
from ..domain.identity import Caller, Role

_ROLES = {role.value: role for role in Role}
_SYMMETRIC = {"HS256", "HS384", "HS512"}


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
    ) -> None:
        self._secret = secret
        self._public_key = public_key
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._algorithms = list(algorithms)
        self._issuer = issuer
        self._audience = audience
        self._cache: dict[str, tuple[float, Caller]] = {}

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
        caller = _caller(claims)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (float(claims["exp"]), caller)
        return caller

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
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None

    def _key(self, algorithm: str, token: str) -> Any:
        if algorithm in _SYMMETRIC:
            if not self._secret:
                raise Unauthorized("symmetric tokens are not accepted by this service")
            return self._secret
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        if self._public_key:
            return self._public_key
        raise Unauthorized(f"no key is configured for '{algorithm}' tokens")


def _caller(claims: dict[str, Any]) -> Caller:
    subject = claims.get("sub")
    raw_roles = claims.get("roles")
    if isinstance(raw_roles, str):
        raw_roles = [raw_roles]
    if not isinstance(subject, str) or not subject or not isinstance(raw_roles, list):
        raise Unauthorized("the token must carry 'sub' and a 'roles' list")
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
