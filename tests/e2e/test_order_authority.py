"""Who may act for whom, replace what, and write which field (issue 9, section 1).

A PSS orders only for customers that granted it (PSI-03-02-01-01, -04), a
replacement may only name an order the caller sees and may cancel (and any other
reads exactly like a missing order), and a creator cannot put into a new order
what only a provider or the PSS writes (PSI-03-02-02-04).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from pss_ordering.domain.field_rights import ORDER_FIELD_RIGHTS, Phase, Writer
from tests.conftest import Auth
from tests.world import ORDERS, PARTIES, World, customer_ref, order_body, pss_grant

MERGE = {"Content-Type": "application/merge-patch+json"}
NOWHERE = "00000000-0000-0000-0000-000000000000"


def _replacing(old_id: str, **extra: Any) -> dict[str, Any]:
    return order_body(
        "off-b", orderRelationship=[{"relationshipType": "replaces", "id": old_id}], **extra
    )


def _count(client: TestClient, who: dict[str, str]) -> int:
    return int(client.get(ORDERS, headers=who).headers["X-Total-Count"])


def _refusal(response: Any, old_id: str) -> tuple[int, str]:
    """Status and message with the named id blanked, to compare two refusals."""
    return response.status_code, response.json()["message"].replace(old_id, "<id>")


# --- replacements -------------------------------------------------------------------


def _foreign_orders(world: World, client: TestClient, auth: Auth) -> dict[str, str]:
    """Orders of dave's in every state a replacement could reveal: open, final, replaced."""
    dave = auth("dave")
    open_order = world.create(dave, order_body("off-a"))
    final = world.create(dave, order_body("off-a"))
    client.patch(
        f"{ORDERS}/{final['id']}",
        json={"state": "cancelled", "cancellationReason": "no longer needed"},
        headers={**dave, **MERGE},
    )
    taken = world.create(dave, order_body("off-a"))
    world.create(dave, _replacing(taken["id"]))
    return {"open": open_order["id"], "final": final["id"], "replaced": taken["id"]}


@pytest.mark.parametrize(
    "intruder",
    [
        ("pss-x", "pss"),  # a PSS dave granted, but it did not create these orders
        ("pss-y", "pss"),  # a PSS with no relation to dave
        ("erin", "customer"),  # another customer
        ("org-c", "customer"),  # an organisation dave does not belong to
        ("prov-a", "provider", "customer"),  # the orders' provider, ordering as a customer
    ],
)
@pytest.mark.parametrize("kind", ["open", "final", "replaced"])
def test_replacing_an_order_not_ones_own_reads_as_missing_PSI_03_02_02_04(
    world: World, client: TestClient, auth: Auth, intruder: tuple[str, ...], kind: str
) -> None:
    """No caller but the order's owner may replace it, and the refusal reveals nothing:
    not that it exists, not its customer, not its state, not that it is replaced."""
    old_id = _foreign_orders(world, client, auth)[kind]
    who = auth(*intruder)
    body = {"relatedParty": [customer_ref("dave")]} if "pss" in intruder else {}
    before = _count(client, auth("dave"))
    refused = client.post(ORDERS, json=_replacing(old_id, **body), headers=who)
    missing = client.post(ORDERS, json=_replacing(NOWHERE, **body), headers=who)
    assert refused.status_code in (403, 422), refused.text
    assert _refusal(refused, old_id) == _refusal(missing, NOWHERE)
    assert _count(client, auth("dave")) == before


def test_a_pss_cannot_cancel_a_customers_order_by_replacing_it(
    world: World, client: TestClient, auth: Auth
) -> None:
    """The reported attack: a granted PSS names dave's own order as replaced; the
    provider's acknowledgement of a new order can then never cancel it."""
    old = world.create(auth("dave"), order_body("off-a"))
    attack = client.post(
        ORDERS,
        json=_replacing(old["id"], relatedParty=[customer_ref("dave")]),
        headers=auth("pss-x", "pss"),
    )
    assert attack.status_code == 422
    assert client.get(f"{ORDERS}/{old['id']}", headers=auth("dave")).json()["state"] == "pending"


