"""Signing in: a picker of the demo parties (``serve --demo``), or OpenID Connect.

OpenID Connect is the authorization code flow with PKCE (S256) against
``PSS_OIDC_ISSUER``, done by Authlib: discovery, state, nonce, the code
exchange and the ID token's signature, issuer, audience and expiry. The ID
token's claims become the caller exactly as the API's bearer tokens do
(``sub`` the party, ``roles`` its roles; ``api/auth.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from starlette.requests import Request
from starlette.responses import Response

from ..api.auth import caller_from_claims
from ..api.common import services
from ..config import Settings
from ..domain.errors import BadRequest, Forbidden, NotFound, PssError, Unauthorized
from ..domain.identity import Caller, Role
from .web import PREFIX, error_page, form_of, redirect, render, session_caller, sign_in

DEMO_SEED = Path(__file__).resolve().parent.parent / "demo_seed.json"
GOVERNANCE = Role.GOVERNANCE.value  # the demo's governance party, named after its role


@dataclass(frozen=True, slots=True)
class Identity:
    """A party one may sign in as in the demo, with its role and what it is."""

    party_id: str
    role: str
    label: str

    @property
    def key(self) -> str:
        return f"{self.party_id}|{self.role}"


@cache
def demo_identities() -> tuple[Identity, ...]:
    """The demo seed's parties: those named as an offering's provider sign in as
    providers, the others as customers; and the governance of the PSS."""
    seed = json.loads(DEMO_SEED.read_text())
    providers = {
        ref["partyOrPartyRole"]["id"]
        for offering in seed.get("productOffering", [])
        for ref in offering.get("relatedParty", [])
        if ref.get("role") == Role.PROVIDER
    }
    found = []
    for kind in ("individual", "organization"):
        for party in seed.get(kind, []):
            name = (
                party.get("name") or f"{party.get('givenName', '')} {party.get('familyName', '')}"
            )
            role = Role.PROVIDER if party["id"] in providers else Role.CUSTOMER
            found.append(Identity(party["id"], role, f"{name.strip()} ({role})"))
    found.append(Identity(GOVERNANCE, Role.GOVERNANCE, "PSS governance"))
    return tuple(found)


@cache
def _oidc_client(issuer: str, client_id: str, client_secret: str | None, scope: str) -> Any:
    oauth = OAuth()
    return oauth.register(
        "pss",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": scope, "code_challenge_method": "S256"},
    )


def oidc(settings: Settings) -> StarletteOAuth2App | None:
    if not (settings.oidc_issuer and settings.oidc_client_id):
        return None
    return _oidc_client(
        settings.oidc_issuer,
        settings.oidc_client_id,
        settings.oidc_client_secret,
        settings.oidc_scope,
    )


async def login(request: Request) -> Response:
    """The sign-in page (also a signed-in visitor's way to switch party)."""
    settings = services(request).settings
    return render(
        request,
        "login.html",
        session_caller(request),
        {
            "demo": demo_identities() if settings.console_demo else (),
            "oidc": oidc(settings) is not None,
        },
    )


async def demo_login(request: Request) -> Response:
    """Sign in as the demo party picked (only with ``serve --demo``)."""
    try:
        form = await form_of(request)
        if not services(request).settings.console_demo:
            raise NotFound("demo sign-in is available with serve --demo only")
        chosen = {i.key: i for i in demo_identities()}.get(str(form.get("identity", "")))
        if chosen is None:
            raise BadRequest("pick one of the demo parties")
    except PssError as exc:
        return error_page(request, session_caller(request), exc)
    sign_in(request, Caller(chosen.party_id, frozenset({Role(chosen.role)})))
    return redirect("/")


async def oidc_start(request: Request) -> Response:
    """To the issuer's authorization endpoint (state, nonce and PKCE kept in the session)."""
    client = oidc(services(request).settings)
    if client is None:
        return error_page(request, None, NotFound("OpenID Connect is not configured"))
    base = services(request).settings.base_url.rstrip("/")
    response: Response = await client.authorize_redirect(request, f"{base}{PREFIX}/auth/callback")
    return response


async def oidc_callback(request: Request) -> Response:
    """The issuer sends the browser back with a code: exchange it, check the ID token."""
    client = oidc(services(request).settings)
    try:
        if client is None:
            raise NotFound("OpenID Connect is not configured")
        try:
            token = await client.authorize_access_token(request)
        except OAuthError as exc:
            raise Unauthorized(f"sign-in failed: {exc.description or exc.error}") from None
        claims = token.get("userinfo")
        if not isinstance(claims, dict):
            raise Unauthorized("sign-in failed: the issuer sent no ID token")
        caller = caller_from_claims(claims)
    except PssError as exc:
        return error_page(request, None, exc)
    sign_in(request, caller)
    return redirect("/")


async def logout(request: Request) -> Response:
    try:
        await form_of(request)
    except PssError as exc:
        return error_page(request, session_caller(request), exc)
    request.session.clear()
    return redirect("/login")


async def home(request: Request) -> Response:
    """Each role's main page."""
    caller = session_caller(request)
    if caller is None:
        return redirect("/login")
    if caller.is_governance:
        return redirect("/dashboard")
    if caller.has(Role.PROVIDER):
        return redirect("/inbox")
    if caller.has(Role.CUSTOMER):
        return redirect("/orders")
    return error_page(
        request, caller, Forbidden("the console is for customers, providers and governance")
    )
