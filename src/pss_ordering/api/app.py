"""The Starlette application: routes, error handlers, nothing else."""

from __future__ import annotations

from starlette.applications import Starlette

from .common import Services
from .errors import HANDLERS
from .routes import docs, offerings, orders, parties


def create_app(services: Services) -> Starlette:
    app = Starlette(
        routes=[*orders.routes, *parties.routes, *offerings.routes, *docs.routes],
        exception_handlers=HANDLERS,
    )
    app.state.services = services
    return app
