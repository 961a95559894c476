"""Two real PSSs paired as partners: the PSI-CST journey of a broker and a provider PSS.

Customer C orders at broker A one of A's own offerings together with an offering
A imported from partner B, where provider P alone is onboarded. Two ``serve``
processes on loopback, each with its own database (A on SQLite, B on
PostgreSQL), each delivering its events with its own worker. What is shown:
B's offering appears at A; A's items for B travel to B as a creation event
(TOD-03-02 "Other PSS" (✓), via events, TOD-01-02; PSI-01-02-03-01/-02); P's
acknowledgement and progress at B reach A and C as from any provider
(PSI-03-02-02-03); a missing-information round trip, a billing change that P
refuses at B, a change that B's own rules refuse, and a cancellation travel
through both; B refusing an order rejects A's items with B's reason; B stopped
mid-way and restarted loses nothing, and the unanswered deadline shows on the
order as a jeopardy alert (PSI-01-01-02-08 response time).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pss_ordering.api.auth import mint_token
from tests.served import SECRET, SERVE, Served, free_port, serve
from tests.world import OFFERINGS, ORDERS, PARTIES, provider_ref

pytestmark = pytest.mark.slow

EVENTS = "/psi-api/event/v2/topic/order/event"
IMEI = "missing=product.productCharacteristic.value&name=IMEI"
WITH_IMEI = {"productCharacteristic": [{"name": "IMEI", "value": "490154203237518"}]}
WAIT_SECONDS = 60.0


@dataclass
class Instance:
    """One PSS: its process (restartable), its database, whom it pairs with."""

    name: str
    port: int
    env: dict[str, str]
    tmp: Path
    stack: ExitStack | None = None
    served: Served | None = None

    def start(self) -> None:
        self.stack = ExitStack()
        self.served = self.stack.enter_context(serve(self.tmp, env=self.env, port=self.port))

    def stop(self) -> None:
        assert self.stack is not None
        self.stack.close()
        self.served = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(
        self, method: str, path: str, who: str, *roles: str, body: Any = None
    ) -> httpx.Response:
        token = mint_token(SECRET, who, roles or ("customer",))
        headers = {"Authorization": f"Bearer {token}"}
        if method == "PATCH":
            headers["Content-Type"] = "application/merge-patch+json"
        return httpx.request(method, self.url + path, json=body, headers=headers, timeout=10)

    def ok(self, method: str, path: str, who: str, *roles: str, body: Any = None) -> Any:
        response = self.call(method, path, who, *roles, body=body)
        assert response.status_code < 300, (self.name, method, path, response.text)
        return response.json() if response.content else None


def _env(
    database_url: str, port: int, peer_port: int, as_party: str, roles: list[str]
) -> dict[str, str]:
    peer = f"127.0.0.1:{peer_port}"
    token = mint_token(SECRET, as_party, roles, lifetime_seconds=3600)
    return {
        "PSS_DATABASE_URL": database_url,
        "PSS_BASE_URL": f"http://127.0.0.1:{port}",
        "PSS_RUN_WORKERS": "true",
        "PSS_CALLBACK_ALLOWED_HOSTS": peer,
        "PSS_CALLBACK_AUTH": json.dumps({peer: {"type": "bearer", "token": token}}),
        # Retried every second for two minutes: B's outage in the test stays within it
        # however loaded the machine is (a longer outage halts the relay until resumed).
        "PSS_DELIVERY_RETRY_SCHEDULE": ",".join(["0.2", "0.5", *["1"] * 120]),
        "PSS_DELIVERY_JITTER": "0",
        "PSS_TIMER_POLL_SECONDS": "0.2",
    }


@pytest.fixture
def pair(tmp_path: Path, fresh_postgres_url: str) -> Iterator[tuple[Instance, Instance]]:
    """A (SQLite) and B (PostgreSQL), each calling the other with its own credentials:
    A as party pss-a (a PSS ordering as its own customer at B), B as provider pss-b."""
    a_port, b_port = free_port(), free_port()
    a = Instance(
        "A",
        a_port,
        _env(f"sqlite:///{tmp_path / 'a.db'}", a_port, b_port, "pss-a", ["pss", "customer"]),
        tmp_path / "a",
    )
    b = Instance(
        "B", b_port, _env(fresh_postgres_url, b_port, a_port, "pss-b", ["provider"]), tmp_path / "b"
    )
    for instance in (a, b):
        instance.tmp.mkdir()
        instance.start()
    try:
        yield a, b
    finally:
        for instance in (a, b):
            if instance.served is not None:
                instance.stop()


def _until(what: str, check: Callable[[], Any]) -> Any:
    """Poll until ``check`` returns something truthy (the other side's worker is at work)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _sync(a: Instance) -> str:
    done = subprocess.run(
        [str(SERVE), "sync-partners"],
        env={**os.environ, **a.env, "PSS_JWT_SECRET": SECRET},
        cwd=a.tmp,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _onboard(a: Instance, b: Instance) -> None:
    """Governance on both sides; P's offerings at B; A's own provider and offering."""
    b.ok("POST", f"{PARTIES}/organization", "gov", "governance", body={"id": "prov-p", "name": "P"})
    # A may not order more urgently than priority 2 at B (a rule of B's that A's own
    # customer does not have there: B's refusal of a change is B's verdict)
    pss_a = {
        "id": "pss-a",
        "name": "A",
        "partyCharacteristic": [{"name": "maxPriority", "value": "2"}],
    }
    b.ok("POST", f"{PARTIES}/organization", "gov", "governance", body=pss_a)
    for name in ("lift", "crane"):
        offering = {
            "id": name,
            "name": f"P's {name}",
            "lifecycleStatus": "active",
            "relatedParty": [provider_ref("prov-p")],
        }
        b.ok("POST", OFFERINGS, "prov-p", "provider", body=offering)
    partner = {
        "id": "pss-b",
        "name": "Partner PSS B",
        "partyCharacteristic": [
            {"name": "responseTime", "value": "PT1H"},
            {"name": "partnerApiUrl", "value": b.url},
        ],
    }
    a.ok("POST", f"{PARTIES}/organization", "gov", "governance", body=partner)
    a.ok(
        "POST", f"{PARTIES}/organization", "gov", "governance", body={"id": "prov-a", "name": "PA"}
    )
    own = {
        "id": "desk",
        "name": "desk",
        "lifecycleStatus": "active",
        "relatedParty": [provider_ref("prov-a")],
    }
    a.ok("POST", OFFERINGS, "prov-a", "provider", body=own)


def _order(a: Instance, *offerings: str) -> dict[str, Any]:
    items = [
        {"id": str(n), "action": "add", "productOffering": {"id": o}}
        for n, o in enumerate(offerings, start=1)
    ]
    return a.ok("POST", ORDERS, "carol", body={"productOrderItem": items})  # type: ignore[no-any-return]


def _copy_at_b(b: Instance, a_order_id: str) -> dict[str, Any]:
    """B's copy of A's order: found by A's per-hop id, which B keeps as A's externalId."""

    def found() -> Any:
        listed = b.ok("GET", f"{ORDERS}?externalId.id={a_order_id}", "pss-a", "pss", "customer")
        return listed[0] if listed else None

    return _until(f"B's copy of {a_order_id}", found)  # type: ignore[no-any-return]


def _states(a: Instance, order_id: str) -> dict[str, str]:
    doc = a.ok("GET", f"{ORDERS}/{order_id}", "carol")
    return {i["id"]: i["state"] for i in doc["productOrderItem"]}


def _at_a(a: Instance, order_id: str, item: str, state: str) -> None:
    _until(f"item {item} {state} at A", lambda: _states(a, order_id).get(item) == state)


def _p_moves(b: Instance, b_order_id: str, state: str) -> None:
    view = b.ok("GET", f"{ORDERS}/{b_order_id}", "prov-p", "provider")
    items = [{**i, "state": state} for i in view["productOrderItem"]]
    b.ok("PATCH", f"{ORDERS}/{b_order_id}", "prov-p", "provider", body={"productOrderItem": items})


def _p_refuses(b: Instance, b_order_id: str, field: str, reason: str) -> None:
    """P refuses the change of ``field`` it was told of: its item back to pending."""
    view = b.ok("GET", f"{ORDERS}/{b_order_id}", "prov-p", "provider")
    refusal = {
        "@type": "ProductOrderErrorMessage",
        "code": "changeRefused",
        "reason": reason,
        "message": f"missing={field}",
        "productOrderItem": [
            {"@type": "ProductOrderItemRef", "productOrderItemId": i["id"]}
            for i in view["productOrderItem"]
        ],
    }
    body = {
        "productOrderItem": [{**i, "state": "pending"} for i in view["productOrderItem"]],
        "productOrderErrorMessage": [*view.get("productOrderErrorMessage", []), refusal],
    }
    b.ok("PATCH", f"{ORDERS}/{b_order_id}", "prov-p", "provider", body=body)


def _asked_at_a(a: Instance, order_id: str, field_path: str) -> dict[str, Any]:
    """C's information request at A for ``field_path`` on the order (once it arrived)."""

    def found() -> Any:
        listed = a.ok("GET", f"{EVENTS}?eventType=orderInformationRequiredNotification", "carol")
        return [
            e for e in listed if e["correlationId"] == order_id and e["fieldPath"] == field_path
        ]

    [asked] = _until(f"C asked for {field_path}", found)
    return asked  # type: ignore[no-any-return]


def _in_copy(b: Instance, b_order_id: str, field: str, value: Any) -> None:
    _until(
        f"{field} {value} at B",
        lambda: b.ok("GET", f"{ORDERS}/{b_order_id}", "prov-p", "provider").get(field) == value,
    )


def test_a_broker_and_a_partner_pss_run_the_journey_PSI_03_02_01_01_PSI_03_02_02_03(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    _onboard(a, b)
    assert "pss-b: 2 added" in _sync(a)
    # B's offerings appear at A, attributed to B, brokered
    lift = a.ok("GET", f"{OFFERINGS}/pss-b.lift", "carol")
    assert lift["externalIdentifier"][0]["owner"] == "pss-b"
    assert a.ok("GET", OFFERINGS, "pss-z", "pss") == [a.ok("GET", f"{OFFERINGS}/desk", "carol")]

    # C orders A's desk and B's lift: one order at A; only the lift travels to B
    order = _order(a, "desk", "pss-b.lift")
    copy = _copy_at_b(b, order["id"])
    assert [(i["id"], i["productOffering"]["id"]) for i in copy["productOrderItem"]] == [
        ("2", "lift")
    ]
    assert copy["id"] != order["id"]
    assert b.ok("GET", f"{ORDERS}/{copy['id']}", "prov-p", "provider")["state"] == "pending"

    # P acknowledges at B -> A's item of B acknowledged; A's own provider acknowledges
    _p_moves(b, copy["id"], "acknowledged")
    _at_a(a, order["id"], "2", "acknowledged")
    a_view = a.ok("GET", f"{ORDERS}/{order['id']}", "prov-a", "provider")
    items = [{**i, "state": "acknowledged"} for i in a_view["productOrderItem"]]
    a.ok("PATCH", f"{ORDERS}/{order['id']}", "prov-a", "provider", body={"productOrderItem": items})

    # missing information: P asks at B, C is asked at A about A's item, C supplies at A
    ask = {
        "eventId": "p-info-1",
        "eventType": "orderInformationRequiredNotification",
        "resourcePath": f"/productOrder/{copy['id']}/productOrderItem/2",
        "fieldPath": IMEI,
        "event": {"productOrder": {"id": copy["id"]}},
    }
    b.ok("POST", EVENTS, "prov-p", "provider", body=ask)
    _at_a(a, order["id"], "2", "pending")
    asked = _until(
        "the information request at A",
        lambda: [
            e
            for e in a.ok(
                "GET", f"{EVENTS}?eventType=orderInformationRequiredNotification", "carol"
            )
            if e["correlationId"] == order["id"]
        ],
    )
    assert asked[0]["resourcePath"] == f"/productOrder/{order['id']}/productOrderItem/2"
    assert asked[0]["fieldPath"] == IMEI
    doc = a.ok("GET", f"{ORDERS}/{order['id']}", "carol")
    supplied = [
        {**i, "product": WITH_IMEI} if i["id"] == "2" else i for i in doc["productOrderItem"]
    ]
    a.ok("PATCH", f"{ORDERS}/{order['id']}", "carol", body={"productOrderItem": supplied})
    _until(
        "the IMEI at B",
        lambda: (
            b.ok("GET", f"{ORDERS}/{copy['id']}", "prov-p", "provider")["productOrderItem"][0].get(
                "product"
            )
            == WITH_IMEI
        ),
    )
    _until(
        "B's item resumed",
        lambda: (
            b.ok("GET", f"{ORDERS}/{copy['id']}", "prov-p", "provider")["productOrderItem"][0][
                "state"
            ]
            == "acknowledged"
        ),
    )

    # C changes the billing account at A: it travels to B; P refuses it there; C is
    # asked at A for another account, as by any provider; the next one travels, and
    # the items resume at both
    _at_a(a, order["id"], "2", "acknowledged")
    url = f"{ORDERS}/{order['id']}"
    a.ok("PATCH", url, "carol", body={"billingAccount": {"id": "ba-1"}, "note": [{"text": "hi"}]})
    _in_copy(b, copy["id"], "billingAccount", {"id": "ba-1"})
    assert [
        n["text"] for n in b.ok("GET", f"{ORDERS}/{copy['id']}", "prov-p", "provider")["note"]
    ] == ["hi"]
    _p_refuses(b, copy["id"], "billingAccount", "ba-1 is closed")
    asked = _asked_at_a(a, order["id"], "missing=billingAccount")
    assert asked["resourcePath"] == f"/productOrder/{order['id']}"
    refused = a.ok("GET", url, "carol")["productOrderErrorMessage"]
    assert [m["reason"] for m in refused if m["code"] == "changeRefused"] == ["ba-1 is closed"]
    assert _states(a, order["id"])["2"] == "pending"
    a.ok("PATCH", url, "carol", body={"billingAccount": {"id": "ba-2"}})
    _in_copy(b, copy["id"], "billingAccount", {"id": "ba-2"})
    _at_a(a, order["id"], "2", "acknowledged")
    _until(
        "B's item resumed after the refusal",
        lambda: (
            b.ok("GET", f"{ORDERS}/{copy['id']}", "prov-p", "provider")["productOrderItem"][0][
                "state"
            ]
            == "acknowledged"
        ),
    )

    # C asks for priority 1, which B does not allow A: B's validation refuses the relayed
    # change (422), and at A that is B's refusal of it, with B's reason; C's next value
    # travels and is accepted
    a.ok("PATCH", url, "carol", body={"priority": "1"})
    _asked_at_a(a, order["id"], "missing=priority")
    [by_b] = [
        m
        for m in a.ok("GET", url, "carol")["productOrderErrorMessage"]
        if m["message"] == "missing=priority"
    ]
    assert by_b["code"] == "changeRefused"
    assert "HTTP 422" in by_b["reason"] and "maxPriority 2" in by_b["reason"]
    assert _states(a, order["id"])["2"] == "pending"
    a.ok("PATCH", url, "carol", body={"priority": "3"})
    _in_copy(b, copy["id"], "priority", "3")
    _at_a(a, order["id"], "2", "acknowledged")

    # P completes at B; A's provider completes: C sees one order, both items completed
    _p_moves(b, copy["id"], "inProgress")
    _p_moves(b, copy["id"], "completed")
    _at_a(a, order["id"], "2", "completed")
    items = [{**i, "state": "completed"} for i in a_view["productOrderItem"]]
    a.ok("PATCH", f"{ORDERS}/{order['id']}", "prov-a", "provider", body={"productOrderItem": items})
    final = a.ok("GET", f"{ORDERS}/{order['id']}", "carol")
    assert final["state"] == "completed"
    assert {i["state"] for i in final["productOrderItem"]} == {"completed"}
    assert len(a.ok("GET", ORDERS, "carol")) == 1
    events = [
        e
        for e in reversed(a.ok("GET", f"{EVENTS}?limit=100", "carol"))
        if e["correlationId"] == order["id"]
    ]
    told = [e["eventType"] for e in events]
    assert told[0] == "orderCreationNotification"
    # one request each: P's IMEI, the account P refused, the priority B refused
    assert [
        e.get("fieldPath")
        for e in events
        if e["eventType"] == "orderInformationRequiredNotification"
    ] == [
        IMEI,
        "missing=billingAccount",
        "missing=priority",
    ]
    assert "orderStateChangeNotification" in told[1:]

    # a cancellation from C travels to B, P accepts there, C's order is cancelled at A
    second = _order(a, "pss-b.lift")
    copy2 = _copy_at_b(b, second["id"])
    _p_moves(b, copy2["id"], "acknowledged")
    _at_a(a, second["id"], "1", "acknowledged")
    a.ok(
        "PATCH",
        f"{ORDERS}/{second['id']}",
        "carol",
        body={"state": "cancelled", "cancellationReason": "plans changed"},
    )
    _until(
        "the cancellation request at B",
        lambda: (
            b.ok("GET", f"{ORDERS}/{copy2['id']}", "prov-p", "provider")["state"]
            == "assessingCancellation"
        ),
    )
    _p_moves(b, copy2["id"], "pendingCancellation")
    _until(
        "the cancellation at A",
        lambda: a.ok("GET", f"{ORDERS}/{second['id']}", "carol")["state"] == "cancelled",
    )

    # B refuses an order (an offering it withdrew, not yet synced at A): A's items rejected
    b.ok("DELETE", f"{OFFERINGS}/crane", "prov-p", "provider")
    refused = _order(a, "pss-b.crane")
    _until(
        "the refusal at A",
        lambda: a.ok("GET", f"{ORDERS}/{refused['id']}", "carol")["state"] == "rejected",
    )
    [message] = a.ok("GET", f"{ORDERS}/{refused['id']}", "carol")["productOrderErrorMessage"]
    assert message["code"] == "partnerRefused"
    assert "crane" in message["message"] and "HTTP 422" in message["message"]

    # B stopped mid-way: A's order waits (retries), its deadline for B shows as a
    # jeopardy alert; B restarted: the order arrives, nothing is lost
    a.ok(
        "PATCH",
        f"{PARTIES}/organization/pss-b",
        "gov",
        "governance",
        body={
            "partyCharacteristic": [
                {"name": "responseTime", "value": "PT1S"},
                {"name": "partnerApiUrl", "value": b.url},
            ]
        },
    )
    b.stop()
    while_down = _order(a, "pss-b.lift")
    _until(
        "the jeopardy alert at A",
        lambda: a.ok("GET", f"{ORDERS}/{while_down['id']}", "carol").get(
            "productOrderJeopardyAlert"
        ),
    )
    b.start()
    copy3 = _copy_at_b(b, while_down["id"])
    _p_moves(b, copy3["id"], "acknowledged")
    _at_a(a, while_down["id"], "1", "acknowledged")
