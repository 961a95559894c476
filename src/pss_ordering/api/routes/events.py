"""``/psi-api/event/v2`` (PSID688): topics and callback registrations.

The same API also answers under ``/psi-api/eventManagement/v2``, the path the
PSI mock-up's clients use.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...domain.hub import TOPICS, Subscription
from ..collections import requested_fields
from ..common import caller_of, reading, services, writing
from ..contract import body_schema
from ..jsonio import JSON, json_response, page_response, read_json

BASES = ("/psi-api/event/v2", "/psi-api/eventManagement/v2")
NO_FIELDS: frozenset[str] = frozenset()


def _base(request: Request) -> str:
    path = request.url.path
    base = next(b for b in BASES if path.startswith(b))
    return services(request).settings.base_url.rstrip("/") + base


def _hub_doc(request: Request, subscription: Subscription) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": subscription.id,
        "href": f"{_base(request)}/topic/{subscription.topic}/hub/{subscription.id}",
        "callback": subscription.callback,
        "@type": "HubSubscription",
    }
    if subscription.query:
        doc["query"] = subscription.query
    return doc


async def list_topics(request: Request) -> Response:
    caller_of(request)
    requested_fields(request, frozenset({"id", "name"}))
    topics = [
        {"id": t, "name": t, "href": f"{_base(request)}/topic/{t}", "@type": "Topic"}
        for t in TOPICS
    ]
    return page_response(topics, len(topics))


async def register(request: Request) -> Response:
    caller = caller_of(request)
    svc = services(request)
    requested_fields(request, NO_FIELDS)
    body, _ = await read_json(request, (JSON,), svc.settings.max_body_bytes)
    body = body_schema("event", "HubSubscription_Create", "HubSubscription").validate(body)
    topic = request.path_params["topic"]
    registration = await writing(
        request, svc.hub.register, caller, topic, body["callback"], body.get("query")
    )
    doc = _hub_doc(request, registration.subscription)
    if registration.secret is not None:
        doc["secret"] = registration.secret
    return json_response(doc, 201 if registration.created else 200, {"Location": doc["href"]})


async def list_hubs(request: Request) -> Response:
    caller = caller_of(request)
    requested_fields(request, NO_FIELDS)
    found = await reading(request, services(request).hub.list, caller, request.path_params["topic"])
    docs = [_hub_doc(request, s) for s in found]
    return page_response(docs, len(docs))


async def unregister(request: Request) -> Response:
    caller = caller_of(request)
    requested_fields(request, NO_FIELDS)
    params = request.path_params
    await writing(request, services(request).hub.remove, caller, params["topic"], params["id"])
    return Response(status_code=204)


routes = [
    route
    for base in BASES
    for route in (
        Route(f"{base}/topic", list_topics, methods=["GET"]),
        Route(f"{base}/topic/{{topic}}/hub", register, methods=["POST"]),
        Route(f"{base}/topic/{{topic}}/hub", list_hubs, methods=["GET"]),
        Route(f"{base}/topic/{{topic}}/hub/{{id}}", unregister, methods=["DELETE"]),
    )
]
