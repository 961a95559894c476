"""Who is calling: the party id and roles taken from a verified token."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"
    PROVIDER = "provider"
    PSS = "pss"
    GOVERNANCE = "governance"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated party acting under one or more roles."""

    party_id: str
    roles: frozenset[Role]

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_governance(self) -> bool:
        return Role.GOVERNANCE in self.roles

    @property
    def provider_only(self) -> bool:
        """True when the only way this caller sees orders is as a provider."""
        return self.roles == frozenset({Role.PROVIDER})
