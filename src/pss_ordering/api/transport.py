"""Transport limits: what a connection may hold before the application sees a request.

uvicorn's httptools protocol (the fast one ``serve`` uses) takes a header of any
size, any number of headers, and waits forever for headers that never end;
h11's ``h11_max_incomplete_event_size`` bounds only the size, and only on the
slower parser. So ``serve`` runs :func:`guarded_protocol`, the httptools
protocol with three limits enforced as the bytes arrive:

* the request line and headers together at most ``max_header_bytes`` (431),
* at most ``max_headers`` header fields (431),
* headers complete within ``header_timeout`` of the connection opening or of the
  request's first byte (408; this is what ends slowloris connections).

A body that never finishes is the application's to bound, since it is read
there: :class:`BodyDeadline` gives the whole body ``seconds`` from the start of
the request (408), and closes the connection after any answer given before the
body was complete, so that a client cannot keep trickling an unread body into
a kept-alive connection. Idle kept-alive connections close after uvicorn's
``timeout_keep_alive``; ``limit_concurrency`` bounds connections and tasks (503,
answered here as a TMF Error like the other refusals).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httptools
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .. import correlation
from ..domain.errors import (
    BadRequest,
    HeadersTooLarge,
    PssError,
    RequestTimeout,
    ServiceUnavailable,
)
from .errors import error_body

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TransportLimits:
    max_header_bytes: int = 16_384
    max_headers: int = 100
    header_timeout: float = 10.0


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the refusal is kept aside."""


def render(error: PssError, *, close: bool = True) -> bytes:
    """A complete HTTP/1.1 response carrying ``error`` as a TMF Error body, under a request
    id of its own (the request never reached the application), which is logged."""
    request_id = correlation.new_id()
    body = orjson.dumps(
        error_body(error.status, error.code, error.reason, error.message, request_id=request_id)
    )
    log.warning(
        "refused before the application: %d %s",
        error.status,
        error.message,
        extra={"request_id": request_id, "status": error.status},
    )
    head = [
        STATUS_LINE[error.status],
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"x-request-id: %s\r\n" % request_id.encode(),
        b"connection: close\r\n" if close else b"",
        b"\r\n",
    ]
    return b"".join(head) + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with header size, count and time limits."""

    limits = TransportLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0
        self._header_count = 0
        self._raw_header_bytes = 0
        self._in_headers = False
        self._refusal: PssError | None = None
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, with refusals answered as themselves (not as a generic 400)."""
        if self._refusal is not None:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(self._refusal)
                return
            self._refuse(BadRequest("invalid HTTP request"))
            return
        if self._in_headers:
            # Headers not complete yet: what has arrived so far counts, even while
            # the parser is still accumulating one long value it has not reported.
            self._raw_header_bytes += len(data)
            if self._raw_header_bytes > self.limits.max_header_bytes:
                self._refuse(self._too_large())

    # -- parser callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._header_bytes = self._header_count = self._raw_header_bytes = 0
        self._in_headers = True
        self._arm_header_timer()
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        self._check_headers()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4
        self._check_headers()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._cancel_header_timer()
        if self._over_concurrency_limit():
            # uvicorn would answer its own plain-text 503 here; every refusal of the
            # service is a TMF Error, so this one is too (and the connection closes).
            self._refusal = ServiceUnavailable(
                "the server is at its connection limit; retry shortly"
            )
            raise _Refused
        super().on_headers_complete()

    # -- limits ------------------------------------------------------------------------

    def _over_concurrency_limit(self) -> bool:
        """uvicorn's ``limit_concurrency`` test, made before it would make it."""
        limit = self.limit_concurrency
        return limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit)

    def _check_headers(self) -> None:
        if self._header_count > self.limits.max_headers:
            self._refusal = HeadersTooLarge(f"more than {self.limits.max_headers} header fields")
            raise _Refused
        if self._header_bytes > self.limits.max_header_bytes:
            self._refusal = self._too_large()
            raise _Refused

    def _too_large(self) -> PssError:
        return HeadersTooLarge(
            f"the request line and headers exceed {self.limits.max_header_bytes} bytes"
        )

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout, self._headers_timed_out
            )

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        self._refuse(
            RequestTimeout(
                f"the request headers did not arrive within {self.limits.header_timeout:g} s"
            )
        )

    def _refuse(self, error: PssError) -> None:
        """Answer ``error`` and close; only close while an earlier response is in flight."""
        self._refusal = error
        self._cancel_header_timer()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(render(error))
        self.transport.close()


class ServedHttpTools(GuardedHttpToolsProtocol):
    """The protocol ``serve`` runs (``http="pss_ordering.api.transport:ServedHttpTools"``).

    Its limits are the settings', set by the composition root in each process
    (``bootstrap.served_app``) before the first connection is accepted.
    """

    limits = TransportLimits()


def guarded_protocol(limits: TransportLimits) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with these limits."""
    return type("GuardedHttpTools", (GuardedHttpToolsProtocol,), {"limits": limits})


class BodyDeadline:
    """ASGI middleware: a request's body must arrive within ``seconds`` (408)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        complete = False

        async def bounded_receive() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"the request body did not arrive within {self.seconds:g} s"
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not complete:
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, bounded_receive, closing_send)


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False
