"""Listing and delivery apply one audience rule (issue 9): tested against each other.

PSI-01-02-03-04 (need-to-know). For random sequences of changes by customers, an
organisation, the creating PSS and several providers (notes, expected completion
dates, item moves, descriptions, drafts, events received from providers), every
party's callback is queued exactly the events that party lists with
``GET /topic/order/event`` (same events, same order, ``X-Total-Count`` included),
and the worker sends each of them the very envelope the listing shows. Neither
side is computed from the other here: deliveries are read from their table and
captured from the worker, the listing over HTTP.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
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
from pss_ordering.events.sender import Outgoing
from pss_ordering.events.worker import DeliverySettings, DeliveryWorker
from pss_ordering.store.schema import deliveries, events, metadata, subscriptions
from tests.conftest import Auth
from tests.delivery import HUB, subscribe
from tests.world import ORDERS, World, customer_ref, order_body

CALLBACK_BASE = "https://receiver.test"
MERGE = {"Content-Type": "application/merge-patch+json"}
KEPT_TABLES = frozenset({"parties", "party_parents", "offerings"})
#: Every party, with the roles it calls (and registers its callback) with. prov-b is
#: also a customer: its own orders in full, the others in its provider view.
ROLES = {
    "dave": ("customer",),
    "carol": ("customer",),
    "org-c": ("customer",),
    "prov-a": ("provider",),
    "prov-b": ("customer", "provider"),
    "prov-z": ("provider",),
    "pss-x": ("pss",),
    "pss-y": ("pss",),
    "gov": ("governance",),
    "erin": ("customer",),
}
#: Who creates orders: (caller, the customer named on the order or None for itself).
CREATORS = {"dave": None, "carol": None, "prov-b": None, "pss-x": "dave"}
WRITERS = ["customer", "org-c", "pss-x", "prov-a", "prov-b"]
DATES = [None, "2027-01-01T00:00:00Z", "2027-03-01T12:00:00+02:00", "2027-06-30T00:00:00Z"]
ORDER_INDEX = st.integers(0, 5)
OFFERINGS = st.lists(st.sampled_from(["off-a", "off-b"]), min_size=1, max_size=3)

ACTIONS = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(sorted(CREATORS)), OFFERINGS, st.booleans()),
    st.tuples(st.just("submit"), ORDER_INDEX),
    st.tuples(st.just("note"), ORDER_INDEX, st.sampled_from(WRITERS)),
    st.tuples(st.just("note"), ORDER_INDEX, st.sampled_from(["prov-a", "prov-b"])),
    st.tuples(
        st.just("expect"),
        ORDER_INDEX,
        st.sampled_from(["prov-a", "prov-b"]),
        st.sampled_from(DATES),
    ),
    st.tuples(
        st.just("move"),
        ORDER_INDEX,
        st.sampled_from(["prov-a", "prov-b"]),
        st.sampled_from(["acknowledged", "inProgress", "held"]),
    ),
    st.tuples(st.just("event"), ORDER_INDEX, st.sampled_from(["prov-a", "prov-b"])),
    st.tuples(st.just("describe"), ORDER_INDEX),
    st.tuples(st.just("cancel"), ORDER_INDEX),
)


@dataclass
class CapturingSender:
    """Every receiver answers 200; what each callback path was sent, by eventId."""

    sent: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def send(self, outgoing: Outgoing) -> SendResult:
        path = urlsplit(outgoing.url).path
        self.sent[f"{path} {outgoing.event_id}"] = orjson.loads(outgoing.body)
        return SendResult(200, None, None)

    async def close(self) -> None:
        return None


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                conn.execute(text(f"DELETE FROM {table.name}"))


def _queued(engine: Engine) -> dict[str, list[str]]:
    """Per party (its callback path): the eventIds queued for it, in delivery order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(subscriptions.c.callback, events.c.event_id)
            .join_from(deliveries, events, events.c.seq == deliveries.c.event_seq)
            .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
            .order_by(deliveries.c.id)
        ).all()
    queued: dict[str, list[str]] = {party: [] for party in ROLES}
    for row in rows:
        queued[urlsplit(row.callback).path.strip("/")].append(row.event_id)
    return queued


