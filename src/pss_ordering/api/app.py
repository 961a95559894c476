"""The Starlette application: routes, error handlers, nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from ..service.timers import TimerWorker
from .common import Services
from .errors import HANDLERS
from .routes import docs, events, offerings, orders, parties


def create_app(services: Services) -> Starlette:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        """Background workers (timers) run inside ``serve`` unless turned off."""
        worker = TimerWorker(services.timers, services.settings.timer_poll_seconds)
        if services.settings.run_workers:
            worker.start()
        try:
            yield
        finally:
            if services.settings.run_workers:
                worker.stop()
            services.executor.close()

    app = Starlette(
        routes=[
            *orders.routes,
            *parties.routes,
            *offerings.routes,
            *events.routes,
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
