"""The request's edge: its id, its access record, its trace span.

:class:`RequestLog` wraps the whole application (outside Starlette's error
handling, so a 500 is covered too). For each HTTP request it

* takes the client's ``X-Request-ID`` when well formed (:func:`.correlation.accepted`),
  else makes one up — a malformed id is replaced, not refused: the id is for
  correlation, and a proxy's odd format must not cost a client its request;
* runs the request under that id (every log line it causes carries it, and so do
  the events it commits and the timers it arms);
* returns it as ``X-Request-ID`` on every response;
* writes one access record: method, route template (never the raw path, which
  holds ids), status, duration, authenticated party, request id.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import correlation, tracing
from ..logs import ACCESS

HEADER = b"x-request-id"
UNMATCHED = "(no route)"


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = correlation.accepted(_header(scope, HEADER)) or correlation.new_id()
        context = correlation.RequestContext(request_id)
        record = _Record(scope, context)
        id_header = (HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                # The request span ends with the response: named now, routing is done.
                tracing.name_request(scope["method"], _template(scope))
                headers = [h for h in message.get("headers", ()) if h[0].lower() != HEADER]
                headers.append(id_header)
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                record.write()  # before the client has it all: its record is already there
            await send(message)

        # Set and reset by hand, not with correlation.bound: this runs once per request.
        token = correlation.enter(context)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            record.write()  # no complete response (an error, a disconnect)
            correlation.leave(token)


class _Record:
    """The access record of one request, written once."""

    __slots__ = ("context", "scope", "started", "status", "written")

    def __init__(self, scope: Scope, context: correlation.RequestContext) -> None:
        self.scope = scope
        self.context = context
        self.started = time.perf_counter()
        self.status = 500  # unless a response starts
        self.written = False

    def write(self) -> None:
        if self.written:
            return
        self.written = True
        if not ACCESS.isEnabledFor(logging.INFO):
            return
        method, route = self.scope["method"], _template(self.scope)
        duration = (time.perf_counter() - self.started) * 1000
        ACCESS.info(
            "%s %s %d %.1f ms",
            method,
            route,
            self.status,
            duration,
            extra={
                "method": method,
                "route": route,
                "status": self.status,
                "duration_ms": round(duration, 3),
                "party_id": self.context.party_id,
            },
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _template(scope: Scope) -> str:
    """The matched route's path with its parameters as ``{name}``, never the raw path."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class ObservedStarlette(Starlette):
    """Starlette with :class:`RequestLog` outside everything, its error handling
    included, and (when tracing is on) the request span outside that."""

    def build_middleware_stack(self) -> ASGIApp:
        return tracing.asgi(RequestLog(super().build_middleware_stack()))
