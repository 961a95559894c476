"""Keeping each partner PSS paired: its catalogue pulled, the relays both ways registered.

For each partner (``federation.py``) a sync: pulls its offerings through its
PSID620 API into brokered offerings; makes sure the relay callback exists here
(the partner's own event intake, owned by the partner as a provider: what the
delivery worker forwards to it, :mod:`.relay`); and registers this PSS's event
intake at the partner's hub (PSID688), so the partner's events about the
orders forwarded to it come back. Both registrations are idempotent (the same
callback again answers the existing one).

The pull is authenticated like every call to that host (the operator's per-host outbound
credentials, :mod:`.outbound_auth`), paged, and bounded: a page's body, the
number of pages and the time of each request, so a partner cannot make a
refresh cost without limit. A refresh pulls every partner in turn; one that
cannot be reached keeps its brokered offerings as they are until the next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from ..domain import federation
from ..domain.errors import PssError
from ..domain.identity import Caller, Role
from ..service.catalogue import CatalogueService, Imported, Partner
from .outbound_auth import AuthUnavailable, OutboundAuth
from .registrations import HubService

log = logging.getLogger(__name__)
OFFERINGS_PATH = "/psi-api/productCatalogManagement/v2/productOffering"
PAGE = 100


class PullFailed(Exception):
    """The partner's catalogue could not be read (unreachable, refused, malformed)."""


@dataclass(frozen=True, slots=True)
class PullLimits:
    timeout_seconds: float = 10.0
    max_page_bytes: int = 1_000_000
    max_pages: int = 100


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


async def pull_offerings(
    session: aiohttp.ClientSession, auth: OutboundAuth, partner: Partner, limits: PullLimits
) -> list[dict[str, Any]]:
    """Every offering the partner lists for this PSS, page by page."""
    found: list[dict[str, Any]] = []
    host = _host_port(partner.api_url)
    for page in range(limits.max_pages):
        url = f"{partner.api_url}{OFFERINGS_PATH}?offset={page * PAGE}&limit={PAGE}"
        try:
            headers = {"Accept": "application/json", **await auth.headers(host)}
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                body = await response.content.read(limits.max_page_bytes + 1)
                if response.status == 401:
                    auth.rejected(host)
        except (aiohttp.ClientError, TimeoutError, AuthUnavailable) as exc:
            raise PullFailed(f"{url}: {exc!r}") from None
        if response.status != 200:
            raise PullFailed(f"{url} answered HTTP {response.status}")
        if len(body) > limits.max_page_bytes:
            raise PullFailed(f"{url}: a page is larger than {limits.max_page_bytes} bytes")
        try:
            listed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise PullFailed(f"{url}: not JSON") from None
        if not isinstance(listed, list) or not all(isinstance(o, dict) for o in listed):
            raise PullFailed(f"{url}: not a list of offerings")
        found.extend(listed)
        if len(listed) < PAGE:
            return found
    raise PullFailed(f"{partner.api_url}: more than {limits.max_pages} pages of offerings")


async def register_at_partner(
    session: aiohttp.ClientSession, auth: OutboundAuth, partner: Partner, own_base_url: str
) -> None:
    """Register this PSS's event intake at the partner's hub for the orders this PSS
    forwarded there (they carry its per-hop id as an externalId)."""
    url = partner.api_url + federation.HUB_PATH
    callback = federation.relay_target(own_base_url)
    try:
        headers = {"Content-Type": "application/json", **await auth.headers(_host_port(url))}
        async with session.post(
            url,
            data=orjson.dumps({"callback": callback, "query": federation.RELAYED_ORDERS}),
            headers=headers,
            allow_redirects=False,
        ) as response:
            await response.content.read(4096)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, AuthUnavailable) as exc:
        raise PullFailed(f"{url}: {exc!r}") from None
    if status not in (200, 201):
        raise PullFailed(f"registering {callback} at {url}: HTTP {status}")


@dataclass(frozen=True, slots=True)
class Pairing:
    """What a sync works with: the catalogue, the hub here, this PSS's own base URL."""

    catalogue: CatalogueService
    hub: HubService
    own_base_url: str


async def sync(
    pairing: Pairing, auth: OutboundAuth, limits: PullLimits, only: str | None = None
) -> list[Imported | PullFailed]:
    """Sync each partner; a failing partner is reported (and logged), not raised."""
    results: list[Imported | PullFailed] = []
    timeout = aiohttp.ClientTimeout(total=limits.timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for partner in pairing.catalogue.partners(only):
            try:
                pulled = await pull_offerings(session, auth, partner, limits)
                as_provider = Caller(partner.party_id, frozenset({Role.PROVIDER}))
                relay = federation.relay_target(partner.api_url)
                try:
                    pairing.hub.register(as_provider, "order", relay, None)
                except PssError as refused:  # e.g. its host is not an allowed callback host
                    raise PullFailed(f"relay to {relay}: {refused.message}") from None
                await register_at_partner(session, auth, partner, pairing.own_base_url)
            except PullFailed as failed:
                log.warning("partner %s: not synced: %s", partner.party_id, failed)
                results.append(failed)
                continue
            results.append(pairing.catalogue.store(partner.party_id, pulled))
    return results
