"""The bounds of client input: one place at the edge for every string, number, date and depth.

Every request passes here before a use case sees it, on both databases alike:

* **Path, query and headers** (:func:`guard`, wrapped around every route by the
  application): a path parameter is at most :data:`MAX_ID_LENGTH` characters; no
  path or query parameter holds a control character (``%00`` above all, which
  PostgreSQL text cannot hold); the query string is at most
  :data:`MAX_QUERY_STRING` bytes; the headers the service reads are printable
  ASCII. Numbers, instants and filter counts in the query are bounded where the
  query is parsed (:mod:`..domain.query`, :func:`query_instant`).
* **JSON bodies** (:func:`check_body`, called by :func:`.jsonio.read_json` on
  every body): nested at most :data:`MAX_JSON_DEPTH` levels (orjson cannot write
  back more than 254), no string or key longer than :data:`MAX_TEXT_LENGTH` or
  holding NUL, in free-form fields too.
* **The contract** (:func:`bound_contract`, applied to the PSI documents before
  they are compiled into validators and before they are served): every string
  stored in a column of its own gets a ``maxLength`` by kind that fits the
  column (ids ``String(64)``, external ids ``String(255)``, URLs and callback
  queries ``String(2048)``) and a ``pattern`` without NUL; path and query
  parameters get theirs; ``offset`` its maximum; a ``date-time`` must be an
  instant within years 1-9999 after conversion to UTC (:func:`is_instant`). What
  no schema keyword states (depth, free-text length, filter counts) is served as
  ``x-pss-limits`` (:func:`limits`). The served documents therefore publish the
  limits that are enforced, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..config import Settings
from ..domain.durations import MAX_DURATION_TEXT
from ..domain.errors import BadRequest, InvalidBody, InvalidQuery, Unauthorized
from ..domain.query import MAX_LIST, MAX_OFFSET, MAX_PATH_PARTS
from ..domain.timestamps import RANGE, parse_instant

MAX_JSON_DEPTH = 64
MAX_ID_LENGTH = 64
MAX_EXTERNAL_ID_LENGTH = 255
MAX_URL_LENGTH = 2048
MAX_TEXT_LENGTH = 10_000
MAX_QUERY_STRING = 16_384
HEADERS_READ = frozenset({b"authorization", b"if-match", b"content-type", b"content-length"})

ID_NAMES = frozenset({"id", "eventId"})
URL_NAMES = frozenset({"href", "callback", "query", "url", "@schemaLocation"})
NO_NUL = "^[^\\u0000]*$"
NO_CONTROL = "^[^\\u0000-\\u001f\\u007f]*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RAW_CONTROL = re.compile(rb"[\x00-\x1f\x7f]|%[01][0-9A-Fa-f]|%7[Ff]")
_NOT_PRINTABLE_ASCII = re.compile(rb"[^\x20-\x7e\t]")
# RFC 3339 date-time; the instant is then range-checked.
_DATE_TIME = re.compile(
    r"^\d{4}-[01]\d-[0-3]\d[tT][0-2]\d:[0-5]\d:[0-6]\d(?:\.\d+)?(?:[+-][0-2]\d:?[0-5]\d|[zZ])\Z"
)

Endpoint = Callable[[Request], Awaitable[Response]]


def shown(text: str, width: int = 40) -> str:
    """A client's text as quoted in a message: short, with control characters escaped."""
    short = text if len(text) <= width else text[:width] + "..."
    return short if short.isprintable() else short.encode("unicode_escape").decode("ascii")


# --- path, query, headers -----------------------------------------------------------------


