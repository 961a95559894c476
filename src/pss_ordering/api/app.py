"""The Starlette application: routes, error handlers, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from ..events.background import DeliveryThread
from ..events.worker import DeliveryWorker
from ..service.timers import TimerWorker
from .common import Services
from .errors import HANDLERS
from .routes import docs, events, monitoring, offerings, orders, parties


def create_app(
    services: Services, delivery: Callable[[], DeliveryWorker] | None = None
) -> Starlette:
    """The application; with ``delivery`` (and ``run_workers``) it also delivers events."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        """Background workers (timers, delivery) run inside ``serve`` unless turned off."""
        timers = TimerWorker(services.timers, services.settings.timer_poll_seconds)
        sending = DeliveryThread(delivery()) if delivery and services.settings.run_workers else None
        if services.settings.run_workers:
            timers.start()
        if sending is not None:
            sending.start()
        try:
            yield
        finally:
            if sending is not None:
                sending.stop()
            if services.settings.run_workers:
                timers.stop()
            services.executor.close()

    app = Starlette(
        routes=[
            *orders.routes,
            *parties.routes,
            *offerings.routes,
            *events.routes,
            *monitoring.routes,
            *docs.routes,
        ],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.state.services = services
    warm_up_validators()
    return app


def warm_up_validators() -> None:
    """Compile the request schemas at start, not on the first request that needs them."""
    orders._create_schema()
    orders._patch_schema()
