"""Property test of event delivery (issue 4): random interleavings of order changes and
receiver outcomes never lose, repeat, reorder or leak an event.

Requirements: PSI-01-02-03-04 (need-to-know), PSI-01-02-03-05 (filter queries),
PSI-01-02-03-06 (retries with back-off), PSI-01-02-03-07 (halt after the last
retry, resume sends the backlog), PSI-01-02-03-08 (per-callback commit order).

No real HTTP here: a scripted :class:`Sender` answers each send with the next
outcome scripted for its callback (2xx, 500, 503/429 with Retry-After, time-out,
connection reset, redirect, 410), 200 when nothing is scripted. Orders change
through the HTTP API; the delivery worker is drained at random moments while a
:class:`ManualClock` moves on. At the end halted callbacks are resumed, time moves
on and the worker drains until nothing is pending; then each callback's successful
deliveries must be exactly what its owner may see, each once, in commit order; no
retry came before the schedule (or Retry-After) allowed, none after the last retry
without a resumption; and a callback disabled by a 410 got nothing after it.
Expected sequences are computed from the event log (the order as it was at each
event), independently of the publishing code.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from starlette.testclient import TestClient

from pss_ordering.api.common import Services
from pss_ordering.clock import ManualClock
from pss_ordering.domain.delivery import RetryPolicy, SendResult
from pss_ordering.domain.identity import Caller, Role
from pss_ordering.events.sender import Outgoing
from pss_ordering.events.worker import DeliverySettings, DeliveryWorker
from pss_ordering.store.schema import deliveries, events, metadata, subscriptions
from tests.conftest import Auth
from tests.delivery import HUB
from tests.world import ORDERS, World, order_body

CALLBACK_BASE = "https://receiver.test"
MERGE = {"Content-Type": "application/merge-patch+json"}
SCHEDULE = (1.0, 2.0, 4.0)
KEPT_TABLES = frozenset({"parties", "party_parents", "offerings"})
OFF_B_QUERY = "event.productOrder.productOrderItem.productOffering.id=off-b"
CREATION = "orderCreationNotification"
VALUE_CHANGE = "orderValueChangeNotification"


@dataclass(frozen=True, slots=True)
class Hub:
    owner: str
    role: str
    query: str | None = None


#: The callbacks of each example, by path: need-to-know differs for each of them.
HUBS = {
    "/dave": Hub("dave", "customer"),
    "/dave-off-b": Hub("dave", "customer", OFF_B_QUERY),
    "/carol": Hub("carol", "customer"),
    "/prov-a": Hub("prov-a", "provider"),
    "/prov-b": Hub("prov-b", "provider"),
    "/gov": Hub("gov", "governance"),
    "/gov-created": Hub("gov", "governance", f"eventType={CREATION}"),
    "/erin": Hub("erin", "customer"),
}
PROVIDER_OF = {"off-a": "prov-a", "off-b": "prov-b"}


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


OUTCOMES = [
    Outcome(200),
    Outcome(204),
    Outcome(500),
    Outcome(503, retry_after=6.0),  # Retry-After longer than the schedule says:
    Outcome(429, retry_after=9.0),  # it is honoured
    Outcome(None, "timed out after 1s"),
    Outcome(None, "ClientOSError: Connection reset by peer"),
    Outcome(302, "HTTP 302: redirect to https://elsewhere.test/ not followed"),
    Outcome(410),
]


@dataclass(frozen=True, slots=True)
class Sent:
    number: int  # among all sends of the scenario
    at: datetime
    path: str
    event_id: str
    body: dict[str, Any]
    outcome: Outcome


@dataclass
class ScriptedSender:
    """The receivers: each callback answers with its scripted outcomes, then 200."""

    clock: ManualClock
    scripts: dict[str, deque[Outcome]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    async def send(self, outgoing: Outgoing) -> SendResult:
        await asyncio.sleep(0)  # let the other lanes interleave
        path = urlsplit(outgoing.url).path
        script = self.scripts.get(path)
        outcome = script.popleft() if script else Outcome(200)
        body = orjson.loads(outgoing.body)
        assert body["eventId"] == outgoing.event_id, "webhook-id is the eventId"
        sent = Sent(len(self.sent), self.clock.now(), path, outgoing.event_id, body, outcome)
        self.sent.append(sent)
        return SendResult(outcome.status, outcome.error, outcome.retry_after)

    async def close(self) -> None:
        return None

    def to(self, path: str) -> list[Sent]:
        return [s for s in self.sent if s.path == path]


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as the log keeps it, with the order as it was then."""

    event_id: str
    event_type: str
    customer_id: str
    doc: dict[str, Any]
    submitted: bool
    item_providers: dict[str, str]


