"""``/psi-api/orderMonitoring/v1``: response-time figures and breaches; and ``/metrics``."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..api.bounds import query_instant, shown
from ..api.common import caller_of, reading, services
from ..api.jsonio import page_response
from ..domain.errors import Forbidden, InvalidQuery
from ..domain.query import parse_query

BASE = "/psi-api/orderMonitoring/v1"
WINDOW = ("provider", "from", "to")


def _params(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """Each parameter at most once; ``from`` and ``to`` are instants (named when not)."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise InvalidQuery(
                f"unsupported query parameter: {shown(name)} (use {', '.join(allowed)})"
            )
        if name in found:
            raise InvalidQuery(f"query parameter {name} given twice")
        if name in ("from", "to"):
            query_instant(name, value)
        found[name] = value
    return found


async def provider_response_time(request: Request) -> Response:
    caller = caller_of(request)
    params = _params(request, WINDOW)
    figures = await reading(
        request,
        services(request).figures.figures,
        caller,
        params.get("provider"),
        params.get("from"),
        params.get("to"),
    )
    return page_response([f.as_json() for f in figures], len(figures))


async def response_time_breaches(request: Request) -> Response:
    caller = caller_of(request)
    params = _params(request, (*WINDOW, "state", "offset", "limit"))
    settings = services(request).settings
    paging = parse_query(
        [(k, v) for k, v in params.items() if k in ("offset", "limit")],
        attributes={},
        default_limit=settings.default_page_limit,
        max_limit=settings.max_page_limit,
    )
    total, docs = await reading(
        request,
        services(request).figures.breaches,
        caller,
        params.get("provider"),
        params.get("from"),
        params.get("to"),
        params.get("state"),
        paging.offset,
        paging.limit,
    )
    return page_response(docs, total)


async def metrics(request: Request) -> Response:
    """Prometheus text format; governance's bearer token unless PSS_METRICS_PUBLIC is set."""
    svc = services(request)
    if not svc.settings.metrics_public:
        caller = caller_of(request)
        if not caller.is_governance:
            raise Forbidden("metrics are for governance (or set PSS_METRICS_PUBLIC=true)")
    _params(request, ())
    body = await reading(request, generate_latest, svc.metrics)
    return Response(body, 200, media_type=CONTENT_TYPE_LATEST)


routes = [
    Route(f"{BASE}/providerResponseTime", provider_response_time, methods=["GET"]),
    Route(f"{BASE}/responseTimeBreach", response_time_breaches, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
