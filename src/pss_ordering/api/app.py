"""The Starlette application: routes, error handlers, nothing else.

It runs no background work of its own: the composition root (``bootstrap``) may
hand it work to run beside it (``beside``), which its lifespan starts after
start-up, watches for readiness and stops before the executor closes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from ..console import app as console
from ..response_time import routes as response_time
from .access import ObservedStarlette
from .auth import AuthPrefetch
from .bounds import guard
from .common import Services
from .errors import HANDLERS
from .routes import (
    docs,
    events,
    health,
    offerings,
    orders,
    orders_v4,
    orders_v4_openapi,
    parties,
)
from .transport import BodyDeadline

log = logging.getLogger(__name__)


class Beside(Protocol):
    """Work the process runs beside the application (the background workers)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def watched(self) -> Mapping[str, health.Worker]: ...


def create_app(services: Services, beside: Beside | None = None) -> Starlette:
    """The application over ``services``; ``beside`` runs while it serves."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if beside is not None:
            beside.start()
            for name, worker in beside.watched().items():
                _app.state.readiness.watch(name, worker)
        log.info("process %d serves requests", os.getpid())
        try:
            yield
        finally:
            if beside is not None:
                beside.stop()
            services.executor.close()

    app = ObservedStarlette(
        routes=[
            *guarded(
                [
                    *orders.routes,
                    *orders_v4.routes,
                    *orders_v4_openapi.routes,
                    *parties.routes,
                    *offerings.routes,
                    *events.routes,
                    *response_time.routes,
                    *docs.routes,
                    *health.routes,
                ]
            ),
            *docs.mounts,
            console.mount(services),  # the web console (its own package, same use cases)
        ],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
        middleware=[
            # A body that never finishes is answered 408 (api/transport.py); JWKS keys
            # a token needs are fetched off the event loop before the route runs.
            Middleware(BodyDeadline, seconds=services.settings.body_timeout_seconds),
            *([Middleware(AuthPrefetch, auth=services.auth)] if services.auth.uses_jwks else []),
        ],
    )
    app.state.services = services
    app.state.readiness = health.Readiness()
    warm_up_validators()
    return app


def guarded(routes: list[Route]) -> list[Route]:
    """Every route behind the edge's bounds on its path, query and headers."""
    return [
        Route(route.path, guard(route.endpoint), methods=route.methods, name=route.name)
        for route in routes
    ]


def warm_up_validators() -> None:
    """Compile the request schemas at start, not on the first request that needs them."""
    orders._create_schema()
    orders._patch_schema()
    orders_v4.warm_up()
