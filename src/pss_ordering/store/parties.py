"""Party and offering repositories."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, String, bindparam, delete, insert, select, update

from ..domain.catalog import Offering
from ..domain.parties import Party
from .codec import dumps, loads
from .database import insert_if_absent
from .prepared import Prepared
from .schema import offerings, parties, party_parents


def _community_statement() -> Any:
    tree = select(bindparam("party_id", type_=String).label("id")).cte("community", recursive=True)
    tree = tree.union(
        select(party_parents.c.party_id).where(party_parents.c.parent_id == tree.c.id)
    )
    return select(tree.c.id)


def _ancestors_tree() -> Any:
    """The member and, walking up through its parents, every organisation it is in."""
    tree = select(bindparam("member_id", type_=String).label("id")).cte("ancestors", recursive=True)
    return tree.union(
        select(party_parents.c.parent_id).where(party_parents.c.party_id == tree.c.id)
    )


def _belongs_statement() -> Any:
    tree = _ancestors_tree()
    return select(tree.c.id).where(tree.c.id == bindparam("org_id", type_=String))


_COMMUNITY = Prepared(_community_statement())
_OFFERING = Prepared(
    select(offerings.c.provider_id, offerings.c.doc).where(
        offerings.c.id == bindparam("offering_id", type_=String)
    )
)
_PARTY = Prepared(
    select(parties.c.kind, parties.c.doc).where(parties.c.id == bindparam("party_id", type_=String))
)
_PARENTS = Prepared(
    select(party_parents.c.parent_id).where(
        party_parents.c.party_id == bindparam("party_id", type_=String)
    )
)
_BELONGS = Prepared(_belongs_statement())
_ANCESTORS = Prepared(select(_ancestors_tree().c.id))


class SqlParties:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, party_id: str) -> Party | None:
        rows = _PARTY.rows(self._db, party_id=party_id)
        if not rows:
            return None
        kind, doc = rows[0]
        parents = tuple(r[0] for r in _PARENTS.rows(self._db, party_id=party_id))
        return Party(party_id, kind, parents, loads(doc))

    def list(self, kind: str, party_ids: Iterable[str] | None) -> list[Party]:
        query = select(parties.c.id, parties.c.doc).where(parties.c.kind == kind)
        if party_ids is not None:
            query = query.where(parties.c.id.in_(list(party_ids)))
        rows = self._db.execute(query.order_by(parties.c.id)).all()
        return [Party(row.id, kind, (), loads(row.doc)) for row in rows]

    def save(self, party: Party, *, new: bool) -> bool:
        """Write the party; a new one only if its id is free (whether it was written)."""
        values = {"kind": party.kind, "doc": dumps(dict(party.doc))}
        if new:
            if not insert_if_absent(self._db, parties, {"id": party.id, **values}):
                return False
        else:
            self._db.execute(update(parties).where(parties.c.id == party.id).values(**values))
            self._db.execute(delete(party_parents).where(party_parents.c.party_id == party.id))
        if party.parents:
            self._db.execute(
                insert(party_parents),
                [{"party_id": party.id, "parent_id": parent} for parent in party.parents],
            )
        return True

    def delete(self, party_id: str) -> None:
        self._db.execute(delete(party_parents).where(party_parents.c.party_id == party_id))
        self._db.execute(delete(parties).where(parties.c.id == party_id))

    def community(self, party_id: str) -> frozenset[str]:
        """The party itself and every party that (transitively) declares it as parent."""
        return frozenset(row[0] for row in _COMMUNITY(self._db, party_id=party_id))

    def represented_by(self, member_id: str) -> frozenset[str]:
        """The member itself and every organisation whose community it is (transitively) in."""
        return frozenset(row[0] for row in _ANCESTORS.rows(self._db, member_id=member_id))

    def belongs_to(self, member_id: str, organisation_id: str) -> bool:
        """Whether ``member_id`` is (transitively) in ``organisation_id``'s community."""
        return _BELONGS(self._db, member_id=member_id, org_id=organisation_id).first() is not None


class SqlOfferings:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get_many(self, offering_ids: Iterable[str]) -> dict[str, Offering]:
        found: dict[str, Offering] = {}
        for offering_id in set(offering_ids):
            for provider_id, doc in _OFFERING.rows(self._db, offering_id=offering_id):
                found[offering_id] = Offering(offering_id, provider_id, loads(doc))
        return found

    def list(self) -> list[Offering]:
        query = select(offerings.c.id, offerings.c.provider_id, offerings.c.doc)
        rows = self._db.execute(query.order_by(offerings.c.id)).all()
        return [Offering(row.id, row.provider_id, loads(row.doc)) for row in rows]

    def save(self, offering: Offering, *, new: bool) -> bool:
        """Write the offering; a new one only if its id is free (whether it was written)."""
        values = {"provider_id": offering.provider_id, "doc": dumps(dict(offering.doc))}
        if new:
            return insert_if_absent(self._db, offerings, {"id": offering.id, **values})
        self._db.execute(update(offerings).where(offerings.c.id == offering.id).values(**values))
        return True

    def delete(self, offering_id: str) -> None:
        self._db.execute(delete(offerings).where(offerings.c.id == offering_id))
