"""Reading JSON bodies safely (type, size, syntax) and writing JSON responses."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..domain.errors import BadRequest, InvalidBody, PayloadTooLarge, UnsupportedMediaType
from .bounds import MAX_JSON_DEPTH, check_body

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
JSON_PATCH_QUERY = "application/json-patch-query+json"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_json(request: Request, accepted: tuple[str, ...], limit: int) -> tuple[Any, str]:
    """The parsed body and its media type; 415, 413 and 400 as the HTTP rules say, and
    400 for a body beyond the bounds of :func:`.bounds.check_body`."""
    kind = media_type(request)
    if kind not in accepted:
        raise UnsupportedMediaType(
            f"Content-Type '{kind or '(none)'}' is not supported; use " + " or ".join(accepted)
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc) or "recursion" in str(exc):
            raise InvalidBody(f"the body nests deeper than {MAX_JSON_DEPTH} levels") from None
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    check_body(parsed)
    if _LONG_NUMBER.search(raw):
        _check_integers(raw)
    return parsed, kind


# orjson reads an integer beyond 64 bits as a float, which would be stored and
# answered as something else than what was sent: such bodies are refused. The
# pattern is a cheap filter; the standard parser then decides.
_LONG_NUMBER = re.compile(rb"[:\[,]\s*-?\d{19,}")
_INT_RANGE = (-(2**63), 2**64 - 1)


def _check_integers(raw: bytes) -> None:
    def parse_int(text: str) -> int:
        value = int(text)
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise BadRequest(f"the number {text[:24]}... does not fit in 64 bits")
        return value

    json.loads(raw, parse_int=parse_int)


def page_response(docs: list[Any], total: int | None, count_limit: int | None = None) -> Response:
    """A collection answer with TMF630's counts: all matches, and those in this page.

    A total that is not known exactly (counting stopped at ``count_limit``) is not
    sent: TMF630 lets ``X-Total-Count`` be omitted, and a client could not tell an
    estimate from a count. ``X-Total-Count-Exceeds`` says where counting stopped.
    """
    headers = {"X-Result-Count": str(len(docs))}
    if total is not None:
        headers["X-Total-Count"] = str(total)
    elif count_limit is not None:
        headers["X-Total-Count-Exceeds"] = str(count_limit)
    return json_response(docs, 200, headers)


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(content), status, headers, media_type=JSON)