def _logged(engine: Engine) -> list[LoggedEvent]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                events.c.event_id,
                events.c.event_type,
                events.c.customer_id,
                events.c.order_doc,
                events.c.item_providers,
            )
            .where(events.c.topic == "order")
            .order_by(events.c.seq)
        ).all()
    logged = []
    for row in rows:
        snapshot = orjson.loads(row.order_doc)
        logged.append(
            LoggedEvent(
                row.event_id,
                row.event_type,
                row.customer_id,
                snapshot["doc"],
                snapshot.get("submittedAt") is not None,
                orjson.loads(row.item_providers),
            )
        )
    return logged


def _queued(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    """Per callback path: (eventId, delivery state) of its deliveries, in delivery id order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(subscriptions.c.callback, events.c.event_id, deliveries.c.state)
            .join_from(deliveries, events, events.c.seq == deliveries.c.event_seq)
            .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
            .order_by(deliveries.c.id)
        ).all()
    queued: dict[str, list[tuple[str, str]]] = {path: [] for path in HUBS}
    for row in rows:
        queued[urlsplit(row.callback).path].append((row.event_id, row.state))
    return queued


def _states(engine: Engine) -> dict[str, tuple[str, str]]:
    """Per callback path: (subscription id, state)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(subscriptions.c.id, subscriptions.c.callback, subscriptions.c.state)
        )
        return {urlsplit(r.callback).path: (r.id, r.state) for r in rows}


def _reset(engine: Engine) -> None:
    """Forget the previous example's orders, events and callbacks (keep parties, offerings)."""
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                conn.execute(text(f"DELETE FROM {table.name}"))


def _item_ids(doc: dict[str, Any]) -> list[str]:
    return [str(item["id"]) for item in doc.get("productOrderItem", [])]


def _without_href(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "href"}


Action = tuple[Any, ...]
OFFERING_LISTS = st.lists(st.sampled_from(sorted(PROVIDER_OF)), min_size=1, max_size=3)
ORDER_INDEX = st.integers(0, 7)
FAILURES = [o for o in OUTCOMES if not o.ok and o.status != 410]
#: Order changes, receiver outcomes and time, the frequent ones listed more than once.
ACTIONS = st.one_of(
    *[
        st.tuples(
            st.just("create"), st.sampled_from(["dave", "carol"]), OFFERING_LISTS, st.booleans()
        )
    ]
    * 4,
    *[st.tuples(st.just("submit"), ORDER_INDEX)] * 2,
    st.tuples(st.just("edit_items"), ORDER_INDEX, OFFERING_LISTS),
    st.tuples(st.just("describe"), ORDER_INDEX, st.sampled_from(["urgent", "later"])),
    *[
        st.tuples(
            st.just("provider"),
            ORDER_INDEX,
            st.sampled_from(["prov-a", "prov-b"]),
            st.sampled_from(["acknowledged", "inProgress", "held", "completed"]),
        )
    ]
    * 3,
    st.tuples(st.just("cancel"), ORDER_INDEX),
    st.tuples(st.just("delete"), ORDER_INDEX),
    *[
        st.tuples(
            st.just("script"),
            st.sampled_from(sorted(HUBS)),
            st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=4),
        )
    ]
    * 2,
    # Four failures in a row halt a callback (schedule of three retries).
    st.tuples(
        st.just("script"),
        st.sampled_from(sorted(HUBS)),
        st.lists(st.sampled_from(FAILURES), min_size=4, max_size=4),
    ),
    # The receiver says it wants no more (PSI-01-02-03-07: the callback is disabled).
    st.tuples(st.just("script"), st.sampled_from(sorted(HUBS)), st.just([Outcome(410)])),
    st.tuples(st.just("advance"), st.sampled_from([1, 2, 4, 8, 40])),
    *[st.tuples(st.just("drain"))] * 2,
    st.tuples(st.just("resume")),
)


