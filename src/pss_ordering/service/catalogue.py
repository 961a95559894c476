"""Brokered offerings: storing what a partner PSS offers (``domain/federation.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..domain import federation
from ..domain.errors import NotFound
from .unit_of_work import Database


@dataclass(frozen=True, slots=True)
class Partner:
    party_id: str
    api_url: str


@dataclass(frozen=True, slots=True)
class Imported:
    """What one refresh of a partner's catalogue did."""

    partner_id: str
    added: int
    updated: int
    retired: int


class CatalogueService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def partners(self, only: str | None = None) -> list[Partner]:
        """The organisations governance paired as partner PSSs (``partnerApiUrl``)."""
        with self._db.reading() as uow:
            found = [
                Partner(p.id, url)
                for p in uow.parties.partners()
                if (url := p.partner_url) is not None and only in (None, p.id)
            ]
        if only is not None and not found:
            raise NotFound(f"party '{only}' is not a partner PSS (no partnerApiUrl)")
        return found

    def store(self, partner_id: str, pulled: Iterable[Mapping[str, Any]]) -> Imported:
        """The partner's offerings, as pulled, become this PSS's brokered offerings (in
        one transaction: a catalogue is never half refreshed)."""
        with self._db.writing() as uow:
            held = [o for o in uow.offerings.list() if o.provider_id == partner_id]
            change = federation.import_catalogue(partner_id, pulled, held)
            for offering, new in change.saved:
                uow.offerings.save(offering, new=new)
            for offering in change.retired:
                uow.offerings.save(offering, new=False)
            uow.commit()
        added = sum(new for _, new in change.saved)
        return Imported(partner_id, added, len(change.saved) - added, len(change.retired))
