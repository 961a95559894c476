"""Parties named on the orders a caller sees as a provider or as their creating PSS.

The SQL form of ``domain/party_views.py``'s rule, on the order indexes: a provider
sees a submitted order holding one of its items (``order_items``, partial index on
submitted items), and in it every ``relatedParty`` (``order_parties``) except the
order's other providers, as ``visibility.provider_view`` shows it; the PSS that
created an order (``orders.creator_id``) sees all of them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, select, union

from ..domain.identity import Caller, Role
from .schema import order_items, order_parties, orders


def named_parties(caller: Caller, party_id: str | None = None) -> Any | None:
    """A SELECT of the ids of parties named on orders the caller sees (only ``party_id``,
    when given), or None when the caller sees no orders in these ways."""
    parts = []
    named = order_parties.c.party_id
    only = [named == party_id] if party_id is not None else []
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
            .where(*only, ~another_provider)
        )
    if caller.has(Role.PSS):
        parts.append(
            select(named)
            .join(orders, orders.c.id == order_parties.c.order_id)
            .where(orders.c.creator_id == caller.party_id, *only)
        )
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else union(*parts)
