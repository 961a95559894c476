"""TMF622 v4 list queries as v5 ones: attribute names, and states v4 does not have.

``orderDate`` is ``creationDate``; a party's ``relatedParty.id`` (``name``,
``href``, ``@referredType``) is under ``partyOrPartyRole`` in v5; ``externalId``
is ``externalId.id``; ``state=pending`` also finds drafts, which v4 shows as
``pending``. Names are checked against the v4 attributes first, so a v5-only
attribute is as unknown on the v4 surface as it is to a v4 client. ``fields``
is left out: it selects from the v4 documents (:func:`split_fields`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ..domain.errors import InvalidQuery
from ..domain.query import OPERATORS
from .documents import RENAMED, STATES_TO_V4

PAGING = frozenset({"offset", "limit"})
_PARTY_KEYS = frozenset({"id", "href", "name", "@referredType"})
#: v4 state -> the v5 states it stands for.
_STATES_FROM_V4: dict[str, tuple[str, ...]] = {}
for _v5, _v4 in STATES_TO_V4.items():
    _STATES_FROM_V4[_v4] = (*_STATES_FROM_V4.get(_v4, (_v4,)), _v5)


def split_fields(params: Iterable[tuple[str, str]]) -> tuple[list[tuple[str, str]], str | None]:
    """The parameters other than ``fields``, and ``fields`` (the last one given)."""
    rest: list[tuple[str, str]] = []
    fields = None
    for name, raw in params:
        if name == "fields":
            fields = raw
        else:
            rest.append((name, raw))
    return rest, fields


def query_to_v5(
    params: Iterable[tuple[str, str]], attributes: Collection[str]
) -> list[tuple[str, str]]:
    """v4 query parameters (without ``fields``) as v5 ones; unknown v4 attributes 400."""
    out: list[tuple[str, str]] = []
    for name, raw in params:
        if name in PAGING:
            out.append((name, raw))
        elif name == "sort":
            keys = [k.strip() for k in raw.split(",") if k.strip()]
            out.append((name, ",".join(_sort_key(k, attributes) for k in keys)))
        else:
            path, op = name, ""
            head, _, tail = name.rpartition(".")
            if head and tail in OPERATORS:
                path, op = head, tail
            v5_path = path_to_v5(path, attributes)
            if path == "state" and op in ("", "eq"):
                raw = ",".join(_v5_states(raw))
            out.append((v5_path + ("." + op if op else ""), raw))
    return out


def _v5_states(raw: str) -> list[str]:
    return [s for value in raw.split(",") for s in _STATES_FROM_V4.get(value.strip(), (value,))]


def _sort_key(key: str, attributes: Collection[str]) -> str:
    sign = key[0] if key[0] in "+-" else ""
    return sign + path_to_v5(key.lstrip("+-"), attributes)


def path_to_v5(path: str, attributes: Collection[str]) -> str:
    """A v4 attribute path as the v5 path of the same values."""
    parts = path.split(".")
    if not parts[0] or parts[0] not in attributes:
        raise InvalidQuery(f"'{path[:40]}': unknown attribute of a TMF622 v4 ProductOrder")
    out: list[str] = []
    for index, part in enumerate(parts):
        out.append(RENAMED.get(part, part) if index == 0 else part)
        after = parts[index + 1] if index + 1 < len(parts) else None
        if part == "relatedParty" and after in _PARTY_KEYS:
            out.append("partyOrPartyRole")
    if parts == ["externalId"]:
        out.append("id")
    return ".".join(out)
