"""The need-to-know matrix over HTTP: every role against own, foreign and shared orders.

PSI-03-02-02-04 (write access), PSI-03-02-03-01/-02 (read access),
PSI-03-02-04-01 (list applicable orders). Not visible is always 404, and a
provider never sees another provider's items, in any response or count.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import Auth
from tests.world import ORDERS, World, customer_ref, order_body

MERGE = {"Content-Type": "application/merge-patch+json"}

# caller name -> (party, roles)
CALLERS = {
    "owner": ("dave", ("customer",)),
    "other-customer": ("erin", ("customer",)),
    "organisation-of-owner": ("org-c", ("customer",)),
    "prov-a": ("prov-a", ("provider",)),
    "prov-b": ("prov-b", ("provider",)),
    "prov-z": ("prov-z", ("provider",)),
    "creating-pss": ("pss-x", ("pss",)),
    "other-pss": ("pss-y", ("pss",)),
    "governance": ("gov", ("governance",)),
}


def _orders(world: World, auth: Auth) -> dict[str, dict[str, Any]]:
    """dave's two-provider order, carol's (org-c member) prov-a order, a PSS-made order."""
    return {
        "shared": world.create(auth("dave"), order_body("off-a", "off-b")),
        "member": world.create(auth("carol"), order_body("off-a")),
        "by-pss": world.create(
            auth("pss-x", "pss"),
            order_body(
                "off-b",
                relatedParty=[
                    {
                        "@type": "RelatedPartyRefOrPartyRoleRef",
                        "role": "customer",
                        "partyOrPartyRole": {"@type": "PartyRef", "id": "dave"},
                    }
                ],
            ),
        ),
    }


# expected read access: order -> caller -> items visible (None = 404)
EXPECTED: dict[str, dict[str, list[str] | None]] = {
    "shared": {
        "owner": ["1", "2"],
        "other-customer": None,
        "organisation-of-owner": None,
        "prov-a": ["1"],
        "prov-b": ["2"],
        "prov-z": None,
        "creating-pss": None,
        "other-pss": None,
        "governance": ["1", "2"],
    },
    "member": {
        "owner": None,
        "other-customer": None,
        "organisation-of-owner": ["1"],
        "prov-a": ["1"],
        "prov-b": None,
        "prov-z": None,
        "creating-pss": None,
        "other-pss": None,
        "governance": ["1"],
    },
    "by-pss": {
        "owner": ["1"],
        "other-customer": None,
        "organisation-of-owner": None,
        "prov-a": None,
        "prov-b": ["1"],
        "prov-z": None,
        "creating-pss": ["1"],
        "other-pss": None,
        "governance": ["1"],
    },
}


def listed_as_expected(
    client: TestClient, path: str, headers: dict[str, str], orders: dict[str, Any], who: str
) -> dict[str, Any]:
    """The list at ``path`` as ``who`` sees it, checked against EXPECTED (which orders,
    and their count); the listed orders by id."""
    listed = client.get(path, headers=headers)
    assert listed.status_code == 200
    by_id = {o["id"]: o for o in listed.json()}
    visible = {name for name, row in EXPECTED.items() if row[who] is not None}
    assert set(by_id) == {orders[name]["id"] for name in visible}
    assert listed.headers["x-total-count"] == str(len(visible))
    return by_id


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_get_and_list_PSI_03_02_03_02_and_PSI_03_02_04_01(
    world: World, client: TestClient, auth: Auth, who: str
) -> None:
    orders = _orders(world, auth)
    party, roles = CALLERS[who]
    headers = auth(party, *roles)
    by_id = listed_as_expected(client, ORDERS, headers, orders, who)
    for name, order in orders.items():
        items = EXPECTED[name][who]
        response = client.get(f"{ORDERS}/{order['id']}", headers=headers)
        if items is None:
            assert response.status_code == 404
            assert order["id"] not in by_id
            continue
        assert response.status_code == 200
        for doc in (response.json(), by_id[order["id"]]):
            assert [i["id"] for i in doc["productOrderItem"]] == items
            if who.startswith("prov-"):
                assert "orderTotalPrice" not in doc
        counted = client.get(f"{ORDERS}?id={order['id']}", headers=headers)
        assert counted.headers["x-total-count"] == "1"


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_patch_PSI_03_02_02_04(world: World, client: TestClient, auth: Auth, who: str) -> None:
    """Owner (and its PSS) may write customer fields; providers only theirs; others 404/403."""
    orders = _orders(world, auth)
    party, roles = CALLERS[who]
    headers = {**auth(party, *roles), **MERGE}
    for name, order in orders.items():
        url = f"{ORDERS}/{order['id']}"
        visible = EXPECTED[name][who] is not None
        customer_write = client.patch(url, json={"description": f"by {who}"}, headers=headers)
        provider_write = client.patch(
            url, json={"expectedCompletionDate": "2027-01-01T00:00:00Z"}, headers=headers
        )
        if not visible:
            assert customer_write.status_code == 404
            assert provider_write.status_code == 404
        elif who == "governance":
            assert customer_write.status_code == 403
            assert provider_write.status_code == 403
        elif who.startswith("prov-"):
            assert customer_write.status_code == 403
            assert "description" in customer_write.json()["message"]
            assert provider_write.status_code == 200, provider_write.text
            assert [i["id"] for i in provider_write.json()["productOrderItem"]] == EXPECTED[name][
                who
            ]
        else:
            assert customer_write.status_code == 200, customer_write.text
            assert provider_write.status_code == 403


@pytest.mark.parametrize("who", sorted(CALLERS))
def test_delete_matrix(world: World, client: TestClient, auth: Auth, who: str) -> None:
    """DELETE is governance-only: 403 for those who can see the order, 404 for the rest."""
    orders = _orders(world, auth)
    party, roles = CALLERS[who]
    for name, order in orders.items():
        response = client.delete(f"{ORDERS}/{order['id']}", headers=auth(party, *roles))
        if EXPECTED[name][who] is None:
            assert response.status_code == 404
        elif who == "governance":
            assert response.status_code == 204
        else:
            assert response.status_code == 403


def test_provider_cannot_touch_other_providers_item(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Writing through its own view, a provider cannot reach another provider's item."""
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    url = f"{ORDERS}/{order['id']}"
    attempt = client.patch(
        url,
        content=b'[{"op": "add", "path": "/productOrderItem/1", "value": {"id": "2"}}]',
        headers={**auth("prov-a", "provider"), "Content-Type": "application/json-patch+json"},
    )
    assert attempt.status_code == 422
    full = client.get(url, headers=auth("dave")).json()
    assert full["productOrderItem"] == order["productOrderItem"]