class Scenario:
    """One run: fresh callbacks, the actions, then settling and the checks."""

    def __init__(
        self,
        engine: Engine,
        client: TestClient,
        services: Services,
        clock: ManualClock,
        auth: Auth,
        runner: asyncio.Runner,
    ) -> None:
        self.engine = engine
        self.client = client
        self.clock = clock
        self.auth = auth
        self.runner = runner
        self.sender = ScriptedSender(clock)
        self.resumed: dict[str, list[int]] = {path: [] for path in HUBS}  # sends before each
        self.orders: list[tuple[str, str]] = []  # (order id, its customer)
        _reset(engine)
        for path, hub in HUBS.items():
            owner = Caller(hub.owner, frozenset({Role(hub.role)}))
            services.hub.register(owner, "order", CALLBACK_BASE + path, hub.query)
        # One worker per scenario: its rendering cache is keyed by event seq, which
        # SQLite reuses after the reset.
        self.worker = DeliveryWorker(
            services.database,
            services.executor,
            self.sender,
            clock,
            DeliverySettings(RetryPolicy(SCHEDULE, 0.0), lease_seconds=30.0, timeout_seconds=1.0),
        )

    def _owner(self, hub: Hub) -> dict[str, str]:
        return self.auth(hub.owner, hub.role)

    # -- the actions -------------------------------------------------------------------

    def run(self, action: Action) -> None:
        kind, *args = action
        if kind == "create":
            self.create(*args)
        elif kind == "script":
            path, outcomes = args
            self.sender.scripts.setdefault(path, deque()).extend(outcomes)
        elif kind == "advance":
            self.clock.advance(timedelta(seconds=args[0]))
        elif kind == "drain":
            self.drain()
        elif kind == "resume":
            self.resume_halted()
        elif self.orders:
            self.change(kind, *args)

    def create(self, customer: str, offerings: list[str], draft: bool) -> None:
        extra = {"requestedInitialState": "draft"} if draft else {}
        response = self.client.post(
            ORDERS, json=order_body(*offerings, **extra), headers=self.auth(customer)
        )
        assert response.status_code == 201, response.text
        self.orders.append((response.json()["id"], customer))

    def change(self, kind: str, index: int, *args: Any) -> None:
        """Change an order as its customer, a provider or governance would (refusals are fine)."""
        order_id, customer = self.orders[index % len(self.orders)]
        url = f"{ORDERS}/{order_id}"
        if kind == "delete":
            response = self.client.delete(url, headers=self.auth("gov", "governance"))
            assert response.status_code == 204, response.text
            self.orders.remove((order_id, customer))
            return
        who = self.auth(customer)
        if kind == "submit":
            body: dict[str, Any] = {"state": "acknowledged"}
        elif kind == "edit_items":  # only a draft's items change: who may see it changes too
            body = order_body(*args[0])
        elif kind == "describe":
            body = {"description": args[0]}
        elif kind == "cancel":
            body = {"state": "cancelled"}
        else:
            provider, state = args
            who, body = self.auth(provider, "provider"), {"state": state}
        response = self.client.patch(url, json=body, headers={**who, **MERGE})
        assert response.status_code < 500, response.text

    def drain(self) -> None:
        """Deliver everything due at the clock's time (the worker's test entry point)."""
        self.runner.run(self.worker.drain())

    def resume_halted(self) -> None:
        """PSI-01-02-03-07: owners resume halted callbacks; a disabled one (410) stays so."""
        for path, (subscription_id, state) in _states(self.engine).items():
            if state == "halted":
                response = self.client.post(
                    f"{HUB}/order/hub/{subscription_id}/resume", headers=self._owner(HUBS[path])
                )
                assert response.status_code == 200, response.text
                self.resumed[path].append(len(self.sender.sent))

    # -- at the end ----------------------------------------------------------------------

    def settle(self) -> tuple[dict[str, list[tuple[str, str]]], dict[str, tuple[str, str]]]:
        """Resume, let time pass and drain until nothing is pending (receivers answer 200
        once their scripts are used up; after a few rounds, at once). Time moves in steps
        shorter than a Retry-After, so one ignored would show as a retry too early."""
        for round_ in range(40):
            if round_ == 20:
                self.sender.scripts.clear()
            self.resume_halted()
            self.clock.advance(timedelta(seconds=5))
            self.drain()
            states = _states(self.engine)
            queued = _queued(self.engine)
            live = [p for p, (_, state) in states.items() if state != "disabled"]
            if all(state != "pending" for p in live for _, state in queued[p]):
                return queued, states
        raise AssertionError(f"deliveries still pending: {queued}")

    def check(self) -> None:
        queued, states = self.settle()
        logged = _logged(self.engine)
        by_id = {event.event_id: event for event in logged}
        for path, hub in HUBS.items():
            sent = self.sender.to(path)
            in_order = [event_id for event_id, _ in queued[path]]
            disabled = states[path][1] == "disabled"
            received = [s.event_id for s in sent if s.outcome.ok]
            assert len(received) == len(set(received)), f"{path}: an event received twice"
            for n, attempt in enumerate(sent):
                done = sum(1 for s in sent[:n] if s.outcome.ok)
                assert attempt.event_id == in_order[done], f"{path}: sent out of order"
            if disabled:
                assert sent[-1].outcome.status == 410, f"{path}: sent to after its 410"
                assert received == in_order[: len(received)], path
            else:
                assert received == in_order, f"{path}: not every queued event received"
            expected = _may_see(hub, logged)
            if hub.role == "provider":
                _check_provider(path, in_order, expected, complete=not disabled)
            else:
                if disabled:
                    expected = expected[: len(in_order)]
                assert in_order == [e.event_id for e in expected], f"{path}: wrong events"
            _check_retries(path, sent, self.resumed[path])
            for s in sent:
                _check_body(path, hub, s.body, by_id[s.event_id])


