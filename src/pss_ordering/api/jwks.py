"""Signing keys from a JWKS URL: fetched off the event loop, cached, rate-limited.

A request never fetches on the event loop. Before a route authenticates, the
application awaits :meth:`JwksKeys.ensure` for the token's ``kid`` (see
``auth.AuthPrefetch``); a fetch runs on its own thread, at most one at a time,
bounded by ``timeout`` in total, and every request that needs it waits on the
same one without blocking anything else. Then:

* keys are reused for ``cache_seconds``; past that, a known ``kid`` keeps being
  served from the stale set while a refresh runs in the background;
* a ``kid`` the endpoint did not list is remembered as unknown for
  ``unknown_kid_seconds`` (a negative cache), and fetches start at most once per
  ``min_refresh_seconds`` whatever the ``kid``: random ``kid``s cannot turn into
  a fetch per request;
* when the endpoint fails, the keys already known stay in use and a ``kid`` that
  needs the endpoint is answered 503 until a later attempt succeeds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt

from ..domain.errors import ServiceUnavailable, Unauthorized

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 1_000_000
_MAX_UNKNOWN = 10_000
# Which key type (and EC curve) each asymmetric algorithm needs.
_KEY_TYPES = {
    **{f"{p}{n}": ("RSA", None) for p in ("RS", "PS") for n in ("256", "384", "512")},
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class JwksKeys:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 3.0,
        cache_seconds: float = 300.0,
        unknown_kid_seconds: float = 60.0,
        min_refresh_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._unknown_seconds = unknown_kid_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, dict[str, Any]] = {}
        self._prepared: dict[tuple[str, str], jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._failed = False
        self._unknown: dict[str, float] = {}
        self._inflight: concurrent.futures.Future[bool] | None = None
        self.fetches = 0

    # -- the request path ------------------------------------------------------------

    async def ensure(self, kid: str) -> None:
        """Wait (off the loop, at most ``timeout``) for a fetch if ``kid`` needs one."""
        pending = self._needs_fetch(kid)
        if pending is None:
            return
        await asyncio.wait([asyncio.wrap_future(pending)], timeout=self._timeout)
        self._remember_if_unknown(kid, pending)

    def key(self, kid: str, algorithm: str, *, wait: bool) -> jwt.PyJWK:
        """The key ``kid`` as a key for ``algorithm``: 401 if the endpoint does not list
        it, 503 if the endpoint could not be asked (yet). ``wait``: wait here for a fetch
        that is needed (never on the event loop; there, :meth:`ensure` has waited)."""
        pending = self._needs_fetch(kid)
        if pending is not None:
            if wait:
                concurrent.futures.wait([pending], self._timeout)
            self._remember_if_unknown(kid, pending)
        with self._lock:
            jwk = self._keys.get(kid)
            failed = self._failed
        if jwk is None:
            if (pending is not None and not pending.done()) or failed:
                raise ServiceUnavailable("the token's signing keys could not be fetched; retry")
            raise Unauthorized(f"the token's signing key '{kid}' is not known")
        return self._as_key_for(kid, jwk, algorithm)

    # -- cache state -----------------------------------------------------------------

    def _needs_fetch(self, kid: str) -> concurrent.futures.Future[bool] | None:
        """The fetch to wait for before ``kid`` can be decided, if any (None when it is
        known, known to be unknown, or fetching is rate-limited). Keys past their
        freshness are refreshed in the background; meanwhile the known ones serve."""
        now = self._clock()
        with self._lock:
            known = kid in self._keys
            if known and self._fetched_at is not None:
                if now - self._fetched_at < self._cache_seconds:
                    return None
            elif self._unknown.get(kid, now) > now:
                return None
            pending = self._start_fetch(now)
            return None if known else pending

    def _start_fetch(self, now: float) -> concurrent.futures.Future[bool] | None:
        """The fetch in flight, a new one if allowed, or None (rate-limited). Locked."""
        if self._inflight is not None and not self._inflight.done():
            return self._inflight
        if self._attempted_at is not None and now - self._attempted_at < self._min_refresh:
            return None
        self._attempted_at = now
        future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        self._inflight = future
        threading.Thread(target=self._fetch, args=(future,), name="jwks", daemon=True).start()
        return future

    def _remember_if_unknown(self, kid: str, fetch: concurrent.futures.Future[bool]) -> None:
        """After a successful fetch that did not list ``kid``: unknown for a while."""
        if not fetch.done() or not fetch.result():
            return
        with self._lock:
            if kid in self._keys:
                return
            if len(self._unknown) >= _MAX_UNKNOWN:
                self._unknown.clear()
            self._unknown[kid] = self._clock() + self._unknown_seconds

    def _fetch(self, future: concurrent.futures.Future[bool]) -> None:
        try:
            keys = self._download()
        except Exception as exc:  # the endpoint's failure is reported, never raised
            log.warning("JWKS fetch from %s failed: %s", self._url, exc)
            with self._lock:
                self._failed = True
            future.set_result(False)
            return
        with self._lock:
            self.fetches += 1
            self._keys = keys
            self._prepared = {}
            self._fetched_at = self._clock()
            self._failed = False
        future.set_result(True)

    def _download(self) -> dict[str, dict[str, Any]]:
        """GET the key set; ``timeout`` bounds the whole exchange, not each read."""
        deadline = time.monotonic() + self._timeout
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})
        opener = urllib.request.build_opener(_NoRedirect)
        chunks: list[bytes] = []
        size = 0
        with opener.open(request, timeout=self._timeout) as response:
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no complete answer within {self._timeout} s")
                chunk = response.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_JWKS_BYTES:
                    raise ValueError(f"the key set is larger than {MAX_JWKS_BYTES} bytes")
                chunks.append(chunk)
        document = json.loads(b"".join(chunks))
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("the answer is not a JWK Set")
        return {
            key["kid"]: key
            for key in document["keys"]
            if isinstance(key, dict)
            and isinstance(key.get("kid"), str)
            and key.get("use", "sig") == "sig"
        }

    def _as_key_for(self, kid: str, jwk: dict[str, Any], algorithm: str) -> jwt.PyJWK:
        """``jwk`` as a verification key for ``algorithm``: the key type (and curve) must
        be the algorithm's, and a key that names its algorithm is for that one only."""
        wanted = _KEY_TYPES.get(algorithm)
        if (
            wanted is None
            or jwk.get("kty") != wanted[0]
            or (wanted[1] is not None and jwk.get("crv") != wanted[1])
            or jwk.get("alg", algorithm) != algorithm
        ):
            raise Unauthorized(f"the signing key '{kid}' is not a key for {algorithm} tokens")
        with self._lock:
            prepared = self._prepared.get((kid, algorithm))
        if prepared is None:
            try:
                prepared = jwt.PyJWK(jwk, algorithm)
            except (jwt.PyJWTError, TypeError, ValueError) as exc:
                raise Unauthorized(f"the signing key '{kid}' cannot be used: {exc}") from None
            with self._lock:
                self._prepared[(kid, algorithm)] = prepared
        return prepared
