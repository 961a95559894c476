"""Who writes which field of a product order: one table for POST, PATCH and received events.

Every top-level field of an order has its writers. The order's *owner* (its
customer, an organisation acting for a member, or the PSS that created it)
writes the order's content: all of it when creating or editing a draft, a
smaller set once the order went to its providers. A *provider* writes what
reports on its work. The *server* alone writes identity, dates of record, the
derived state; the PSS's monitoring alone raises jeopardy alerts. A field absent from
the table is nobody's to write.

Creation and PATCH both judge a request by this table, so a customer cannot
create an order that already carries what only a provider or the PSS writes
(a milestone, an error message, a jeopardy alert), any more than it can PATCH
one in later. A create names each such field as what it is (unknown, set by
the server, someone else's), all of them in one answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from .errors import InvalidBody
from .problems import Problems

#: ``code`` of each kind of refused field in an error's ``details``.
UNKNOWN, SET, READ = "unknownField", "serverSet", "readOnly"


class Writer(StrEnum):
    """A kind of writer, with the moment it writes (owners: at creation, in draft, later)."""

    CREATE = "owner at creation"
    DRAFT = "owner while a draft"
    SUBMITTED = "owner once submitted"
    PROVIDER = "provider"
    PSS = "PSS's own monitoring"
    SERVER = "server"


_OWNER = (Writer.CREATE, Writer.DRAFT, Writer.SUBMITTED)
_CONTENT = (Writer.CREATE, Writer.DRAFT)

ORDER_FIELD_WRITERS: dict[str, tuple[Writer, ...]] = {
    # the order's identity and the dates of record
    "id": (Writer.SERVER,),
    "href": (Writer.SERVER,),
    "creationDate": (Writer.SERVER,),
    "completionDate": (Writer.SERVER,),
    "cancellationDate": (Writer.SERVER,),
    # derived from the items; owners and providers request moves through the lifecycle
    "state": (Writer.SERVER,),
    "cancellationReason": (Writer.SERVER,),
    "productOrderJeopardyAlert": (Writer.PSS,),
    # what the owner may change at any time before the order is final
    "billingAccount": _OWNER,
    "notificationContact": _OWNER,
    "requestedStartDate": _OWNER,
    "requestedCompletionDate": _OWNER,
    "description": _OWNER,
    "externalId": _OWNER,
    "priority": _OWNER,
    "note": (*_OWNER, Writer.PROVIDER),
    # the order's content: fixed once the providers have it (replace the order instead)
    "productOrderItem": _CONTENT,
    "category": _CONTENT,
    "channel": _CONTENT,
    "agreement": _CONTENT,
    "orderTotalPrice": _CONTENT,
    "payment": _CONTENT,
    "quote": _CONTENT,
    "productOfferingQualification": _CONTENT,
    # who the order is for and what it replaces: decided at creation only
    "relatedParty": (Writer.CREATE,),
    "orderRelationship": (Writer.CREATE,),
    "requestedInitialState": (Writer.CREATE,),
    "@type": (Writer.CREATE,),
    "@baseType": (Writer.CREATE,),
    "@schemaLocation": (Writer.CREATE,),
    # a provider's report on its own work
    "expectedCompletionDate": (Writer.PROVIDER,),
    "productOrderErrorMessage": (Writer.PROVIDER,),
    "productOrderMilestone": (Writer.PROVIDER,),
}


def writable_by(writer: Writer) -> frozenset[str]:
    """The order fields this kind of writer may write."""
    return frozenset(name for name, writers in ORDER_FIELD_WRITERS.items() if writer in writers)


CREATE_FIELDS = writable_by(Writer.CREATE)
DRAFT_FIELDS = writable_by(Writer.DRAFT)
CUSTOMER_FIELDS = writable_by(Writer.SUBMITTED)
PROVIDER_FIELDS = writable_by(Writer.PROVIDER)
#: Order fields that may be asked of the customer (information required on the order
#: itself): the order's content, not its items (asked for one by one) nor who it is for.
#: While asked for, the owner may write one even once the order is submitted.
REQUESTABLE_FIELDS = DRAFT_FIELDS - {"productOrderItem"}


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
        writers = ORDER_FIELD_WRITERS.get(name)
        if writers is None:
            known = EARLIER_NAMES.get(name)
            hint = f"; TMF622 v5 calls it {known}" if known else ""
            problems.add(InvalidBody, [name], "not a field of a product order" + hint, UNKNOWN)
        elif writers == (Writer.SERVER,):
            problems.add(InvalidBody, [name], "is set by the server and cannot be supplied", SET)
        else:
            owners = " or ".join(str(w) for w in writers)
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
