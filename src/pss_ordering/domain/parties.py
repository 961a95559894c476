"""Party profiles: who may write which profile, and the characteristics ordering reads.

Governance alone sets ``responseTime`` (a provider's order response time, an
ISO-8601 duration, or ``none`` for no deadline; PSI-01-01-02-08) and
``maxPriority`` (a customer's most urgent allowed priority, 0-4; PSI-01-01-02-09)
and ``actsForUnregisteredCustomers`` (``true`` on a PSS's profile: it may order
for customers that have no profile) and ``partnerApiUrl`` (on a partner PSS's
profile: the base URL of its PSI APIs, ``federation.py``).

A PSS orders on behalf of a customer only when the customer granted it: the
customer's profile, or the profile of an organisation it belongs to, names the
PSS in a ``relatedParty`` entry with role ``pss``. Only the customer itself (or
its organisation, for its community) and governance write those profiles.

An organisation's community is declared from the member's side: a
sub-organisation names its parent in ``organizationParentRelationship``, an
individual names its organisation in a ``relatedParty`` entry with role
``organization``. So an organisation can never claim someone else's orders by
listing them as members.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from .durations import MAX_DURATION_TEXT, is_duration, parse_duration
from .errors import BusinessRuleViolation, Forbidden
from .identity import Caller, Role

ACTS_FOR_UNREGISTERED = "actsForUnregisteredCustomers"
PARTNER_URL = "partnerApiUrl"
GOVERNED_CHARACTERISTICS = frozenset(
    {"responseTime", "maxPriority", ACTS_FOR_UNREGISTERED, PARTNER_URL}
)
AGENT_ROLE = Role.PSS
NO_RESPONSE_TIME = "none"
PARTY_KINDS = {"organization": "Organization", "individual": "Individual"}


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    kind: str
    parents: tuple[str, ...]
    doc: Mapping[str, Any]

    def characteristic(self, name: str) -> Any:
        return characteristics(self.doc).get(name)

    def response_time(self, default: timedelta | None) -> timedelta | None:
        """The provider's order response time: its own, ``none`` (no deadline), or the default."""
        value = self.characteristic("responseTime")
        if value is None:
            return default
        if str(value).strip().lower() == NO_RESPONSE_TIME:
            return None
        return parse_duration(str(value))

    @property
    def agents(self) -> frozenset[str]:
        """The PSSs this party lets order on its behalf (``relatedParty`` role ``pss``)."""
        return frozenset(
            ref["id"]
            for related in self.doc.get("relatedParty") or []
            if isinstance(related, Mapping) and related.get("role") == AGENT_ROLE
            for ref in [related.get("partyOrPartyRole")]
            if isinstance(ref, Mapping) and isinstance(ref.get("id"), str)
        )

    @property
    def partner_url(self) -> str | None:
        """The partner PSS's API base URL, when governance paired this party as one."""
        value = self.characteristic(PARTNER_URL)
        return value.rstrip("/") if isinstance(value, str) and value else None

    @property
    def acts_for_unregistered(self) -> bool:
        return _is_true(self.characteristic(ACTS_FOR_UNREGISTERED))

    @property
    def max_priority(self) -> int | None:
        value = self.characteristic("maxPriority")
        return None if value is None else int(value)


def characteristics(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        c["name"]: c.get("value")
        for c in doc.get("partyCharacteristic") or []
        if isinstance(c, Mapping) and isinstance(c.get("name"), str)
    }


def declared_parents(kind: str, doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The organisations this party says it belongs to (member-side declaration)."""
    parents: list[str] = []
    if kind == "organization":
        rel = doc.get("organizationParentRelationship")
        if isinstance(rel, Mapping):
            org = rel.get("organization")
            if isinstance(org, Mapping) and isinstance(org.get("id"), str):
                parents.append(org["id"])
    for related in doc.get("relatedParty") or []:
        if isinstance(related, Mapping) and related.get("role") == "organization":
            ref = related.get("partyOrPartyRole")
            if isinstance(ref, Mapping) and isinstance(ref.get("id"), str):
                parents.append(ref["id"])
    return tuple(dict.fromkeys(parents))


def check_governed_characteristics(
    caller: Caller, old: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> None:
    """Only governance may set or change responseTime / maxPriority, and values must be valid."""
    before = characteristics(old or {})
    after = characteristics(new)
    for name in GOVERNED_CHARACTERISTICS:
        if before.get(name) != after.get(name) and not caller.is_governance:
            raise Forbidden(f"partyCharacteristic '{name}' can only be set by governance")
    response_time = after.get("responseTime")
    if (
        response_time is not None
        and str(response_time).strip().lower() != NO_RESPONSE_TIME
        and not is_duration(response_time)
    ):
        raise BusinessRuleViolation(
            "partyCharacteristic 'responseTime' must be an ISO-8601 duration such as PT4H, "
            f"at most {MAX_DURATION_TEXT}, or 'none' for no deadline"
        )
    acts = after.get(ACTS_FOR_UNREGISTERED)
    if acts is not None and str(acts).lower() not in {"true", "false"}:
        raise BusinessRuleViolation(
            f"partyCharacteristic '{ACTS_FOR_UNREGISTERED}' must be true or false"
        )
    _check_partner_url(after.get(PARTNER_URL))
    max_priority = after.get("maxPriority")
    if max_priority is not None and str(max_priority) not in {"0", "1", "2", "3", "4"}:
        raise BusinessRuleViolation("partyCharacteristic 'maxPriority' must be 0-4")


def _check_partner_url(value: Any) -> None:
    """An absolute http(s) URL without query or fragment (the partner's API base)."""
    if value is None:
        return
    try:
        parts = urlsplit(str(value))
        usable = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and parts.port != 0
            and not (parts.query or parts.fragment)
        )
    except ValueError:  # e.g. an unclosed IPv6 bracket or a port out of range
        usable = False
    if not usable:
        raise BusinessRuleViolation(
            f"partyCharacteristic '{PARTNER_URL}' must be an absolute http(s) URL "
            "(the partner PSS's API base, e.g. https://pss-b.example)"
        )


def check_may_write(caller: Caller, party_id: str) -> None:
    """A party writes only its own profile; governance writes all (PSI-01-01-02-02/-04/-07)."""
    if not caller.is_governance and caller.party_id != party_id:
        raise Forbidden("a party may only register or update its own profile")


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def check_may_act_for(
    pss_id: str, customer_id: str, profiles: Sequence[Party], pss_profile: Party | None
) -> None:
    """A PSS orders for a customer only as that customer or its organisation granted.

    ``profiles`` are the customer's profile and its organisations' (none when the
    customer has no profile). Without a profile, only a PSS that governance allowed
    (``actsForUnregisteredCustomers``) may order for it.
    """
    if not profiles:
        if pss_profile is not None and pss_profile.acts_for_unregistered:
            return
        raise Forbidden(
            f"party '{customer_id}' has no profile: a PSS orders only for registered customers "
            f"unless governance sets partyCharacteristic '{ACTS_FOR_UNREGISTERED}' on its profile"
        )
    if any(pss_id in profile.agents for profile in profiles):
        return
    raise Forbidden(
        f"PSS '{pss_id}' may not order on behalf of party '{customer_id}': the customer's "
        f"profile (or its organisation's) has no relatedParty with role '{AGENT_ROLE}' "
        f"naming '{pss_id}'"
    )
