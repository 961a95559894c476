"""Every list the API runs is answered from indexes, on both databases: for each kind
of viewer, each indexed filter and each sort, the statements actually run (count,
page, deep page) never scan a whole table, and the count of every filter on a
column or an offering (a provider's unfiltered list too) reads an index alone.

SQLite's planner answers the same way for an empty table as for a full one, so
its plans are checked exactly. PostgreSQL's rightly prefers a scan of a tiny
table; with sequential scans disabled, it must still find an index for each.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from pss_ordering.api.contract import query_shape
from pss_ordering.domain.identity import Caller, Role
from pss_ordering.domain.query import Query, parse_query
from pss_ordering.domain.visibility import Viewer
from pss_ordering.store.order_filters import ORDER_COLUMNS, selection, statements
from pss_ordering.store.orders import SqlOrders

TABLES = ("orders", "order_items", "order_parties", "order_external_ids")
VIEWERS = {
    "customer": Viewer(Caller("alice", frozenset({Role.CUSTOMER})), frozenset({"alice"})),
    "organisation": Viewer(
        Caller("org-c", frozenset({Role.CUSTOMER})), frozenset({"org-c", "carol"})
    ),
    "pss": Viewer(Caller("pss-x", frozenset({Role.PSS})), frozenset({"pss-x"})),
    "governance": Viewer(Caller("gov", frozenset({Role.GOVERNANCE})), frozenset({"gov"})),
    "provider": Viewer(Caller("prov-a", frozenset({Role.PROVIDER})), frozenset({"prov-a"})),
}
DATES = ("creationDate", "requestedStartDate", "requestedCompletionDate", "completionDate")
COVERED = (
    "",
    "state=pending",
    "state=pending,held",
    *(f"{date}.gte=2026-01-01T00:00:00Z" for date in DATES),
    "expectedCompletionDate.lt=2026-01-01T00:00:00Z",
    "productOrderItem.productOffering.id=off-a",
)
PROBED = (  # answered in SQL, by looking up (external id) or probing (party, item state)
    "externalId.id=X",
    "relatedParty.partyOrPartyRole.id=bob",
    "productOrderItem.state=held",
    "state=pending&productOrderItem.productOffering.id=off-a",
)
SORTS = (*(f"sort={path}" for path in ORDER_COLUMNS), "sort=-requestedStartDate")
QUERIES = [*COVERED, *PROBED, *SORTS, "offset=500"]
ATTRIBUTES = query_shape("productOrdering", "ProductOrder")


def _plan(conn: Connection, sql: str, params: Any, *, total: bool = True) -> list[str]:
    """The plan's lines; without ``total``, not those of the count a page carries (SQLite)."""
    if conn.dialect.name == "postgresql":
        return [str(row[0]).strip() for row in conn.exec_driver_sql("EXPLAIN " + sql, params)]
    rows = list(conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
    skipped: set[int] = set()
    for node, parent, _, detail in rows:
        if parent in skipped or (not total and str(detail).startswith("SCALAR SUBQUERY")):
            skipped.add(node)
    return [str(row[-1]) for row in rows if row[0] not in skipped]


def _query(raw: str) -> Query:
    pairs = [(name, value) for name, _, value in (p.partition("=") for p in raw.split("&") if p)]
    return parse_query(pairs, attributes=ATTRIBUTES, default_limit=20, max_limit=1000)


def _plans(
    conn: Connection, viewer: Viewer, raw: str, *, total: bool = True
) -> dict[str, list[str]]:
    query = _query(raw)
    chosen = selection(viewer, query)
    run = statements(chosen.shape)
    params = {**chosen.params(), "cap": 10_001, "limit": 20, "offset": query.offset}
    kinds = ("count", "page", "deep_page") if chosen.exact else ("everything",)
    plans = {}
    for kind in kinds:
        sql, bound = getattr(run, kind)._sql(conn, params)
        plans[kind] = _plan(conn, sql, bound, total=total or kind == "count")
    return plans


def _full_scans(plan: list[str]) -> list[str]:
    return [
        line
        for line in plan
        if any(line == f"SCAN {t}" or f"Seq Scan on {t} " in line + " " for t in TABLES)
    ]


@pytest.mark.parametrize("raw", QUERIES)
@pytest.mark.parametrize("who", list(VIEWERS))
def test_lists_never_scan_a_table(engine: Engine, who: str, raw: str) -> None:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
        for kind, plan in _plans(conn, VIEWERS[who], raw).items():
            assert not _full_scans(plan), (who, raw, kind, plan)


# A provider's filtered list is counted by probing its items per order (not covered).
COUNTED_ON_ONE_INDEX = [
    (who, raw)
    for who in ("customer", "organisation", "pss", "governance", "provider")
    for raw in COVERED
    if not (who == "provider" and raw)
]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("who", "raw"), COUNTED_ON_ONE_INDEX)
def test_counts_read_an_index_alone(engine: Engine, who: str, raw: str) -> None:
    """No order row is read to count: visibility and the filter are in one index."""
    with engine.connect() as conn:
        plan = _plans(conn, VIEWERS[who], raw)["count"]
    searched = [
        line
        for line in plan
        if line.startswith(("SEARCH", "SCAN")) and "matching" not in line and "CONSTANT" not in line
    ]
    assert searched and all("COVERING INDEX" in line for line in searched), (who, raw, plan)


ONE_RANGE = {
    "customer": ("", "state=held", "creationDate.gte=2026-01-01T00:00:00Z", "sort=creationDate"),
    "pss": ("state=held&creationDate.lt=2026-01-01T00:00:00Z", "sort=-creationDate"),
    "governance": ("", "state=held", "creationDate.gt=2026-01-01T00:00:00Z"),
    "provider": ("",),
}
NOT_ONE_RANGE = {
    "customer": (
        "state=held,pending",
        "productOrderItem.productOffering.id=off-a",
        "requestedStartDate.gte=2026-01-01T00:00:00Z",
        "sort=-requestedStartDate",
        "description=x",
        "offset=10001",
    ),
    "organisation": ("", "state=held"),
    "provider": ("state=held", "sort=creationDate"),
}


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_lists_said_to_read_one_range_do(engine: Engine) -> None:
    """What ``Selection.one_range`` calls bounded (and runs inline on SQLite) reads one
    index range in the page's order: no sort, no probe of another table."""
    with engine.connect() as conn:
        for who, raws in ONE_RANGE.items():
            for raw in raws:
                assert SqlOrders.bounded(VIEWERS[who], _query(raw), 10_000), (who, raw)
                for kind, plan in _plans(conn, VIEWERS[who], raw, total=False).items():
                    reads = [line for line in plan if line.startswith(("SEARCH", "SCAN"))]
                    ignored = ("SCAN matching", "SCAN page", "SCAN CONSTANT ROW")
                    reads = [line for line in reads if line not in ignored]
                    extra = [line for line in plan if "TEMP B-TREE FOR ORDER BY" in line]
                    deferred = "MATERIALIZE page" in plan
                    if deferred:  # the rows of the page, looked up by id
                        reads = [line for line in reads if "(id=?)" not in line]
                        extra = []
                    assert len(reads) == 1 and "INDEX" in reads[0], (who, raw, kind, plan)
                    assert not extra, (who, raw, kind, plan)
        for who, raws in NOT_ONE_RANGE.items():
            for raw in raws:
                assert not SqlOrders.bounded(VIEWERS[who], _query(raw), 10_000), (who, raw)
