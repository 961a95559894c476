"""Callback registrations (PSI-01-02-02-*, -04-01) and their delivery health (-03-07).

A party registers, lists and removes its own callbacks; governance sees all.
Delivery to a callback that failed past its last retry is halted until its
owner or governance resumes it; then everything held back goes out in order.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from ipaddress import ip_address

from ..clock import Clock
from ..domain import hub
from ..domain.errors import BusinessRuleViolation, Forbidden, NotFound
from ..domain.identity import Caller, Role
from ..domain.query import Shape
from ..domain.timestamps import format_instant
from ..service.unit_of_work import Database, UnitOfWork
from ..tmf4 import events as tmf4_events
from .sender import resolve_addresses


@dataclass(frozen=True, slots=True)
class Registration:
    subscription: hub.Subscription
    secret: str | None
    created: bool


Resolve = Callable[[str, int], list[str]]


class HubService:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        allowed_hosts: Sequence[str],
        policy: hub.AddressPolicy | None = None,
        resolve: Resolve | None = None,
        query_shapes: Mapping[str, tuple[Shape, Shape]] | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._allowed = tuple(allowed_hosts)
        self._policy = policy or hub.AddressPolicy()
        self._resolve = resolve or resolve_addresses
        # Per topic, what a query may name (envelope, resource); topics without one
        # (their events carry no resource the contract describes) are not checked.
        self._query_shapes = dict(query_shapes or {})

    def register(
        self, caller: Caller, topic: str, callback: str, query: str | None
    ) -> Registration:
        """Register a callback; the same callback and query again returns the existing one.

        The signing secret (Standard Webhooks) is returned once, at creation.
        """
        hub.require_topic(topic)
        if topic == "alarm" and not (caller.is_governance or caller.has(Role.PROVIDER)):
            raise Forbidden("the alarm topic is for governance and providers")
        return self._register(caller, topic, callback, query)

    def register_v4(self, caller: Caller, callback: str, query: str | None) -> Registration:
        """TMF622 v4 ``POST /hub``: order events, delivered in v4 shape (tmf4/events.py)."""
        return self._register(caller, tmf4_events.HUB_TOPIC, callback, query)

    def _register(
        self, caller: Caller, topic: str, callback: str, query: str | None
    ) -> Registration:
        hub.check_allowed_host(callback, self._allowed)
        parsed = hub.FilterQuery.parse(query)
        v4 = topic == tmf4_events.HUB_TOPIC
        hub.check_event_types(parsed, topic, tmf4_events.event_types() if v4 else None)
        if topic in self._query_shapes:
            hub.check_query_paths(parsed, *self._query_shapes[topic])
        with self._db.writing() as uow:
            same = uow.subscriptions.find_same(caller.party_id, topic, callback, query)
            if same is not None:
                return Registration(same, None, created=False)
            subscription = hub.Subscription(
                id=str(uuid.uuid4()),
                owner_id=caller.party_id,
                owner_roles=tuple(sorted(role.value for role in caller.roles)),
                topic=topic,
                callback=callback,
                query=query or None,
            )
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
            if not uow.subscriptions.add(subscription, secret, format_instant(self._clock.now())):
                # The same registration was committed concurrently: answer with it,
                # as a sequential duplicate is answered.
                same = uow.subscriptions.find_same(caller.party_id, topic, callback, query)
                if same is None:
                    raise RuntimeError("a registration conflicted with one that does not exist")
                return Registration(same, None, created=False)
            uow.commit()
        return Registration(subscription, secret, created=True)

    def check_addresses(self, callback: str) -> None:
        """An allow-listed name that resolves only to addresses sending would refuse (a
        loopback or private one outside PSS_CALLBACK_ALLOWED_NETWORKS) is refused now,
        with the send-time check's words, rather than failing every delivery later. A
        name that does not resolve yet (or not within the lookup's bound) is left to the
        send-time check. It asks the DNS: the API calls it before, and apart from, the
        registration's write, so that no lookup ever holds the writer."""
        hub.check_allowed_host(callback, self._allowed)
        _, host, port = hub.callback_target(callback)
        try:
            ip_address(host.strip("[]"))
            return  # an IP literal on the allow-list is allowed as it stands
        except ValueError:
            pass
        refusal = self._policy.refusal(host, self._resolve(host, port))
        if refusal is not None:
            raise BusinessRuleViolation(refusal)

    def list(self, caller: Caller, topic: str) -> list[hub.Subscription]:
        hub.require_topic(topic)
        with self._db.reading() as uow:
            return uow.subscriptions.on_topic(
                topic, None if caller.is_governance else caller.party_id
            )

    def remove(self, caller: Caller, topic: str, subscription_id: str) -> None:
        """Someone else's registration answers 404, like one that does not exist."""
        hub.require_topic(topic)
        self._remove(caller, topic, subscription_id)

    def remove_v4(self, caller: Caller, subscription_id: str) -> None:
        """TMF622 v4 ``DELETE /hub/{id}``: only a v4 registration, only one's own."""
        self._remove(caller, tmf4_events.HUB_TOPIC, subscription_id)

    def _remove(self, caller: Caller, topic: str, subscription_id: str) -> None:
        with self._db.writing() as uow:
            _own(uow, caller, topic, subscription_id)
            uow.subscriptions.remove(subscription_id)
            uow.commit()

    def health(self, caller: Caller, topic: str, subscription_id: str) -> hub.CallbackHealth:
        hub.require_topic(topic)
        return self._health(caller, topic, subscription_id)

    def health_v4(self, caller: Caller, subscription_id: str) -> hub.CallbackHealth:
        """A v4 registration's delivery health (an extension of TMF622 v4's hub)."""
        return self._health(caller, tmf4_events.HUB_TOPIC, subscription_id)

    def _health(self, caller: Caller, topic: str, subscription_id: str) -> hub.CallbackHealth:
        with self._db.reading() as uow:
            _own(uow, caller, topic, subscription_id)
            return _with_pending(uow, [uow.subscriptions.health(subscription_id)])[0]

    def all_health(self, caller: Caller) -> Sequence[hub.CallbackHealth]:
        """Every callback the caller may see (governance: all), for the CLI and operators."""
        with self._db.reading() as uow:
            owner = None if caller.is_governance else caller.party_id
            return _with_pending(uow, uow.subscriptions.all_health(owner))

    def resume(self, caller: Caller, topic: str, subscription_id: str) -> hub.CallbackHealth:
        """PSI-01-02-03-07: manual resumption of a halted (or disabled) callback."""
        hub.require_topic(topic)
        return self._resume(caller, topic, subscription_id)

    def resume_v4(self, caller: Caller, subscription_id: str) -> hub.CallbackHealth:
        """PSI-01-02-03-07 for a v4 registration."""
        return self._resume(caller, tmf4_events.HUB_TOPIC, subscription_id)

    def _resume(self, caller: Caller, topic: str, subscription_id: str) -> hub.CallbackHealth:
        with self._db.writing() as uow:
            _own(uow, caller, topic, subscription_id)
            uow.subscriptions.resume(subscription_id)
            uow.deliveries.wake_workers()
            found = _with_pending(uow, [uow.subscriptions.health(subscription_id)])[0]
            uow.commit()
        return found


def _own(uow: UnitOfWork, caller: Caller, topic: str, subscription_id: str) -> hub.Subscription:
    found = uow.subscriptions.get(subscription_id)
    if found is None or found.topic != topic or not found.visible_to(caller):
        raise NotFound(f"hub '{subscription_id}' not found")
    return found


def _with_pending(
    uow: UnitOfWork, found: Sequence[hub.CallbackHealth | None]
) -> list[hub.CallbackHealth]:
    present = [h for h in found if h is not None]
    counts = uow.deliveries.pending_counts(h.subscription.id for h in present)
    return [replace(h, pending=counts.get(h.subscription.id, 0)) for h in present]
