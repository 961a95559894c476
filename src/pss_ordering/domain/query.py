"""TMF630 part 1 queries on collections: filters, sort, paging, field selection.

``attr=v1,v2`` matches when the attribute equals any listed value (OR);
distinct or repeated parameters all have to match (AND); ``attr.gt=v`` (also
``gte``, ``lt``, ``lte``) compares; ``a.b.c`` reaches into nested objects and a
list matches when any of its elements does. The store translates conditions on
indexed attributes to SQL; :func:`matches` evaluates any condition on a document
so both paths give the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidQuery
from .timestamps import parse_instant

OPERATORS = frozenset({"eq", "gt", "gte", "lt", "lte"})
ALWAYS_KEPT = ("id", "href", "@type")


@dataclass(frozen=True, slots=True)
class Condition:
    path: str
    op: str
    values: tuple[str, ...]

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))


@dataclass(frozen=True, slots=True)
class SortKey:
    path: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Query:
    conditions: tuple[Condition, ...] = ()
    sort: tuple[SortKey, ...] = ()
    fields: tuple[str, ...] | None = None
    offset: int = 0
    limit: int = 20


def parse_query(
    params: Iterable[tuple[str, str]],
    *,
    attributes: frozenset[str],
    default_limit: int,
    max_limit: int,
) -> Query:
    """Parse query-string pairs; ``attributes`` are the resource's top-level attribute names."""
    conditions: list[Condition] = []
    sort: list[SortKey] = []
    fields: tuple[str, ...] | None = None
    offset, limit = 0, default_limit
    for name, raw in params:
        if name == "offset":
            offset = _non_negative(name, raw)
        elif name == "limit":
            limit = _non_negative(name, raw)
            if limit < 1 or limit > max_limit:
                raise InvalidQuery(f"limit must be between 1 and {max_limit}")
        elif name == "fields":
            fields = tuple(_paths(raw, attributes, name))
        elif name == "sort":
            sort.extend(
                SortKey(path.lstrip("-+"), path.startswith("-"))
                for path in _split(raw)
                if _check_path(path.lstrip("-+"), attributes, name)
            )
        else:
            path, op = name, "eq"
            head, _, tail = name.rpartition(".")
            if head and tail in OPERATORS:
                path, op = head, tail
            _check_path(path, attributes, name)
            values = tuple(_split(raw)) if op == "eq" else (raw,)
            if not values:
                raise InvalidQuery(f"filter '{name}' needs a value")
            if op != "eq":
                _comparable(raw, name)
            conditions.append(Condition(path, op, values))
    return Query(tuple(conditions), tuple(sort), fields, offset, limit)


def _non_negative(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidQuery(f"{name} must be an integer, got '{raw}'") from None
    if value < 0:
        raise InvalidQuery(f"{name} must not be negative")
    return value


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _paths(raw: str, attributes: frozenset[str], name: str) -> Iterator[str]:
    for path in _split(raw):
        _check_path(path, attributes, name)
        yield path


def _check_path(path: str, attributes: frozenset[str], name: str) -> bool:
    top = path.split(".", 1)[0]
    if not path or top not in attributes or any(not part for part in path.split(".")):
        raise InvalidQuery(f"'{name}': unknown attribute '{path}'")
    return True


def _comparable(raw: str, name: str) -> None:
    if _as_number(raw) is None and _as_instant(raw) is None:
        raise InvalidQuery(f"'{name}': '{raw}' is neither a number nor a date-time")


def values_at(doc: Any, parts: Sequence[str]) -> Iterator[Any]:
    """Every value at a dot path; lists on the way fan out."""
    if isinstance(doc, list):
        for element in doc:
            yield from values_at(element, parts)
        return
    if not parts:
        yield doc
        return
    if isinstance(doc, Mapping) and parts[0] in doc:
        yield from values_at(doc[parts[0]], parts[1:])


def matches(doc: Mapping[str, Any], condition: Condition) -> bool:
    return any(
        _compare(value, condition.op, wanted)
        for value in values_at(doc, condition.parts)
        for wanted in condition.values
    )


def _compare(value: Any, op: str, wanted: str) -> bool:
    if isinstance(value, (dict, list)) or value is None:
        return False
    text = _text(value)
    if op == "eq":
        if text == wanted:
            return True
        instants = _as_instant(text), _as_instant(wanted)
        return instants[0] is not None and instants[0] == instants[1]
    left, right = _ordered(text, wanted)
    if left is None or right is None:
        return False
    if op == "gt":
        return bool(left > right)
    if op == "gte":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    return bool(left <= right)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ordered(left: str, right: str) -> tuple[Any, Any]:
    numbers = _as_number(left), _as_number(right)
    if numbers[0] is not None and numbers[1] is not None:
        return numbers
    return _as_instant(left), _as_instant(right)


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _as_instant(text: str) -> Any:
    try:
        return parse_instant(text)
    except ValueError:
        return None


def sort_documents(docs: list[dict[str, Any]], keys: Sequence[SortKey]) -> list[dict[str, Any]]:
    """Stable multi-key sort; documents without the attribute go last."""
    for key in reversed(keys):
        parts = tuple(key.path.split("."))
        present = [d for d in docs if next(values_at(d, parts), None) is not None]
        missing = [d for d in docs if next(values_at(d, parts), None) is None]
        present.sort(key=lambda d: _sort_key(next(values_at(d, parts))), reverse=key.descending)
        docs = present + missing
    return docs


def evaluate(
    docs: Iterable[dict[str, Any]],
    conditions: Sequence[Condition],
    sort: Sequence[SortKey],
    offset: int,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Filter, count, sort and page documents in memory: (total, page)."""
    kept = [d for d in docs if all(matches(d, c) for c in conditions)]
    if sort:
        kept = sort_documents(kept, sort)
    return len(kept), kept[offset : offset + limit]


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers by value, then instants by time, then everything else as text."""
    text = _text(value)
    number = _as_number(text)
    if number is not None:
        return (0, number)
    instant = _as_instant(text)
    if instant is not None:
        return (1, instant)
    return (2, text)


def select_fields(doc: Mapping[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    """Keep only the requested attributes (``id``, ``href`` and ``@type`` always)."""
    if fields is None:
        return dict(doc)
    out: dict[str, Any] = {k: doc[k] for k in ALWAYS_KEPT if k in doc}
    for path in fields:
        _copy_path(doc, out, path.split("."))
    return out


def _copy_path(source: Any, target: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not isinstance(source, Mapping) or head not in source:
        return
    value = source[head]
    if not rest:
        target[head] = value
    elif isinstance(value, list):
        existing = target.setdefault(head, [{} for _ in value])
        for element, slot in zip(value, existing, strict=False):
            if isinstance(element, Mapping) and isinstance(slot, dict):
                _copy_path(element, slot, rest)
    elif isinstance(value, Mapping):
        _copy_path(value, target.setdefault(head, {}), rest)
