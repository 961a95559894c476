"""``/psi-api/event/v2`` (PSID688): topics, callback registrations, events.

The same API also answers under ``/psi-api/eventManagement/v2``, the path the
PSI mock-up's clients use. Beyond PSID688, a registration can be read with its
delivery health (``GET .../hub/{id}``) and resumed after it was halted
(``POST .../hub/{id}/resume``, PSI-01-02-03-07).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...domain.errors import InvalidQuery
from ...domain.hub import TOPICS, CallbackHealth, Subscription
from ...domain.identity import Caller
from ...domain.notifications import SEED_EVENT_NAMES
from ...domain.query import Shape, opaque, select_fields
from ..collections import attributes, query_of, requested_fields
from ..common import caller_of, reading, services, writing
from ..contract import body_schema
from ..jsonio import JSON, json_response, page_response, read_json
from ..patching import result_validator
from .orders import validate_new_order

BASES = ("/psi-api/event/v2", "/psi-api/eventManagement/v2")
NO_FIELDS: Shape = {}
SEED_EVENT_FIELDS = ("resourcePath", "fieldPath")
SENDER_EVENT_FIELDS = ("id", "href")
EVENT_ATTRIBUTES: Shape = {**attributes("event", "Event"), **opaque(SEED_EVENT_FIELDS)}


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


def _health_doc(request: Request, health: CallbackHealth) -> dict[str, Any]:
    """The registration with how delivery to it is going (an extension of HubSubscription)."""
    return {**_hub_doc(request, health.subscription), **health_fields(health)}


def health_fields(health: CallbackHealth) -> dict[str, Any]:
    """How delivery to a callback is going, as the hub documents show it (v5 and v4)."""
    doc: dict[str, Any] = dict(
        state=health.subscription.state,
        pendingCount=health.pending,
        deliveredCount=health.delivered,
        consecutiveFailures=health.failures,
    )
    for key, value in (
        ("nextAttemptAt", health.retry_at),
        ("lastAttemptAt", health.last_attempt_at),
        ("lastSuccessAt", health.last_success_at),
        ("lastStatus", health.last_status),
        ("lastError", health.last_error),
    ):
        if value is not None:
            doc[key] = value
    return doc


async def list_topics(request: Request) -> Response:
    caller_of(request)
    requested_fields(request, opaque(("id", "name")))
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
    await reading(request, svc.hub.check_addresses, body["callback"])
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


async def hub_health(request: Request) -> Response:
    return await _health_answer(request, reading, services(request).hub.health)


async def resume(request: Request) -> Response:
    return await _health_answer(request, writing, services(request).hub.resume)


async def _health_answer(
    request: Request,
    run: Callable[..., Awaitable[CallbackHealth]],
    operation: Callable[[Caller, str, str], CallbackHealth],
) -> Response:
    """A use case on one registration, answered with the registration and its health."""
    caller = caller_of(request)
    requested_fields(request, NO_FIELDS)
    params = request.path_params
    health = await run(request, operation, caller, params["topic"], params["id"])
    return json_response(_health_doc(request, health))


async def receive_event(request: Request) -> Response:
    """An event from a provider or another PSS; order events apply like its PATCH, a
    creation event from another PSS like its POST."""
    caller = caller_of(request)
    svc = services(request)
    requested_fields(request, NO_FIELDS)
    body, _ = await read_json(request, (JSON,), svc.settings.max_body_bytes)
    # Seed 001's resourcePath/fieldPath are not in PSID688's Event: set aside, then kept.
    seed_fields = {
        k: body.pop(k) for k in SEED_EVENT_FIELDS if isinstance(body, dict) and k in body
    }
    if isinstance(body, dict):
        # The sender's own id and href of its Event (as this service sends them to a
        # partner PSS) are not this PSS's to keep: the answer's id is the eventId.
        for sender_only in SENDER_EVENT_FIELDS:
            body.pop(sender_only, None)
    body = body_schema("event", "Event_Create", "Event").validate(body)
    body.update(seed_fields)
    order_schema = body_schema("productOrdering", "ProductOrder_MVO", "ProductOrder")
    received = await writing(
        request,
        svc.intake.receive,
        caller,
        request.path_params["topic"],
        body,
        result_validator(order_schema),
        validate_new_order,
    )
    return json_response(received.answer, 201 if received.applied else 200)


async def list_events(request: Request) -> Response:
    caller = caller_of(request)
    query = query_of(request, EVENT_ATTRIBUTES)
    if query.sort or any(c.path != "eventType" or c.op != "eq" for c in query.conditions):
        raise InvalidQuery(
            "events are listed newest first and filtered by eventType only "
            "(besides fields, offset and limit)"
        )
    types = [SEED_EVENT_NAMES.get(value, value) for c in query.conditions for value in c.values]
    total, docs = await reading(
        request,
        services(request).intake.list,
        caller,
        request.path_params["topic"],
        query.offset,
        query.limit,
        types or None,
    )
    return page_response([select_fields(doc, query.fields) for doc in docs], total)


routes = [
    route
    for base in BASES
    for route in (
        Route(f"{base}/topic", list_topics, methods=["GET"]),
        Route(f"{base}/topic/{{topic}}/hub", register, methods=["POST"]),
        Route(f"{base}/topic/{{topic}}/hub", list_hubs, methods=["GET"]),
        Route(f"{base}/topic/{{topic}}/hub/{{id}}", unregister, methods=["DELETE"]),
        Route(f"{base}/topic/{{topic}}/hub/{{id}}", hub_health, methods=["GET"]),
        Route(f"{base}/topic/{{topic}}/hub/{{id}}/resume", resume, methods=["POST"]),
        Route(f"{base}/topic/{{topic}}/event", receive_event, methods=["POST"]),
        Route(f"{base}/topic/{{topic}}/event", list_events, methods=["GET"]),
    )
]
