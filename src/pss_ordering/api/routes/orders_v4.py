"""``/tmf-api/productOrderingManagement/v4`` (TMF622 v4.0.0): the same orders, in v4.

Translation only: a v4 body is validated against TM Forum's TMF622 v4 schema,
translated to v5 (:mod:`...tmf4.documents`) and validated against PSID622 like a
v5 request; then the same use case runs (authentication, visibility, lifecycle,
field rights, ETags, events) and its answer is translated back. A v4 PATCH is
applied to the v4 form of the caller's view inside the use case, so it obeys the
v5 rules on exactly what it changed. Hub registrations made here receive the
order events in v4 shape (:mod:`...tmf4.events`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache, partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...domain.hub import CallbackHealth, Subscription
from ...domain.identity import Caller
from ...domain.query import Shape, parse_query, select_fields
from ...tmf4 import events as tmf4_events
from ...tmf4.documents import order_to_v4, order_to_v5
from ...tmf4.queries import query_to_v5, split_fields
from ..collections import query_of, requested_fields
from ..common import (
    caller_of,
    etag,
    if_match,
    looking_up,
    reading,
    services,
    with_href,
    writing,
)
from ..contract import BodySchema, body_schema, query_shape
from ..jsonio import JSON, json_response, page_response, read_json
from ..patching import PATCH_TYPES, Patcher, make_patcher, patch_limits, result_validator
from . import orders as v5
from .events import health_fields

API = "productOrderingV4"
BASE = tmf4_events.BASE
PATH = tmf4_events.ORDER_PATH
ORDER_ATTRIBUTES = query_shape(API, "ProductOrder")
HUB_FIELDS: Shape = {}


def _create_schema() -> BodySchema:
    return body_schema(API, "ProductOrder_Create", "ProductOrder")


def _update_schema() -> BodySchema:
    return body_schema(API, "ProductOrder_Update", "ProductOrder")


def _patch_body_schema() -> BodySchema:
    return body_schema(API, "ProductOrder_Update", "ProductOrder", partial=True)


def _hub_schema() -> BodySchema:
    return body_schema(API, "EventSubscriptionInput", "EventSubscriptionInput")


@lru_cache(maxsize=8)
def _base_url(base_url: str) -> str:
    return base_url.rstrip("/") + BASE


def _base(request: Request) -> str:
    return _base_url(services(request).settings.base_url)


def _answer(request: Request, doc: dict[str, Any]) -> dict[str, Any]:
    """A v5 view as the v4 document, with its v4 href."""
    return with_href(order_to_v4(doc), services(request).hrefs.v4)


def _fields(request: Request) -> tuple[str, ...] | None:
    return requested_fields(request, ORDER_ATTRIBUTES)


async def create(request: Request) -> Response:
    caller = caller_of(request)
    svc = services(request)
    body, _ = await read_json(request, (JSON,), svc.settings.max_body_bytes)
    fields = _fields(request)
    translated = order_to_v5(_create_schema().validate(body))
    translated = v5._create_schema().validate(translated)
    result = await writing(request, svc.orders.create, caller, translated)
    doc = _answer(request, result.doc)
    return json_response(
        select_fields(doc, fields), 201, {"Location": doc["href"], "ETag": etag(result.version)}
    )


async def retrieve(request: Request) -> Response:
    caller = caller_of(request)
    fields = _fields(request)
    result = await looking_up(
        request, services(request).orders.get, caller, request.path_params["id"]
    )
    doc = _answer(request, result.doc)
    return json_response(select_fields(doc, fields), 200, {"ETag": etag(result.version)})


async def list_orders(request: Request) -> Response:
    caller = caller_of(request)
    svc = services(request)
    params, raw_fields = split_fields(request.query_params.multi_items())
    fields = (
        None
        if raw_fields is None
        else parse_query(
            [("fields", raw_fields)], attributes=ORDER_ATTRIBUTES, default_limit=1, max_limit=1
        ).fields
    )
    query = query_of(request, v5.ORDER_ATTRIBUTES, query_to_v5(params, ORDER_ATTRIBUTES))
    page = await svc.executor.read_sized(
        partial(svc.orders.listing, caller, query), svc.orders.page
    )
    docs = [select_fields(_answer(request, doc), fields) for doc in page.docs]
    return page_response(docs, page.total, page.count_limit)


async def patch(request: Request) -> Response:
    caller = caller_of(request)
    svc = services(request)
    expected = if_match(request)
    body, kind = await read_json(request, PATCH_TYPES, svc.settings.max_body_bytes)
    fields = _fields(request)
    result = await writing(
        request,
        svc.orders.patch,
        caller,
        request.path_params["id"],
        v4_patcher(make_patcher(body, kind, _patch_body_schema(), patch_limits(svc.settings))),
        result_validator(v5._patch_schema()),
        expected,
    )
    doc = _answer(request, result.doc)
    return json_response(select_fields(doc, fields), 200, {"ETag": etag(result.version)})


def v4_patcher(apply_v4: Patcher) -> Patcher:
    """A v4 patch as a change of the caller's v5 view: applied to its v4 form, checked
    against the v4 schema, put back (what the patch left alone keeps its v5 form)."""
    check = result_validator(_update_schema())

    def apply(view: dict[str, Any]) -> dict[str, Any]:
        after = apply_v4(order_to_v4(view))
        check(after)
        return order_to_v5(after, view)

    return apply


async def delete(request: Request) -> Response:
    caller = caller_of(request)
    _fields(request)
    await writing(request, services(request).orders.delete, caller, request.path_params["id"])
    return Response(status_code=204)


async def register_hub(request: Request) -> Response:
    """TMF622 v4 ``POST /hub``: order events to ``{callback}/listener/{eventName}``."""
    caller = caller_of(request)
    svc = services(request)
    requested_fields(request, HUB_FIELDS)
    body, _ = await read_json(request, (JSON,), svc.settings.max_body_bytes)
    body = _hub_schema().validate(body, fill_type=False)
    await reading(request, svc.hub.check_addresses, body["callback"])
    registration = await writing(
        request, svc.hub.register_v4, caller, body["callback"], body.get("query")
    )
    doc = _hub_doc(registration.subscription)
    if registration.secret is not None:
        doc["secret"] = registration.secret  # Standard Webhooks signing secret, shown once
    location = f"{_base(request)}/hub/{doc['id']}"
    return json_response(doc, 201 if registration.created else 200, {"Location": location})


def _hub_doc(subscription: Subscription) -> dict[str, Any]:
    """TMF622 v4's EventSubscription."""
    doc: dict[str, Any] = {"id": subscription.id, "callback": subscription.callback}
    if subscription.query:
        doc["query"] = subscription.query
    return doc


