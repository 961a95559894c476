"""The contract the service serves: one OpenAPI document per API, and interactive docs.

Each document is the PSI file with what this service adds: the bearer-token
security scheme, the error statuses it can answer with, the leniency of its
validator (see :func:`_as_accepted`), the input bounds it enforces (``maxLength``,
``pattern`` and ``maximum`` in the schemas and parameters, the rest under
``x-pss-limits``; see :mod:`..bounds`), and only the paths it implements.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from ...hrefs import ORDERING_API
from ..bounds import bound_contract, limits
from ..common import services
from ..contract import load_contract
from ..csp import HEADERS
from ..jsonio import json_response

SERVED = {
    "productOrdering": (ORDERING_API, {"/productOrder", "/productOrder/{id}"}),
    "partyManagement": (
        "/psi-api/partyManagement/v2",
        {"/organization", "/organization/{id}", "/individual", "/individual/{id}"},
    ),
    "productCatalogManagement": (
        "/psi-api/productCatalogManagement/v2",
        {"/productOffering", "/productOffering/{id}"},
    ),
    "event": (
        "/psi-api/event/v2",
        {"/topic", "/topic/{topicId}/hub", "/topic/{topicId}/hub/{id}", "/topic/{topicId}/event"},
    ),
    "orderMonitoring": (
        "/psi-api/orderMonitoring/v1",
        {"/providerResponseTime", "/responseTimeBreach"},
    ),
}
# 408 (body or headers too slow), 431 (headers too large) and 503 (JWKS unreachable,
# connection limit) come from the transport and authentication limits (issue 9).
ERROR_STATUSES = tuple(str(status) for status in (400, 401, 403, 404, 405, 408, 409, 412))
ERROR_STATUSES += tuple(str(status) for status in (413, 415, 422, 431, 500, 503))
_ERROR_RESPONSE = {
    "description": "Error (TMF Error body)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


@cache
def served_contract(api: str) -> dict[str, Any]:
    base, paths = SERVED[api]
    doc = copy.deepcopy(load_contract(api))
    doc["servers"] = [{"url": base}]
    doc["paths"] = {path: ops for path, ops in doc["paths"].items() if path in paths}
    components = doc.setdefault("components", {})
    if api == "event":
        _event_extensions(doc)
    if api == "productOrdering":
        _update_conventions(doc)
    components["securitySchemes"] = {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    doc["security"] = [{"bearerAuth": []}]
    components.setdefault("responses", {})["PssError"] = _ERROR_RESPONSE
    _error_details(components.setdefault("schemas", {}))
    _as_accepted(components.get("schemas", {}))
    _plain_json(doc["paths"])
    bound_contract(doc)  # the extensions' schemas and parameters get their limits too
    for operations in doc["paths"].values():
        for method, operation in operations.items():
            if method == "parameters" or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for status in ERROR_STATUSES:
                responses.setdefault(status, {"$ref": "#/components/responses/PssError"})
    return doc


ERROR_DETAIL = {
    "type": "object",
    "description": "One problem of a request (this service's extension of TMF Error)",
    "required": ["path", "reason", "code"],
    "properties": {
        "path": {
            "type": "string",
            "description": "JSON path of the offending value in the request body, "
            "e.g. $.productOrderItem[0].state; $ for the body itself",
        },
        "reason": {"type": "string", "description": "Why the value is refused"},
        "code": {
            "type": "string",
            "description": "Kind of problem: schema, required, unknownField, unknownType, "
            "serverSet, readOnly, legacyRelatedParty, customerNotNamed, businessRule, "
            "alreadyReplaced",
        },
    },
}


def _error_details(schemas: dict[str, Any]) -> None:
    """TMF Error with ``details``: every problem a 400/422 found, ``message`` their summary."""
    error = schemas.get("Error")
    if not isinstance(error, dict) or "ErrorDetail" in schemas:
        return
    schemas["ErrorDetail"] = ERROR_DETAIL
    error.setdefault("allOf", []).append(
        {
            "type": "object",
            "properties": {
                "details": {
                    "type": "array",
                    "description": "Every problem found in the request, one per offending "
                    "value (the message summarises them); absent when the error is not "
                    "about the request's content",
                    "items": {"$ref": "#/components/schemas/ErrorDetail"},
                }
            },
        }
    )


def _event_extensions(doc: dict[str, Any]) -> None:
    """What this PSS adds to PSID688: delivery health and manual resumption of a
    callback (PSI-01-02-03-07), and 200 for a repeated registration or event."""
    schemas = doc["components"]["schemas"]
    schemas["HubSubscriptionHealth"] = {
        "allOf": [
            {"$ref": "#/components/schemas/HubSubscription"},
            {
                "type": "object",
                "properties": {
                    "state": {"type": "string", "enum": ["active", "halted", "disabled"]},
                    "pendingCount": {"type": "integer"},
                    "deliveredCount": {"type": "integer"},
                    "consecutiveFailures": {"type": "integer"},
                    "nextAttemptAt": {"type": "string", "format": "date-time"},
                    "lastAttemptAt": {"type": "string", "format": "date-time"},
                    "lastSuccessAt": {"type": "string", "format": "date-time"},
                    "lastStatus": {"type": "integer"},
                    "lastError": {"type": "string"},
                },
            },
        ],
        "description": "A registration with how delivery to its callback is going",
    }
    health = {
        "description": "The registration and its delivery health",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/HubSubscriptionHealth"}}
        },
    }
    path_params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in ("topicId", "id")
    ]
    paths = doc["paths"]
    paths["/topic/{topicId}/hub/{id}"]["get"] = {
        "operationId": "retrieveHubSubscription",
        "summary": "A registration with its delivery health",
        "parameters": path_params,
        "responses": {"200": health},
    }
    paths["/topic/{topicId}/hub/{id}/resume"] = {
        "post": {
            "operationId": "resumeHubSubscription",
            "summary": "Resume delivery to a halted or disabled callback (owner or governance)",
            "parameters": path_params,
            "responses": {"200": health},
        }
    }
    for path in ("/topic/{topicId}/hub", "/topic/{topicId}/event"):
        created = paths[path]["post"]["responses"]["201"]
        paths[path]["post"]["responses"]["200"] = {
            **created,
            "description": "Already registered / already received: the first answer again",
        }


UPDATE_CONVENTIONS = (
    " Who may change which field depends on the role and on the order's (or item's) "
    "phase: 403 for a field the role never writes, 409 for one it writes in another "
    "phase (the table: docs/LIFECYCLE.md). application/json-patch-query+json is TMF630 "
    "JSON Patch Query: a path may end in a query selecting array elements by attribute "
    "(/productOrderItem/billingAccount/id?productOrderItem.id=120). A provider refuses "
    "a change of what it acknowledged by moving its items to pending with an appended "
    "productOrderErrorMessage {code: changeRefused, reason, message: missing=<field>, "
    "productOrderItem: [its items]}; the customer is then asked for another value "
    "(orderInformationRequiredNotification)."
)


def _update_conventions(doc: dict[str, Any]) -> None:
    """What PATCH means here beyond PSID622's text (issue 11 §1)."""
    operation = doc["paths"]["/productOrder/{id}"]["patch"]
    operation["description"] = operation.get("description", "") + UPDATE_CONVENTIONS


