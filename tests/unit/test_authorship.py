"""What a provider writes is its own (domain/authorship.py): notes and expected completion.

PSI-03-02-03-02 (read access: need-to-know between the providers of one order),
PSI-03-02-02-04 (write access: one provider cannot overwrite another's date),
PSI-01-02-03-04 (events: a provider is not told of another provider's writing).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pss_ordering.domain import notifications as n
from pss_ordering.domain.authorship import Authorship
from pss_ordering.domain.changes import ChangeContext, apply_changes
from pss_ordering.domain.errors import BusinessRuleViolation
from pss_ordering.domain.orders import ProductOrder
from pss_ordering.domain.visibility import Viewer, view

from .factories import ALICE, GOV, LATER, NOW, PROV_A, PROV_B, PSS_1, deep, two_provider_order
from .factories import viewer as as_viewer

A, B = as_viewer(PROV_A), as_viewer(PROV_B)
FULL_VIEWERS = [as_viewer(ALICE), as_viewer(PSS_1), as_viewer(GOV)]


def order() -> ProductOrder:
    return two_provider_order(creator_id="pss-1")


def write(who: Viewer, target: ProductOrder, **fields: Any) -> None:
    """As the PATCH service does: the caller's view, changed, applied."""
    before = deep(view(who, target) or {})
    after = {**deep(before), **fields}
    for key, value in fields.items():
        if key == "note":
            after["note"] = [*(before.get("note") or []), *value]
        elif value is None:
            del after[key]
    assert apply_changes(who, target, before, after, ChangeContext(), LATER)


def texts(doc: dict[str, Any] | None) -> list[str]:
    assert doc is not None
    return [note["text"] for note in doc.get("note", [])]


def test_a_providers_note_is_for_it_and_the_full_views_only_PSI_03_02_03_02() -> None:
    """prov-b never sees prov-a's note; the customer side's notes reach every provider."""
    o = order()
    write(A, o, note=[{"text": "from a"}])
    write(as_viewer(ALICE), o, note=[{"text": "from alice"}])
    write(B, o, note=[{"text": "from b"}])
    write(as_viewer(PSS_1), o, note=[{"text": "from pss"}])
    everything = ["first", "from a", "from alice", "from b", "from pss"]
    for who in FULL_VIEWERS:
        assert texts(view(who, o)) == everything
    assert texts(view(A, o)) == ["first", "from a", "from alice", "from pss"]
    assert texts(view(B, o)) == ["first", "from alice", "from b", "from pss"]


def test_a_provider_that_sees_no_note_gets_no_empty_list_PSI_03_02_03_02() -> None:
    o = order()
    o.doc.pop("note")
    write(A, o, note=[{"text": "from a"}])
    assert "note" not in (view(B, o) or {})


def test_the_author_of_a_providers_note_is_set_by_the_server_PSI_03_02_02_04() -> None:
    """A provider cannot pass its note off as the customer's (or another provider's):
    its author is the provider; and a client-written author decides nothing."""
    o = order()
    write(A, o, note=[{"text": "from a", "author": "alice"}])
    assert o.doc["note"][-1] == {"text": "from a", "author": "prov-a"}
    write(as_viewer(ALICE), o, note=[{"text": "signed b", "author": "prov-b"}])
    assert texts(view(A, o))[-1] == "signed b", "the customer's note, whatever its author"


def test_each_provider_has_its_own_expected_completion_date_PSI_03_02_02_04() -> None:
    """prov-b's date cannot overwrite prov-a's; each sees its own; the full views the
    latest; a provider without one sees none; removing one's own leaves the others'."""
    o = order()
    write(A, o, expectedCompletionDate="2027-03-01T00:00:00Z")
    assert "expectedCompletionDate" not in (view(B, o) or {})
    write(B, o, expectedCompletionDate="2027-02-01T00:00:00Z")
    assert (view(A, o) or {})["expectedCompletionDate"] == "2027-03-01T00:00:00Z"
    assert (view(B, o) or {})["expectedCompletionDate"] == "2027-02-01T00:00:00Z"
    for who in FULL_VIEWERS:
        assert (view(who, o) or {})["expectedCompletionDate"] == "2027-03-01T00:00:00Z"
    write(B, o, expectedCompletionDate="2027-04-01T01:00:00+02:00")  # compared as instants
    assert (view(A, o) or {})["expectedCompletionDate"] == "2027-03-01T00:00:00Z"
    assert o.doc["expectedCompletionDate"] == "2027-04-01T01:00:00+02:00"
    write(B, o, expectedCompletionDate=None)
    assert o.doc["expectedCompletionDate"] == "2027-03-01T00:00:00Z"
    assert "expectedCompletionDate" not in (view(B, o) or {})
    write(A, o, expectedCompletionDate=None)
    assert "expectedCompletionDate" not in o.doc


def test_expected_completion_must_be_a_date_time() -> None:
    o = order()
    before = deep(view(A, o) or {})
    with pytest.raises(BusinessRuleViolation, match="expectedCompletionDate"):
        apply_changes(
            A, o, before, {**before, "expectedCompletionDate": "soon"}, ChangeContext(), NOW
        )


def test_authorship_survives_storage_as_json() -> None:
    o = order()
    write(A, o, note=[{"text": "a"}], expectedCompletionDate="2027-03-01T00:00:00Z")
    again = Authorship.from_json(copy.deepcopy(o.meta()["authorship"]))
    assert again == o.authorship


@pytest.mark.parametrize(
    "change",
    [{"note": [{"text": "from a"}]}, {"expectedCompletionDate": "2027-01-01T00:00:00Z"}],
    ids=["note", "expectedCompletionDate"],
)
def test_provider_is_not_told_of_another_providers_writing_PSI_01_02_03_04(
    change: dict[str, Any],
) -> None:
    """The value change prov-a's note or date makes is told to prov-a, not to prov-b."""
    before = order()
    after = copy.deepcopy(before)
    write(A, after, **change)
    [event] = after.events
    stored = n.StoredEvent("e1", n.ORDER_TOPIC, event.notification, LATER, after, event.details)
    assert n.told_providers(stored, before) == {"prov-a"}
    decided = n.decided(stored, before)
    assert n.audience(B, decided) is None
    assert n.audience(A, decided) == "provider:prov-a"
    assert n.audience(as_viewer(ALICE), decided) == n.FULL
