"""What each party is told about an order: audiences and the PSI event envelope.

An event is stored once, with the order as it was when it happened. Every
receiver gets it rendered for its *audience* (PSI-01-02-03-04, need-to-know):
the full order (its customer and the customer's organisations, the PSS that
created it, governance) or one provider's view (that provider's items only).
A provider hears of an order only once it has been submitted; for the
provider, the submission of a draft is the order's creation. Alarm events go
to governance and to the provider they concern, never to the customer.

Which providers are told of an event is decided once, when it is published
(:func:`told_providers`), and kept with it: a provider is not told of a value
change that left its own view as it was (another provider's item, notes or
expected completion date changed), nor of an information request about
another provider's item, or about the order itself that concerns other providers
only. Delivery and the event listing both ask
:func:`audience`, which reads that decision, so a provider lists exactly the
events its callbacks are sent.

The envelope is PSID688's ``Event`` as seed 001 shows it: ``eventId``,
``eventTime``, ``eventType``, ``correlationId``, ``domain``, the affected
resource under ``event``, and ``resourcePath``/``fieldPath`` on
information-required notifications.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .events import EventType
from .identity import Role
from .lifecycle import State
from .orders import OrderRecord
from .visibility import Access, Viewer, access, provider_view

ORDER_TOPIC = "order"
ALARM_TOPIC = "alarm"
FULL = "full"
GOVERNANCE = Role.GOVERNANCE.value
PROVIDER_PREFIX = "provider:"
CREATION = EventType.ORDER_CREATION
STATE_CHANGE = EventType.ORDER_STATE_CHANGE
VALUE_CHANGE = EventType.ORDER_VALUE_CHANGE
INFORMATION_REQUIRED = EventType.ORDER_INFORMATION_REQUIRED
REMOVAL = EventType.ORDER_REMOVE

#: The seed's five notifications and the TMF622 (v4 and v5) event names they are.
TMF_EVENT_NAMES: dict[str, str] = {
    CREATION: "ProductOrderCreateEvent",
    STATE_CHANGE: "ProductOrderStateChangeEvent",
    VALUE_CHANGE: "ProductOrderAttributeValueChangeEvent",
    INFORMATION_REQUIRED: "ProductOrderInformationRequiredEvent",
    REMOVAL: "ProductOrderDeleteEvent",
}
SEED_EVENT_NAMES = {tmf: seed for seed, tmf in TMF_EVENT_NAMES.items()}
DOMAINS = {ORDER_TOPIC: "productOrdering", ALARM_TOPIC: "alarm"}


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as the log keeps it; ``order`` is the order as it was then.

    ``providers``: the providers told of it (:func:`told_providers`), as decided
    when it was published; None until then (then no earlier view is compared).
    A reader may load only the part it needs: the listing loads whether its
    viewer is among them.
    """

    event_id: str
    topic: str
    event_type: str
    occurred_at: str
    order: OrderRecord
    details: Mapping[str, Any]
    providers: frozenset[str] | None = None
    # The request (X-Request-ID) that caused it, for the logs of its delivery; not sent.
    correlation_id: str | None = None

    @property
    def concerned_provider(self) -> str | None:
        """The provider an alarm is about."""
        provider = self.details.get("provider")
        return provider if isinstance(provider, str) else None


def provider_audience(provider_id: str) -> str:
    return PROVIDER_PREFIX + provider_id


def audience(viewer: Viewer, event: StoredEvent) -> str | None:
    """Which rendering of ``event`` this viewer may receive, or None for none at all.

    The one rule for delivery (``service/publishing.py``) and the event listing
    (``events/intake.py``; ``store/events.py`` says the same in SQL, to count).
    """
    caller = viewer.caller
    if event.topic == ALARM_TOPIC and caller.is_governance:
        return GOVERNANCE
    if event.topic != ALARM_TOPIC and access(viewer, event.order) is Access.FULL:
        return FULL
    told = event.providers if event.providers is not None else told_providers(event, None)
    if caller.has(Role.PROVIDER) and viewer.party_id in told:
        return provider_audience(viewer.party_id)
    return None