def test_provider_never_sees_drafts(world: World, client: TestClient, auth: Auth) -> None:
    draft = world.create(auth("dave"), order_body("off-a", requestedInitialState="draft"))
    prov = auth("prov-a", "provider")
    assert client.get(f"{ORDERS}/{draft['id']}", headers=prov).status_code == 404
    assert client.get(ORDERS, headers=prov).headers["x-total-count"] == "0"


def test_filters_apply_visibility_before_counting(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Filtering on another provider's offering reveals nothing to a provider."""
    world.create(auth("dave"), order_body("off-a", "off-b"))
    prov_a = auth("prov-a", "provider")
    response = client.get(f"{ORDERS}?productOrderItem.productOffering.id=off-b", headers=prov_a)
    assert response.json() == []
    assert response.headers["x-total-count"] == "0"
    mine = client.get(f"{ORDERS}?productOrderItem.productOffering.id=off-a", headers=prov_a)
    assert mine.headers["x-total-count"] == "1"


def test_mixed_roles_see_union_with_per_order_views(
    world: World, client: TestClient, auth: Auth
) -> None:
    """A party that is both customer and provider: full view of its own, item view otherwise."""
    own = world.create(auth("prov-a", "customer"), order_body("off-b"))
    theirs = world.create(auth("dave"), order_body("off-a", "off-b"))
    both = auth("prov-a", "customer", "provider")
    listed = {o["id"]: o for o in client.get(ORDERS, headers=both).json()}
    assert set(listed) == {own["id"], theirs["id"]}
    assert [i["id"] for i in listed[theirs["id"]]["productOrderItem"]] == ["1"]
    assert [i["id"] for i in listed[own["id"]]["productOrderItem"]] == ["1"]
    filtered = client.get(f"{ORDERS}?productOrderItem.productOffering.id=off-b", headers=both)
    assert [o["id"] for o in filtered.json()] == [own["id"]]
    assert filtered.headers["x-total-count"] == "1"


# --- what the providers write: notes, expected completion dates, the event listing -------------

EVENTS = "/psi-api/event/v2/topic/order/event"
#: Every role, for the orders below: customer (dave, carol), organisation (org-c, for its
#: member carol), the two providers, the creating and another PSS, governance, strangers.
ROLES = {
    "customer": ("dave", ("customer",)),
    "member-customer": ("carol", ("customer",)),
    "organisation": ("org-c", ("customer",)),
    "prov-a": ("prov-a", ("provider",)),
    "prov-b": ("prov-b", ("provider",)),
    "creating-pss": ("pss-x", ("pss",)),
    "other-pss": ("pss-y", ("pss",)),
    "governance": ("gov", ("governance",)),
    "stranger-customer": ("erin", ("customer",)),
    "stranger-provider": ("prov-z", ("provider",)),
}
#: order -> role -> "full", a provider's own view, or None (404)
ACCESS: dict[str, dict[str, str | None]] = {
    "by-pss": {
        "customer": "full",
        "creating-pss": "full",
        "governance": "full",
        "prov-a": "prov-a",
        "prov-b": "prov-b",
    },
    "member": {
        "member-customer": "full",
        "organisation": "full",
        "governance": "full",
        "prov-a": "prov-a",
        "prov-b": "prov-b",
    },
}
#: who writes what on each order, in order: (writer role, note text, expected completion)
WRITES: dict[str, list[tuple[str, str, str | None]]] = {
    "by-pss": [
        ("customer", "from the customer", None),
        ("creating-pss", "from the creating pss", None),
        ("prov-a", "from prov-a", "2027-03-01T00:00:00Z"),
        ("prov-b", "from prov-b", "2027-02-01T00:00:00Z"),
        ("prov-b", "prov-b again, by event", "2027-04-01T00:00:00Z"),
    ],
    "member": [
        ("member-customer", "from carol", None),
        ("organisation", "from her organisation", None),
        ("prov-a", "from prov-a", "2027-05-01T00:00:00Z"),
        ("prov-b", "from prov-b", "2027-01-01T00:00:00Z"),
        ("prov-b", "prov-b again, by event", None),
    ],
}
PROVIDERS = ("prov-a", "prov-b")


def _written_orders(world: World, client: TestClient, auth: Auth) -> dict[str, str]:
    """The two orders of ACCESS, written on as WRITES says (the last write by event)."""
    ids = {
        "by-pss": world.create(
            auth("pss-x", "pss"), order_body("off-a", "off-b", relatedParty=[customer_ref("dave")])
        )["id"],
        "member": world.create(auth("carol"), order_body("off-a", "off-b"))["id"],
    }
    for name, order_id in ids.items():
        for n, (writer, text, expected) in enumerate(WRITES[name]):
            party, roles = ROLES[writer]
            change: dict[str, Any] = {"note": [{"@type": "Note", "text": text, "author": "dave"}]}
            if expected is not None:
                change["expectedCompletionDate"] = expected
            if n < len(WRITES[name]) - 1:
                url = f"{ORDERS}/{order_id}"
                seen = client.get(url, headers=auth(party, *roles)).json()
                change["note"] = [*seen.get("note", []), *change["note"]]
                response = client.patch(url, json=change, headers={**auth(party, *roles), **MERGE})
                assert response.status_code == 200, response.text
            else:  # PSI-03-02-02-03: a provider's event obeys the same rules
                event = {
                    "eventId": f"{name}-{n}",
                    "eventType": "orderValueChangeNotification",
                    "event": {"productOrder": {"id": order_id, **change}},
                }
                response = client.post(EVENTS, json=event, headers=auth(party, *roles))
                assert response.status_code == 201, response.text
    return ids


def _may_see(order: str, role: str, upto: int | None = None) -> tuple[list[str], str | None]:
    """(notes, expectedCompletionDate) the role sees after the first ``upto`` writes."""
    level = ACCESS[order].get(role)
    notes: list[str] = []
    own: dict[str, str] = {}
    for writer, text, expected in WRITES[order][:upto]:
        if level == "full" or writer not in PROVIDERS or writer == level:
            notes.append(text)
        if expected is not None:
            own[writer] = expected
    if level in PROVIDERS:
        return notes, own.get(str(level))
    return notes, max(own.values(), default=None)


def _told(order: str, role: str) -> list[int]:
    """Which writes the role is told of (their value change events): the full views all,
    a provider those of the customer side and its own."""
    level = ACCESS[order].get(role)
    return [
        n
        for n, (writer, _, _) in enumerate(WRITES[order])
        if level == "full" or writer not in PROVIDERS or writer == level
    ]


def _shown(doc: dict[str, Any]) -> tuple[list[str], str | None]:
    return [note["text"] for note in doc.get("note", [])], doc.get("expectedCompletionDate")


@pytest.mark.parametrize("who", sorted(ROLES))
def test_notes_and_expected_completion_by_get_and_list_PSI_03_02_03_02(
    world: World, client: TestClient, auth: Auth, who: str
) -> None:
    """A provider's notes and expected completion date are seen by the customer side,
    governance, the creating PSS and that provider only; each provider sees its own
    date, the full view the latest of them (PSI-03-02-03-02, PSI-03-02-04-01)."""
    orders = _written_orders(world, client, auth)
    party, roles = ROLES[who]
    headers = auth(party, *roles)
    listed = {o["id"]: o for o in client.get(ORDERS, headers=headers).json()}
    for name, order_id in orders.items():
        response = client.get(f"{ORDERS}/{order_id}", headers=headers)
        if ACCESS[name].get(who) is None:
            assert response.status_code == 404
            assert order_id not in listed
            continue
        assert _shown(response.json()) == _may_see(name, who), name
        assert _shown(listed[order_id]) == _may_see(name, who), name
        for note in response.json()["note"]:
            writer = next(w for w, text, _ in WRITES[name] if text == note["text"])
            if writer in PROVIDERS:
                assert note["author"] == writer, "set by the server, not the client's 'dave'"


@pytest.mark.parametrize("who", sorted(ROLES))
def test_event_listing_shows_only_what_the_role_may_see_PSI_01_02_03_04(
    world: World, client: TestClient, auth: Auth, who: str
) -> None:
    """GET /topic/order/event lists a provider no event caused only by another provider's
    writing (X-Total-Count included), and each listed event shows what the role may see
    of the order as it was then: notes and expected completion date as by GET."""
    orders = _written_orders(world, client, auth)
    party, roles = ROLES[who]
    response = client.get(EVENTS, headers=auth(party, *roles))
    assert response.status_code == 200
    listed = response.json()
    assert response.headers["x-total-count"] == str(len(listed))
    expected_total = 0
    for name, order_id in orders.items():
        mine = [e for e in reversed(listed) if e["correlationId"] == order_id]
        if ACCESS[name].get(who) is None:
            assert mine == []
            continue
        told = _told(name, who)
        expected_total += 1 + len(told)
        assert [e["eventType"] for e in mine] == ["orderCreationNotification"] + [
            "orderValueChangeNotification"
        ] * len(told), name
        shown = [_shown(e["event"]["productOrder"]) for e in mine]
        assert shown == [_may_see(name, who, 0)] + [_may_see(name, who, n + 1) for n in told]
    assert len(listed) == expected_total


def test_one_provider_cannot_overwrite_anothers_expected_completion_PSI_03_02_02_04(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Each provider sets and removes its own date; the customer sees the latest."""
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    url = f"{ORDERS}/{order['id']}"
    prov_a = {**auth("prov-a", "provider"), **MERGE}
    prov_b = {**auth("prov-b", "provider"), **MERGE}
    late, early = "2027-06-01T00:00:00Z", "2027-01-01T00:00:00Z"
    assert client.patch(url, json={"expectedCompletionDate": late}, headers=prov_a).is_success
    assert client.patch(url, json={"expectedCompletionDate": early}, headers=prov_b).is_success
    assert client.get(url, headers=prov_a).json()["expectedCompletionDate"] == late
    assert client.get(url, headers=auth("dave")).json()["expectedCompletionDate"] == late
    removed = client.patch(url, json={"expectedCompletionDate": None}, headers=prov_a)
    assert removed.status_code == 200 and "expectedCompletionDate" not in removed.json()
    assert client.get(url, headers=prov_b).json()["expectedCompletionDate"] == early
    assert client.get(url, headers=auth("dave")).json()["expectedCompletionDate"] == early


def test_filters_reveal_no_other_providers_writing_PSI_03_02_04_01(
    world: World, client: TestClient, auth: Auth
) -> None:
    """Filtering or sorting on another provider's note or date finds nothing (count 0)."""
    order = world.create(auth("dave"), order_body("off-a", "off-b"))
    url = f"{ORDERS}/{order['id']}"
    change = {"expectedCompletionDate": "2027-06-01T00:00:00Z", "note": [{"text": "a-only"}]}
    patched = client.patch(url, json=change, headers={**auth("prov-a", "provider"), **MERGE})
    assert patched.status_code == 200, patched.text
    prov_a, prov_b = auth("prov-a", "provider"), auth("prov-b", "provider")
    for query in (
        "note.text=a-only",
        "expectedCompletionDate=2027-06-01T00:00:00Z",
        "expectedCompletionDate.gte=2027-01-01T00:00:00Z",
    ):
        theirs = client.get(f"{ORDERS}?{query}", headers=prov_b)
        assert theirs.json() == [] and theirs.headers["x-total-count"] == "0", query
        own = client.get(f"{ORDERS}?{query}", headers=prov_a)
        assert own.headers["x-total-count"] == "1", query
    sorted_b = client.get(f"{ORDERS}?sort=expectedCompletionDate", headers=prov_b).json()
    assert [o.get("expectedCompletionDate") for o in sorted_b] == [None]