def test_a_pss_replaces_the_orders_it_created(world: World, client: TestClient, auth: Auth) -> None:
    """The owner's way still works: the PSS that created an order replaces it."""
    pss = auth("pss-x", "pss")
    for_dave = {"relatedParty": [customer_ref("dave")]}
    old = world.create(pss, order_body("off-a", **for_dave))
    new = world.create(pss, _replacing(old["id"], **for_dave))
    client.patch(
        f"{ORDERS}/{new['id']}",
        json={"state": "acknowledged"},
        headers={**auth("prov-b", "provider"), **MERGE},
    )
    assert client.get(f"{ORDERS}/{old['id']}", headers=pss).json()["state"] == "cancelled"


# --- a PSS acts for the customers that granted it ------------------------------------


def _order_for(client: TestClient, who: dict[str, str], customer: str) -> Any:
    return client.post(
        ORDERS, json=order_body("off-a", relatedParty=[customer_ref(customer)]), headers=who
    )


def test_a_pss_orders_only_for_customers_that_granted_it_PSI_03_02_01_01(
    world: World, client: TestClient, auth: Auth
) -> None:
    """dave names pss-x on his profile; pss-y is refused with the missing relationship."""
    assert _order_for(client, auth("pss-x", "pss"), "dave").status_code == 201
    refused = _order_for(client, auth("pss-y", "pss"), "dave")
    assert refused.status_code == 403
    assert "relatedParty with role 'pss'" in refused.json()["message"]
    assert "pss-y" in refused.json()["message"]
    assert _count(client, auth("dave")) == 1


def test_the_customer_grants_and_revokes_on_its_own_profile(
    world: World, client: TestClient, auth: Auth
) -> None:
    """The grant is the customer's to give (PSID632 relatedParty); a PSS cannot give it
    to itself, governance can."""
    dave_url = f"{PARTIES}/individual/dave"
    pss_y = auth("pss-y", "pss")
    self_grant = client.patch(
        dave_url, json={"relatedParty": [pss_grant("pss-y")]}, headers={**pss_y, **MERGE}
    )
    assert self_grant.status_code in (403, 404)
    granted = client.patch(
        dave_url, json={"relatedParty": [pss_grant("pss-y")]}, headers={**auth("dave"), **MERGE}
    )
    assert granted.status_code == 200, granted.text
    assert _order_for(client, pss_y, "dave").status_code == 201
    assert _order_for(client, auth("pss-x", "pss"), "dave").status_code == 403  # replaced
    client.patch(dave_url, json={"relatedParty": []}, headers={**world.gov, **MERGE})
    assert _order_for(client, pss_y, "dave").status_code == 403


def test_an_organisations_grant_covers_its_members_PSI_03_02_01_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    """org-c grants pss-y; carol, a member of org-c, may then be ordered for by pss-y."""
    pss_y = auth("pss-y", "pss")
    assert _order_for(client, pss_y, "carol").status_code == 403
    client.patch(
        f"{PARTIES}/organization/org-c",
        json={"relatedParty": [pss_grant("pss-y")]},
        headers={**auth("org-c"), **MERGE},
    )
    assert _order_for(client, pss_y, "carol").status_code == 201
    assert _order_for(client, pss_y, "dave").status_code == 403


def test_customers_without_a_profile_need_governance_consent(
    world: World, client: TestClient, auth: Auth
) -> None:
    """An order for an unknown party is refused, until governance sets
    actsForUnregisteredCustomers on the PSS's profile (which the PSS cannot)."""
    pss_x = auth("pss-x", "pss")
    refused = _order_for(client, pss_x, "nobody-known")
    assert refused.status_code == 403
    assert "actsForUnregisteredCustomers" in refused.json()["message"]
    consent = {"name": "actsForUnregisteredCustomers", "value": "true"}
    profile = {"id": "pss-x", "name": "PSS X", "partyCharacteristic": [consent]}
    by_itself = client.post(f"{PARTIES}/organization", json=profile, headers=pss_x)
    assert by_itself.status_code == 403
    by_governance = client.post(f"{PARTIES}/organization", json=profile, headers=world.gov)
    assert by_governance.status_code == 201, by_governance.text
    assert _order_for(client, pss_x, "nobody-known").status_code == 201
    # consent covers parties without a profile only; a registered one must still grant
    assert _order_for(client, pss_x, "carol").status_code == 403


