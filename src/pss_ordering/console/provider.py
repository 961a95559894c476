"""The provider's inbox: orders holding its items, those waiting for its answer first."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..api.common import reading, services
from ..api.routes.orders import ORDER_ATTRIBUTES
from ..domain.identity import Caller, Role
from ..domain.lifecycle import State
from ..domain.query import parse_query
from .customer import order_list
from .web import page, render

WAITING_LIMIT = 100


def _deadline(doc: dict[str, Any]) -> str:
    dates = [str(m.get("milestoneDate", "")) for m in doc.get("productOrderMilestone") or []]
    return min(dates) if dates else "9999"


@page(Role.PROVIDER)
async def inbox(request: Request, caller: Caller) -> Response:
    """Waiting for this provider (an item of its still pending), soonest deadline first;
    then all its orders, filtered and paged like the customer's list."""
    settings = services(request).settings
    query = parse_query(
        [("state", State.PENDING), ("limit", str(WAITING_LIMIT))],
        attributes=ORDER_ATTRIBUTES,
        default_limit=WAITING_LIMIT,
        max_limit=settings.max_page_limit,
    )
    found = await reading(request, services(request).orders.list, caller, query)
    waiting = sorted(
        (
            doc
            for doc in found.docs
            if any(
                i.get("state", State.PENDING) == State.PENDING
                for i in doc.get("productOrderItem", [])
            )
        ),
        key=_deadline,
    )
    listing = await order_list(request, caller)
    return render(request, "inbox.html", caller, {**listing, "waiting": waiting})
