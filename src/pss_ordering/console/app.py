"""The console application, mounted at ``/console`` by the app factory."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..api.common import Services
from ..config import Settings
from ..signing_secret import development_secret
from . import customer, governance, order_page, provider, signin
from .web import PREFIX

STATIC = Path(__file__).with_name("static")


def session_secret(settings: Settings) -> str:
    """The key signing session cookies: configured; else derived from the HS256 secret
    (so every process agrees); else random per process (then configure one)."""
    if settings.console_session_secret:
        return settings.console_session_secret
    base = development_secret(settings)
    if base is None:
        return secrets.token_urlsafe(32)
    return hmac.new(base.encode(), b"pss-ordering console session", hashlib.sha256).hexdigest()


def create_console(services: Services) -> Starlette:
    settings = services.settings
    get, post = ["GET"], ["POST"]
    routes = [
        Route("/", signin.home, methods=get),
        Route("/login", signin.login, methods=get),
        Route("/login", signin.demo_login, methods=post),
        Route("/logout", signin.logout, methods=post),
        Route("/auth/oidc", signin.oidc_start, methods=get),
        Route("/auth/callback", signin.oidc_callback, methods=get),
        Route("/catalogue", customer.catalogue, methods=get),
        Route("/orders", customer.orders, methods=get),
        Route("/orders", customer.create, methods=post),
        Route("/orders/new", customer.new_order, methods=get),
        Route("/orders/{id}", order_page.order, methods=get),
        Route("/orders/{id}/timeline", order_page.timeline, methods=get),
        Route("/orders/{id}/supply", order_page.supply, methods=post),
        Route("/orders/{id}/billing", order_page.billing, methods=post),
        Route("/orders/{id}/cancel", order_page.cancel, methods=post),
        Route("/orders/{id}/note", order_page.note, methods=post),
        Route("/orders/{id}/item", order_page.item_action, methods=post),
        Route("/stamp", order_page.stamp, methods=get),
        Route("/inbox", provider.inbox, methods=get),
        Route("/figures", governance.own_figures, methods=get),
        Route("/dashboard", governance.dashboard, methods=get),
        Route("/breaches", governance.breaches, methods=get),
        Route("/providers/{id}/response-time", governance.response_time, methods=post),
        Route("/callbacks", governance.callbacks, methods=get),
        Route("/callbacks/{topic}/{id}/resume", governance.resume, methods=post),
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=session_secret(settings),
                session_cookie="pss_console",
                max_age=settings.console_session_seconds,
                path=PREFIX,
                same_site="lax",  # the OpenID Connect redirect back is a top-level GET
                https_only=settings.base_url.startswith("https://"),
            )
        ],
    )
    app.state.services = services
    return app


def mount(services: Services) -> Mount:
    return Mount(PREFIX, app=create_console(services))
