"""Parties named on the orders a caller sees as a provider or as their creating PSS.

The SQL form of ``domain/party_views.py``'s rule, on the order indexes: a provider
sees a submitted order holding one of its items (``order_items``, partial index on
submitted items), and in it every ``relatedParty`` (``order_parties``) except the
order's other providers, as ``visibility.provider_view`` shows it; the PSS that
created an order (``orders.creator_id``) sees all of them.

Of the parties named, only those on the customer's side are readable
(``on_customer_side``): the customer, the order's creator, an organisation the
customer belongs to, or a member of one. A contact is named by whoever creates or
edits the order; without this, a customer could name any registered party and
hand its contact details to a provider of its choosing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, union

from ..domain.identity import Caller, Role
from .schema import order_items, order_parties, orders, party_parents


def named_parties(caller: Caller, party_id: str | None = None) -> Any | None:
    """A SELECT of the ids of parties named on orders the caller sees (only ``party_id``,
    when given), or None when the caller sees no orders in these ways."""
    parts = []
    named = order_parties.c.party_id
    only = [named == party_id] if party_id is not None else []
    customer_side = on_customer_side(named)
    if caller.has(Role.PROVIDER):
        mine, other = order_items.alias("mine"), order_items.alias("other")
        another_provider = exists().where(
            other.c.order_id == order_parties.c.order_id,
            other.c.provider_id == named,
            other.c.provider_id != caller.party_id,
        )
        parts.append(
            select(named)
            .join(
                mine,
                and_(
                    mine.c.order_id == order_parties.c.order_id,
                    mine.c.provider_id == caller.party_id,
                    mine.c.submitted_at.is_not(None),
                ),
            )
            .join(orders, orders.c.id == order_parties.c.order_id)
            .where(*only, ~another_provider, customer_side)
        )
    if caller.has(Role.PSS):
        parts.append(
            select(named)
            .join(orders, orders.c.id == order_parties.c.order_id)
            .where(orders.c.creator_id == caller.party_id, *only, customer_side)
        )
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else union(*parts)


def on_customer_side(named: ColumnElement[str]) -> ColumnElement[bool]:
    """``named`` is the order's customer or creator, an organisation the customer
    belongs to, or a fellow member of one (``orders`` joined)."""
    customer, fellow = party_parents.alias("customer"), party_parents.alias("fellow")
    return or_(
        named == orders.c.customer_id,
        named == orders.c.creator_id,
        exists().where(customer.c.party_id == orders.c.customer_id, customer.c.parent_id == named),
        exists().where(
            customer.c.party_id == orders.c.customer_id,
            fellow.c.parent_id == customer.c.parent_id,
            fellow.c.party_id == named,
        ),
    )