# --- fields a creator does not write -----------------------------------------------

EXAMPLES: dict[str, Any] = {
    "productOrderMilestone": [
        {"name": "installed", "status": "done", "milestoneDate": "2026-11-24T12:00:00Z"}
    ],
    "productOrderErrorMessage": [{"code": "E1", "message": "forged", "reason": "forged"}],
    "productOrderJeopardyAlert": [
        {"name": "responseTimeExceeded", "alertDate": "2026-11-24T12:00:00Z"}
    ],
    "expectedCompletionDate": "2026-12-24T12:00:00Z",
    "completionDate": "2026-12-24T12:00:00Z",
    "cancellationDate": "2026-12-24T12:00:00Z",
    "cancellationReason": "forged",
    "creationDate": "2026-11-24T12:00:00Z",
    "state": "completed",
    "id": "chosen-id",
    "href": "http://elsewhere/x",
}
NOT_THE_CREATORS = sorted(
    name
    for name, rights in ORDER_FIELD_RIGHTS.items()
    if Phase.CREATE not in rights.get(Writer.OWNER, ())
)


def test_every_field_outside_the_creators_column_has_an_example() -> None:
    """The forgery test below covers the whole table, not a list kept beside it."""
    assert set(NOT_THE_CREATORS) == set(EXAMPLES)


@pytest.mark.parametrize("field", NOT_THE_CREATORS)
@pytest.mark.parametrize("creator", [("dave", "customer"), ("pss-x", "pss"), ("org-c", "customer")])
def test_a_creator_cannot_forge_what_providers_or_the_pss_write_PSI_03_02_02_04(
    world: World, client: TestClient, auth: Auth, field: str, creator: tuple[str, ...]
) -> None:
    """POST applies the same role table as PATCH: refused by name, nothing stored."""
    body = order_body("off-a", relatedParty=[customer_ref("dave")], **{field: EXAMPLES[field]})
    response = client.post(ORDERS, json=body, headers=auth(*creator))
    assert response.status_code in (400, 403), response.text
    assert field in response.json()["message"]
    assert _count(client, world.gov) == 0


def test_forged_provider_fields_never_reach_a_providers_view(
    world: World, client: TestClient, auth: Auth
) -> None:
    """The reported case: nothing a customer sends appears as the PSS's or a provider's."""
    body = order_body("off-a", productOrderJeopardyAlert=EXAMPLES["productOrderJeopardyAlert"])
    refused = client.post(ORDERS, json=body, headers=auth("dave"))
    assert refused.status_code == 400, refused.text  # no creator writes it: a malformed create
    assert refused.json()["details"][0]["code"] == "readOnly"
    assert client.get(ORDERS, headers=auth("prov-a", "provider")).json() == []


def test_item_states_are_the_servers(world: World, client: TestClient, auth: Auth) -> None:
    body = order_body("off-a")
    body["productOrderItem"][0]["state"] = "completed"
    response = client.post(ORDERS, json=body, headers=auth("dave"))
    assert response.status_code == 400
    assert "productOrderItem[0].state" in response.json()["message"]


def test_no_note_passes_for_anothers_PSI_03_02_02_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A note's author is whoever wrote it, at creation as by PATCH: a customer cannot
    write a note that a provider would read as its other provider's (or the PSS's)."""
    forged = [{"text": "ship it", "author": "prov-a"}]
    order = world.create(auth("dave"), order_body("off-a", "off-b", note=forged))
    url = f"{ORDERS}/{order['id']}"
    client.patch(
        url,
        json={"note": [*order["note"], {"text": "faster", "author": "gov"}]},
        headers={**auth("dave"), **MERGE},
    )
    seen = client.get(url, headers=auth("prov-b", "provider")).json()["note"]
    assert [(n["text"], n["author"]) for n in seen] == [("ship it", "dave"), ("faster", "dave")]
