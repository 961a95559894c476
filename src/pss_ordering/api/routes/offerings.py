"""``/psi-api/productCatalogManagement/v2/productOffering`` (PSID620 subset)."""

from __future__ import annotations

from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...domain.query import select_fields
from ...domain.related_parties import related_party_problems
from ..collections import attributes, collection_response, requested_fields
from ..common import caller_of, looking_up, services, with_href, writing
from ..contract import BodySchema, body_schema
from ..jsonio import JSON, json_response, read_json
from ..patching import PATCH_TYPES, make_patcher, patch_limits, result_validator

BASE = "/psi-api/productCatalogManagement/v2"
PATH = BASE + "/productOffering"


def _schema(variant: str) -> BodySchema:
    return body_schema("productCatalogManagement", f"ProductOffering_{variant}", "ProductOffering")


def _fields(request: Request) -> tuple[str, ...] | None:
    return requested_fields(request, attributes("productCatalogManagement", "ProductOffering"))


def _base(request: Request) -> str:
    return services(request).settings.base_url.rstrip("/") + PATH


async def publish(request: Request) -> Response:
    caller = caller_of(request)
    svc = services(request)
    fields = _fields(request)
    body, _ = await read_json(request, (JSON,), svc.settings.max_body_bytes)
    body = _schema("FVO").validate(body, rules=related_party_problems)
    doc = with_href(await writing(request, svc.offerings.publish, caller, body), _base(request))
    return json_response(select_fields(doc, fields), 201, {"Location": doc["href"]})


async def retrieve(request: Request) -> Response:
    caller = caller_of(request)
    fields = _fields(request)
    doc = await looking_up(
        request, services(request).offerings.get, caller, request.path_params["id"]
    )
    return json_response(select_fields(with_href(doc, _base(request)), fields))


async def list_offerings(request: Request) -> Response:
    caller = caller_of(request)
    known = attributes("productCatalogManagement", "ProductOffering")
    return await collection_response(
        request, partial(services(request).offerings.list, caller), known, _base(request)
    )


async def update(request: Request) -> Response:
    caller = caller_of(request)
    svc = services(request)
    fields = _fields(request)
    body, media = await read_json(request, PATCH_TYPES, svc.settings.max_body_bytes)
    schema = _schema("MVO")
    patcher = make_patcher(body, media, schema, patch_limits(svc.settings), related_party_problems)
    doc = await writing(
        request,
        svc.offerings.update,
        caller,
        request.path_params["id"],
        patcher,
        result_validator(schema, related_party_problems),
    )
    return json_response(select_fields(with_href(doc, _base(request)), fields))


async def withdraw(request: Request) -> Response:
    caller = caller_of(request)
    _fields(request)
    await writing(request, services(request).offerings.withdraw, caller, request.path_params["id"])
    return Response(status_code=204)


routes = [
    Route(PATH, publish, methods=["POST"]),
    Route(PATH, list_offerings, methods=["GET"]),
    Route(PATH + "/{id}", retrieve, methods=["GET"]),
    Route(PATH + "/{id}", update, methods=["PATCH"]),
    Route(PATH + "/{id}", withdraw, methods=["DELETE"]),
]
