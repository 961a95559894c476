"""Visibility and TMF630 conditions translated to SQL over the indexed columns, as
a *shape* and its *values*.

The shape of a list query is what decides its SQL: the kind of viewer (and how
many customers it represents), each condition's attribute, operator and number
of values, and the sort. The values never do. :func:`selection` returns both;
the repository builds the statements of a shape once and binds the values
(``store/orders.py``), so the thousandth ``state=pending`` list of a customer
costs no SQL building or compiling at all.

Conditions on attributes that have a column or an index table become SQL; the
rest are returned as ``residual`` for the service to evaluate on each visible
document. Visibility is always applied in SQL, before counting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import count
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import UnaryExpression

from ..domain.authorship import PER_PROVIDER_FIELDS
from ..domain.errors import InvalidQuery
from ..domain.identity import Role
from ..domain.query import Condition, Query, SortKey
from ..domain.timestamps import normalise_instant
from ..domain.visibility import Viewer
from .prepared import Prepared
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
OFFERING_PATH = "productOrderItem.productOffering.id"
ITEM_COLUMNS = {
    "productOrderItem.id": order_items.c.item_id,
    OFFERING_PATH: order_items.c.offering_id,
    "productOrderItem.state": order_items.c.state,
}
PARTY_PATH = "relatedParty.partyOrPartyRole.id"
EXTERNAL_ID_PATH = "externalId.id"

_BY_CREATION = ((("creationDate", False),), (("creationDate", True),))
# Who the viewer sees orders as (its parts are OR-ed): every order, the orders of the
# customers it represents (with their number), those it created, those holding its items.
EVERYONE, CUSTOMERS, CREATOR, PROVIDER = "everyone", "customers", "creator", "provider"


@dataclass(frozen=True, slots=True)
class CondShape:
    """A condition as SQL sees it: which table answers it, and how many values it binds."""

    kind: str  # "column", "item", "party" or "external"
    path: str
    op: str
    values: int
    own_items: bool = False  # "item" for a provider alone: its own items only


@dataclass(frozen=True, slots=True)
class Shape:
    """Everything that decides the SQL of a list query, and nothing else (hashable)."""

    visibility: tuple[tuple[str, int], ...]
    conditions: tuple[CondShape, ...]
    sort: tuple[tuple[str, bool], ...] | None  # None: newest first

    @property
    def provider_views(self) -> bool:
        """Whether some order may be shown in a provider's view (which needs authorship)."""
        return any(kind == PROVIDER for kind, _ in self.visibility)


@dataclass(frozen=True, slots=True)
class Selection:
    """A list query as the store runs it: its shape, the values to bind, and what SQL
    cannot decide (conditions and sort the service applies to the visible documents)."""

    shape: Shape
    values: tuple[Any, ...]
    residual: tuple[Condition, ...] = ()
    residual_sort: tuple[SortKey, ...] = ()

    @property
    def exact(self) -> bool:
        """True when SQL alone answers the query (count and paging can run in SQL)."""
        return not self.residual and not self.residual_sort

    def params(self) -> dict[str, Any]:
        return {f"p{n}": value for n, value in enumerate(self.values)}

    @property
    def one_range(self) -> bool:
        """Whether its page and count each read one index range, in the page's order: its
        cost is then bounded by the count limit, the offset and the page, whatever the
        data. True for one viewer (everyone, one customer, a creator) with at most an
        equality on ``state`` and a range of ``creationDate``, listed by creation date;
        and for a provider's whole list, newest first."""
        shape = self.shape
        if not self.exact or shape.sort not in (None, *_BY_CREATION):
            return False
        if shape.visibility == ((PROVIDER, 1),):
            return not shape.conditions and shape.sort is None
        if shape.visibility not in (((EVERYONE, 0),), ((CUSTOMERS, 1),), ((CREATOR, 1),)):
            return False
        state = [c for c in shape.conditions if c.path == "state"]
        created = [c for c in shape.conditions if c.path == "creationDate"]
        return (
            len(state) + len(created) == len(shape.conditions)
            and all(c.op == "eq" and c.values == 1 for c in state)
            and len(state) <= 1
            and all(c.op != "eq" for c in created)
        )


