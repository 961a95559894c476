"""The reads a use case has prefetched (store/parties.prefetch) answer like the repositories'
own reads: parties with their parents, offerings with their providers' parties, absent
ones as absent, and more offerings than one statement takes."""

from __future__ import annotations

from sqlalchemy import Engine

from pss_ordering.domain.catalog import Offering
from pss_ordering.domain.parties import Party
from pss_ordering.service.unit_of_work import Database
from pss_ordering.store.parties import OFFERINGS_PER_STATEMENT, prefetch

OFFERINGS = OFFERINGS_PER_STATEMENT + 4


def _catalog(database: Database) -> None:
    with database.writing() as uow:
        uow.parties.save(Party("org", "organization", (), {"id": "org"}), new=True)
        uow.parties.save(Party("prov", "organization", ("org",), {"id": "prov"}), new=True)
        uow.parties.save(Party("cust", "individual", ("org",), {"id": "cust"}), new=True)
        for n in range(OFFERINGS):
            provider = "prov" if n % 2 else "gone"  # a provider with no party profile
            uow.offerings.save(Offering(f"off-{n:02d}", provider, {"id": f"off-{n:02d}"}), new=True)
        uow.commit()


def test_prefetched_reads_answer_like_the_repositories(engine: Engine) -> None:
    database = Database(engine)
    _catalog(database)
    wanted = [f"off-{n:02d}" for n in range(OFFERINGS)] + ["missing"]
    with database.writing() as uow:
        plain = (
            uow.parties.get("cust"),
            uow.parties.community("org"),
            uow.parties.represented_by("cust"),
            uow.offerings.get_many(wanted),
            uow.parties.get("prov"),
            uow.parties.get("gone"),
        )
    with database.writing() as uow:
        prefetch(
            uow.parties,
            uow.offerings,
            party_ids=["cust"],
            communities=["org"],
            ancestors=["cust"],
            offering_ids=wanted,
        )
        known = (
            uow.parties.get("cust"),
            uow.parties.community("org"),
            uow.parties.represented_by("cust"),
            uow.offerings.get_many(wanted),
            uow.parties.get("prov"),  # read with its offerings
            uow.parties.get("gone"),
        )
    assert known == plain
    assert len(plain[3]) == OFFERINGS and "missing" not in plain[3]
    assert plain[0] is not None and plain[0].parents == ("org",)
    assert plain[1] == {"org", "prov", "cust"}
    assert plain[2] == {"cust", "org"}
    assert plain[5] is None
