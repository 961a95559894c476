"""One order: its page (each role's view, with that role's forms), its timeline, and
the actions on it. Every action is a PATCH through ``OrderService.patch`` with the
version the form was rendered from (If-Match): a stale form is refused, never applied."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..api.common import looking_up, reading, services, writing
from ..api.csp import HEADERS
from ..api.patching import result_validator
from ..api.routes.orders import _patch_schema
from ..domain.errors import BadRequest, NotFound, PreconditionFailed, PssError
from ..domain.identity import Caller, Role
from ..domain.lifecycle import (
    CUSTOMER_ORDER_TRANSITIONS,
    FINAL_STATES,
    PROVIDER_ITEM_TRANSITIONS,
    State,
    item_state,
)
from . import forms
from .forms import Patcher
from .web import CHANGED_MEANWHILE, field, flash, form_of, page, query_id, redirect, render

TIMELINE_LIMIT = 200


def _order_id(request: Request) -> str:
    return str(request.path_params["id"])


async def _providers(request: Request, caller: Caller) -> dict[str, str]:
    """offering id -> its provider's id (to show whose each item is)."""
    offerings = await reading(request, services(request).offerings.list, caller)
    return {o.id: o.provider_id for o in map(forms.offering_choice, offerings)}


def _item_rows(doc: Mapping[str, Any], providers: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each item with its provider, state and response deadline (milestone)."""
    deadlines: dict[str, Mapping[str, Any]] = {}
    for milestone in doc.get("productOrderMilestone") or []:
        for ref in milestone.get("productOrderItem") or []:
            deadlines[str(ref.get("productOrderItemId"))] = milestone
    rows = []
    for item in doc.get("productOrderItem") or []:
        offering = str((item.get("productOffering") or {}).get("id", ""))
        state = item_state(item)
        rows.append(
            {
                "id": item.get("id"),
                "offering": offering,
                "provider": providers.get(offering, ""),
                "state": state,
                "deadline": deadlines.get(str(item.get("id"))),
                "characteristics": (item.get("product") or {}).get("productCharacteristic") or [],
                "moves": sorted(
                    m for m in PROVIDER_ITEM_TRANSITIONS.get(state, ()) if not m.startswith("(")
                ),
            }
        )
    return rows


async def render_order(
    request: Request,
    caller: Caller,
    *,
    error: str = "",
    status: int = 200,
    errors: Mapping[str, str] | None = None,
) -> Response:
    """The order page in the caller's view, with the forms its role may use."""
    found = await looking_up(request, services(request).orders.get, caller, _order_id(request))
    doc = found.doc
    state = State(doc["state"])
    owner = caller.has(Role.CUSTOMER) and not caller.is_governance
    context = {
        "order": doc,
        "version": found.version,
        "items": _item_rows(doc, await _providers(request, caller)),
        "final": state in FINAL_STATES,
        "owner": owner,
        "provider": caller.has(Role.PROVIDER) and not caller.is_governance,
        "can_cancel": owner and State.CANCELLED in CUSTOMER_ORDER_TRANSITIONS.get(state, ()),
        "missing": forms.missing_characteristics(doc) if owner else [],
        "error": error,
        "errors": errors or {},
        "stamp": found.version,
        "stamp_url": f"stamp?order={doc['id']}",
    }
    return render(request, "order.html", caller, context, status)


@page()
async def order(request: Request, caller: Caller) -> Response:
    return await render_order(request, caller)


@page()
async def timeline(request: Request, caller: Caller) -> Response:
    """Everything that happened to the order, from the stored events, in the caller's
    own view of each (a provider sees what its callbacks were sent)."""
    svc = services(request)
    order_id = _order_id(request)
    found = await looking_up(request, svc.orders.get, caller, order_id)  # 404 if not visible
    total, events = await reading(
        request, svc.intake.list, caller, "order", 0, TIMELINE_LIMIT, None, order_id
    )
    context = {
        "order": found.doc,
        "events": list(reversed(events)),
        "total": total,
        "stamp": found.version,
        "stamp_url": f"stamp?order={order_id}",
    }
    return render(request, "timeline.html", caller, context)


async def _patch(
    request: Request, caller: Caller, patcher: Patcher, version: str, done: str
) -> Response:
    """Apply one action as the caller, conditional on the version the form showed."""
    svc = services(request)
    order_id = _order_id(request)
    if not (version.isascii() and version.isdigit()) or len(version) > 18:
        raise BadRequest("the form does not say which version of the order it was made from")
    try:
        await writing(
            request,
            svc.orders.patch,
            caller,
            order_id,
            patcher,
            result_validator(_patch_schema()),
            int(version),
        )
    except PreconditionFailed:
        return await render_order(request, caller, error=CHANGED_MEANWHILE, status=412)
    except NotFound:
        raise
    except PssError as exc:
        return await render_order(request, caller, error=exc.message, status=exc.status)
    flash(request, done)
    return redirect(f"/orders/{order_id}")


@page(Role.CUSTOMER)
async def supply(request: Request, caller: Caller) -> Response:
    form = await form_of(request)
    item_id, name, value = field(form, "item", 64), field(form, "name", 200), field(form, "value")
    if not value:
        return await render_order(
            request, caller, errors={f"{item_id}.{name}": f"{name} is required"}, status=422
        )
    return await _patch(
        request,
        caller,
        forms.supply(item_id, name, value),
        field(form, "version"),
        f"{name} supplied.",
    )


@page(Role.CUSTOMER)
async def billing(request: Request, caller: Caller) -> Response:
    form = await form_of(request)
    account = field(form, "billingAccount", 64)
    patcher = forms.set_fields(billingAccount={"id": account} if account else None)
    if not account:
        return await render_order(
            request,
            caller,
            errors={"billingAccount": "a billing account id is required"},
            status=422,
        )
    return await _patch(
        request, caller, patcher, field(form, "version"), "Billing account changed."
    )


@page(Role.CUSTOMER)
async def cancel(request: Request, caller: Caller) -> Response:
    form = await form_of(request)
    reason = field(form, "reason") or "cancelled by the customer"
    patcher = forms.set_fields(state=State.CANCELLED, cancellationReason=reason)
    return await _patch(request, caller, patcher, field(form, "version"), "Cancellation requested.")


@page(Role.CUSTOMER, Role.PROVIDER)
async def note(request: Request, caller: Caller) -> Response:
    form = await form_of(request)
    text = field(form, "text")
    if not text:
        return await render_order(
            request, caller, errors={"note": "write a note first"}, status=422
        )
    return await _patch(
        request, caller, forms.add_note(text), field(form, "version"), "Note added."
    )


@page(Role.PROVIDER)
async def item_action(request: Request, caller: Caller) -> Response:
    """A provider's move of one item: acknowledge, reject (with reason), another state,
    or ask for information."""
    form = await form_of(request)
    item_id, version = field(form, "item", 64), field(form, "version")
    action = field(form, "action", 32)
    if action == "ask":
        name = field(form, "characteristic", 200)
        if not name:
            return await render_order(
                request,
                caller,
                errors={f"{item_id}.ask": "name the information needed"},
                status=422,
            )
        patcher = forms.ask_information(item_id, name, field(form, "explanation"))
        return await _patch(request, caller, patcher, version, f"Asked the customer for {name}.")
    state = field(form, "state", 32) if action == "move" else action
    reason = field(form, "reason")
    if state == State.REJECTED and not reason:
        return await render_order(
            request,
            caller,
            errors={f"{item_id}.reason": "give a reason for the rejection"},
            status=422,
        )
    return await _patch(
        request,
        caller,
        forms.move_item(item_id, state, reason),
        version,
        f"Item {item_id}: {state}.",
    )


@page()
async def stamp(request: Request, caller: Caller) -> Response:
    """What the live refresh polls: the order's version, or the newest event the caller
    may see (the event log), so an open page reloads its content when that changes."""
    svc = services(request)
    order_id = query_id(request, "order")
    if order_id:
        found = await looking_up(request, svc.orders.get, caller, order_id)
        value = str(found.version)
    else:
        value = await event_stamp(request, caller)
    return JSONResponse({"stamp": value}, headers={**HEADERS, "Cache-Control": "no-store"})


async def event_stamp(request: Request, caller: Caller) -> str:
    """The newest event on the order and alarm topics the caller may list."""
    return await reading(request, services(request).intake.newest, caller, ("order", "alarm"))
