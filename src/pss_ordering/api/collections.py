"""TMF630 query handling shared by routes: field selection everywhere, and small
collections (parties, offerings) filtered, sorted and paged in memory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..domain.errors import InvalidQuery
from ..domain.query import Query, Shape, evaluate, parse_query, select_fields
from .common import reading, services, with_href
from .contract import query_shape
from .jsonio import page_response


def attributes(api: str, schema: str) -> Shape:
    """What queries on this resource may name: its contract's shape (``id`` and ``href``
    always)."""
    return query_shape(api, schema)


def query_of(
    request: Request, known: Shape, params: Iterable[tuple[str, str]] | None = None
) -> Query:
    """The request's TMF630 query (or ``params``, translated from it), within the
    configured paging and cost limits."""
    settings = services(request).settings
    return parse_query(
        request.query_params.multi_items() if params is None else params,
        attributes=known,
        default_limit=settings.default_page_limit,
        max_limit=settings.max_page_limit,
        max_filters=settings.max_filter_params,
        max_nested=settings.max_nested_filters,
    )


async def collection_response(
    request: Request, load: Callable[[], list[dict[str, Any]]], known: Shape, base: str
) -> Response:
    """A small collection: loaded, filtered, sorted and paged off the event loop."""
    query = query_of(request, known)

    def answer() -> tuple[int, list[dict[str, Any]]]:
        total, page = evaluate(load(), query.conditions, query.sort, query.offset, query.limit)
        return total, [select_fields(with_href(doc, base), query.fields) for doc in page]

    total, body = await reading(request, answer)
    return page_response(body, total)


def requested_fields(request: Request, known: Shape) -> tuple[str, ...] | None:
    """``fields=`` on a single-resource operation; any other query parameter is refused."""
    if not request.scope.get("query_string"):
        return None  # most reads by id: no query string to parse
    extra = sorted({name for name, _ in request.query_params.multi_items()} - {"fields"})
    if extra:
        raise InvalidQuery("unsupported query parameter(s): " + ", ".join(extra))
    raw = request.query_params.get("fields")
    if raw is None:
        return None
    return parse_query([("fields", raw)], attributes=known, default_limit=1, max_limit=1).fields