def told_providers(event: StoredEvent, before: OrderRecord | None) -> frozenset[str]:
    """The providers told of this event, each in its own view; ``before`` is the order
    before the change that caused it (None for a new order).

    An alarm: the provider it concerns. An order event: the order's providers once
    it is submitted, but not a provider whose view a value change left as it was,
    nor one that may not see the item an information request is about.
    """
    if event.topic == ALARM_TOPIC:
        concerned = event.concerned_provider
        return frozenset({concerned}) if concerned else frozenset()
    order = event.order
    if order.submitted_at is None:
        return frozenset()
    return frozenset(
        p
        for p in order.provider_ids
        if not _about_others_item(event, p)
        and not (
            event.event_type == VALUE_CHANGE
            and before is not None
            and unchanged_for(provider_audience(p), before, order)
        )
    )


def decided(event: StoredEvent, before: OrderRecord | None) -> StoredEvent:
    """The event with its providers decided (at publishing)."""
    return replace(event, providers=told_providers(event, before))


def _about_others_item(event: StoredEvent, provider: str) -> bool:
    """An information request that does not concern this provider: its resourcePath
    names an item (and fieldPath what it lacks) the provider may not see, or the
    order itself, asked for by or for other providers (``details["providers"]``)."""
    path = event.details.get("resourcePath")
    if event.event_type != INFORMATION_REQUIRED or not isinstance(path, str):
        return False
    _, item_path, item_id = path.rpartition("/productOrderItem/")
    if item_path:
        return event.order.item_providers.get(item_id) != provider
    concerned = event.details.get("providers")
    return isinstance(concerned, list) and provider not in concerned


def view_for(event: StoredEvent, audience_key: str) -> dict[str, Any] | None:
    """The order as the audience sees it; None when the audience may not see it."""
    order = event.order
    if audience_key in (FULL, GOVERNANCE):
        return order.doc
    if audience_key.startswith(PROVIDER_PREFIX):
        provider = audience_key[len(PROVIDER_PREFIX) :]
        if (
            provider in order.provider_ids
            and order.submitted_at is not None
            and not _about_others_item(event, provider)
        ):
            return provider_view(order, provider)
    return None


def render(event: StoredEvent, audience_key: str, order_href_base: str) -> dict[str, Any] | None:
    """The envelope this audience receives (and lists), or None."""
    doc = view_for(event, audience_key)
    if doc is None:
        return None
    event_type = event.event_type
    if (
        audience_key.startswith(PROVIDER_PREFIX)
        and event_type == STATE_CHANGE
        and event.details.get("from") == State.DRAFT
    ):
        event_type = CREATION
    order_doc = {"id": event.order.id, "href": f"{order_href_base}/{event.order.id}"}
    order_doc.update((k, v) for k, v in doc.items() if k not in order_doc)
    envelope: dict[str, Any] = {
        "@type": "Event",
        "id": event.event_id,
        "eventId": event.event_id,
        "eventTime": event.occurred_at,
        "eventType": event_type,
        "correlationId": event.order.id,
        "domain": DOMAINS.get(event.topic, event.topic),
        "title": TMF_EVENT_NAMES.get(event_type, event_type),
    }
    if event_type == INFORMATION_REQUIRED:
        envelope["resourcePath"] = event.details.get("resourcePath")
        envelope["fieldPath"] = event.details.get("fieldPath")
    body: dict[str, Any] = {"productOrder": order_doc}
    alarm = event.details.get("alarm")
    if event.topic == ALARM_TOPIC and isinstance(alarm, Mapping):
        body = {"alarm": dict(alarm), **body}
    envelope["event"] = body
    return envelope


#: Order fields a state change sets; it is announced by its own notification.
STATE_FIELDS = ("state", "completionDate", "cancellationDate")


def unchanged_for(audience_key: str, before: OrderRecord, after: OrderRecord) -> bool:
    """True when a change left this audience's view as it was, apart from the order
    state (which its own notification announces): no value change to tell.

    So a provider is not told that another provider's item changed.
    """
    if not audience_key.startswith(PROVIDER_PREFIX):
        return False
    provider = audience_key[len(PROVIDER_PREFIX) :]
    if provider not in before.provider_ids or before.submitted_at is None:
        return False
    old, new = provider_view(before, provider), provider_view(after, provider)
    for key in STATE_FIELDS:
        old.pop(key, None)
        new.pop(key, None)
    return old == new
