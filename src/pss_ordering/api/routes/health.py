"""``/health`` (the process answers) and ``/ready`` (it can do its work), for load
balancers and orchestrators: unauthenticated, cheap, and saying nothing else — no
version, no error text (why a check failed goes to the log, under the request id).

``/ready`` checks, with one small read bounded by ``PSS_READY_TIMEOUT_SECONDS``,
that the database answers and its schema is at the migration head this code
expects, and that the background workers this process was configured to run are
alive. Probes run on a thread of their own, one at a time, so a database that
hangs cannot take the threads requests need.
"""

from __future__ import annotations

import logging
from typing import NoReturn, Protocol

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...domain.errors import NotReady
from ...store import migrate
from ..common import services
from ..jsonio import json_response

log = logging.getLogger(__name__)


class Worker(Protocol):
    def alive(self) -> bool: ...


class Readiness:
    """What ``/ready`` checks; kept on ``app.state.readiness``. Background workers are
    added with :meth:`watch` when they start."""

    def __init__(self) -> None:
        self.head = migrate.head()
        self.watched: dict[str, Worker] = {}
        self._probe = anyio.CapacityLimiter(1)

    def watch(self, name: str, worker: Worker) -> None:
        self.watched[name] = worker

    def stopped_workers(self) -> list[str]:
        return [name for name, worker in self.watched.items() if not worker.alive()]

    async def schema_at_head(self, request: Request) -> bool:
        engine = services(request).database.engine
        with anyio.move_on_after(services(request).settings.ready_timeout_seconds):
            return await anyio.to_thread.run_sync(
                migrate.at_head, engine, self.head, limiter=self._probe, abandon_on_cancel=True
            )
        raise TimeoutError("the database did not answer in time")


async def health(_request: Request) -> Response:
    return json_response({"status": "ok"})


async def ready(request: Request) -> Response:
    readiness: Readiness = request.app.state.readiness
    try:
        if not await readiness.schema_at_head(request):
            _not_ready(f"the schema is not at migration head {readiness.head}")
    except NotReady:
        raise
    except Exception as failure:
        _not_ready(f"the database cannot be read: {type(failure).__name__}: {failure}")
    stopped = readiness.stopped_workers()
    if stopped:
        _not_ready(f"background workers not running: {', '.join(stopped)}")
    return json_response({"status": "ready"})


def _not_ready(why: str) -> NoReturn:
    log.warning("not ready: %s", why)
    raise NotReady("the service is not ready to take requests")


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
]