def selection(viewer: Viewer, query: Query) -> Selection:
    """The shape and values of what SQL can answer; the rest is left for the documents."""
    caller = viewer.caller
    values: list[Any] = []
    visibility: list[tuple[str, int]] = []
    if caller.is_governance:
        visibility.append((EVERYONE, 0))
    else:
        if caller.has(Role.CUSTOMER):
            visibility.append((CUSTOMERS, len(viewer.represented)))
            values.extend(sorted(viewer.represented))
        if caller.has(Role.PSS):
            visibility.append((CREATOR, 1))
            values.append(caller.party_id)
        if caller.has(Role.PROVIDER):
            visibility.append((PROVIDER, 1))
            values.append(caller.party_id)
    # With several ways of seeing orders, one order may be seen in different views:
    # conditions narrow in SQL and are decided on the views.
    mixed_views = caller.has(Role.PROVIDER) and len(visibility) > 1
    provider_only = caller.provider_only
    # A provider's own expected completion date is not the column's (the latest of all):
    # such conditions and sorts are evaluated on the views (domain/authorship.py).
    own_values = caller.has(Role.PROVIDER) and not caller.is_governance
    conditions: list[CondShape] = []
    residual: list[Condition] = []
    for condition in query.conditions:
        translated = None
        if not (own_values and condition.path in PER_PROVIDER_FIELDS):
            translated = _translate(condition, provider_only)
        if translated is None or mixed_views or (provider_only and condition.path == PARTY_PATH):
            residual.append(condition)
        if translated is not None:
            condition_shape, bound = translated
            conditions.append(condition_shape)
            values.extend(bound)
            if condition_shape.own_items:
                values.append(caller.party_id)
    sort: tuple[tuple[str, bool], ...] | None = None
    residual_sort: tuple[SortKey, ...] = ()
    if query.sort:
        in_sql = all(
            key.path in ORDER_COLUMNS and not (own_values and key.path in PER_PROVIDER_FIELDS)
            for key in query.sort
        )
        sort = tuple((key.path, key.descending) for key in query.sort) if in_sql else ()
        residual_sort = () if in_sql else tuple(query.sort)
    shape = Shape(tuple(visibility), tuple(conditions), sort)
    return Selection(shape, tuple(values), tuple(residual), residual_sort)


def _translate(condition: Condition, provider_only: bool) -> tuple[CondShape, list[Any]] | None:
    path, op = condition.path, condition.op
    values = list(condition.values)
    if path in ORDER_COLUMNS:
        if path in DATE_ATTRIBUTES:
            values = _normalised(condition)
        return CondShape("column", path, op, len(values)), values
    if op != "eq":
        return None
    if path in ITEM_COLUMNS:
        return CondShape("item", path, op, len(values), own_items=provider_only), values
    if path == PARTY_PATH:
        return CondShape("party", path, op, len(values)), values
    if path == EXTERNAL_ID_PATH:
        return CondShape("external", path, op, len(values)), values
    return None


def _normalised(condition: Condition) -> list[str]:
    try:
        return [normalise_instant(value) for value in condition.values]
    except ValueError:
        raise InvalidQuery(f"'{condition.path}' needs ISO-8601 date-time values") from None


def where(shape: Shape) -> list[ColumnElement[bool]]:
    """The shape's conditions, with ``p0``, ``p1``… bound in the order of its values."""
    names = (f"p{n}" for n in count())
    return [_visible(shape, names), *(_condition(c, names) for c in shape.conditions)]


def order_by(shape: Shape) -> list[UnaryExpression[Any]]:
    """Newest first by default; a SQL sort then ``id``; otherwise ``id`` alone (the
    service sorts the documents, stably)."""
    if shape.sort is None:
        return [orders.c.creation_date.desc(), orders.c.id.desc()]
    keys = [
        ORDER_COLUMNS[path].desc() if descending else ORDER_COLUMNS[path].asc()
        for path, descending in shape.sort
    ]
    return [*keys, orders.c.id.asc()]


def _visible(shape: Shape, names: Iterator[str]) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    for kind, size in shape.visibility:
        if kind == EVERYONE:
            return true()
        if kind == CUSTOMERS:
            clauses.append(orders.c.customer_id.in_(_params(names, size)))
        elif kind == CREATOR:
            clauses.append(orders.c.creator_id == bindparam(next(names)))
        else:  # items carry their order's submission (see schema.order_items)
            clauses.append(
                exists().where(
                    order_items.c.order_id == orders.c.id,
                    order_items.c.provider_id == bindparam(next(names)),
                    order_items.c.submitted_at.is_not(None),
                )
            )
    return or_(*clauses) if clauses else false()


def _condition(shape: CondShape, names: Iterator[str]) -> ColumnElement[bool]:
    values = _params(names, shape.values)
    if shape.kind == "column":
        column = ORDER_COLUMNS[shape.path]
        if shape.op == "eq":
            return column.in_(values)
        return _OPERATORS[shape.op](column, values[0])
    if shape.kind == "item":
        where = [order_items.c.order_id == orders.c.id, ITEM_COLUMNS[shape.path].in_(values)]
        if shape.own_items:
            where.append(order_items.c.provider_id == bindparam(next(names)))
        return exists().where(*where)
    if shape.kind == "party":  # often every order of the customer: each is probed
        return exists().where(
            order_parties.c.order_id == orders.c.id, order_parties.c.party_id.in_(values)
        )
    # An external id is (nearly) unique: the few orders holding it are looked up.
    holding = select(order_external_ids.c.order_id).where(
        order_external_ids.c.external_id.in_(values)
    )
    return orders.c.id.in_(holding)


def _params(names: Iterator[str], size: int) -> list[Any]:
    return [bindparam(next(names)) for _ in range(size)]


_OPERATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
}