def _as_accepted(node: Any) -> None:
    """Say what the service accepts: ``@type`` optional, ``oneOf`` read as ``anyOf``.

    Without ``@type``, TMF's alternatives (``PartyRef`` or ``PartyRoleRef``, ...)
    overlap, so an object can match two of them; the validator accepts that.
    """
    if isinstance(node, dict):
        if "oneOf" in node:
            node["anyOf"] = node.pop("oneOf")
        required = node.get("required")
        if isinstance(required, list) and "@type" in required:
            node["required"] = [name for name in required if name != "@type"] or None
            if node["required"] is None:
                del node["required"]
        for value in node.values():
            _as_accepted(value)
    elif isinstance(node, list):
        for value in node:
            _as_accepted(value)


def _plain_json(node: Any) -> None:
    """The service speaks ``application/json`` (the PSID688 file says ``;charset=utf-8``)."""
    if isinstance(node, dict):
        content = node.get("content")
        if isinstance(content, dict) and "application/json;charset=utf-8" in content:
            content["application/json"] = content.pop("application/json;charset=utf-8")
        for value in node.values():
            _plain_json(value)
    elif isinstance(node, list):
        for value in node:
            _plain_json(value)


async def openapi(request: Request) -> Response:
    """The served document, with the limits no schema keyword states (``x-pss-limits``)."""
    api = request.url.path.split("/")[2]
    return json_response(
        {**served_contract(api), "x-pss-limits": limits(services(request).settings)}
    )


_SWAGGER = """<!doctype html>
<html lang="en"><head><title>pss-ordering API</title><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head><body><main id="ui"></main>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body></html>"""


async def interactive(_request: Request) -> Response:
    """Swagger UI from the ``swagger-ui-bundle`` package: no CDN, no inline script."""
    return HTMLResponse(_SWAGGER, headers=HEADERS)


async def initializer(_request: Request) -> Response:
    """The script that starts Swagger UI on the served documents (a file, for the CSP)."""
    urls = [{"url": f"{base}/openapi.json", "name": api} for api, (base, _) in SERVED.items()]
    script = (
        "SwaggerUIBundle({dom_id: '#ui', layout: 'StandaloneLayout', deepLinking: true,\n"
        "  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],\n"
        f"  urls: {json.dumps(urls)}}});\n"
    )
    return Response(script, media_type="text/javascript", headers=HEADERS)


#: Swagger UI's files, as the package ships them (outside the API's guarded routes).
mounts = [Mount("/docs/assets", app=StaticFiles(directory=str(swagger_ui_path)))]

routes = [
    *(Route(f"{base}/openapi.json", openapi, methods=["GET"]) for base, _ in SERVED.values()),
    Route("/docs", interactive, methods=["GET"]),
    Route("/docs/init.js", initializer, methods=["GET"]),
]
