"""The order repository: documents plus the index rows that make queries cheap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, delete, select, update

from ..domain.authorship import Authorship
from ..domain.lifecycle import State
from ..domain.orders import OrderRecord, ProductOrder
from ..domain.query import Condition, Query, SortKey
from ..domain.timestamps import normalise_instant
from ..domain.visibility import Viewer
from .codec import dumps, loads
from .order_filters import DEEP_OFFSET, selection, statements
from .prepared import Prepared, insert_all
from .schema import order_external_ids, order_items, order_parties, orders, response_deadlines

_DATE_COLUMNS = {
    "requested_start_date": "requestedStartDate",
    "requested_completion_date": "requestedCompletionDate",
    "expected_completion_date": "expectedCompletionDate",
    "completion_date": "completionDate",
}
_ROW = (
    orders.c.id,
    orders.c.customer_id,
    orders.c.creator_id,
    orders.c.version,
    orders.c.item_providers,
    orders.c.doc,
    orders.c.meta,
    orders.c.replaces_id,
    orders.c.submitted_at,
)


class _Row(NamedTuple):
    id: str
    customer_id: str
    creator_id: str
    version: int
    item_providers: str
    doc: str
    meta: str
    replaces_id: str | None
    submitted_at: str | None


@dataclass(frozen=True, slots=True)
class Matches:
    """What a list query found (:meth:`SqlOrders.matching`).

    ``paged``: ``orders`` is the requested page and ``total`` the number of matches
    (None: more than the count limit). Otherwise ``orders`` is every visible
    candidate, and ``residual`` and ``residual_sort`` remain to be applied.
    """

    orders: list[OrderRecord]
    total: int | None
    paged: bool
    residual: tuple[Condition, ...] = ()
    residual_sort: tuple[SortKey, ...] = ()


_INSERT_ORDER = insert_all(orders)
_INSERT_ITEMS = insert_all(order_items)
_INSERT_PARTIES = insert_all(order_parties)
_INSERT_EXTERNAL_IDS = insert_all(order_external_ids)
_INSERT_DEADLINES = insert_all(response_deadlines)
_GET = Prepared(select(*_ROW).where(orders.c.id == bindparam("order_id")))
_GET_FOR_UPDATE = Prepared(
    select(*_ROW).where(orders.c.id == bindparam("order_id")).with_for_update()
)
# A changed order: compare-and-set on its version, then its index rows written anew.
_UPDATE = Prepared(
    update(orders)
    .where(orders.c.id == bindparam("id"), orders.c.version == bindparam("expected_version"))
    .values({c.name: bindparam(c.name) for c in orders.columns if c.name != "id"})
)
_CLEAR_INDEX_ROWS = tuple(
    Prepared(delete(table).where(table.c.order_id == bindparam("order_id")))
    for table in (order_items, order_parties, order_external_ids)
)
_CLEAR_DEADLINES = Prepared(
    delete(response_deadlines).where(response_deadlines.c.order_id == bindparam("order_id"))
)


class SqlOrders:
    """Orders, plus what the unit of work publishes at commit.

    Every order written here is remembered with the row it was loaded from, so
    the events it recorded can be published with the change (and each
    audience's view before the change compared with the view after).
    """

    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self._loaded: dict[str, Any] = {}
        self._written: list[ProductOrder] = []

    def get(self, order_id: str, *, lock: bool = False) -> ProductOrder | None:
        """One order; ``lock`` holds its row until commit (PostgreSQL; SQLite locks the file)."""
        found = (_GET_FOR_UPDATE if lock else _GET).rows(self._db, order_id=order_id)
        row = _Row(*found[0]) if found else None
        if row is None:
            return None
        self._loaded.setdefault(order_id, row)
        return _order(row)

    def stored(self, order_id: str) -> bool:
        """Whether the order was read in this unit of work (so it is stored); a new one
        has nothing stored to replace (its timers, say), which saves the statements."""
        return order_id in self._loaded

    def as_loaded(self, order_id: str) -> ProductOrder | None:
        """The order as this unit of work first read it (None for a new order)."""
        row = self._loaded.get(order_id)
        return None if row is None else _order(row)

    def mark(self) -> int:
        return len(self._written)

    def written_since(self, mark: int) -> list[ProductOrder]:
        return self._written[mark:]

    def forget_since(self, mark: int) -> None:
        """Writes after ``mark`` were rolled back: their events must not be published."""
        del self._written[mark:]

    def take_written(self) -> list[ProductOrder]:
        """Orders written since the last call, whose events are still to be published."""
        written, self._written = self._written, []
        return written

    def add(self, order: ProductOrder) -> None:
        """Write a new order; on PostgreSQL its statements are queued, and go out together
        with the unit of work's next read or its commit (``store.prepared``)."""
        _INSERT_ORDER.write(self._db, id=order.id, **_columns(order))
        self._insert_index_rows(order)
        self._write_deadlines(order, new=True)
        self._written.append(order)

    def update(self, order: ProductOrder, expected_version: int) -> bool:
        """Compare-and-set on ``version``: False when someone else changed it first."""
        changed = _UPDATE.rowcount(
            self._db, id=order.id, expected_version=expected_version, **_columns(order)
        )
        if changed != 1:
            return False
        for clear in _CLEAR_INDEX_ROWS:
            clear.write(self._db, order_id=order.id)
        self._insert_index_rows(order)
        self._write_deadlines(order, new=False)
        self._written.append(order)
        return True

    def remove(self, order: ProductOrder) -> None:
        self._written.append(order)
        for table in (order_items, order_parties, order_external_ids):
            self._db.execute(delete(table).where(table.c.order_id == order.id))
        self._db.execute(delete(orders).where(orders.c.id == order.id))
        self._write_deadlines(order, new=False)  # kept, as the figures' history

    def replacement_exists(self, old_id: str) -> bool:
        """Whether a live order (not rejected or cancelled) already replaces ``old_id``."""
        query = select(orders.c.id).where(
            orders.c.replaces_id == old_id, orders.c.state.not_in([State.REJECTED, State.CANCELLED])
        )
        return self._db.execute(query.limit(1)).first() is not None

    def holding_external_id(self, external_id: str, limit: int = 16) -> list[str]:
        """The ids of the (few) orders that carry ``external_id`` among their externalIds."""
        query = select(order_external_ids.c.order_id).where(
            order_external_ids.c.external_id == external_id
        )
        return [row.order_id for row in self._db.execute(query.limit(limit))]

    @staticmethod
    def bounded(viewer: Viewer, query: Query, count_limit: int) -> bool:
        """Whether :meth:`matching` reads at most about ``count_limit`` index entries
        whatever the data (``order_filters.Selection.one_range``), so that it may run
        where nothing may wait long."""
        return query.offset <= count_limit and selection(viewer, query).one_range

    def matching(self, viewer: Viewer, query: Query, *, count_limit: int) -> Matches:
        """The orders ``viewer`` may see that ``query`` selects, as far as SQL can tell.

        When SQL decides the whole query: the requested page, and the total when it is
        at most ``count_limit`` (counting stops there) or the page is the last one.
        Otherwise every visible candidate, with what is left to decide on the views.
        Of the orders' bookkeeping (``meta``) only what the views need is read.
        """
        chosen = selection(viewer, query)
        run = statements(chosen.shape)
        params = chosen.params()
        if not chosen.exact:
            found = [_listed(row) for row in run.everything.rows(self._db, **params)]
            return Matches(found, None, False, chosen.residual, chosen.residual_sort)
        offset, limit, cap = query.offset, query.limit, count_limit + 1
        page = run.deep_page if offset >= DEEP_OFFSET else run.page
        rows = page.rows(self._db, limit=limit, offset=offset, cap=cap, **params)
        found = [_listed(row[:-1]) for row in rows]
        if 0 < len(found) < limit or (not found and not offset):
            return Matches(found, offset + len(found), True)  # the last page: exact
        # The count came with the page; past the end, it is asked for alone.
        counted = rows[0][-1] if rows else run.count.rows(self._db, cap=cap, **params)[0][0]
        return Matches(found, counted if counted <= count_limit else None, True)

    def _write_deadlines(self, order: ProductOrder, *, new: bool) -> None:
        """The response-time projection for governance's figures (kept after a delete)."""
        if not order.deadlines:
            return
        if not new:
            _CLEAR_DEADLINES.write(self._db, order_id=order.id)
        _INSERT_DEADLINES.many(
            self._db,
            [
                {
                    "order_id": order.id,
                    "provider_id": d.provider_id,
                    "started_at": d.started_at,
                    "response_time": d.response_time,
                    "due_at": d.due_at,
                    "responded_at": d.responded_at,
                    "response_seconds": d.response_seconds,
                    "breached_at": d.breached_at,
                    "closed_at": d.closed_at,
                }
                for d in order.deadlines.values()
            ],
        )

    def _insert_index_rows(self, order: ProductOrder) -> None:
        items = [
            {
                "order_id": order.id,
                "item_id": item["id"],
                "provider_id": order.item_providers.get(item["id"], ""),
                "offering_id": (item.get("productOffering") or {}).get("id", ""),
                "state": item.get("state"),
                "customer_id": order.customer_id,
                "creator_id": order.creator_id,
                "creation_date": order.doc["creationDate"],
                "submitted_at": order.submitted_at,
            }
            for item in order.doc.get("productOrderItem") or []
        ]
        _INSERT_ITEMS.many(self._db, items)
        party_ids = sorted(
            {
                ref["id"]
                for rel in order.doc.get("relatedParty") or []
                for ref in [rel.get("partyOrPartyRole") or {}]
                if isinstance(ref.get("id"), str)
            }
        )
        _INSERT_PARTIES.many(self._db, [{"order_id": order.id, "party_id": p} for p in party_ids])
        external = sorted(
            {e["id"] for e in order.doc.get("externalId") or [] if isinstance(e.get("id"), str)}
        )
        _INSERT_EXTERNAL_IDS.many(
            self._db, [{"order_id": order.id, "external_id": e} for e in external]
        )


def _order(row: Any) -> ProductOrder:
    order = ProductOrder(
        id=row.id,
        customer_id=row.customer_id,
        creator_id=row.creator_id,
        item_providers=loads(row.item_providers),
        doc=loads(row.doc),
        version=row.version,
        replaces=row.replaces_id,
        submitted_at=row.submitted_at,
    )
    order.load_meta(loads(row.meta))
    return order


def _listed(row: tuple[Any, ...]) -> OrderRecord:
    """A row of a list statement (``order_filters.LISTED`` + ``meta``, which is NULL when
    no provider view needs the order's authorship): a record, which cannot be saved."""
    order_id, customer_id, creator_id, version, providers, doc, replaces, submitted, meta = row
    order = OrderRecord(
        id=order_id,
        customer_id=customer_id,
        creator_id=creator_id,
        item_providers=loads(providers),
        doc=loads(doc),
        version=version,
        replaces=replaces,
        submitted_at=submitted,
    )
    if meta is not None:
        order.authorship = Authorship.from_json(loads(meta).get("authorship"))
    return order


def _columns(order: ProductOrder) -> dict[str, Any]:
    doc = order.doc
    values: dict[str, Any] = {
        "customer_id": order.customer_id,
        "creator_id": order.creator_id,
        "state": order.state,
        "creation_date": doc["creationDate"],
        "version": order.version,
        "item_providers": dumps(order.item_providers),
        "doc": dumps(doc),
        "meta": dumps(order.meta()),
        "replaces_id": order.replaces,
        "submitted_at": order.submitted_at,
    }
    for column, attribute in _DATE_COLUMNS.items():
        raw = doc.get(attribute)
        values[column] = normalise_instant(raw) if isinstance(raw, str) else None
    return values
