"""Property-based lifecycle test: random sequences of customer, provider and governance
actions over multi-provider orders, with the invariants checked after every step.

PSI-03-02-02-04 (write access by role) and TOD-03-02-02 (state-guarded updates).
After each step: the order state equals the derivation of its item states; no
item move outside the tables was accepted; a final order never changed; a
provider never changed another provider's item; nothing outside the acting
role's fields changed.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pss_ordering.domain.catalog import Offering
from pss_ordering.domain.changes import ChangeContext, apply_changes
from pss_ordering.domain.errors import PssError
from pss_ordering.domain.field_rights import (
    CUSTOMER_FIELDS,
    DRAFT_FIELDS,
    ITEM_FIELD_RIGHTS,
    PROVIDER_FIELDS,
    Writer,
)
from pss_ordering.domain.identity import Caller, Role
from pss_ordering.domain.lifecycle import (
    FINAL_STATES,
    ITEM_STATES,
    PROVIDER_ITEM_TRANSITIONS,
    State,
    derive,
)
from pss_ordering.domain.orders import OrderingContext, ProductOrder, create_order
from pss_ordering.domain.progress import item_statuses
from pss_ordering.domain.timestamps import Instant
from pss_ordering.domain.visibility import Viewer, view

PROVIDERS = ("prov-a", "prov-b", "prov-c")
OFFERINGS = {f"off-{p[-1]}": Offering(f"off-{p[-1]}", p, {"id": f"off-{p[-1]}"}) for p in PROVIDERS}
CUSTOMER = Viewer(Caller("alice", frozenset({Role.CUSTOMER})), frozenset({"alice"}))
GOVERNANCE = Viewer(Caller("gov", frozenset({Role.GOVERNANCE})), frozenset({"gov"}))
#: Fields the PSS itself sets as the consequence of a lifecycle move.
CONSEQUENCES = frozenset(
    {"state", "cancellationDate", "completionDate", "cancellationReason", "productOrderItem"}
)
#: Item moves the PSS makes on its own: cancelling together, refusing a cancellation
#: (and resuming an item once what was missing is supplied: LifecycleMachine._resumed).
PSS_ITEM_MOVES = {
    ("pendingCancellation", "cancelled"),
    *((s, "cancelled") for s in ("pending", "acknowledged", "inProgress", "held")),
    *((s, "assessingCancellation") for s in ("acknowledged", "inProgress", "held", "pending")),
    *((s, "pendingCancellation") for s in ("pending",)),
    *(("assessingCancellation", s) for s in ("acknowledged", "inProgress", "held", "pending")),
    *(("pendingCancellation", s) for s in ("acknowledged", "inProgress", "held", "pending")),
}


def provider(party: str) -> Viewer:
    return Viewer(Caller(party, frozenset({Role.PROVIDER})), frozenset({party}))


class LifecycleMachine(RuleBasedStateMachine):
    order: ProductOrder
    #: Before the step: the state each item resumes once nothing is missing.
    resumable: dict[str, str]

    @initialize(
        offerings=st.lists(st.sampled_from(sorted(OFFERINGS)), min_size=1, max_size=4),
        draft=st.booleans(),
    )
    def place(self, offerings: list[str], draft: bool) -> None:
        body: dict[str, Any] = {
            "productOrderItem": [
                {"id": str(n), "action": "add", "productOffering": {"id": o}}
                for n, o in enumerate(offerings, start=1)
            ]
        }
        if draft:
            body["requestedInitialState"] = "draft"
        ctx = OrderingContext(CUSTOMER.caller, CUSTOMER.represented, OFFERINGS, None)
        self.order = create_order(ctx, body, "o-1", Instant("2026-11-24T12:00:00.000Z"))
        self.clock = 0

    def _act(self, who: Viewer, edit: Any, allowed: frozenset[str]) -> None:
        order = self.order
        before_doc = copy.deepcopy(order.doc)
        before_view = view(who, order)
        if before_view is None:
            return
        after = copy.deepcopy(before_view)
        edit(after)
        self.clock += 1
        now = Instant(f"2026-11-24T12:{self.clock // 60:02d}:{self.clock % 60:02d}.000Z")
        snapshot = copy.deepcopy(order)
        self.resumable = dict(order.resume) if order.missing else {}
        try:
            apply_changes(
                who,
                order,
                copy.deepcopy(before_view),
                after,
                ChangeContext(offerings=OFFERINGS),
                now,
            )
        except PssError:
            self.order = snapshot
            assert self.order.doc == before_doc
            return
        self._check_step(who, before_doc, allowed)

    def _check_step(self, who: Viewer, before: dict[str, Any], allowed: frozenset[str]) -> None:
        after = self.order.doc
        assert before["state"] not in FINAL_STATES, "a final order changed"
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        outside = changed - allowed - CONSEQUENCES - {"productOrderErrorMessage"}
        assert not outside, f"fields outside the role changed: {outside}"
        old_items = {i["id"]: i for i in before["productOrderItem"]}
        actor = who.party_id if who.caller.has(Role.PROVIDER) else None
        for item in after["productOrderItem"]:
            old = old_items[item["id"]]
            rest_old = {k: v for k, v in old.items() if k != "state"}
            rest_new = {k: v for k, v in item.items() if k != "state"}
            if before["state"] != "draft":
                changed = {
                    k for k in set(rest_old) | set(rest_new) if rest_old.get(k) != rest_new.get(k)
                }
                owner_item_fields = {
                    k for k, rights in ITEM_FIELD_RIGHTS.items() if Writer.OWNER in rights
                }
                assert not changed or (actor is None and changed <= owner_item_fields), (
                    f"item fields {changed} changed by {who.party_id}"
                )
            move = (old.get("state"), item.get("state"))
            if move[0] == move[1] or before["state"] == "draft":
                continue
            own = actor is not None and self.order.item_providers[item["id"]] == actor
            allowed_moves = PROVIDER_ITEM_TRANSITIONS.get(State(move[0]), frozenset())
            assert (
                (own and move[1] in allowed_moves)
                or move in PSS_ITEM_MOVES
                or (own and move[0] == "assessingCancellation")
                or self._resumed(item["id"], move)
            ), f"item {item['id']} moved {move} by {who.party_id}"

    def _resumed(self, item_id: str, move: tuple[object, object]) -> bool:
        """The PSS's own move once the last missing value (or a refused value's
        replacement) is supplied: the item back to the state it had (domain/missing.py)."""
        return move == ("pending", self.resumable.get(item_id)) and not self.order.missing

    @rule(party=st.sampled_from(PROVIDERS), state=st.sampled_from(ITEM_STATES), whole=st.booleans())
    def provider_moves(self, party: str, state: str, whole: bool) -> None:
        def edit(doc: dict[str, Any]) -> None:
            if whole:
                doc["state"] = state
            elif doc["productOrderItem"]:
                doc["productOrderItem"][0]["state"] = state

        self._act(provider(party), edit, PROVIDER_FIELDS)

    @rule(party=st.sampled_from(PROVIDERS))
    def provider_touches_customer_field(self, party: str) -> None:
        self._act(provider(party), lambda d: d.__setitem__("description", "x"), PROVIDER_FIELDS)

    @rule(reason=st.sampled_from([None, "no longer needed"]))
    def customer_cancels(self, reason: str | None) -> None:
        def edit(doc: dict[str, Any]) -> None:
            doc["state"] = "cancelled"
            if reason:
                doc["cancellationReason"] = reason

        self._act(CUSTOMER, edit, CUSTOMER_FIELDS)

    @rule()
    def customer_submits(self) -> None:
        self._act(CUSTOMER, lambda d: d.__setitem__("state", "acknowledged"), DRAFT_FIELDS)

    @rule(text=st.text(max_size=5))
    def customer_edits(self, text: str) -> None:
        self._act(CUSTOMER, lambda d: d.__setitem__("description", text), DRAFT_FIELDS)

    @rule(state=st.sampled_from(ITEM_STATES))
    def customer_sets_item_state(self, state: str) -> None:
        def edit(doc: dict[str, Any]) -> None:
            doc["productOrderItem"][0]["state"] = state

        self._act(CUSTOMER, edit, DRAFT_FIELDS)

    @rule(key=st.sampled_from(["billingAccount", "requestedStartDate", "productOffering"]))
    def customer_changes_an_item(self, key: str) -> None:
        """TOD-03-02: billing information by the item's phase; never what the item is."""
        values = {
            "billingAccount": {"id": f"ba-{self.clock}"},
            "requestedStartDate": "2027-01-01T00:00:00Z",
            "productOffering": {"id": "off-b"},
        }

        def edit(doc: dict[str, Any]) -> None:
            doc["productOrderItem"][0][key] = values[key]

        self._act(CUSTOMER, edit, CUSTOMER_FIELDS)

    @rule(party=st.sampled_from(PROVIDERS))
    def provider_refuses_billing(self, party: str) -> None:
        """A refusal (domain/refusals.py) of whatever the customer changed last."""

        def edit(doc: dict[str, Any]) -> None:
            if not doc["productOrderItem"]:
                return
            item = doc["productOrderItem"][0]
            item["state"] = "pending"
            doc["productOrderErrorMessage"] = [
                *doc.get("productOrderErrorMessage", []),
                {
                    "code": "changeRefused",
                    "reason": "no",
                    "message": "missing=billingAccount",
                    "productOrderItem": [{"productOrderItemId": item["id"]}],
                },
            ]

        self._act(provider(party), edit, PROVIDER_FIELDS)

    @rule()
    def governance_edits(self) -> None:
        before = copy.deepcopy(self.order.doc)
        self._act(GOVERNANCE, lambda d: d.__setitem__("description", "gov"), frozenset())
        assert self.order.doc == before

    @invariant()
    def order_state_is_derived(self) -> None:
        if self.order.state != "draft":
            assert self.order.state == derive(item_statuses(self.order))

    @invariant()
    def no_lone_cancelled_item(self) -> None:
        states = [i.get("state") for i in self.order.items]
        if "cancelled" in states:
            assert self.order.state in FINAL_STATES, states


LifecycleMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=25, deadline=None
)
TestLifecycle = LifecycleMachine.TestCase


def test_the_customer_replacing_a_refused_value_resumes_the_item_TOD_03_02() -> None:
    """The sequence the machine once found: the resume is the PSS's move, not the
    customer's, and is the only item move the replacement causes."""
    machine = LifecycleMachine()
    machine.place(offerings=["off-a"], draft=False)
    machine.provider_moves("prov-a", "acknowledged", False)
    machine.customer_changes_an_item("billingAccount")
    machine.provider_refuses_billing("prov-a")
    assert machine.order.items[0]["state"] == "pending" and machine.order.missing
    machine.customer_changes_an_item("billingAccount")
    assert machine.order.items[0]["state"] == "acknowledged" and not machine.order.missing
