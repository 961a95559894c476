"""The served TMF622 v4 document: TM Forum's Swagger 2.0 file, adjusted to what is served.

Served at ``/tmf-api/productOrderingManagement/v4/openapi.json``. Adjusted: host and
base path of this service; only the operations it implements (product orders,
the hub, and the five client-side listener paths it POSTs v4 events to; no
``cancelProductOrder``: cancellation is a PATCH of ``state``, as in v5); the bearer
token; the query parameters and PATCH media types it accepts; the error statuses
it answers with; the input bounds (``maxLength``/``pattern`` in the definitions,
the rest under ``x-pss-limits``); and, under ``x-pss-v5-mapping``, what the v4
documents are in the v5 (PSID622) documents all surfaces share.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...tmf4 import events as tmf4_events
from ...tmf4.documents import RENAMED, STATES_TO_V4, V5_ONLY_ITEM, V5_ONLY_ORDER
from ..bounds import limits
from ..common import services
from ..contract import load_contract
from ..jsonio import json_response
from .orders_v4 import API

PATH = tmf4_events.BASE + "/openapi.json"
LISTENERS = tuple(
    "/listener/" + name[0].lower() + name[1:]
    for name in (
        "ProductOrderCreateEvent",
        "ProductOrderAttributeValueChangeEvent",
        "ProductOrderStateChangeEvent",
        "ProductOrderInformationRequiredEvent",
        "ProductOrderDeleteEvent",
    )
)
SERVED_PATHS = ("/productOrder", "/productOrder/{id}", "/hub", "/hub/{id}", *LISTENERS)
ERROR_STATUSES = (400, 401, 403, 404, 405, 408, 409, 412, 413, 415, 422, 431, 500, 503)
PATCH_TYPES = ["application/merge-patch+json", "application/json", "application/json-patch+json"]
_FILTERS = (
    ("id", "Orders with this id (comma: any of several)"),
    ("orderDate", "Orders created at this instant; orderDate.gt/.gte/.lt/.lte compare"),
    ("state", "Orders in this state (comma: any of several); pending includes drafts"),
    ("externalId", "Orders with this external id"),
    ("relatedParty.id", "Orders naming this party"),
    ("relatedParty.role", "Orders naming a party in this role"),
    ("productOrderItem.productOffering.id", "Orders with an item of this offering"),
    ("sort", "Comma-separated attributes, '-' for descending (default: -orderDate)"),
)


@cache
def served_contract(host: str, scheme: str) -> dict[str, Any]:
    doc = copy.deepcopy(load_contract(API))
    doc.pop("components", None)  # the loader's alias of the definitions
    doc.update(host=host, schemes=[scheme], basePath=tmf4_events.BASE + "/")
    doc["paths"] = {p: ops for p, ops in doc["paths"].items() if p in SERVED_PATHS}
    doc["definitions"] = {
        name: schema for name, schema in doc["definitions"].items() if "Cancel" not in name
    }
    doc["securityDefinitions"] = {
        "bearerAuth": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Bearer JWT: 'Bearer <token>'",
        }
    }
    doc["security"] = [{"bearerAuth": []}]
    doc["tags"] = [t for t in doc.get("tags", []) if "ancel" not in str(t.get("name"))]
    paths = doc["paths"]
    paths["/productOrder"]["get"]["parameters"] += [
        {"name": name, "in": "query", "required": False, "type": "string", "description": text}
        for name, text in _FILTERS
    ]
    paths["/productOrder/{id}"]["patch"]["consumes"] = PATCH_TYPES
    paths["/productOrder/{id}"]["patch"]["parameters"].append(
        {"name": "If-Match", "in": "header", "required": False, "type": "string"}
    )
    doc["definitions"]["EventSubscription"]["properties"]["secret"] = {
        "type": "string",
        "description": "Standard Webhooks signing secret of the deliveries; shown once",
    }
    _health_extensions(doc)
    error = {"description": "Error", "schema": {"$ref": "#/definitions/Error"}}
    for path, operations in paths.items():
        if path.startswith("/listener/"):
            continue
        for operation in operations.values():
            if isinstance(operation, dict):
                for status in ERROR_STATUSES:
                    operation["responses"].setdefault(str(status), error)
    doc["x-pss-v5-mapping"] = {
        "renamed": RENAMED,
        "states": {"v5 state -> v4 state": STATES_TO_V4},
        "notShownInV4": {
            "ProductOrder": list(V5_ONLY_ORDER),
            "ProductOrderItem": list(V5_ONLY_ITEM),
        },
        "relatedParty": "v4 {id, href, name, role, @referredType} is v5 "
        "{role, partyOrPartyRole: {id, href, name, @referredType}}",
        "externalId": "v4 shows the first v5 externalId's id",
        "events": "POSTed to {callback}/listener/{eventName}, order as a v4 document",
        "errors": "TMF Error: code, reason, message, status, referenceError, @type",
    }
    return doc


def _health_extensions(doc: dict[str, Any]) -> None:
    """Beyond TMF622 v4, as on the PSID688 hub: delivery health, manual resumption."""
    doc["definitions"]["EventSubscriptionHealth"] = {
        "allOf": [
            {"$ref": "#/definitions/EventSubscription"},
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
        ]
    }
    answer = {
        "200": {
            "description": "The registration and its delivery health",
            "schema": {"$ref": "#/definitions/EventSubscriptionHealth"},
        }
    }
    parameters = [{"name": "id", "in": "path", "required": True, "type": "string"}]
    doc["paths"]["/hub/{id}"]["get"] = {
        "operationId": "retrieveHub",
        "summary": "A registration with its delivery health (owner or governance)",
        "tags": ["events subscription"],
        "parameters": parameters,
        "responses": dict(answer),
    }
    doc["paths"]["/hub/{id}/resume"] = {
        "post": {
            "operationId": "resumeHub",
            "summary": "Resume delivery to a halted or disabled callback (owner or governance)",
            "tags": ["events subscription"],
            "parameters": parameters,
            "responses": dict(answer),
        }
    }


async def openapi(request: Request) -> Response:
    settings = services(request).settings
    parts = urlsplit(settings.base_url)
    return json_response(
        {
            **served_contract(parts.netloc, parts.scheme or "http"),
            "x-pss-limits": limits(settings),
        }
    )


routes = [Route(PATH, openapi, methods=["GET"])]
