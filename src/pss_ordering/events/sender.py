"""HTTP out: the one seam through which events leave the PSS (tests pass their own).

Each request is signed the Standard Webhooks way (``webhook-id`` = the eventId,
stable across retries; ``webhook-timestamp``; ``webhook-signature``, HMAC-SHA256
with the subscription's secret), carries the host's configured credentials,
never follows a redirect, and has a timeout. The host is checked against the
allow-list again before sending, and the addresses its name resolves to are
checked when connecting (:class:`GuardedResolver`), so a name that later
resolves elsewhere is refused too.

aiohttp rather than httpx: with 100 callbacks in flight it sent ~7,000
requests/s here against httpx's ~260 (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Protocol

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from standardwebhooks import Webhook

from ..clock import Clock
from ..domain.delivery import SendResult
from ..domain.errors import PssError
from ..domain.hub import AddressPolicy, callback_target, check_allowed_host
from .outbound_auth import AuthUnavailable, OutboundAuth

USER_AGENT = "pss-ordering"


@dataclass(frozen=True, slots=True)
class Outgoing:
    url: str
    event_id: str
    secret: str
    body: bytes


class Sender(Protocol):
    async def send(self, outgoing: Outgoing) -> SendResult: ...

    async def close(self) -> None: ...


class GuardedResolver(AbstractResolver):
    """Resolves as usual, then keeps only the addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        refusal = self._policy.refusal(host, (entry["host"] for entry in found))
        if refusal is not None:
            raise OSError(refusal)
        return [entry for entry in found if self._policy.allows(entry["host"])]

    async def close(self) -> None:
        await self._inner.close()


#: Lookups at registration run here, each waited for at most REGISTRATION_LOOKUP_SECONDS:
#: a resolver that never answers costs a registration that long, and holds at most
#: these few threads, never the request's.
_LOOKUPS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pss-dns")
REGISTRATION_LOOKUP_SECONDS = 2.0
#: Special-use names no resolver answers (RFC 6761 "test" and "invalid", RFC 2606
#: "example"): not worth a lookup that can only wait and fail.
NEVER_RESOLVED = frozenset({"test", "invalid", "example"})


def resolve_addresses(host: str, port: int) -> list[str]:
    """The addresses a callback host resolves to now (none when it does not resolve, or
    not in time), for the check at registration; sending resolves again
    (:class:`GuardedResolver`)."""

    if host.rstrip(".").lower().rsplit(".", 1)[-1] in NEVER_RESOLVED:
        return []

    def lookup() -> list[str]:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return []
        return [str(entry[4][0]) for entry in found]

    try:
        return _LOOKUPS.submit(lookup).result(timeout=REGISTRATION_LOOKUP_SECONDS)
    except TimeoutError:
        return []


class HttpSender:
    def __init__(
        self,
        *,
        allowed_hosts: Sequence[str],
        policy: AddressPolicy,
        auth: OutboundAuth,
        timeout: float,
        clock: Clock,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._allowed = tuple(allowed_hosts)
        self._policy = policy
        self._auth = auth
        self._timeout = timeout
        self._clock = clock
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._signers: dict[str, Webhook] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0, resolver=GuardedResolver(self._policy, self._resolver)
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        return self._session

    def _headers(self, outgoing: Outgoing) -> dict[str, str]:
        signer = self._signers.get(outgoing.secret)
        if signer is None:
            signer = self._signers[outgoing.secret] = Webhook(outgoing.secret)
        moment = self._clock.now()
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": outgoing.event_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": signer.sign(outgoing.event_id, moment, outgoing.body.decode()),
        }

    async def send(self, outgoing: Outgoing) -> SendResult:
        try:
            _, host, port = callback_target(outgoing.url)
            check_allowed_host(outgoing.url, self._allowed)
        except PssError as refused:
            return SendResult(None, f"refused: {refused.message}")
        host_port = f"{host}:{port}"
        headers = self._headers(outgoing)
        try:
            headers.update(await self._auth.headers(host_port))
        except AuthUnavailable as exc:
            return SendResult(None, f"authentication: {exc}")
        started = time.monotonic()
        try:
            async with self._client().post(
                outgoing.url, data=outgoing.body, headers=headers, allow_redirects=False
            ) as response:
                head = await response.content.read(1024)
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"), self._clock)
                location = response.headers.get("Location")
        except TimeoutError:
            return SendResult(None, f"timed out after {self._timeout:g}s", None, _ms(started))
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult(None, _describe(exc), None, _ms(started))
        if status == 401:
            self._auth.rejected(host_port)
        error = None
        if 300 <= status < 400:
            error = f"HTTP {status}: redirect to {location or '(no Location)'} not followed"
        answer = head if 400 <= status < 500 else b""  # a refusal's reason (partner relay)
        return SendResult(status, error, retry_after, _ms(started), answer)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._auth.close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not connect: {exc.os_error}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _retry_after(value: str | None, clock: Clock) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - clock.now()).total_seconds(), 0.0)
