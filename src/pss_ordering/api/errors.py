"""The one place that renders errors as TMF ``Error`` bodies."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .. import correlation
from ..domain.errors import Detail, PssError
from ..tmf4.events import BASE as V4_BASE
from .jsonio import json_response

log = logging.getLogger(__name__)

_HTTP_CODES = {
    404: ("NOT_FOUND", "Resource not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
}


def error_body(
    status: int,
    code: str,
    reason: str,
    message: str,
    details: tuple[Detail, ...] = (),
    request_id: str | None = None,
) -> dict[str, Any]:
    """A TMF Error; ``details`` (this service's extension, in the served OpenAPI) lists
    every problem found when there are any to list; ``requestId`` (an extension: TMF's
    Error is Extensible and not closed) names the request, as its ``X-Request-ID``
    does, for a client to quote to an operator."""
    body: dict[str, Any] = {
        "@type": "Error",
        "code": code,
        "reason": reason,
        "message": message,
        "status": str(status),
    }
    if details:
        body["details"] = [detail.as_json() for detail in details]
    request_id = request_id or correlation.current_id()
    if request_id is not None:
        body["requestId"] = request_id
    return body


def _for(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """TMF622 v4 clients also get ``referenceError``: the served v4 document."""
    if request.url.path.startswith(V4_BASE):
        base = request.app.state.services.settings.base_url.rstrip("/")
        body["referenceError"] = f"{base}{V4_BASE}/openapi.json"
    return body


async def pss_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PssError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    body = error_body(exc.status, exc.code, exc.reason, exc.message, exc.details)
    return json_response(_for(request, body), exc.status, headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, reason = _HTTP_CODES.get(exc.status_code, ("HTTP_ERROR", "Request failed"))
    message = f"{request.method} {request.url.path}: {exc.detail}"
    body = error_body(exc.status_code, code, reason, message)
    return json_response(_for(request, body), exc.status_code)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response(
        error_body(500, "INTERNAL", "Internal error", "the server could not complete the request"),
        500,
    )


HANDLERS = {PssError: pss_error, HTTPException: http_error, Exception: unexpected_error}
