"""Product offering use cases: providers publish, everyone authenticated reads."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from ..domain.catalog import Offering, check_terms, offering_provider
from ..domain.errors import Conflict, Forbidden, NotFound
from ..domain.federation import exportable
from ..domain.identity import Caller, Role
from .unit_of_work import Database, UnitOfWork

Patcher = Callable[[dict[str, Any]], dict[str, Any]]
OFFERING_TYPE = "ProductOffering"


class OfferingService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def publish(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        provider_id = offering_provider(caller, body)
        check_terms(body)
        offering_id = body.get("id") or str(uuid.uuid4())
        doc = {**body, "id": offering_id, "@type": body.get("@type") or OFFERING_TYPE}
        with self._db.writing() as uow:
            # Checked by the insert itself: concurrent publications of one id answer
            # as sequential ones do (one 201, then 409s).
            if not uow.offerings.save(Offering(offering_id, provider_id, doc), new=True):
                raise Conflict(f"productOffering '{offering_id}' already exists")
            uow.commit()
        return doc

    def get(self, caller: Caller, offering_id: str) -> dict[str, Any]:
        with self._db.reading() as uow:
            found = _existing(uow, offering_id)
        if not _shown(caller, found):
            raise NotFound(f"productOffering '{offering_id}' not found")
        return dict(found.doc)

    def list(self, caller: Caller) -> list[dict[str, Any]]:
        """The catalogue; another PSS is not shown the offerings brokered from partners
        (no re-export: a partner's offering never travels on to a third PSS)."""
        with self._db.reading() as uow:
            return [dict(o.doc) for o in uow.offerings.list() if _shown(caller, o)]

    def update(
        self,
        caller: Caller,
        offering_id: str,
        patcher: Patcher,
        validate: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        with self._db.writing() as uow:
            offering = _owned(caller, _existing(uow, offering_id))
            doc = patcher(copy.deepcopy(dict(offering.doc)))
            validate(doc)
            doc["id"] = offering_id
            provider_id = offering_provider(caller, doc)
            check_terms(doc)
            if provider_id != offering.provider_id:
                raise Forbidden("an offering's provider cannot be changed")
            uow.offerings.save(Offering(offering_id, provider_id, doc), new=False)
            uow.commit()
        return doc

    def withdraw(self, caller: Caller, offering_id: str) -> None:
        with self._db.writing() as uow:
            _owned(caller, _existing(uow, offering_id))
            uow.offerings.delete(offering_id)
            uow.commit()


def _shown(caller: Caller, offering: Offering) -> bool:
    return exportable(offering) or not caller.has(Role.PSS)


def _existing(uow: UnitOfWork, offering_id: str) -> Offering:
    found = uow.offerings.get_many([offering_id]).get(offering_id)
    if found is None:
        raise NotFound(f"productOffering '{offering_id}' not found")
    return found


def _owned(caller: Caller, offering: Offering) -> Offering:
    if not (caller.is_governance or caller.party_id == offering.provider_id):
        raise Forbidden("only the offering's provider or governance may change it")
    return offering