# A page this deep is found on the index alone, and only its rows are read (a
# deferred join): reading every skipped row costs more than the second lookup.
DEEP_OFFSET = 100
LISTED = (
    orders.c.id,
    orders.c.customer_id,
    orders.c.creator_id,
    orders.c.version,
    orders.c.item_providers,
    orders.c.doc,
    orders.c.replaces_id,
    orders.c.submitted_at,
)


class Statements:
    """The statements of one shape, each built and compiled (per dialect) when first run.

    Every one binds the shape's values as ``p0``, ``p1``…; the pages also ``limit``,
    ``offset`` and ``cap``. A page's rows are :data:`LISTED`, ``meta`` (NULL unless
    the shape has provider views, which need the order's authorship) and ``total``:
    the number of matches, counted up to ``cap`` (evaluated once per statement, and
    sent with the page: one round trip). ``count`` is that count alone, for a page
    past the end.
    """

    def __init__(self, shape: Shape) -> None:
        self._shape = shape
        self._where = where(shape)
        self._order_by = order_by(shape)
        meta = orders.c.meta if shape.provider_views else null().label("meta")
        self._columns = (*LISTED, meta)

    @cached_property
    def count(self) -> Prepared:
        return Prepared(select(self._counted().scalar_subquery()))

    @cached_property
    def page(self) -> Prepared:
        if _provider_alone(self._shape) and self._shape.sort is None:
            return self.deep_page
        rows = select(*self._columns, self._total()).where(*self._where)
        return Prepared(self._paged(rows.order_by(*self._order_by)))

    @cached_property
    def deep_page(self) -> Prepared:
        """The page's ids from an index alone, then only their rows (a deferred join)."""
        if _provider_alone(self._shape) and self._shape.sort is None:
            ids = _newest_held(self._shape)
        else:
            ids = select(orders.c.id.label("page_id")).where(*self._where)
            ids = ids.order_by(*self._order_by)
        chosen = self._paged(ids).subquery("page")
        return Prepared(
            select(*self._columns, self._total())
            .join_from(orders, chosen, orders.c.id == chosen.c.page_id)
            .order_by(*self._order_by)
        )

    @cached_property
    def everything(self) -> Prepared:
        return Prepared(select(*self._columns).where(*self._where).order_by(*self._order_by))

    def _counted(self) -> Any:
        """``count(*)`` of the matches, stopping at ``cap``."""
        matching: Any = _counted_on_items(self._shape)
        if matching is None:
            matching = select(literal_column("1")).select_from(orders).where(*self._where)
        capped = matching.limit(bindparam("cap", type_=Integer)).subquery("matching")
        return select(func.count()).select_from(capped)

    def _total(self) -> Any:
        return self._counted().scalar_subquery().label("total")

    def _paged(self, query: Any) -> Any:
        limit = query.limit(bindparam("limit", type_=Integer))
        return limit.offset(bindparam("offset", type_=Integer))


@lru_cache(maxsize=1024)
def statements(shape: Shape) -> Statements:
    return Statements(shape)


def _provider_alone(shape: Shape) -> bool:
    """A caller that sees orders only as a provider, listing them with no condition."""
    return shape.visibility == ((PROVIDER, 1),) and not shape.conditions


def _newest_held(shape: Shape) -> Any:
    """A provider's orders, newest first, from its items in submitted orders (which hold
    the order's creation date): no other provider's orders are visited."""
    return (
        select(order_items.c.order_id.label("page_id"), order_items.c.creation_date)
        .where(
            order_items.c.provider_id == bindparam("p0"),
            order_items.c.submitted_at.is_not(None),
        )
        .distinct()
        .order_by(order_items.c.creation_date.desc(), order_items.c.order_id.desc())
    )


def _counted_on_items(shape: Shape) -> Any:
    """What is counted on the item index alone, which holds the order's customer, creator
    and submission: a provider's orders, or a list filtered by offering alone (None for
    other shapes, counted on the orders)."""
    if _provider_alone(shape):
        return (
            select(order_items.c.order_id)
            .where(
                order_items.c.provider_id == bindparam("p0"),
                order_items.c.submitted_at.is_not(None),
            )
            .distinct()
        )
    if len(shape.conditions) != 1 or len(shape.visibility) != 1:
        return None
    condition, (kind, size) = shape.conditions[0], shape.visibility[0]
    if condition.path != OFFERING_PATH or condition.own_items or kind == PROVIDER:
        return None
    names = (f"p{n}" for n in count())
    # The visibility column is selected too (an order has one customer and one
    # creator): it leads SQLite to the index that holds it, whatever the values.
    columns: list[Any] = [order_items.c.order_id]
    where: list[ColumnElement[bool]] = []
    if kind == CUSTOMERS:
        columns.insert(0, order_items.c.customer_id)
        where.append(order_items.c.customer_id.in_(_params(names, size)))
    elif kind == CREATOR:
        columns.insert(0, order_items.c.creator_id)
        where.append(order_items.c.creator_id == bindparam(next(names)))
    where.append(order_items.c.offering_id.in_(_params(names, condition.values)))
    return select(*columns).where(*where).distinct()
