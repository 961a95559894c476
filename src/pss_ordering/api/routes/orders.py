"""``/psi-api/productOrdering/v2/productOrder`` (PSID622, TMF622 v5)."""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...domain.field_rights import RENAMED
from ...domain.orders import creation_shape
from ...domain.query import select_fields
from ...hrefs import ORDER_PATH as PATH
from ..collections import query_of, requested_fields
from ..common import caller_of, etag, if_match, looking_up, services, with_href, writing
from ..contract import BodySchema, body_schema, query_shape
from ..jsonio import JSON, json_response, page_response, read_json
from ..patching import (
    PATCH_TYPES,
    make_patcher,
    merge_patch_order,
    patch_limits,
    result_validator,
)

ORDER_ATTRIBUTES = query_shape("productOrdering", "ProductOrder")


def _create_schema() -> BodySchema:
    return body_schema("productOrdering", "ProductOrder_FVO", "ProductOrder")


def validate_new_order(body: Any) -> dict[str, Any]:
    """A new order's body, judged as a POST judges it: one place for POST and for the
    creation events another PSS sends (every problem named, older names refused)."""
    return _create_schema().validate(body, rules=creation_shape, aliases=RENAMED)


def _patch_schema() -> BodySchema:
    return body_schema("productOrdering", "ProductOrder_MVO", "ProductOrder")


def _href_base(request: Request) -> str:
    return services(request).hrefs.v5


def _fields(request: Request) -> tuple[str, ...] | None:
    return requested_fields(request, ORDER_ATTRIBUTES)


async def create(request: Request) -> Response:
    caller = caller_of(request)
    svc = services(request)
    body, _ = await read_json(request, (JSON,), svc.settings.max_body_bytes)
    fields = _fields(request)
    body = validate_new_order(body)
    result = await writing(request, svc.orders.create, caller, body)
    doc = with_href(result.doc, _href_base(request))
    return json_response(
        select_fields(doc, fields), 201, {"Location": doc["href"], "ETag": etag(result.version)}
    )


async def retrieve(request: Request) -> Response:
    caller = caller_of(request)
    fields = _fields(request)
    result = await looking_up(
        request, services(request).orders.get, caller, request.path_params["id"]
    )
    doc = with_href(result.doc, _href_base(request))
    return json_response(select_fields(doc, fields), 200, {"ETag": etag(result.version)})


async def list_orders(request: Request) -> Response:
    caller = caller_of(request)
    query = query_of(request, ORDER_ATTRIBUTES)
    svc = services(request)
    page = await svc.executor.read_sized(
        partial(svc.orders.listing, caller, query), svc.orders.page
    )
    base = _href_base(request)
    docs = [with_href(doc, base) for doc in page.docs]  # each a new dict already
    if query.fields is not None:
        docs = [select_fields(doc, query.fields) for doc in docs]
    return page_response(docs, page.total, page.count_limit)


async def patch(request: Request) -> Response:
    caller = caller_of(request)
    svc = services(request)
    expected = if_match(request)
    body, kind = await read_json(request, PATCH_TYPES, svc.settings.max_body_bytes)
    fields = _fields(request)
    schema = _patch_schema()
    patcher = make_patcher(body, kind, schema, patch_limits(svc.settings), merge=merge_patch_order)
    result = await writing(
        request,
        svc.orders.patch,
        caller,
        request.path_params["id"],
        patcher,
        result_validator(schema),
        expected,
    )
    doc = with_href(result.doc, _href_base(request))
    return json_response(select_fields(doc, fields), 200, {"ETag": etag(result.version)})


async def delete(request: Request) -> Response:
    caller = caller_of(request)
    _fields(request)
    await writing(request, services(request).orders.delete, caller, request.path_params["id"])
    return Response(status_code=204)


routes = [
    Route(PATH, create, methods=["POST"]),
    Route(PATH, list_orders, methods=["GET"]),
    Route(PATH + "/{id}", retrieve, methods=["GET"]),
    Route(PATH + "/{id}", patch, methods=["PATCH"]),
    Route(PATH + "/{id}", delete, methods=["DELETE"]),
]
