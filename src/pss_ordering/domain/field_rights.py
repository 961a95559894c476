"""Who writes which field of a product order, in which phase: one table for POST, PATCH
and received events (TOD-03-02 "if the current state of the order allows that").

Every top-level field of an order, and every field of an order item, has its
writers, each with the *phases* of the order (or, for an item field, of the
item) in which it writes. The order's *owner* (its customer, an organisation
acting for a member, or the PSS that created it) writes the order's content:
all of it when creating or editing a draft; once submitted, what concerns
billing, contact, notes and references, and its requested dates only until
work starts. A *provider* writes what reports on its work. The *server* alone
writes identity, dates of record, the derived state; the PSS's monitoring alone
raises jeopardy alerts. A field absent from the table is nobody's to write.

A field a writer never writes is refused with 403; one it writes, but not in
the order's (or item's) present phase, with 409 naming the phases it may.
``docs/LIFECYCLE.md`` shows this table (``render_markdown``).

Creation and PATCH both judge a request by this table, so a customer cannot
create an order that already carries what only a provider or the PSS writes
(a milestone, an error message, a jeopardy alert), any more than it can PATCH
one in later. A create names each such field as what it is (unknown, set by
the server, someone else's), all of them in one answer.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from .errors import Conflict, Forbidden, InvalidBody
from .problems import Problems

#: ``code`` of each kind of refused field in an error's ``details``.
UNKNOWN, SET, READ = "unknownField", "serverSet", "readOnly"


class Writer(StrEnum):
    OWNER = "customer or its PSS"
    PROVIDER = "provider"
    PSS = "PSS's own monitoring"
    SERVER = "server"


class Phase(StrEnum):
    """Where an order (or one item) is: the column of the table.

    ``submitted``: with the providers, work not started (order pending or
    acknowledged, items pending or acknowledged and not waiting to resume work);
    ``started``: some work started (an item inProgress, held, completed or failed,
    or waiting for information after it started); ``cancelling``: a cancellation
    the providers assess. A final order (or item) has no phase: nothing changes.
    """

    CREATE = "create"
    DRAFT = "draft"
    SUBMITTED = "submitted"
    STARTED = "started"
    CANCELLING = "cancelling"


Rights = Mapping[Writer, frozenset[Phase]]
_ALL = frozenset(Phase)
_OPEN = frozenset({Phase.CREATE, Phase.DRAFT, Phase.SUBMITTED, Phase.STARTED})
_BEFORE_WORK = frozenset({Phase.CREATE, Phase.DRAFT, Phase.SUBMITTED})
_CONTENT = frozenset({Phase.CREATE, Phase.DRAFT})
_AT_CREATION = frozenset({Phase.CREATE})
_REPORTING = frozenset({Phase.SUBMITTED, Phase.STARTED, Phase.CANCELLING})
_SERVER: Rights = {Writer.SERVER: _ALL}


def _owner(phases: frozenset[Phase]) -> Rights:
    return {Writer.OWNER: phases}


ORDER_FIELD_RIGHTS: dict[str, Rights] = {
    # the order's identity and the dates of record
    "id": _SERVER,
    "href": _SERVER,
    "creationDate": _SERVER,
    "completionDate": _SERVER,
    "cancellationDate": _SERVER,
    # derived from the items; owners and providers request moves through the lifecycle
    "state": _SERVER,
    "cancellationReason": _SERVER,
    "productOrderJeopardyAlert": {Writer.PSS: _REPORTING},
    # billing, contact and references: the owner's until the order is final or cancelling
    "billingAccount": _owner(_OPEN),
    "payment": _owner(_OPEN),
    "notificationContact": _owner(_OPEN),
    "category": _owner(_OPEN),
    "description": _owner(_OPEN),
    "externalId": _owner(_OPEN),
    "priority": _owner(_OPEN),
    # contacts other than the customer (the customer itself is fixed at creation)
    "relatedParty": _owner(_OPEN),
    # when the customer wants it: until work starts
    "requestedStartDate": _owner(_BEFORE_WORK),
    "requestedCompletionDate": _owner(_BEFORE_WORK),
    "note": {Writer.OWNER: _ALL, Writer.PROVIDER: _REPORTING},
    # the order's content: fixed once the providers have it (replace the order instead);
    # of the items, the fields in ITEM_FIELD_RIGHTS stay the owner's
    "productOrderItem": _owner(_CONTENT),
    "channel": _owner(_CONTENT),
    "agreement": _owner(_CONTENT),
    "orderTotalPrice": _owner(_CONTENT),
    "quote": _owner(_CONTENT),
    "productOfferingQualification": _owner(_CONTENT),
    # what the order replaces and how it starts: decided at creation only
    "orderRelationship": _owner(_AT_CREATION),
    "requestedInitialState": _owner(_AT_CREATION),
    "@type": _owner(_AT_CREATION),
    "@baseType": _owner(_AT_CREATION),
    "@schemaLocation": _owner(_AT_CREATION),
    # a provider's report on its own work
    "expectedCompletionDate": {Writer.PROVIDER: _REPORTING},
    "productOrderErrorMessage": {Writer.PROVIDER: _REPORTING},
    "productOrderMilestone": {Writer.PROVIDER: _REPORTING},
}

#: Fields of one submitted item, by the item's phase (a draft's items are the owner's
#: to write whole, as ``productOrderItem`` above says). What the product is, its
#: offering, action and quantity never change: a new order replaces the old one.
ITEM_FIELD_RIGHTS: dict[str, Rights] = {
    "billingAccount": _owner(_OPEN),
    "payment": _owner(_OPEN),
    "note": _owner(_OPEN),
    "appointment": _owner(_BEFORE_WORK),
    "requestedStartDate": _owner(_BEFORE_WORK),
    "requestedEndDate": _owner(_BEFORE_WORK),
    "state": {Writer.PROVIDER: _REPORTING},
}


def writable_by(writer: Writer, phase: Phase) -> frozenset[str]:
    """The order fields this kind of writer may write in this phase."""
    return frozenset(
        name for name, rights in ORDER_FIELD_RIGHTS.items() if phase in rights.get(writer, ())
    )


CREATE_FIELDS = writable_by(Writer.OWNER, Phase.CREATE)
DRAFT_FIELDS = writable_by(Writer.OWNER, Phase.DRAFT)
CUSTOMER_FIELDS = writable_by(Writer.OWNER, Phase.SUBMITTED) | writable_by(
    Writer.OWNER, Phase.STARTED
)
PROVIDER_FIELDS = writable_by(Writer.PROVIDER, Phase.STARTED)
#: Order fields that may be asked of the customer (information required on the order
#: itself): the order's content, not its items (asked for one by one) nor who it is for.
#: While asked for, the owner may write one even once the order is submitted.
REQUESTABLE_FIELDS = DRAFT_FIELDS - {"productOrderItem", "relatedParty"}


def check_writable(writer: Writer, name: str, phase: Phase, *, item_id: str | None = None) -> None:
    """Refuse a field this writer never writes (403) or not in this phase (409)."""
    table = ORDER_FIELD_RIGHTS if item_id is None else ITEM_FIELD_RIGHTS
    shown = name if item_id is None else f"productOrderItem '{item_id}'.{name}"
    phases = table.get(name, {}).get(writer, frozenset())
    if phase in phases:
        return
    if not phases - {Phase.CREATE}:
        raise Forbidden(f"field '{shown}' cannot be changed by the {writer}")
    allowed = ", ".join(p for p in Phase if p in phases)
    where = "the item" if item_id is not None else "the order"
    raise Conflict(
        f"field '{shown}' cannot be changed while {where} is {phase} "
        f"(the {writer} changes it in: {allowed})"
    )


#: Fields a TMF622 v4 (or older) client sends that v5 renamed: a create refuses them
#: and checks their content as the v5 field (``BodySchema.validate``'s aliases).
RENAMED = {"orderItem": "productOrderItem", "externalID": "externalId"}
#: Older fields whose v5 counterpart is not the creator's to write.
EARLIER_NAMES = {"orderDate": "creationDate, which the server sets"}
#: Item fields only the server (from the lifecycle) writes.
ITEM_SERVER_FIELDS = ("state",)


def creation_problems(body: Mapping[str, Any], problems: Problems) -> None:
    """Name every field a new order's creator does not write, each as what it is:
    not a field of the order (with its v5 name when it is an older version's),
    set by the server, or written by a provider or the PSS. All are a malformed
    create (400): no creator writes them, whoever it is.
    """
    for name in body:
        if name in CREATE_FIELDS:
            continue
        rights = ORDER_FIELD_RIGHTS.get(name)
        if rights is None:
            known = EARLIER_NAMES.get(name)
            hint = f"; TMF622 v5 calls it {known}" if known else ""
            problems.add(InvalidBody, [name], "not a field of a product order" + hint, UNKNOWN)
        elif Writer.SERVER in rights:
            problems.add(InvalidBody, [name], "is set by the server and cannot be supplied", SET)
        else:
            owners = " or ".join(str(w) for w in rights)
            problems.add(
                InvalidBody, [name], f"is written by the {owners}, not by an order's creator", READ
            )
    items = body.get("productOrderItem")
    for index, item in enumerate(items if isinstance(items, list) else []):
        for name in ITEM_SERVER_FIELDS:
            if isinstance(item, Mapping) and name in item:
                problems.add(
                    InvalidBody,
                    ["productOrderItem", index, name],
                    "is set by the server and cannot be supplied",
                    SET,
                )


_MARKS = {Writer.OWNER: "C", Writer.PROVIDER: "P", Writer.PSS: "S", Writer.SERVER: "server"}


def render_markdown() -> list[str]:
    """The table as ``docs/LIFECYCLE.md`` shows it (one row per field, one column a phase)."""
    header = "| field | " + " | ".join(Phase) + " |"
    lines = [
        "## Who may change which field, in which phase",
        "",
        "Generated from `src/pss_ordering/domain/field_rights.py`. C: the customer (or",
        "its organisation, or the PSS that created the order); P: a provider (its own",
        "items, its own notes and report); S: the PSS's monitoring; server: set by the",
        "service alone; —: nobody (403 for a role that never writes the field, 409 for",
        "one that does in another phase).",
        "",
        *textwrap.wrap(_phase_doc(), 80),
        "",
        "A change by the customer of what a provider acknowledged reaches that provider",
        "as an orderValueChangeNotification of its view. It accepts by moving its work",
        "on, or refuses: its items go back to pending with a `changeRefused` error",
        "message and a reason, and the customer is asked for another value as for",
        "missing information (`domain/refusals.py`).",
        "",
    ]
    for title, table in (
        ("Order fields", ORDER_FIELD_RIGHTS),
        ("Fields of a submitted item (by the item's phase)", ITEM_FIELD_RIGHTS),
    ):
        lines += [f"### {title}", "", header, "|---|" + "---|" * len(Phase)]
        for name, rights in table.items():
            cells = [
                ", ".join(_MARKS[w] for w in Writer if phase in rights.get(w, ())) or "—"
                for phase in Phase
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _phase_doc() -> str:
    doc = (Phase.__doc__ or "").split("\n\n", 1)[1]
    return "Phases: " + " ".join(doc.split()).replace("``", "`")
