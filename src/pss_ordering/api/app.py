"""The Starlette application: routes, error handlers, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from ..console import app as console
from ..events.background import DeliveryThread
from ..events.worker import DeliveryWorker
from ..service.retention import RetentionWorker
from ..service.timers import TimerWorker
from .access import ObservedStarlette
from .auth import AuthPrefetch
from .bounds import guard
from .common import Services
from .errors import HANDLERS
from .routes import (
    docs,
    events,
    health,
    monitoring,
    offerings,
    orders,
    orders_v4,
    orders_v4_openapi,
    parties,
)
from .transport import BodyDeadline


def create_app(
    services: Services, delivery: Callable[[], DeliveryWorker] | None = None
) -> Starlette:
    """The application; with ``delivery`` (and ``run_workers``) it also delivers events."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        """Background workers (timers, delivery, retention) run in ``serve`` unless turned off."""
        timers = TimerWorker(services.timers, services.settings.timer_poll_seconds)
        pruning = RetentionWorker(services.retention, services.settings.retention_interval)
        sending = DeliveryThread(delivery()) if delivery and services.settings.run_workers else None
        if services.settings.run_workers:
            timers.start()
            pruning.start()
            _app.state.readiness.watch("timers", timers)
        if sending is not None:
            sending.start()
            _app.state.readiness.watch("delivery", sending)
        try:
            yield
        finally:
            if sending is not None:
                sending.stop()
            if services.settings.run_workers:
                pruning.stop()
                timers.stop()
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
                    *monitoring.routes,
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
