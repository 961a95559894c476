"""create_order business rules (domain/orders.py): who may create, and what a valid order is."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pss_ordering.domain.errors import BusinessRuleViolation, Forbidden, InvalidBody, PssError
from pss_ordering.domain.events import OrderCreated
from pss_ordering.domain.identity import Role
from pss_ordering.domain.orders import (
    ProductOrder,
    create_order,
    referenced_offering_ids,
    requested_customer_id,
)

from .factories import (
    ALICE,
    GOV,
    NOW,
    ORG,
    PROV_A,
    PSS_1,
    body,
    caller,
    context,
    customer_ref,
    item,
    party,
    relate,
)


def create(ctx: Any, order_body: dict[str, Any]) -> ProductOrder:
    return create_order(ctx, order_body, "ord-1", NOW)


def refused(ctx: Any, order_body: dict[str, Any], error: type[PssError], *fragments: str) -> str:
    """Assert create_order refuses with exactly ``error`` and a message naming ``fragments``."""
    with pytest.raises(PssError) as info:
        create(ctx, order_body)
    assert type(info.value) is error, info.value.message
    for fragment in fragments:
        assert fragment in info.value.message
    return info.value.message


# --- happy path -------------------------------------------------------------------------------


def test_customer_creates_pending_order_PSI_03_02_01_01() -> None:
    order = create(context(ALICE), body(item("1", "off-a"), item("2", "off-b")))

    assert order.id == order.doc["id"] == "ord-1"
    assert order.state == order.doc["state"] == "pending"
    assert order.doc["creationDate"] == NOW
    assert order.doc["@type"] == "ProductOrder"
    assert [i["state"] for i in order.doc["productOrderItem"]] == ["pending", "pending"]
    assert order.customer_id == order.creator_id == "alice"
    assert order.version == 1


def test_items_are_attributed_to_the_offering_provider() -> None:
    order = create(
        context(ALICE), body(item("1", "off-a"), item("2", "off-b"), item("3", "off-a2"))
    )

    assert order.item_providers == {"1": "prov-a", "2": "prov-b", "3": "prov-a"}
    assert order.provider_ids == frozenset({"prov-a", "prov-b"})


def test_customer_related_party_is_added_when_not_named() -> None:
    order = create(context(ALICE), body())

    customers = [r for r in order.doc["relatedParty"] if r["role"] == "customer"]
    assert [c["partyOrPartyRole"]["id"] for c in customers] == ["alice"]


def test_customer_related_party_is_kept_not_duplicated_when_named() -> None:
    order = create(context(ALICE), body(relatedParty=[customer_ref("alice")]))

    assert order.doc["relatedParty"] == [customer_ref("alice")]


def test_existing_related_parties_are_kept_when_customer_is_added() -> None:
    contact = {"role": "contact", "partyOrPartyRole": {"id": "carol"}}
    order = create(context(ALICE), body(relatedParty=[contact]))

    assert order.doc["relatedParty"][0] == contact
    assert len(order.doc["relatedParty"]) == 2


def test_draft_when_requested_initial_state_is_draft() -> None:
    order = create(context(ALICE), body(requestedInitialState="draft"))

    assert order.state == "draft"
    assert "state" not in order.doc["productOrderItem"][0]


def test_acknowledged_initial_state_gives_pending() -> None:
    assert create(context(ALICE), body(requestedInitialState="acknowledged")).state == "pending"


def test_order_created_event_is_recorded() -> None:
    order = create(context(ALICE), body())

    assert len(order.events) == 1
    event = order.events[0]
    assert isinstance(event, OrderCreated)
    assert (event.order_id, event.occurred_at) == ("ord-1", NOW)
    assert event.notification == "orderCreationNotification"


def test_explicit_type_is_kept() -> None:
    assert create(context(ALICE), body(**{"@type": "ProductOrder"})).doc["@type"] == "ProductOrder"


def test_organisation_creates_on_behalf_of_member_PSI_03_02_01_04() -> None:
    order = create(context(ORG, "alice"), body(relatedParty=[customer_ref("alice")]))

    assert order.customer_id == "alice"
    assert order.creator_id == "org-1"
    # the named customer is not duplicated
    assert [r["partyOrPartyRole"]["id"] for r in order.doc["relatedParty"]] == ["alice"]


GRANTED = (party("alice", grants=("pss-1",)),)


def test_pss_creates_on_behalf_of_customer_PSI_03_02_01_04() -> None:
    order = create(
        context(PSS_1, customer_profiles=GRANTED), body(relatedParty=[customer_ref("alice")])
    )

    assert (order.customer_id, order.creator_id) == ("alice", "pss-1")


def test_customer_role_name_is_case_insensitive() -> None:
    named = {"role": "Customer", "partyOrPartyRole": {"id": "alice"}}
    order = create(context(PSS_1, customer_profiles=GRANTED), body(relatedParty=[named]))

    assert order.customer_id == "alice"


@pytest.mark.parametrize("action", ["modify", "delete"])
def test_modify_or_delete_with_product_id_is_accepted(action: str) -> None:
    order = create(context(ALICE), body(item("1", "off-a", action, product={"id": "p-1"})))

    assert order.item_providers == {"1": "prov-a"}


@pytest.mark.parametrize("action", ["modify", "delete", "noChange"])
def test_existing_products_may_reference_a_retired_offering(action: str) -> None:
    """Only 'add' needs an orderable offering; a retired product can still be changed."""
    order = create(context(ALICE), body(item("1", "off-retired", action, product={"id": "p-1"})))

    assert order.item_providers == {"1": "prov-a"}


def test_valid_relationships_are_accepted() -> None:
    items = [relate(item("a"), "b", "c"), relate(item("b"), "c"), item("c")]

    assert create(context(ALICE), body(*items)).item_providers.keys() == {"a", "b", "c"}


def test_equal_start_and_completion_dates_are_accepted() -> None:
    when = "2026-12-01T00:00:00Z"
    order = create(context(ALICE), body(requestedStartDate=when, requestedCompletionDate=when))

    assert order.state == "pending"
    assert (order.doc["requestedStartDate"], order.doc["requestedCompletionDate"]) == (when, when)


def test_dates_compared_as_instants_across_offsets() -> None:
    """10:00+02:00 is 08:00Z, which is before 09:00Z even though it sorts after as text."""
    order = create(
        context(ALICE),
        body(
            requestedStartDate="2026-12-01T10:00:00+02:00",
            requestedCompletionDate="2026-12-01T09:00:00Z",
        ),
    )

    assert order.state == "pending"
    assert order.doc["requestedStartDate"] == "2026-12-01T10:00:00+02:00", "kept as sent"


@pytest.mark.parametrize("priority", ["0", "1", "2", "3", "4"])
def test_priority_in_range_without_customer_limit(priority: str) -> None:
    order = create(context(ALICE), body(priority=priority))

    assert (order.state, order.doc["priority"]) == ("pending", priority)


@pytest.mark.parametrize("priority", ["2", "3", "4"])
def test_priority_at_or_below_max_priority_is_accepted(priority: str) -> None:
    order = create(
        context(ALICE, customer=party("alice", max_priority="2")), body(priority=priority)
    )

    assert (order.state, order.doc["priority"]) == ("pending", priority)


def test_create_does_not_require_a_customer_party_profile() -> None:
    order = create(context(ALICE, customer=None), body(priority="0"))

    assert (order.customer_id, order.state) == ("alice", "pending")


def test_referenced_offering_ids() -> None:
    order_body = body(item("1", "off-a"), item("2", "off-b"), item("3", "off-a"), {"id": "4"})

    assert referenced_offering_ids(order_body) == {"off-a", "off-b"}


# --- who may create ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", [PROV_A, GOV], ids=["provider", "governance"])
def test_provider_and_governance_may_not_create_PSI_03_02_02_04(who: Any) -> None:
    refused(context(who), body(), Forbidden, "only customers")


def test_pss_must_name_the_customer_PSI_03_02_01_04() -> None:
    refused(context(PSS_1), body(), BusinessRuleViolation, "relatedParty", "customer")


def test_customer_may_not_order_for_party_outside_its_community_PSI_03_02_02_04() -> None:
    refused(
        context(ALICE),
        body(relatedParty=[customer_ref("bob")]),
        Forbidden,
        "'bob'",
    )


def test_organisation_may_not_order_for_non_member_PSI_03_02_02_04() -> None:
    refused(context(ORG, "alice"), body(relatedParty=[customer_ref("bob")]), Forbidden, "'bob'")


def test_more_than_one_customer_is_refused() -> None:
    refused(
        context(PSS_1),
        body(relatedParty=[customer_ref("alice"), customer_ref("bob")]),
        BusinessRuleViolation,
        "more than one customer",
    )


def test_requested_customer_id_defaults_to_customer_caller() -> None:
    assert requested_customer_id(ALICE, body()) == "alice"
    assert requested_customer_id(caller("x", Role.CUSTOMER, Role.PROVIDER), body()) == "x"


@pytest.mark.parametrize(
    "field", ["id", "href", "creationDate", "state", "completionDate", "cancellationDate"]
)
def test_server_set_fields_are_refused(field: str) -> None:
    refused(context(ALICE), body(**{field: "x"}), InvalidBody, f"{field}: is set by the server")


# --- item rules -------------------------------------------------------------------------------


def test_invalid_action_is_refused() -> None:
    refused(
        context(ALICE),
        body(item("1"), item("2", action="upgrade")),
        BusinessRuleViolation,
        "productOrderItem[1].action",
    )


def test_item_without_offering_is_refused() -> None:
    refused(
        context(ALICE),
        body({"id": "1", "action": "add"}),
        BusinessRuleViolation,
        "productOrderItem[0].productOffering.id",
    )


def test_add_item_with_unknown_offering_is_refused() -> None:
    refused(
        context(ALICE),
        body(item("1", "off-a"), item("2", "off-ghost")),
        BusinessRuleViolation,
        "productOrderItem[1].productOffering.id",
        "'off-ghost'",
        "does not exist",
    )


@pytest.mark.parametrize("status", ["retired", "Retired", "obsolete", "rejected"])
def test_add_item_with_non_orderable_offering_is_refused(status: str) -> None:
    from .factories import offering

    offerings = {"off-x": offering("off-x", "prov-a", lifecycleStatus=status)}
    refused(
        context(ALICE, offerings=offerings),
        body(item("1", "off-x")),
        BusinessRuleViolation,
        "productOrderItem[0].productOffering.id",
        "not orderable",
    )


def test_add_item_with_unsellable_offering_is_refused() -> None:
    from .factories import offering

    offerings = {"off-x": offering("off-x", "prov-a", isSellable=False)}
    refused(
        context(ALICE, offerings=offerings),
        body(item("1", "off-x")),
        BusinessRuleViolation,
        "not orderable",
    )


@pytest.mark.parametrize("action", ["modify", "delete"])
@pytest.mark.parametrize("product", [None, {}, {"id": 7}], ids=["absent", "no-id", "non-string"])
def test_modify_or_delete_without_product_id_is_refused(action: str, product: Any) -> None:
    extra = {} if product is None else {"product": product}
    refused(
        context(ALICE),
        body(item("1", "off-a", action, **extra)),
        BusinessRuleViolation,
        "productOrderItem[0].product.id",
        f"'{action}'",
    )


def test_duplicate_item_ids_are_refused() -> None:
    refused(
        context(ALICE),
        body(item("1"), item("2"), item("1", "off-b")),
        BusinessRuleViolation,
        "productOrderItem[2].id",
        "'1'",
        "not unique",
    )


def test_relationship_to_missing_item_is_refused() -> None:
    refused(
        context(ALICE),
        body(item("1"), relate(item("2"), "1", "9")),
        BusinessRuleViolation,
        "productOrderItem[1].productOrderItemRelationship[1].id",
        "'9'",
    )


def test_self_relationship_is_refused() -> None:
    refused(
        context(ALICE),
        body(relate(item("1"), "1")),
        BusinessRuleViolation,
        "productOrderItem[0].productOrderItemRelationship[0].id",
        "itself",
    )


def reported_cycle(message: str) -> list[str]:
    """The nodes of 'forms a cycle: a -> b -> a' (first == last)."""
    return message.split("forms a cycle: ", 1)[1].split(" -> ")


def assert_reports_cycle(message: str, cycle: list[str]) -> None:
    """The message names ``cycle`` starting at any of its nodes.

    The start varies between runs: orders.py builds the relationship graph from a set.
    """
    nodes = reported_cycle(message)
    assert nodes[0] == nodes[-1]
    start = cycle.index(nodes[0])
    assert nodes[:-1] == cycle[start:] + cycle[:start]


def test_two_item_cycle_is_refused() -> None:
    message = refused(
        context(ALICE),
        body(relate(item("a"), "b"), relate(item("b"), "a")),
        BusinessRuleViolation,
        "productOrderItemRelationship",
        "cycle",
    )
    assert_reports_cycle(message, ["a", "b"])


def test_three_item_cycle_is_refused() -> None:
    message = refused(
        context(ALICE),
        body(relate(item("a"), "b"), relate(item("b"), "c"), relate(item("c"), "a")),
        BusinessRuleViolation,
        "cycle",
    )
    assert_reports_cycle(message, ["a", "b", "c"])


def test_cycle_behind_acyclic_prefix_is_refused() -> None:
    items = [relate(item("x"), "a"), relate(item("a"), "b"), relate(item("b"), "c"), item("c")]
    relate(items[2], "a")
    message = refused(context(ALICE), body(*items), BusinessRuleViolation, "cycle")
    assert_reports_cycle(message, ["a", "b"])


def _has_cycle(edges: dict[str, set[str]]) -> bool:
    """Reference check (Kahn's algorithm): a cycle exists iff not every node can be removed."""
    incoming = {node: 0 for node in edges}
    for targets in edges.values():
        for target in targets:
            incoming[target] += 1
    ready = [node for node, count in incoming.items() if count == 0]
    removed = 0
    while ready:
        node = ready.pop()
        removed += 1
        for target in edges[node]:
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    return removed < len(edges)


@st.composite
def item_graphs(draw: st.DrawFn) -> dict[str, set[str]]:
    names = [f"i{n}" for n in range(draw(st.integers(1, 7)))]
    return {
        name: draw(st.sets(st.sampled_from([n for n in names if n != name]), max_size=3))
        if len(names) > 1
        else set()
        for name in names
    }


@settings(max_examples=200, deadline=None)
@given(item_graphs())
def test_cycle_detection_matches_reference(graph: dict[str, set[str]]) -> None:
    items = [relate(item(name), *sorted(targets)) for name, targets in graph.items()]
    try:
        create(context(ALICE), body(*items))
    except BusinessRuleViolation as exc:
        assert _has_cycle(graph), exc.message
        # the reported cycle is a real one: consecutive nodes are edges, first == last
        nodes = reported_cycle(exc.message)
        assert nodes[0] == nodes[-1]
        assert all(b in graph[a] for a, b in pairwise(nodes))
    else:
        assert not _has_cycle(graph)


# --- date and priority rules ------------------------------------------------------------------


def test_order_start_after_completion_is_refused() -> None:
    refused(
        context(ALICE),
        body(
            requestedStartDate="2026-12-02T00:00:00Z",
            requestedCompletionDate="2026-12-01T00:00:00Z",
        ),
        BusinessRuleViolation,
        "requestedStartDate: must not be after requestedCompletionDate",
    )


def test_item_start_after_end_is_refused() -> None:
    late = item(
        "2",
        requestedStartDate="2026-12-02T00:00:00Z",
        requestedEndDate="2026-12-01T23:59:59Z",
    )
    refused(
        context(ALICE),
        body(item("1"), late),
        BusinessRuleViolation,
        "productOrderItem[1].requestedStartDate: must not be after requestedEndDate",
    )


def test_unparseable_dates_are_refused_naming_the_fields() -> None:
    refused(
        context(ALICE),
        body(requestedStartDate="soon", requestedCompletionDate="2026-12-01T00:00:00Z"),
        BusinessRuleViolation,
        "requestedStartDate: not a valid date-time",
    )


@pytest.mark.parametrize("priority", ["5", "-1", "high", "", "1.0", "10"])
def test_priority_out_of_range_is_refused(priority: str) -> None:
    refused(context(ALICE), body(priority=priority), BusinessRuleViolation, "priority")


@pytest.mark.parametrize("priority", ["0", "1"])
def test_priority_more_urgent_than_max_priority_is_refused_PSI_01_01_02_09(priority: str) -> None:
    refused(
        context(ALICE, customer=party("alice", max_priority="2")),
        body(priority=priority),
        BusinessRuleViolation,
        f"priority: {priority}",
        "maxPriority 2",
    )


# --- regressions: bugs found by these tests and fixed ---------------------------------


def test_draft_order_does_not_keep_client_supplied_item_state() -> None:
    order_body = body(item("1", state="completed"), requestedInitialState="draft")
    try:
        order = create(context(ALICE), order_body)
    except InvalidBody:
        return
    assert "state" not in order.doc["productOrderItem"][0]


def test_nested_items_are_refused() -> None:
    """Nested items would escape every item rule and routing, so they are refused outright."""
    parent = item("1", productOrderItem=[item("1.1", "off-ghost")])
    refused(
        context(ALICE), body(parent), BusinessRuleViolation, "productOrderItem[0].productOrderItem"
    )


def test_a_pss_needs_the_customers_grant_PSI_03_02_01_01() -> None:
    """Without a relatedParty of role pss naming it, a PSS cannot order for a customer."""
    for profiles in [(party("alice"),), (party("alice", grants=("pss-2",)),)]:
        with pytest.raises(Forbidden, match="relatedParty with role 'pss'"):
            create(
                context(PSS_1, customer_profiles=profiles),
                body(relatedParty=[customer_ref("alice")]),
            )


def test_an_organisations_grant_counts_for_its_members_PSI_03_02_01_04() -> None:
    profiles = (party("alice"), party("org-1", kind="organization", grants=("pss-1",)))
    order = create(
        context(PSS_1, customer_profiles=profiles), body(relatedParty=[customer_ref("alice")])
    )
    assert order.customer_id == "alice"


def test_unregistered_customers_need_governance_consent_on_the_pss() -> None:
    ordering = body(relatedParty=[customer_ref("ghost")])
    with pytest.raises(Forbidden, match="actsForUnregisteredCustomers"):
        create(context(PSS_1, caller_profile=party("pss-1")), ordering)
    consented = party("pss-1", characteristics={"actsForUnregisteredCustomers": "true"})
    assert create(context(PSS_1, caller_profile=consented), ordering).customer_id == "ghost"


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("productOrderMilestone", "is written by the provider"),
        ("productOrderErrorMessage", "is written by the provider"),
        ("productOrderJeopardyAlert", "is written by the PSS's own monitoring"),
        ("expectedCompletionDate", "is written by the provider"),
        ("cancellationReason", "is set by the server"),
        ("completionDate", "is set by the server"),
        ("state", "is set by the server"),
    ],
)
def test_creators_write_only_their_column_of_the_field_table(field: str, reason: str) -> None:
    """No creator writes a provider's, the PSS's or the server's fields: a malformed create
    (400) naming each as what it is; one answer lists them all (issue 11)."""
    with pytest.raises(InvalidBody, match=f"{field}: {reason}"):
        create(context(ALICE), body(**{field: [{"id": "x"}]}))