async def hub_health(request: Request) -> Response:
    """Beyond TMF622 v4, as on the PSID688 hub: a registration with its delivery health."""
    return await _health_answer(request, reading, services(request).hub.health_v4)


async def resume_hub(request: Request) -> Response:
    """PSI-01-02-03-07: resume delivery to a halted (or disabled) v4 callback."""
    return await _health_answer(request, writing, services(request).hub.resume_v4)


async def _health_answer(
    request: Request,
    run: Callable[..., Awaitable[CallbackHealth]],
    operation: Callable[[Caller, str], CallbackHealth],
) -> Response:
    caller = caller_of(request)
    requested_fields(request, HUB_FIELDS)
    health = await run(request, operation, caller, request.path_params["id"])
    return json_response({**_hub_doc(health.subscription), **health_fields(health)})


async def unregister_hub(request: Request) -> Response:
    caller = caller_of(request)
    requested_fields(request, HUB_FIELDS)
    await writing(request, services(request).hub.remove_v4, caller, request.path_params["id"])
    return Response(status_code=204)


routes = [
    Route(PATH, create, methods=["POST"]),
    Route(PATH, list_orders, methods=["GET"]),
    Route(PATH + "/{id}", retrieve, methods=["GET"]),
    Route(PATH + "/{id}", patch, methods=["PATCH"]),
    Route(PATH + "/{id}", delete, methods=["DELETE"]),
    Route(BASE + "/hub", register_hub, methods=["POST"]),
    Route(BASE + "/hub/{id}", unregister_hub, methods=["DELETE"]),
    Route(BASE + "/hub/{id}", hub_health, methods=["GET"]),
    Route(BASE + "/hub/{id}/resume", resume_hub, methods=["POST"]),
]


def warm_up() -> None:
    """Compile the v4 request schemas at start (see ``app.warm_up_validators``)."""
    for compile_schema in (_create_schema, _update_schema, _patch_body_schema, _hub_schema):
        compile_schema()
