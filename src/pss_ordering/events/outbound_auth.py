"""How the PSS authenticates to each callback host (PSI-01-02-03-09, ADR035).

Configured per ``host:port`` by the operator, not by the registering party
(ADR035: "configuration as part of the implementation"). OAuth 2.0 client
credentials tokens are cached and fetched again shortly before they expire,
or at once after the receiver answered 401.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from ..config import CallbackAuth

#: Refresh a token this long before it expires (or at 90% of a short lifetime).
REFRESH_MARGIN_SECONDS = 60.0


class AuthUnavailable(Exception):
    """The credentials for a host could not be obtained (the token endpoint failed)."""


@dataclass(slots=True)
class _Token:
    value: str
    refresh_at: float


class OutboundAuth:
    def __init__(
        self,
        per_host: Mapping[str, CallbackAuth],
        *,
        timeout: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_host = {host.lower(): auth for host, auth in per_host.items()}
        self._timeout = timeout
        self._monotonic = monotonic
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._session: aiohttp.ClientSession | None = None

    async def headers(self, host_port: str) -> dict[str, str]:
        """The authentication headers for a callback at ``host:port`` (none if unconfigured)."""
        auth = self._per_host.get(host_port.lower())
        if auth is None:
            return {}
        if auth.type == "bearer":
            return {"Authorization": f"Bearer {auth.token}"}
        if auth.type == "basic":
            pair = f"{auth.username}:{auth.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if auth.type == "api_key":
            return {auth.header: str(auth.value)}
        return {"Authorization": f"Bearer {await self._oauth_token(host_port.lower(), auth)}"}

    def rejected(self, host_port: str) -> None:
        """The receiver answered 401: fetch a new token before the next attempt."""
        self._tokens.pop(host_port.lower(), None)

    async def _oauth_token(self, host: str, auth: CallbackAuth) -> str:
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            token = self._tokens.get(host)
            if token is None or self._monotonic() >= token.refresh_at:
                token = await self._fetch(auth)
                self._tokens[host] = token
            return token.value

    async def _fetch(self, auth: CallbackAuth) -> _Token:
        form: dict[str, Any] = {"grant_type": "client_credentials"}
        for name in ("scope", "audience"):
            if getattr(auth, name):
                form[name] = getattr(auth, name)
        headers: dict[str, str] = {}
        if auth.client_auth == "basic":
            # RFC 6749 2.3.1: id and secret form-encoded, then HTTP Basic (built by hand:
            # aiohttp.BasicAuth is deprecated in aiohttp 3.14).
            pair = quote(str(auth.client_id), safe="") + ":"
            pair += quote(str(auth.client_secret), safe="")
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form.update(client_id=auth.client_id, client_secret=auth.client_secret)
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        try:
            async with self._session.post(
                str(auth.token_url), data=form, headers=headers, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise AuthUnavailable(
                        f"token endpoint {auth.token_url} answered HTTP {response.status}"
                    )
                payload = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise AuthUnavailable(f"token endpoint {auth.token_url}: {exc!r}") from None
        value = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(value, str):
            raise AuthUnavailable(f"token endpoint {auth.token_url} returned no access_token")
        lifetime = payload.get("expires_in")
        lifetime = float(lifetime) if isinstance(lifetime, (int, float)) else 3600.0
        margin = min(REFRESH_MARGIN_SECONDS, lifetime * 0.1)
        return _Token(value, self._monotonic() + lifetime - margin)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
