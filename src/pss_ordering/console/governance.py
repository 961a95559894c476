"""Response-time figures (governance: every provider; a provider: its own), breaches,
each provider's ``responseTime``, and callbacks' delivery health with resume."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from ..api.common import reading, services, writing
from ..api.patching import result_validator
from ..api.routes.parties import _schema as party_schema
from ..domain.errors import NotFound, PssError
from ..domain.hub import TOPICS
from ..domain.identity import Caller, Role
from ..domain.timestamps import format_instant
from ..response_time.figures import ProviderFigures
from . import charts
from .order_page import event_stamp
from .web import field, flash, form_of, page, redirect, render

DAYS = 7


async def _figures_context(request: Request, caller: Caller) -> dict[str, object]:
    svc = services(request)
    figures: list[ProviderFigures] = await reading(
        request, svc.figures.figures, caller, None, None, None
    )
    names = [f.provider_id for f in figures]
    counts = charts.bars(
        "Orders per provider: received, acknowledged on time, late, open past deadline",
        names,
        [
            charts.Series("received", tuple(f.received for f in figures)),
            charts.Series("on time", tuple(f.on_time for f in figures)),
            charts.Series("late", tuple(f.late for f in figures)),
            charts.Series("open past deadline", tuple(f.open_past_deadline for f in figures)),
        ],
    )
    # p50/p95 per day over the last week, from the same figures over one-day windows.
    today = svc.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    daily: dict[str, dict[str, list[float]]] = {n: {"p50": [], "p95": []} for n in names}
    for day in days:
        window = await reading(
            request,
            svc.figures.figures,
            caller,
            None,
            format_instant(day),
            format_instant(day + timedelta(days=1)),
        )
        by_provider = {f.provider_id: f for f in window}
        for name in names:
            one = by_provider.get(name)
            daily[name]["p50"].append(float(one.p50 or 0) if one else 0.0)
            daily[name]["p95"].append(float(one.p95 or 0) if one else 0.0)
    trend = charts.lines(
        "Response time in seconds per day (p50 and p95) over the last week",
        [d.strftime("%d %b") for d in days],
        [
            charts.Series(f"{name} {q}", tuple(values))
            for name in names
            for q, values in daily[name].items()
        ],
    )
    return {
        "figures": figures,
        "counts_chart": counts,
        "trend_chart": trend,
        "stamp": await event_stamp(request, caller),
        "stamp_url": "stamp",
    }


@page(Role.GOVERNANCE)
async def dashboard(request: Request, caller: Caller) -> Response:
    context = await _figures_context(request, caller)
    svc = services(request)
    offerings = await reading(request, svc.offerings.list, caller)
    providers = sorted(
        {
            str(ref["partyOrPartyRole"]["id"])
            for o in offerings
            for ref in o.get("relatedParty") or []
            if ref.get("role") == Role.PROVIDER
        }
        | {f.provider_id for f in context["figures"]}  # type: ignore[attr-defined]
    )
    parties = {p["id"]: p for p in await reading(request, svc.parties.list, caller, "organization")}
    response_times = {
        pid: next(
            (
                str(c.get("value"))
                for c in parties.get(pid, {}).get("partyCharacteristic") or []
                if c.get("name") == "responseTime"
            ),
            "",
        )
        for pid in providers
    }
    return render(
        request,
        "dashboard.html",
        caller,
        {**context, "providers": providers, "response_times": response_times},
    )


@page(Role.PROVIDER)
async def own_figures(request: Request, caller: Caller) -> Response:
    return render(request, "figures.html", caller, await _figures_context(request, caller))


@page(Role.GOVERNANCE)
async def breaches(request: Request, caller: Caller) -> Response:
    state = request.query_params.get("state") or None
    if state not in (None, "open", "closed"):
        state = None
    total, found = await reading(
        request, services(request).figures.breaches, caller, None, None, None, state, 0, 200
    )
    return render(
        request, "breaches.html", caller, {"breaches": found, "total": total, "state": state}
    )


@page(Role.GOVERNANCE)
async def response_time(request: Request, caller: Caller) -> Response:
    """Set a provider's responseTime through the party use case (governance's field)."""
    form = await form_of(request)
    provider, value = str(request.path_params["id"]), field(form, "responseTime", 64)

    def patch(doc: dict[str, object]) -> dict[str, object]:
        chars = [
            c
            for c in doc.get("partyCharacteristic") or []  # type: ignore[attr-defined]
            if c.get("name") != "responseTime"
        ]
        if value:
            chars.append({"@type": "StringCharacteristic", "name": "responseTime", "value": value})
        doc["partyCharacteristic"] = chars
        return doc

    svc = services(request)
    try:
        await writing(
            request,
            svc.parties.update,
            caller,
            "organization",
            provider,
            patch,
            result_validator(party_schema("organization", "MVO")),
        )
    except NotFound:
        raise
    except PssError as exc:  # e.g. not a duration: said on the dashboard, nothing changed
        flash(request, f"{provider}: {exc.message}")
        return redirect("/dashboard")
    flash(request, f"{provider}: response time set to {value or 'the default'}.")
    return redirect("/dashboard")


@page(Role.PROVIDER, Role.GOVERNANCE)
async def callbacks(request: Request, caller: Caller) -> Response:
    found = await reading(request, services(request).hub.all_health, caller)
    return render(
        request,
        "callbacks.html",
        caller,
        {"callbacks": found, "stamp": await event_stamp(request, caller), "stamp_url": "stamp"},
    )


@page(Role.PROVIDER, Role.GOVERNANCE)
async def resume(request: Request, caller: Caller) -> Response:
    await form_of(request)
    topic, sub = str(request.path_params["topic"]), str(request.path_params["id"])
    if topic not in TOPICS:
        raise NotFound(f"hub '{sub}' not found")
    await writing(request, services(request).hub.resume, caller, topic, sub)
    flash(request, "Delivery resumed.")
    return redirect("/callbacks")