def guard(endpoint: Endpoint) -> Endpoint:
    """The endpoint, after the request's path, query and headers are checked."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        check_request(request)
        return await endpoint(request)

    return guarded


def check_request(request: Request) -> None:
    scope = request.scope
    for name, value in (scope.get("path_params") or {}).items():
        if isinstance(value, str):
            _check_path_param(name, value)
    raw_query: bytes = scope.get("query_string") or b""
    if len(raw_query) > MAX_QUERY_STRING:
        raise InvalidQuery(
            f"the query string is {len(raw_query)} bytes; the limit is {MAX_QUERY_STRING}"
        )
    if _RAW_CONTROL.search(raw_query):  # only then decode: the common case costs one scan
        for name, value in request.query_params.multi_items():
            if _CONTROL.search(name) or _CONTROL.search(value):
                raise InvalidQuery(
                    f"query parameter '{shown(name)}': control characters (such as U+0000) "
                    "are not allowed"
                )
    for name, value in scope.get("headers") or ():
        if name in HEADERS_READ and _NOT_PRINTABLE_ASCII.search(value):
            raise BadRequest(f"header '{name.decode('latin-1')}' must be printable ASCII")


def _check_path_param(name: str, value: str) -> None:
    if len(value) > MAX_ID_LENGTH:
        raise BadRequest(
            f"path parameter '{name}' is {len(value)} characters long; the limit is {MAX_ID_LENGTH}"
        )
    if _CONTROL.search(value):
        raise BadRequest(
            f"path parameter '{name}': control characters (such as U+0000) are not allowed"
        )


def check_party_id(party_id: str) -> None:
    """A token's ``sub`` becomes the id of what the caller creates: it is bounded like an id."""
    if len(party_id) > MAX_ID_LENGTH or _CONTROL.search(party_id):
        raise Unauthorized(
            f"the token's sub must be at most {MAX_ID_LENGTH} characters, "
            "without control characters"
        )


def query_instant(name: str, raw: str | None) -> str | None:
    """An instant given as a query parameter (``from``, ``to``), checked here so the
    error names the parameter; returned as sent."""
    if raw is None:
        return None
    try:
        parse_instant(raw)
    except ValueError as exc:
        raise InvalidQuery(f"query parameter '{name}': {exc}") from None
    return raw


# --- JSON bodies --------------------------------------------------------------------------


