"""Party profile use cases (PSI-01-01-02-*): register, read, update, remove."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from ..domain import parties
from ..domain.errors import Conflict, Forbidden, NotFound
from ..domain.identity import Caller
from ..domain.parties import Party
from ..domain.party_views import PartyAccess, limited_view, party_access, reads_named_parties
from .unit_of_work import Database, UnitOfWork

Patcher = Callable[[dict[str, Any]], dict[str, Any]]


class PartyService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def register(self, caller: Caller, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """A party registers itself (its id is its token's subject); governance registers any."""
        party_id = body.get("id") or (
            str(uuid.uuid4()) if caller.is_governance else caller.party_id
        )
        parties.check_may_write(caller, party_id)
        parties.check_governed_characteristics(caller, None, body)
        doc = {**body, "id": party_id, "@type": body.get("@type") or parties.PARTY_KINDS[kind]}
        with self._db.writing() as uow:
            party = Party(party_id, kind, parties.declared_parents(kind, doc), doc)
            # Checked by the insert itself, so that concurrent registrations of one id
            # (PostgreSQL) answer as sequential ones do: one 201, then 409s.
            if not uow.parties.save(party, new=True):
                raise Conflict(f"party '{party_id}' already exists")
            uow.commit()
        return doc

    def get(self, caller: Caller, kind: str, party_id: str) -> dict[str, Any]:
        """The profile in full (itself, governance) or its limited view (a provider or
        PSS that sees an order naming it: ``party_views``); 404 otherwise."""
        with self._db.reading() as uow:
            party, level = self._visible(uow, caller, kind, party_id)
        return dict(party.doc) if level is PartyAccess.FULL else limited_view(kind, party.doc)

    def list(self, caller: Caller, kind: str) -> list[dict[str, Any]]:
        """What :meth:`get` would answer for each party the caller may read."""
        with self._db.reading() as uow:
            found = uow.parties.readable(kind, caller)
        return [
            dict(p.doc)
            if party_access(caller, p.id, named_on_visible_order=True) is PartyAccess.FULL
            else limited_view(kind, p.doc)
            for p in found
        ]

    def update(
        self,
        caller: Caller,
        kind: str,
        party_id: str,
        patcher: Patcher,
        validate: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        with self._db.writing() as uow:
            party = self._readable(uow, caller, kind, party_id)
            doc = patcher(copy.deepcopy(dict(party.doc)))
            validate(doc)
            doc["id"], doc["@type"] = party_id, party.doc.get("@type")
            parties.check_governed_characteristics(caller, party.doc, doc)
            parents = parties.declared_parents(kind, doc)
            uow.parties.save(Party(party_id, kind, parents, doc), new=False)
            uow.commit()
        return doc

    def remove(self, caller: Caller, kind: str, party_id: str) -> None:
        with self._db.writing() as uow:
            self._readable(uow, caller, kind, party_id)
            uow.parties.delete(party_id)
            uow.commit()

    @staticmethod
    def _visible(
        uow: UnitOfWork, caller: Caller, kind: str, party_id: str
    ) -> tuple[Party, PartyAccess]:
        """The party and how much of it the caller reads; 404 alike for missing and unseen."""
        party = uow.parties.get(party_id)
        if party is not None and party.kind == kind:
            named = (
                reads_named_parties(caller)
                and caller.party_id != party_id
                and uow.parties.named_on_visible_order(caller, party_id)
            )
            level = party_access(caller, party_id, named)
            if level is not PartyAccess.NONE:
                return party, level
        raise NotFound(f"{kind} '{party_id}' not found")

    @classmethod
    def _readable(cls, uow: UnitOfWork, caller: Caller, kind: str, party_id: str) -> Party:
        """A profile the caller may change: its own (governance: any). One it reads only
        in its limited view is 403; one it cannot read at all, 404."""
        party, level = cls._visible(uow, caller, kind, party_id)
        if level is not PartyAccess.FULL:
            raise Forbidden(f"only {kind} '{party_id}' itself and governance change its profile")
        return party