class Scenario:
    def __init__(self, engine: Engine, client: TestClient, auth: Auth) -> None:
        self.client = client
        self.auth = auth
        self.orders: list[tuple[str, str]] = []  # (order id, the caller that created it)
        self.events_sent = 0
        _reset(engine)
        for party in ROLES:
            subscribe(client, self.headers(party), f"{CALLBACK_BASE}/{party}")

    def headers(self, party: str) -> dict[str, str]:
        return self.auth(party, *ROLES[party])

    def run(self, action: tuple[Any, ...]) -> None:
        kind, *args = action
        if kind == "create":
            creator, offerings, draft = args
            extra: dict[str, Any] = {"requestedInitialState": "draft"} if draft else {}
            customer = CREATORS[creator]
            if customer:
                extra["relatedParty"] = [customer_ref(customer)]
            response = self.client.post(
                ORDERS, json=order_body(*offerings, **extra), headers=self.headers(creator)
            )
            assert response.status_code == 201, response.text
            self.orders.append((response.json()["id"], creator))
        elif self.orders:
            order_id, creator = self.orders[args[0] % len(self.orders)]
            self.change(kind, order_id, creator, *args[1:])

    def change(self, kind: str, order_id: str, creator: str, *args: Any) -> None:
        """As the party would (refusals, such as a stranger's 404, are part of it)."""
        url = f"{ORDERS}/{order_id}"
        who = creator
        body: dict[str, Any]
        if kind == "submit":
            body = {"state": "acknowledged"}
        elif kind == "cancel":
            body = {"state": "cancelled"}
        elif kind == "describe":
            body = {"description": f"d{len(self.orders)}"}
        elif kind == "note":
            who = creator if args[0] == "customer" else args[0]
            seen = self.client.get(url, headers=self.headers(who))
            if seen.status_code != 200:
                return
            body = {"note": [*seen.json().get("note", []), {"text": f"{who} on {order_id}"}]}
        elif kind == "expect":
            who, body = args[0], {"expectedCompletionDate": args[1]}
        elif kind == "move":
            who, body = args[0], {"state": args[1]}
        else:  # a provider's event: a note and a date, applied like its PATCH
            who = args[0]
            self.events_sent += 1
            event = {
                "eventId": f"ev-{self.events_sent}",
                "eventType": "orderValueChangeNotification",
                "event": {
                    "productOrder": {
                        "id": order_id,
                        "note": [{"text": f"{who} by event {self.events_sent}"}],
                        "expectedCompletionDate": DATES[self.events_sent % len(DATES)] or DATES[1],
                    }
                },
            }
            response = self.client.post(f"{HUB}/order/event", json=event, headers=self.headers(who))
            assert response.status_code < 500, response.text
            return
        response = self.client.patch(url, json=body, headers={**self.headers(who), **MERGE})
        assert response.status_code < 500, response.text

    def listed(self, party: str) -> tuple[list[dict[str, Any]], int]:
        """Everything the party lists, oldest first, and the count the first page gave."""
        found: list[dict[str, Any]] = []
        total = None
        while True:
            page = self.client.get(
                f"{HUB}/order/event",
                params={"offset": len(found), "limit": 7},
                headers=self.headers(party),
            )
            assert page.status_code == 200, page.text
            total = int(page.headers["x-total-count"]) if total is None else total
            if not page.json():
                return list(reversed(found)), total
            found += page.json()


def test_each_party_lists_exactly_what_its_callback_is_sent_PSI_01_02_03_04(
    world: World, engine: Engine, client: TestClient, clock: ManualClock, auth: Auth
) -> None:
    """PSI-01-02-03-04: the event listing and delivery decide need-to-know by one rule.
    For random changes by every kind of party, each party's listing equals, event for
    event and envelope for envelope, what is queued and sent to its callback."""
    services: Services = client.app.state.services  # type: ignore[attr-defined]

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(actions=st.lists(ACTIONS, min_size=4, max_size=25))
    def scenario(actions: list[tuple[Any, ...]]) -> None:
        run = Scenario(engine, client, auth)
        run.run(("create", "dave", ["off-a", "off-b"], False))
        for action in actions:
            run.run(action)
        sender = CapturingSender()
        worker = DeliveryWorker(
            services.database,
            services.executor,
            sender,
            clock,
            DeliverySettings(RetryPolicy((1.0,), 0.0), lease_seconds=30.0, timeout_seconds=1.0),
        )
        runner.run(worker.drain())
        queued = _queued(engine)
        for party in ROLES:
            listed, total = run.listed(party)
            assert total == len(listed), f"{party}: X-Total-Count"
            assert [e["eventId"] for e in listed] == queued[party], party
            for envelope in listed:
                sent = sender.sent[f"/{party} {envelope['eventId']}"]
                assert sent == envelope, f"{party}: the listing shows what was sent"
        assert queued["erin"] == queued["prov-z"] == queued["pss-y"] == []

    with asyncio.Runner() as runner:
        scenario()
