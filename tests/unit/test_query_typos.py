"""Every misspelling of every known filter path, operator and enumerated value is refused
(issue 15): the query parser checks what a query names against the contract's shape
(api/contract.py ``query_shape``), so a typo is a 400 naming it, never an empty list.

The known paths are enumerated from the shapes themselves (to a depth of four, below
which TMF's recursive schemas repeat), so a new attribute or enum value is covered
without touching this file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pss_ordering.api.contract import query_shape
from pss_ordering.domain.errors import InvalidQuery
from pss_ordering.domain.query import OPERATORS, Attribute, parse_query

SHAPES = {
    "order": query_shape("productOrdering", "ProductOrder"),
    "offering": query_shape("productCatalogManagement", "ProductOffering"),
    "organization": query_shape("partyManagement", "Organization"),
    "individual": query_shape("partyManagement", "Individual"),
}
DEPTH = 4


def known_paths(shape: Mapping[str, Attribute], depth: int = DEPTH) -> Iterator[tuple[str, ...]]:
    for name, attribute in shape.items():
        yield (name,)
        if depth > 1 and not attribute.open:
            for rest in known_paths(attribute.children, depth - 1):
                yield (name, *rest)


def misspellings(word: str) -> set[str]:
    """The slips of a keyboard, each once: a letter dropped, two neighbours swapped, a
    letter doubled, one changed, a letter added at the end (positions spread over the
    word so that prefixes, middles and ends are all tried)."""
    n = len(word)
    middle, last = n // 2, n - 1
    found = {
        word[:middle] + word[middle + 1 :],
        word[:last],
        word[:middle] + word[middle] + word[middle:],
        ("x" if word[0] != "x" else "y") + word[1:],
        word + "s",
    }
    if n > 1:
        found.add(word[: n - 2] + word[last] + word[n - 2])
    return {w for w in found if w and w != word and "." not in w}


def parse(shape: Mapping[str, Attribute], name: str, value: str = "x") -> None:
    parse_query([(name, value)], attributes=shape, default_limit=20, max_limit=100)


def _children_at(shape: Mapping[str, Attribute], path: tuple[str, ...]) -> Mapping[str, Attribute]:
    for part in path:
        shape = shape[part].children
    return shape


PATHS = [(kind, path) for kind, shape in SHAPES.items() for path in known_paths(shape)]


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_every_misspelt_part_of_every_known_path_is_refused(kind: str) -> None:
    shape = SHAPES[kind]
    checked = 0
    for path in known_paths(shape):
        siblings = _children_at(shape, path[:-1])
        for typo in misspellings(path[-1]) - set(siblings):
            wrong = ".".join((*path[:-1], typo))
            with pytest.raises(InvalidQuery, match=f"'{typo}'"):
                parse(shape, wrong)
            with pytest.raises(InvalidQuery, match=f"'{typo}'"):
                parse(shape, "fields", wrong)
            checked += 1
    assert checked > 1500


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_every_known_path_is_accepted(kind: str) -> None:
    shape = SHAPES[kind]
    for path in known_paths(shape):
        parse(shape, "fields", ".".join(path))


@given(st.sampled_from(PATHS), st.sampled_from(sorted(OPERATORS)), st.data())
def test_every_misspelt_operator_on_a_value_is_refused(
    entry: tuple[str, tuple[str, ...]], operator: str, data: st.DataObject
) -> None:
    kind, path = entry
    shape = SHAPES[kind]
    attribute = _children_at(shape, path[:-1])[path[-1]]
    if not attribute.is_value:
        return
    typo = data.draw(st.sampled_from(sorted(misspellings(operator) - OPERATORS)))
    value = min(attribute.values) if attribute.values and operator == "eq" else "1"
    with pytest.raises(InvalidQuery, match=f"unknown operator '{typo}'"):
        parse(shape, ".".join((*path, typo)), value)
    parse(shape, ".".join((*path, operator)), value)


def test_every_misspelt_enumerated_value_is_refused() -> None:
    checked = 0
    for kind, path in PATHS:
        attribute = _children_at(SHAPES[kind], path[:-1])[path[-1]]
        if attribute.values is None:
            continue
        name = ".".join(path)
        for value in attribute.values:
            parse(SHAPES[kind], name, value)
            for typo in misspellings(value) - attribute.values:
                with pytest.raises(InvalidQuery, match="unknown value"):
                    parse(SHAPES[kind], name, typo)
                checked += 1
    assert checked > 200
