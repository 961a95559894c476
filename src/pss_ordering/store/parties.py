"""Party and offering repositories."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from sqlalchemy import Connection, String, bindparam, delete, insert, or_, select, update

from ..domain.catalog import Offering
from ..domain.identity import Caller
from ..domain.parties import PARTNER_URL, Party
from .codec import dumps, loads
from .database import insert_if_absent
from .named_parties import named_parties
from .prepared import Prepared, read_together
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
_BELONGS = Prepared(_belongs_statement())
_ANCESTORS = Prepared(select(_ancestors_tree().c.id))
# A party with its parents: one row per parent (or one with NULL), in one statement.
_PARTY = Prepared(
    select(parties.c.kind, parties.c.doc, party_parents.c.parent_id)
    .select_from(parties.outerjoin(party_parents, party_parents.c.party_id == parties.c.id))
    .where(parties.c.id == bindparam("party_id", type_=String))
    .order_by(party_parents.c.parent_id)
)
_OFFERINGS: dict[int, Prepared] = {}


OFFERINGS_PER_STATEMENT = 16  # statements are kept per count: a bounded number of them


def _offering_reads(
    offering_ids: Iterable[str],
) -> Iterator[tuple[list[str], Prepared, dict[str, Any]]]:
    """The statements reading these offerings, at most ``OFFERINGS_PER_STATEMENT`` each."""
    wanted = sorted(offering_ids)
    for start in range(0, len(wanted), OFFERINGS_PER_STATEMENT):
        chunk = wanted[start : start + OFFERINGS_PER_STATEMENT]
        params = {f"id_{n}": offering_id for n, offering_id in enumerate(chunk)}
        yield chunk, _offerings_statement(len(chunk)), params


def _offerings_statement(count: int) -> Prepared:
    """Offerings by id, each with its provider's party and the party's parents (one row
    per parent): what an order needs of its offerings, in one statement."""
    statement = _OFFERINGS.get(count)
    if statement is None:
        provider = parties.alias("provider")
        parents = party_parents.alias("provider_parents")
        statement = _OFFERINGS[count] = Prepared(
            select(
                offerings.c.id,
                offerings.c.provider_id,
                offerings.c.doc,
                provider.c.kind,
                provider.c.doc,
                parents.c.parent_id,
            )
            .select_from(
                offerings.outerjoin(provider, provider.c.id == offerings.c.provider_id).outerjoin(
                    parents, parents.c.party_id == provider.c.id
                )
            )
            .where(offerings.c.id.in_([bindparam(f"id_{n}", type_=String) for n in range(count)]))
            .order_by(offerings.c.id, parents.c.parent_id)
        )
    return statement


class SqlParties:
    """Parties, and the memberships orders and events are decided on.

    What a unit of work reads is kept for the rest of it (parties change only through
    :meth:`save` and :meth:`delete`, which forget it), so that a use case can have it
    all read in one round trip first (:func:`prefetch`) and ask for it where it needs it.
    """

    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self._parties: dict[str, Party | None] = {}
        self._communities: dict[str, frozenset[str]] = {}
        self._ancestors: dict[str, frozenset[str]] = {}

    def get(self, party_id: str) -> Party | None:
        if party_id not in self._parties:
            self._keep_party(party_id, _PARTY.rows(self._db, party_id=party_id))
        return self._parties[party_id]

    def _keep_party(self, party_id: str, rows: list[tuple[Any, ...]]) -> None:
        """Keep a party read as (kind, doc, parent id or NULL) rows; none: it does not exist."""
        if not rows:
            self._parties[party_id] = None
            return
        kind, doc = rows[0][0], rows[0][1]
        parents = tuple(row[2] for row in rows if row[2] is not None)
        self._parties[party_id] = Party(party_id, kind, parents, loads(doc))

    def partners(self) -> list[Party]:
        """The parties governance paired as partner PSSs (few: read by a text match on
        the characteristic's name, then checked on the profile)."""
        query = select(parties.c.id, parties.c.kind, parties.c.doc).where(
            parties.c.doc.contains(PARTNER_URL)
        )
        found = [Party(row.id, row.kind, (), loads(row.doc)) for row in self._db.execute(query)]
        return [p for p in found if p.partner_url is not None]

    def list(self, kind: str, party_ids: Iterable[str] | None) -> list[Party]:
        query = select(parties.c.id, parties.c.doc).where(parties.c.kind == kind)
        if party_ids is not None:
            query = query.where(parties.c.id.in_(list(party_ids)))
        rows = self._db.execute(query.order_by(parties.c.id)).all()
        return [Party(row.id, kind, (), loads(row.doc)) for row in rows]

    def named_on_visible_order(self, caller: Caller, party_id: str) -> bool:
        """Whether the party is named on an order the caller sees as a provider or as
        the PSS that created it (``store/named_parties.py``)."""
        query = named_parties(caller, party_id)
        return query is not None and self._db.execute(query.limit(1)).first() is not None

    def readable(self, kind: str, caller: Caller) -> tuple[Party, ...]:
        """The parties of ``kind`` the caller may read at all: every one for governance;
        else itself and those named on orders it sees (``named_on_visible_order``)."""
        query = select(parties.c.id, parties.c.doc).where(parties.c.kind == kind)
        if not caller.is_governance:
            named = named_parties(caller)
            own = parties.c.id == caller.party_id
            query = query.where(own if named is None else or_(own, parties.c.id.in_(named)))
        rows = self._db.execute(query.order_by(parties.c.id)).all()
        return tuple(Party(row.id, kind, (), loads(row.doc)) for row in rows)

    def save(self, party: Party, *, new: bool) -> bool:
        """Write the party; a new one only if its id is free (whether it was written)."""
        self._forget()
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
        self._forget()
        self._db.execute(delete(party_parents).where(party_parents.c.party_id == party_id))
        self._db.execute(delete(parties).where(parties.c.id == party_id))

    def community(self, party_id: str) -> frozenset[str]:
        """The party itself and every party that (transitively) declares it as parent."""
        found = self._communities.get(party_id)
        if found is None:
            found = self._communities[party_id] = frozenset(
                row[0] for row in _COMMUNITY.rows(self._db, party_id=party_id)
            )
        return found

    def represented_by(self, member_id: str) -> frozenset[str]:
        """The member itself and every organisation whose community it is (transitively) in."""
        found = self._ancestors.get(member_id)
        if found is None:
            found = self._ancestors[member_id] = frozenset(
                row[0] for row in _ANCESTORS.rows(self._db, member_id=member_id)
            )
        return found

    def belongs_to(self, member_id: str, organisation_id: str) -> bool:
        """Whether ``member_id`` is (transitively) in ``organisation_id``'s community."""
        known = self._ancestors.get(member_id)
        if known is not None:
            return organisation_id in known
        return bool(_BELONGS.rows(self._db, member_id=member_id, org_id=organisation_id))

    def _forget(self) -> None:
        self._parties.clear()
        self._communities.clear()
        self._ancestors.clear()


class SqlOfferings:
    """Offerings; like parties, what a unit of work read is kept for the rest of it."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self._known: dict[str, Offering | None] = {}

    def get_many(self, offering_ids: Iterable[str]) -> dict[str, Offering]:
        wanted = set(offering_ids)
        for chunk, statement, params in _offering_reads(wanted - self._known.keys()):
            self.remember(chunk, statement.rows(self._db, **params))
        return {i: found for i in wanted if (found := self._known.get(i)) is not None}

    def remember(
        self,
        offering_ids: list[str],
        rows: list[tuple[Any, ...]],
        parties: SqlParties | None = None,
    ) -> None:
        """Keep what an offerings statement read (absent ones too); its providers' parties
        go to ``parties``."""
        by_offering: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_offering.setdefault(row[0], []).append(row)
        for offering_id in offering_ids:
            found = by_offering.get(offering_id)
            if not found:
                self._known[offering_id] = None
                continue
            _, provider_id, doc, kind, provider_doc, _ = found[0]
            self._known[offering_id] = Offering(offering_id, provider_id, loads(doc))
            if parties is not None and provider_id not in parties._parties:
                party_rows = [(kind, provider_doc, r[5]) for r in found] if kind else []
                parties._keep_party(provider_id, party_rows)

    def list(self) -> list[Offering]:
        query = select(offerings.c.id, offerings.c.provider_id, offerings.c.doc)
        rows = self._db.execute(query.order_by(offerings.c.id)).all()
        return [Offering(row.id, row.provider_id, loads(row.doc)) for row in rows]

    def save(self, offering: Offering, *, new: bool) -> bool:
        """Write the offering; a new one only if its id is free (whether it was written)."""
        self._known.clear()
        values = {"provider_id": offering.provider_id, "doc": dumps(dict(offering.doc))}
        if new:
            return insert_if_absent(self._db, offerings, {"id": offering.id, **values})
        self._db.execute(update(offerings).where(offerings.c.id == offering.id).values(**values))
        return True

    def delete(self, offering_id: str) -> None:
        self._known.clear()
        self._db.execute(delete(offerings).where(offerings.c.id == offering_id))


def prefetch(
    parties: SqlParties,
    offerings: SqlOfferings,
    *,
    party_ids: Iterable[str] = (),
    communities: Iterable[str] = (),
    ancestors: Iterable[str] = (),
    offering_ids: Iterable[str] = (),
) -> None:
    """Read what a use case is about to ask the two repositories for, in one round trip
    on PostgreSQL (one statement each, pipelined); the offerings come with their
    providers' parties. What is known already is not read again."""
    reads: list[tuple[Prepared, dict[str, Any]]] = []
    keep: list[Callable[[list[tuple[Any, ...]]], None]] = []
    for party_id in dict.fromkeys(party_ids):
        if party_id not in parties._parties:
            reads.append((_PARTY, {"party_id": party_id}))
            keep.append(partial(parties._keep_party, party_id))
    for party_id in dict.fromkeys(communities):
        if party_id not in parties._communities:
            reads.append((_COMMUNITY, {"party_id": party_id}))
            keep.append(partial(_keep_ids, parties._communities, party_id))
    for member_id in dict.fromkeys(ancestors):
        if member_id not in parties._ancestors:
            reads.append((_ANCESTORS, {"member_id": member_id}))
            keep.append(partial(_keep_ids, parties._ancestors, member_id))
    for chunk, statement, params in _offering_reads(set(offering_ids) - offerings._known.keys()):
        reads.append((statement, params))
        keep.append(partial(offerings.remember, chunk, parties=parties))
    for remember, rows in zip(keep, read_together(parties._db, reads), strict=True):
        remember(rows)


def _keep_ids(known: dict[str, frozenset[str]], key: str, rows: list[tuple[Any, ...]]) -> None:
    known[key] = frozenset(row[0] for row in rows)
