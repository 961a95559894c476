"""Store N product orders straight through the repository (no HTTP), before the server starts.

The data are meant to make the list filters realistic rather than trivial:

* customers: ``alice`` holds 30% of the orders, ``harbour-authority`` 10%, and six
  extra individuals (``bench-customer-1..6``, registered here) 10% each;
* 8 order states with a skewed mix (most orders are completed);
* creation dates spread uniformly over the 365 days before now;
* 1 to 3 items (mostly 2) on the two demo offerings, so both providers appear;
* some orders carry a description, an external id and requested dates.

Run alone (for a quick look)::

    python bench/seed_orders.py sqlite:////tmp/bench.db 100000
"""

from __future__ import annotations

import json
import multiprocessing
import random
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from pss_ordering.bootstrap import build_engine, build_services
from pss_ordering.cli.seed import DEMO_SEED, load_seed
from pss_ordering.config import Settings
from pss_ordering.domain.orders import ProductOrder
from pss_ordering.domain.timestamps import format_instant
from pss_ordering.service.unit_of_work import Database
from pss_ordering.store.database import make_engine
from pss_ordering.store.schema import orders as orders_table

EXTRA_CUSTOMERS = [f"bench-customer-{n}" for n in range(1, 7)]
CUSTOMER_WEIGHTS = [("alice", 30), ("harbour-authority", 10), *((c, 10) for c in EXTRA_CUSTOMERS)]
STATES = [
    ("completed", 35),
    ("inProgress", 15),
    ("acknowledged", 10),
    ("pending", 10),
    ("held", 5),
    ("cancelled", 10),
    ("failed", 5),
    ("rejected", 10),
]
ITEM_STATE = {  # the item state that goes with an order state
    "completed": "completed",
    "inProgress": "inProgress",
    "acknowledged": "acknowledged",
    "pending": "pending",
    "held": "held",
    "cancelled": "cancelled",
    "failed": "failed",
    "rejected": "rejected",
}
OFFERINGS = {"leo-broadband": "acme-satcom", "geo-backup": "orbit-links"}
BATCH = 5000


def _extra_parties_file() -> Path:
    data = {
        "individual": [
            {"id": cid, "@type": "Individual", "givenName": "Bench", "familyName": cid}
            for cid in EXTRA_CUSTOMERS
        ]
    }
    path = Path(tempfile.mkstemp(prefix="bench-parties-", suffix=".json")[1])
    path.write_text(json.dumps(data))
    return path


def _choose(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def make_order(rng: random.Random, now: datetime) -> ProductOrder:
    order_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    customer = _choose(rng, CUSTOMER_WEIGHTS)
    state = _choose(rng, STATES)
    created = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
    n_items = rng.choices([1, 2, 3], weights=[20, 65, 15])[0]
    items: list[dict[str, Any]] = []
    providers: dict[str, str] = {}
    for index in range(1, n_items + 1):
        offering = rng.choice(list(OFFERINGS))
        item_id = str(index)
        items.append(
            {
                "id": item_id,
                "action": "add",
                "quantity": 1,
                "productOffering": {"id": offering},
                "state": ITEM_STATE[state],
            }
        )
        providers[item_id] = OFFERINGS[offering]
    doc: dict[str, Any] = {
        "productOrderItem": items,
        "@type": "ProductOrder",
        "id": order_id,
        "creationDate": format_instant(created),
        "state": state,
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "customer",
                "partyOrPartyRole": {"@type": "PartyRef", "id": customer},
            }
        ],
    }
    if rng.random() < 0.5:
        doc["description"] = f"Connectivity for vessel {rng.randint(1000, 9999)}"
    if rng.random() < 0.3:
        doc["externalId"] = [{"id": f"PO-{rng.randint(100000, 999999)}", "owner": customer}]
    if rng.random() < 0.4:
        start = created + timedelta(days=rng.randint(1, 30))
        doc["requestedStartDate"] = format_instant(start)
        doc["requestedCompletionDate"] = format_instant(start + timedelta(days=rng.randint(1, 60)))
    if state == "completed":
        doc["completionDate"] = format_instant(created + timedelta(days=rng.randint(1, 20)))
    return ProductOrder(
        id=order_id,
        customer_id=customer,
        creator_id=customer,
        item_providers=providers,
        doc=doc,
    )


def prepare(database_url: str) -> None:
    """Migrate and load the demo parties/offerings plus the bench customers."""
    settings = Settings(database_url=database_url, jwt_secret="x" * 32)
    engine = build_engine(settings)  # migrates
    services = build_services(settings, engine)
    load_seed(services, DEMO_SEED)
    extra = _extra_parties_file()
    try:
        load_seed(services, extra)
    finally:
        extra.unlink()
    engine.dispose()


def insert_orders(database_url: str, count: int, seed_value: int) -> int:
    """Add ``count`` generated orders through the repository, BATCH per transaction."""
    engine: Engine = make_engine(database_url)
    db = Database(engine)
    rng = random.Random(seed_value)
    now = datetime.now(UTC)
    done = 0
    while done < count:
        with db.writing() as uow:
            for _ in range(min(BATCH, count - done)):
                uow.orders.add(make_order(rng, now))
                done += 1
            uow.commit()
    engine.dispose()
    return done


def seed(
    database_url: str, count: int, *, workers: int = 1, seed_value: int = 622
) -> dict[str, Any]:
    """Prepare the database and store ``count`` orders, in ``workers`` processes.

    Several workers only pay off on PostgreSQL; SQLite has one writer at a time.
    """
    started = time.perf_counter()
    prepare(database_url)
    shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
    if workers == 1:
        insert_orders(database_url, count, seed_value)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = [
                pool.submit(insert_orders, database_url, share, seed_value + i)
                for i, share in enumerate(shares)
            ]
            for future in futures:
                future.result()
    engine = make_engine(database_url)
    settle(engine)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(orders_table)).scalar_one()
    engine.dispose()
    return {"orders": int(total), "seconds": round(time.perf_counter() - started, 1)}


def settle(engine: Engine) -> None:
    """Statistics for the planner and, on PostgreSQL, the visibility map (``VACUUM``):
    what a database in service has from autovacuum. Right after a bulk load, before
    autovacuum has run, every index-only scan (a list's count) visits the table for
    each entry it reads, which is not what a list costs in steady state."""
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if engine.dialect.name == "postgresql":
            driver.autocommit = True
            driver.execute("VACUUM ANALYZE")
        else:
            driver.execute("ANALYZE")
            driver.commit()
    finally:
        raw.close()


def sample_ids(database_url: str, customer: str, n: int, *, seed_value: int = 7) -> list[str]:
    """``n`` ids of orders of ``customer`` (so that customer's token can read them)."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        ids = list(
            conn.execute(
                select(orders_table.c.id).where(orders_table.c.customer_id == customer)
            ).scalars()
        )
    engine.dispose()
    rng = random.Random(seed_value)
    return rng.sample(ids, min(n, len(ids)))


if __name__ == "__main__":
    url = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    w = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    print(seed(url, n, workers=w))