def _may_see(hub: Hub, logged: list[LoggedEvent]) -> list[LoggedEvent]:
    """What the owner may see (a provider: at most), in commit order, by need-to-know
    (PSI-01-02-03-04) and its filter query (PSI-01-02-03-05)."""
    if hub.role == "governance":
        return [e for e in logged if not hub.query or e.event_type == CREATION]
    if hub.role == "customer":
        mine = [e for e in logged if e.customer_id == hub.owner]
        if not hub.query:
            return mine
        return [
            e
            for e in mine
            if any(
                (item.get("productOffering") or {}).get("id") == "off-b"
                for item in e.doc.get("productOrderItem", [])
            )
        ]
    return [e for e in logged if e.submitted and hub.owner in e.item_providers.values()]


def _check_provider(
    path: str, in_order: list[str], may_see: list[LoggedEvent], complete: bool
) -> None:
    """A provider gets, in commit order, what it may see: all of it but the value
    changes that left its own view unchanged (another provider's item moved).
    ``complete`` is False for a disabled callback: then up to its last delivery."""
    position = {event.event_id: n for n, event in enumerate(may_see)}
    assert all(e in position for e in in_order), f"{path}: an event it may not see"
    positions = [position[e] for e in in_order]
    assert positions == sorted(positions), f"{path}: not in commit order"
    end = len(may_see) if complete else max(positions, default=-1) + 1
    got = set(in_order)
    missed = [
        e.event_type
        for e in may_see[:end]
        if e.event_id not in got and e.event_type != VALUE_CHANGE
    ]
    assert not missed, f"{path}: missed events it may see: {missed}"


def _check_retries(path: str, sent: list[Sent], resumed: list[int]) -> None:
    """PSI-01-02-03-06/-07: after a failure the next attempt waits for the schedule (or a
    longer Retry-After on 429/503); after the last retry only a resumption sends again."""
    failures = 0
    for failed, after in pairwise(sent):
        if failed.outcome.ok:
            failures = 0
            continue
        failures += 1
        if failures > len(SCHEDULE):
            assert any(failed.number < r <= after.number for r in resumed), (
                f"{path}: sent to after its last retry without being resumed"
            )
            failures = 0
            continue
        wait = SCHEDULE[failures - 1]
        if failed.outcome.status in (429, 503) and failed.outcome.retry_after:
            wait = max(wait, failed.outcome.retry_after)
        assert (after.at - failed.at).total_seconds() >= wait, f"{path}: retried too early"


def _check_body(path: str, hub: Hub, body: dict[str, Any], logged: LoggedEvent) -> None:
    """PSI-01-02-03-04: the body is the order as the owner may see it, as it was then."""
    shown = body["event"]["productOrder"]
    assert body["correlationId"] == shown["id"], path
    if hub.role == "provider":
        assert logged.submitted, f"{path}: a draft reached a provider"
        assert shown["state"] != "draft", path
        items = _item_ids(shown)
        own = {i for i, provider in logged.item_providers.items() if provider == hub.owner}
        assert items and set(items) == own, f"{path}: items {items}, its own {own}"
    else:
        assert hub.owner != "erin", f"{path}: an unrelated party was told"
        assert _without_href(shown) == _without_href(logged.doc), f"{path}: not the full order"
        assert body["eventType"] == logged.event_type, path


def test_each_callback_gets_what_it_may_see_once_in_commit_order_PSI_01_02_03_08(
    world: World, engine: Engine, client: TestClient, clock: ManualClock, auth: Auth
) -> None:
    """PSI-01-02-03-04/-05/-06/-07/-08: for random interleavings of order changes and
    receiver outcomes, each callback receives each of its events' successful delivery
    exactly once, in commit order, and only events its owner may see; a callback its
    receiver disabled with 410 receives nothing after it; halted ones, once resumed,
    receive their whole backlog in order."""
    services: Services = client.app.state.services  # type: ignore[attr-defined]

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        scripts=st.dictionaries(
            st.sampled_from(sorted(HUBS)), st.lists(st.sampled_from(OUTCOMES), max_size=6)
        ),
        actions=st.lists(ACTIONS, min_size=12, max_size=30),
    )
    def interleaving(scripts: dict[str, list[Outcome]], actions: list[Action]) -> None:
        scenario = Scenario(engine, client, services, clock, auth, runner)
        for path, outcomes in scripts.items():
            scenario.run(("script", path, outcomes))
        for action in actions:
            scenario.run(action)
        scenario.check()

    with asyncio.Runner() as runner:
        interleaving()
