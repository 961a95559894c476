"""Party profile use cases (PSI-01-01-02-*): register, read, update, remove."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from ..domain import parties
from ..domain.errors import Conflict, NotFound
from ..domain.identity import Caller
from ..domain.parties import Party
from .unit_of_work import Database

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
        with self._db.reading() as uow:
            return dict(self._readable(uow.parties.get(party_id), caller, kind, party_id).doc)

    def list(self, caller: Caller, kind: str) -> list[dict[str, Any]]:
        with self._db.reading() as uow:
            only = None if caller.is_governance else [caller.party_id]
            return [dict(p.doc) for p in uow.parties.list(kind, only)]

    def update(
        self,
        caller: Caller,
        kind: str,
        party_id: str,
        patcher: Patcher,
        validate: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        with self._db.writing() as uow:
            party = self._readable(uow.parties.get(party_id), caller, kind, party_id)
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
            self._readable(uow.parties.get(party_id), caller, kind, party_id)
            uow.parties.delete(party_id)
            uow.commit()

    @staticmethod
    def _readable(party: Party | None, caller: Caller, kind: str, party_id: str) -> Party:
        """A party sees only itself (governance sees all); anything else is 404."""
        if (
            party is None
            or party.kind != kind
            or not (caller.is_governance or caller.party_id == party_id)
        ):
            raise NotFound(f"{kind} '{party_id}' not found")
        return party
