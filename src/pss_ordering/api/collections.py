"""TMF630 query handling shared by routes: field selection everywhere, and small
collections (parties, offerings) filtered, sorted and paged in memory."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..domain.errors import InvalidQuery
from ..domain.query import evaluate, parse_query, select_fields
from .common import services, with_href
from .contract import load_contract, schema_properties
from .jsonio import page_response


def attributes(api: str, schema: str) -> frozenset[str]:
    schemas = load_contract(api)["components"]["schemas"]
    return frozenset(schema_properties(schemas, schema)) | {"id", "href"}


def collection_response(
    request: Request, docs: list[dict[str, Any]], known: frozenset[str], base: str
) -> Response:
    settings = services(request).settings
    query = parse_query(
        request.query_params.multi_items(),
        attributes=known,
        default_limit=settings.default_page_limit,
        max_limit=settings.max_page_limit,
    )
    total, page = evaluate(docs, query.conditions, query.sort, query.offset, query.limit)
    body = [select_fields(with_href(doc, base), query.fields) for doc in page]
    return page_response(body, total)


def requested_fields(request: Request, known: frozenset[str]) -> tuple[str, ...] | None:
    """``fields=`` on a single-resource operation; any other query parameter is refused."""
    extra = sorted({name for name, _ in request.query_params.multi_items()} - {"fields"})
    if extra:
        raise InvalidQuery("unsupported query parameter(s): " + ", ".join(extra))
    raw = request.query_params.get("fields")
    if raw is None:
        return None
    return parse_query([("fields", raw)], attributes=known, default_limit=1, max_limit=1).fields
