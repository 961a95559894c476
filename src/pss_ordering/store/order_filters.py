"""Turn visibility and TMF630 conditions into SQL over the indexed columns.

Conditions on attributes that have a column or an index table become SQL;
the rest are returned as ``residual`` for the service to evaluate on each
visible document. Visibility is always applied in SQL, before counting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, true
from sqlalchemy.sql.elements import UnaryExpression

from ..domain.authorship import PER_PROVIDER_FIELDS
from ..domain.errors import InvalidQuery
from ..domain.identity import Role
from ..domain.query import Condition, Query, SortKey
from ..domain.timestamps import normalise_instant
from ..domain.visibility import Viewer
from .schema import order_external_ids, order_items, order_parties, orders

ORDER_COLUMNS = {
    "id": orders.c.id,
    "state": orders.c.state,
    "creationDate": orders.c.creation_date,
    "requestedStartDate": orders.c.requested_start_date,
    "requestedCompletionDate": orders.c.requested_completion_date,
    "expectedCompletionDate": orders.c.expected_completion_date,
    "completionDate": orders.c.completion_date,
}
DATE_ATTRIBUTES = frozenset(ORDER_COLUMNS) - {"id", "state"}
ITEM_COLUMNS = {
    "productOrderItem.id": order_items.c.item_id,
    "productOrderItem.productOffering.id": order_items.c.offering_id,
    "productOrderItem.state": order_items.c.state,
}
PARTY_PATH = "relatedParty.partyOrPartyRole.id"
EXTERNAL_ID_PATH = "externalId.id"


@dataclass(slots=True)
class SqlPlan:
    where: list[ColumnElement[bool]]
    order_by: list[UnaryExpression[Any]] = field(default_factory=list)
    residual: list[Condition] = field(default_factory=list)
    residual_sort: list[SortKey] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """True when SQL alone answers the query (count and paging can run in SQL)."""
        return not self.residual and not self.residual_sort


def visible_to(viewer: Viewer) -> ColumnElement[bool]:
    caller = viewer.caller
    if caller.is_governance:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if caller.has(Role.CUSTOMER):
        clauses.append(orders.c.customer_id.in_(sorted(viewer.represented)))
    if caller.has(Role.PSS):
        clauses.append(orders.c.creator_id == caller.party_id)
    if caller.has(Role.PROVIDER):
        clauses.append(
            and_(
                orders.c.submitted_at.is_not(None),
                exists().where(
                    order_items.c.order_id == orders.c.id,
                    order_items.c.provider_id == caller.party_id,
                ),
            )
        )
    return or_(*clauses) if clauses else false()


def plan(viewer: Viewer, query: Query) -> SqlPlan:
    """SQL for what the index can answer; the rest is left for document evaluation."""
    mixed_views = (
        viewer.caller.has(Role.PROVIDER)
        and not viewer.caller.is_governance
        and (viewer.caller.has(Role.CUSTOMER) or viewer.caller.has(Role.PSS))
    )
    provider_only = viewer.caller.provider_only
    # A provider's own expected completion date is not the column's (the latest of all):
    # such conditions and sorts are evaluated on the views (domain/authorship.py).
    own_values = viewer.caller.has(Role.PROVIDER) and not viewer.caller.is_governance
    result = SqlPlan(where=[visible_to(viewer)])
    for condition in query.conditions:
        clause = (
            None
            if own_values and condition.path in PER_PROVIDER_FIELDS
            else _translate(condition, viewer.party_id if provider_only else None)
        )
        if clause is None or mixed_views or (provider_only and condition.path == PARTY_PATH):
            result.residual.append(condition)
        if clause is not None:
            result.where.append(clause)
    sql_sort = True
    for key in query.sort:
        column = ORDER_COLUMNS.get(key.path)
        if column is None or not sql_sort or (own_values and key.path in PER_PROVIDER_FIELDS):
            sql_sort = False
            result.residual_sort = list(query.sort)
            break
        result.order_by.append(column.desc() if key.descending else column.asc())
    if not sql_sort:
        result.order_by = []
    result.order_by.extend(
        [orders.c.creation_date.desc(), orders.c.id.desc()]
        if not query.sort
        else [orders.c.id.asc()]
    )
    return result


def _translate(condition: Condition, provider_id: str | None) -> ColumnElement[bool] | None:
    path = condition.path
    if path in ORDER_COLUMNS:
        column = ORDER_COLUMNS[path]
        values = _normalised(condition) if path in DATE_ATTRIBUTES else list(condition.values)
        return _compare(column, condition.op, values)
    if path in ITEM_COLUMNS:
        if condition.op != "eq":
            return None
        where = [
            order_items.c.order_id == orders.c.id,
            ITEM_COLUMNS[path].in_(condition.values),
        ]
        if provider_id is not None:
            where.append(order_items.c.provider_id == provider_id)
        return exists().where(*where)
    if path == PARTY_PATH and condition.op == "eq":
        return exists().where(
            order_parties.c.order_id == orders.c.id,
            order_parties.c.party_id.in_(condition.values),
        )
    if path == EXTERNAL_ID_PATH and condition.op == "eq":
        return exists().where(
            order_external_ids.c.order_id == orders.c.id,
            order_external_ids.c.external_id.in_(condition.values),
        )
    return None


def _normalised(condition: Condition) -> list[str]:
    try:
        return [normalise_instant(value) for value in condition.values]
    except ValueError:
        raise InvalidQuery(f"'{condition.path}' needs ISO-8601 date-time values") from None


_OPERATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
}


def _compare(column: Any, op: str, values: list[str]) -> ColumnElement[bool]:
    if op == "eq":
        return column.in_(values)  # type: ignore[no-any-return]
    return _OPERATORS[op](column, values[0])