def check_body(body: Any) -> None:
    """Depth, and every string and key of a parsed body (free-form fields included)."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(body, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict):
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            if isinstance(node, str):
                _check_text(node, path)
            continue
        if depth > MAX_JSON_DEPTH:
            raise InvalidBody(f"{_where(path)}: the body nests deeper than {MAX_JSON_DEPTH} levels")
        for key, value in items:
            if isinstance(key, str) and (len(key) > MAX_TEXT_LENGTH or "\x00" in key):
                _check_text(key, (*path, key), is_key=True)
            if isinstance(value, str):
                if len(value) > MAX_TEXT_LENGTH or "\x00" in value:
                    _check_text(value, (*path, key))
            elif isinstance(value, (dict, list)):
                stack.append((value, depth + 1, (*path, key)))


def _check_text(text: str, path: tuple[str | int, ...], *, is_key: bool = False) -> None:
    what = "a field name" if is_key else "a string"
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidBody(
            f"{_where(path)}: {what} of {len(text)} characters; the limit is {MAX_TEXT_LENGTH}"
        )
    if "\x00" in text:
        raise InvalidBody(f"{_where(path)}: {what} holding U+0000 (NUL) is not allowed")


def _where(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{shown(part)}" if out else shown(part))
    return (out if len(out) <= 120 else out[:117] + "...") or "(body)"


# --- the contract -------------------------------------------------------------------------


def is_instant(text: Any) -> bool:
    """The ``date-time`` format: RFC 3339, and an instant within years 1-9999 in UTC."""
    if not isinstance(text, str) or not _DATE_TIME.match(text):
        return False
    try:
        parse_instant(text)
    except ValueError:
        return False
    return True


def string_limit(schema_name: str, prop: str | None, node: dict[str, Any]) -> int:
    """The length limit of a string by its kind."""
    if node.get("format") == "uri" or prop in URL_NAMES or (prop or "").endswith("Href"):
        return MAX_URL_LENGTH
    if prop == "id" and schema_name.startswith("ExternalIdentifier"):
        return MAX_EXTERNAL_ID_LENGTH
    if prop in ID_NAMES:
        return MAX_ID_LENGTH
    return MAX_TEXT_LENGTH


def bound_contract(doc: dict[str, Any]) -> dict[str, Any]:
    """Write the limits into an OpenAPI document (in place; applying twice changes nothing)."""
    components = doc.get("components") or {}
    for name, schema in (components.get("schemas") or {}).items():
        _bound_schema(schema, name, None)
    for parameter in _parameters(doc):
        _bound_parameter(parameter)
    return doc


def _is_string(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def _bound_schema(node: Any, schema_name: str, prop: str | None) -> None:
    if isinstance(node, list):
        for item in node:
            _bound_schema(item, schema_name, prop)
        return
    if not isinstance(node, dict):
        return
    plain = "enum" not in node and "const" not in node and node.get("format") != "date-time"
    limit = string_limit(schema_name, prop, node) if plain and _is_string(node) else None
    if limit is not None and limit < MAX_TEXT_LENGTH:
        # A string with a column of its own. Other text is bounded by check_body (every
        # string, free-form ones too) and published in x-pss-limits: as schema keywords on
        # every string they would double the fuzzer's time and let it build bodies over
        # the size limit from strings just over theirs.
        node.setdefault("maxLength", limit)
        node.setdefault("pattern", NO_NUL)
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for name, child in value.items():
                _bound_schema(child, schema_name, name)
        elif key in ("items", "allOf", "anyOf", "oneOf", "additionalProperties"):
            _bound_schema(value, schema_name, prop if key == "items" else None)


def _parameters(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from ((doc.get("components") or {}).get("parameters") or {}).values()
    for operations in (doc.get("paths") or {}).values():
        for key, operation in operations.items():
            listed = operation if key == "parameters" else (operation or {}).get("parameters")
            if isinstance(listed, list):
                yield from (p for p in listed if isinstance(p, dict) and "$ref" not in p)


def _bound_parameter(parameter: dict[str, Any]) -> None:
    schema = parameter.get("schema")
    if not isinstance(schema, dict):
        return
    if parameter.get("in") == "path" and _is_string(schema):
        schema.setdefault("maxLength", MAX_ID_LENGTH)
        schema.setdefault("pattern", NO_CONTROL)
    elif parameter.get("in") == "query":
        if _is_string(schema) and "enum" not in schema and schema.get("format") != "date-time":
            schema.setdefault("maxLength", MAX_QUERY_STRING)
            schema.setdefault("pattern", NO_CONTROL)
        elif schema.get("type") == "integer" and parameter.get("name") in ("offset", "limit"):
            schema.setdefault("minimum", 0 if parameter["name"] == "offset" else 1)
            schema.setdefault("maximum", MAX_OFFSET)


def limits(settings: Settings) -> dict[str, Any]:
    """The limits that no schema keyword expresses, published as ``x-pss-limits``."""
    return {
        "maxJsonDepth": MAX_JSON_DEPTH,
        "maxIdLength": MAX_ID_LENGTH,
        "maxExternalIdLength": MAX_EXTERNAL_ID_LENGTH,
        "maxUrlLength": MAX_URL_LENGTH,
        "maxTextLength": MAX_TEXT_LENGTH,
        "maxQueryStringBytes": MAX_QUERY_STRING,
        "maxBodyBytes": settings.max_body_bytes,
        "maxPageLimit": settings.max_page_limit,
        "maxOffset": MAX_OFFSET,
        "maxFilterParameters": settings.max_filter_params,
        "maxNestedFilterConditions": settings.max_nested_filters,
        "maxValuesPerParameter": MAX_LIST,
        "maxAttributePathParts": MAX_PATH_PARTS,
        "maxDuration": MAX_DURATION_TEXT,
        "instants": RANGE + " after conversion to UTC",
        "characters": "no U+0000 in any string; no control characters in path or query",
    }
