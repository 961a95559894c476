"""Product offerings as ordering needs them: who provides it, what it requires."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .durations import MAX_DURATION_TEXT, tmf_duration
from .errors import BusinessRuleViolation, Forbidden
from .field_rights import REQUESTABLE_FIELDS
from .identity import Caller, Role

NOT_ORDERABLE = frozenset({"retired", "obsolete", "rejected"})
INFORMATION_TIMEOUT = "informationRequiredTimeout"
REQUIRED_ORDER_FIELD = "requiredOrderField"


@dataclass(frozen=True, slots=True)
class Offering:
    id: str
    provider_id: str
    doc: Mapping[str, Any]

    @property
    def orderable(self) -> bool:
        status = str(self.doc.get("lifecycleStatus") or "").lower()
        return status not in NOT_ORDERABLE and self.doc.get("isSellable", True) is not False

    @property
    def information_timeout(self) -> timedelta | None:
        """Per-offering override of the information-required time frame, if any.

        Declared as a ``productOfferingTerm`` named ``informationRequiredTimeout``
        with a TMF ``duration`` (``{"amount": 2, "units": "days"}``). One out of
        range (stored before :func:`check_terms` existed) is ignored, so it cannot
        break the orders for this offering.
        """
        duration = _information_timeout_term(self.doc)
        try:
            return None if duration is None else tmf_duration(duration)
        except ValueError:
            return None

    @property
    def required_order_fields(self) -> tuple[str, ...]:
        """Order fields every order for this offering must give before its provider can
        work on it (e.g. ``notificationContact``, ``billingAccount``).

        Declared as one ``productOfferingTerm`` per field, named ``requiredOrderField``
        with the field's name as its ``description``; the PSS asks the customer for a
        missing one exactly as a provider would (``missing.required_but_missing``).
        One that is not a field a customer supplies (stored before :func:`check_terms`
        checked it) is ignored.
        """
        return tuple(f for f in _required_order_fields(self.doc) if f in REQUESTABLE_FIELDS)

    @property
    def required_characteristics(self) -> tuple[tuple[str, str | None], ...]:
        """(name, valueType) of every characteristic with minCardinality >= 1."""
        return tuple(
            (use["name"], use.get("valueType"))
            for use in self.doc.get("prodSpecCharValueUse") or []
            if isinstance(use, Mapping)
            and isinstance(use.get("name"), str)
            and int(use.get("minCardinality") or 0) >= 1
        )


def _required_order_fields(doc: Mapping[str, Any]) -> tuple[str, ...]:
    terms = doc.get("productOfferingTerm")
    return tuple(
        str(term.get("description"))
        for term in (terms if isinstance(terms, list) else [])
        if isinstance(term, Mapping) and term.get("name") == REQUIRED_ORDER_FIELD
    )


def _information_timeout_term(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    terms = doc.get("productOfferingTerm")
    for term in terms if isinstance(terms, list) else []:
        if isinstance(term, Mapping) and term.get("name") == INFORMATION_TIMEOUT:
            duration = term.get("duration")
            if isinstance(duration, Mapping):
                return duration
    return None


def check_terms(doc: Mapping[str, Any]) -> None:
    """An offering's terms must be usable by every order for it: the
    information-required time-out is a duration this service can add to a date, and
    a required order field is one a customer can supply."""
    for field in _required_order_fields(doc):
        if field not in REQUESTABLE_FIELDS:
            raise BusinessRuleViolation(
                f"productOfferingTerm '{REQUIRED_ORDER_FIELD}': '{field}' is not an order "
                "field a customer supplies; one of " + ", ".join(sorted(REQUESTABLE_FIELDS))
            )
    duration = _information_timeout_term(doc)
    if duration is None:
        return
    try:
        tmf_duration(duration)
    except ValueError as exc:
        raise BusinessRuleViolation(
            f"productOfferingTerm '{INFORMATION_TIMEOUT}': {exc} (at most {MAX_DURATION_TEXT})"
        ) from None


def offering_provider(caller: Caller, doc: Mapping[str, Any]) -> str:
    """The provider named by an offering; a provider publishes only its own offerings."""
    if not (caller.is_governance or caller.has(Role.PROVIDER)):
        raise Forbidden("only providers and governance publish offerings")
    named = [
        ref.get("id")
        for related in doc.get("relatedParty") or []
        if isinstance(related, Mapping) and related.get("role") == Role.PROVIDER
        for ref in [related.get("partyOrPartyRole") or {}]
        if isinstance(ref, Mapping)
    ]
    if not named:
        if caller.is_governance:
            raise BusinessRuleViolation(
                "relatedParty with role 'provider' is required to name the offering's provider"
            )
        return caller.party_id
    provider = named[0]
    if not isinstance(provider, str) or len(set(named)) != 1:
        raise BusinessRuleViolation("an offering names exactly one provider")
    if not caller.is_governance and provider != caller.party_id:
        raise Forbidden("a provider may only publish its own offerings")
    return provider
