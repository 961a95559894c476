"""Callback leases (store level): one worker per callback, leases that lapse are taken over,
and renewal keeps alive only what the worker still works on (PSI-01-02-03-08)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, select, update

from pss_ordering.domain.hub import Subscription
from pss_ordering.store.deliveries import SqlDeliveries
from pss_ordering.store.schema import deliveries, events, subscriptions
from pss_ordering.store.subscriptions import SqlSubscriptions

T0, T1, T2, T3 = (f"2026-11-24T12:00:0{n}.000Z" for n in range(4))


@contextmanager
def _store(engine: Engine) -> Iterator[SqlDeliveries]:
    with engine.begin() as connection:
        yield SqlDeliveries(connection)


def _callbacks_with_work(engine: Engine, count: int) -> list[str]:
    ids = [f"sub-{n}" for n in range(count)]
    with engine.begin() as connection:
        connection.execute(
            events.insert().values(
                seq=1,
                event_id="e1",
                topic="order",
                event_type="orderCreationNotification",
                occurred_at=T0,
                order_id="o1",
                customer_id="c",
                creator_id="c",
                details="{}",
                item_providers="{}",
                order_doc='{"doc": {}}',
            )
        )
        for sid in ids:
            SqlSubscriptions(connection).add(
                Subscription(sid, "c", ("customer",), "order", f"http://h/{sid}", None),
                "whsec_c2VjcmV0",
                T0,
            )
        SqlDeliveries(connection).add_many(
            [{"subscription_id": sid, "event_seq": 1, "audience": "full"} for sid in ids]
        )
    return ids


def _leases(engine: Engine) -> dict[str, tuple[str | None, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(subscriptions.c.id, subscriptions.c.lease_owner, subscriptions.c.lease_until)
        )
        return {row.id: (row.lease_owner, row.lease_until) for row in rows}


def test_a_callback_is_leased_to_one_worker_until_its_lease_lapses(engine: Engine) -> None:
    ids = _callbacks_with_work(engine, 3)
    with _store(engine) as store:
        mine = store.claim("w1", T0, T2, limit=10)
    assert sorted(lane.subscription_id for lane in mine) == ids
    with _store(engine) as store:
        assert store.claim("w2", T1, T3, limit=10) == [], "leased to w1"
    with _store(engine) as store:
        taken = store.claim("w2", T3, "2026-11-24T12:00:09.000Z", limit=10)
    assert len(taken) == 3, "w1's leases lapsed at T2: w2 takes the callbacks over"
    with _store(engine) as store:
        assert store.renew("w1", T3, ids) == set(), "w1 learns it lost them"


def test_renewal_extends_only_the_named_leases(engine: Engine) -> None:
    """A lane the worker gave up on must lapse, not live on through its other lanes."""
    first, second = _callbacks_with_work(engine, 2)
    with _store(engine) as store:
        store.claim("w1", T0, T1, limit=10)
        assert store.renew("w1", T3, [first]) == {first}
    leases = _leases(engine)
    assert leases[first] == ("w1", T3)
    assert leases[second] == ("w1", T1), "not renewed: it lapses at T1"


def test_only_the_holder_releases_and_nothing_is_claimable_without_work(engine: Engine) -> None:
    [sid] = _callbacks_with_work(engine, 1)
    with _store(engine) as store:
        store.claim("w1", T0, T3, limit=10)
        store.release("w2", [sid])
    assert _leases(engine)[sid] == ("w1", T3)
    with _store(engine) as store:
        store.release("w1", [sid])
    assert _leases(engine)[sid] == (None, None)
    with engine.begin() as connection:
        connection.execute(update(deliveries).values(state="delivered"))
    with _store(engine) as store:
        assert not store.any_claimable(T1)
