"""The customer's pages: the catalogue, placing (or replacing) an order, its orders."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..api.common import looking_up, reading, services, writing
from ..api.routes.orders import ORDER_ATTRIBUTES, _create_schema
from ..domain.catalog import NOT_ORDERABLE
from ..domain.errors import PssError
from ..domain.identity import Caller, Role
from ..domain.lifecycle import ORDER_STATES
from ..domain.query import parse_query
from . import forms
from .forms import OfferingChoice, OrderForm
from .order_page import event_stamp
from .web import flash, form_of, page, query_id, redirect, render

PAGE_SIZE = 20


async def _catalogue(request: Request, caller: Caller) -> list[OfferingChoice]:
    offerings = await reading(request, services(request).offerings.list, caller)
    return [
        forms.offering_choice(doc)
        for doc in offerings
        if str(doc.get("lifecycleStatus", "")).lower() not in NOT_ORDERABLE
    ]


@page()
async def catalogue(request: Request, caller: Caller) -> Response:
    offerings = await _catalogue(request, caller)
    return render(request, "catalogue.html", caller, {"offerings": offerings})


def _form_page(
    request: Request,
    caller: Caller,
    offerings: list[OfferingChoice],
    order: OrderForm,
    error: str = "",
    status: int = 200,
) -> Response:
    return render(
        request,
        "new_order.html",
        caller,
        {"offerings": offerings, "form": order, "error": error},
        status,
    )


@page(Role.CUSTOMER)
async def new_order(request: Request, caller: Caller) -> Response:
    """The order form; ``?offering=`` preselects, ``?replaces=`` copies an order to
    replace it."""
    offerings = await _catalogue(request, caller)
    order = OrderForm()
    replaces = query_id(request, "replaces")
    if replaces:
        found = await looking_up(request, services(request).orders.get, caller, replaces)
        order = forms.prefilled(found.doc)
    else:
        order.chosen = request.query_params.getlist("offering")
    return _form_page(request, caller, offerings, order)


@page(Role.CUSTOMER)
async def create(request: Request, caller: Caller) -> Response:
    """Check the form, then create the order through the same schema and use case as
    ``POST /productOrder``; what the API refuses shows at the field it names."""
    offerings = await _catalogue(request, caller)
    order = forms.read_order_form(await form_of(request), offerings)
    if order.errors:
        return _form_page(
            request, caller, offerings, order, "Please correct the marked fields.", 422
        )
    try:
        body = _create_schema().validate(forms.order_body(order, offerings))
        created = await writing(request, services(request).orders.create, caller, body)
    except PssError as exc:
        key = forms.field_of_error(exc.message, order, offerings)
        if key:
            order.errors[key] = exc.message
        return _form_page(request, caller, offerings, order, exc.message, exc.status)
    flash(request, "Order placed.")
    return redirect(f"/orders/{created.doc['id']}")


@page()
async def orders(request: Request, caller: Caller) -> Response:
    """The orders the caller may see, newest first, filtered by state, a page at a time."""
    return render(request, "orders.html", caller, await order_list(request, caller))


async def order_list(request: Request, caller: Caller, **fixed: str) -> dict[str, object]:
    """A page of the caller's orders (``state`` and ``page`` from the query string)."""
    state = request.query_params.get("state", "")
    if state not in ORDER_STATES:
        state = ""
    raw_page = request.query_params.get("page", "1")
    number = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 else 1
    number = max(number, 1)
    params = [("offset", str((number - 1) * PAGE_SIZE)), ("limit", str(PAGE_SIZE))]
    if fixed.get("state") or state:
        params.append(("state", fixed.get("state") or state))
    settings = services(request).settings
    query = parse_query(
        params,
        attributes=ORDER_ATTRIBUTES,
        default_limit=PAGE_SIZE,
        max_limit=settings.max_page_limit,
    )
    svc = services(request)
    found = await reading(request, svc.orders.list, caller, query)
    return {
        "orders": found.docs,
        "total": found.total,
        "state": state,
        "states": ORDER_STATES,
        "page": number,
        "pages": max(1, -(-(found.total or 0) // PAGE_SIZE)),
        "stamp": await event_stamp(request, caller),
        "stamp_url": "stamp",
    }
