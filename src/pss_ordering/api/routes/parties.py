"""``/psi-api/partyManagement/v2/{organization,individual}`` (PSID632 subset)."""

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

BASE = "/psi-api/partyManagement/v2"
KINDS = {"organization": "Organization", "individual": "Individual"}


def _schema(kind: str, variant: str) -> BodySchema:
    name = KINDS[kind]
    return body_schema("partyManagement", f"{name}_{variant}", name)


def _kind(request: Request) -> str:
    return request.url.path[len(BASE) + 1 :].split("/", 1)[0]


def _fields(request: Request, kind: str) -> tuple[str, ...] | None:
    return requested_fields(request, attributes("partyManagement", KINDS[kind]))


def _base(request: Request, kind: str) -> str:
    return f"{services(request).settings.base_url.rstrip('/')}{BASE}/{kind}"


async def register(request: Request) -> Response:
    caller = caller_of(request)
    svc = services(request)
    kind = _kind(request)
    fields = _fields(request, kind)
    body, _ = await read_json(request, (JSON,), svc.settings.max_body_bytes)
    body = _schema(kind, "FVO").validate(body, rules=related_party_problems)
    doc = with_href(
        await writing(request, svc.parties.register, caller, kind, body), _base(request, kind)
    )
    return json_response(select_fields(doc, fields), 201, {"Location": doc["href"]})


async def retrieve(request: Request) -> Response:
    caller = caller_of(request)
    kind = _kind(request)
    fields = _fields(request, kind)
    doc = await looking_up(
        request, services(request).parties.get, caller, kind, request.path_params["id"]
    )
    return json_response(select_fields(with_href(doc, _base(request, kind)), fields))


async def list_parties(request: Request) -> Response:
    caller = caller_of(request)
    kind = _kind(request)
    known = attributes("partyManagement", KINDS[kind])
    return await collection_response(
        request, partial(services(request).parties.list, caller, kind), known, _base(request, kind)
    )


async def update(request: Request) -> Response:
    caller = caller_of(request)
    svc = services(request)
    kind = _kind(request)
    fields = _fields(request, kind)
    body, media = await read_json(request, PATCH_TYPES, svc.settings.max_body_bytes)
    schema = _schema(kind, "MVO")
    patcher = make_patcher(body, media, schema, patch_limits(svc.settings), related_party_problems)
    doc = await writing(
        request,
        svc.parties.update,
        caller,
        kind,
        request.path_params["id"],
        patcher,
        result_validator(schema, related_party_problems),
    )
    return json_response(select_fields(with_href(doc, _base(request, kind)), fields))


async def remove(request: Request) -> Response:
    caller = caller_of(request)
    kind = _kind(request)
    _fields(request, kind)
    await writing(
        request, services(request).parties.remove, caller, kind, request.path_params["id"]
    )
    return Response(status_code=204)


routes = [
    route
    for kind in KINDS
    for route in (
        Route(f"{BASE}/{kind}", register, methods=["POST"]),
        Route(f"{BASE}/{kind}", list_parties, methods=["GET"]),
        Route(f"{BASE}/{kind}/{{id}}", retrieve, methods=["GET"]),
        Route(f"{BASE}/{kind}/{{id}}", update, methods=["PATCH"]),
        Route(f"{BASE}/{kind}/{{id}}", remove, methods=["DELETE"]),
    )
]
