"""TMF630 part 1 queries on collections: filters, sort, paging, field selection.

``attr=v1,v2`` matches when the attribute equals any listed value (OR);
distinct or repeated parameters all have to match (AND); ``attr.gt=v`` (also
``gte``, ``lt``, ``lte``) compares; ``a.b.c`` reaches into nested objects and a
list matches when any of its elements does. The store translates conditions on
indexed attributes to SQL; :func:`matches` evaluates any condition on a document
so both paths give the same answer.

The cost of a query is bounded before it runs: identical conditions count once,
and a query with more filter parameters than ``max_filters`` (as sent, repeats
included), more distinct conditions on nested attributes than ``max_nested``
(each is a sub-query or a fan-out over lists), more than :data:`MAX_LIST`
values in one parameter, a path deeper than :data:`MAX_PATH_PARTS` or an
offset beyond :data:`MAX_OFFSET` is refused with a 400 that names the limit.

Every path, operator and enumerated value is checked against the resource's
:data:`Shape` (what its contract declares, ``api/contract.py``): a typo such as
``productOrderItem.productOfering.id``, ``creationDate.ge`` or ``state=pendng``
is a 400 naming it (and the nearest known name), never an empty 200.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidQuery
from .timestamps import InstantOutOfRange, parse_instant

OPERATORS = frozenset({"eq", "gt", "gte", "lt", "lte"})
ALWAYS_KEPT = ("id", "href", "@type")
MAX_OFFSET = 2**31 - 1
MAX_LIST = 100
MAX_PATH_PARTS = 16
DEFAULT_MAX_FILTERS = 100
DEFAULT_MAX_NESTED = 10
_INTEGER = re.compile(r"-?[0-9]+")
_RESERVED = frozenset({"offset", "limit", "fields", "sort"})


class Attribute:
    """What the contract says an attribute holds, as far as a query can name it.

    ``children``: an object's attributes, given or worked out on first use (TMF's
    schemas are recursive, an item holds items: a shape is walked as deep as
    queries go, never built whole); ``values``: an enumeration's values; ``open``:
    an object whose attributes the contract leaves free (any path below it is
    accepted). With none of these it is a plain value.
    """

    __slots__ = ("_children", "_expand", "open", "values")

    def __init__(
        self,
        *,
        children: Mapping[str, Attribute] | Callable[[], Mapping[str, Attribute]] | None = None,
        values: frozenset[str] | None = None,
        open: bool = False,
    ) -> None:
        self._expand = children if callable(children) else None
        self._children: Mapping[str, Attribute] | None = (
            None if callable(children) else (children or {})
        )
        self.values = values
        self.open = open

    @property
    def children(self) -> Mapping[str, Attribute]:
        if self._children is None:
            assert self._expand is not None
            self._children = self._expand()
        return self._children

    @property
    def is_value(self) -> bool:
        return not self.open and self._expand is None and not self._children


Shape = Mapping[str, Attribute]


def opaque(names: Iterable[str]) -> dict[str, Attribute]:
    """A shape naming only top-level attributes, each accepting any path below it."""
    return {name: Attribute(open=True) for name in names}


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
    attributes: Shape,
    default_limit: int,
    max_limit: int,
    max_filters: int = DEFAULT_MAX_FILTERS,
    max_nested: int = DEFAULT_MAX_NESTED,
) -> Query:
    """Parse query-string pairs; ``attributes`` is the resource's shape."""
    conditions: dict[tuple[str, str, frozenset[str]], Condition] = {}
    sort: list[SortKey] = []
    fields: tuple[str, ...] | None = None
    offset, limit = 0, default_limit
    pairs = list(params)
    # Counted before any is examined: the bound holds whatever the conditions say.
    filters = sum(1 for name, _ in pairs if name not in _RESERVED)
    if filters > max_filters:
        raise InvalidQuery(f"too many filter parameters: at most {max_filters} (repeats included)")
    for name, raw in pairs:
        if name == "offset":
            offset = _integer(name, raw, MAX_OFFSET)
        elif name == "limit":
            limit = _integer(name, raw, MAX_OFFSET)
            if not 1 <= limit <= max_limit:
                raise InvalidQuery(f"limit must be between 1 and {max_limit}")
        elif name == "fields":
            fields = tuple(_paths(raw, attributes, name))
        elif name == "sort":
            sort.extend(
                SortKey(path.lstrip("-+"), path.startswith("-"))
                for path in _split(raw, name)
                if check_path(path.lstrip("-+"), attributes, name) is not None
            )
            _at_most(len(sort), MAX_LIST, "sort keys")
        else:
            condition = _condition(name, raw, attributes)
            key = (condition.path, condition.op, frozenset(condition.values))
            conditions.setdefault(key, condition)
    nested = sum(1 for c in conditions.values() if "." in c.path)
    if nested > max_nested:
        raise InvalidQuery(
            f"too many distinct conditions on nested attributes: {nested}, "
            f"at most {max_nested} (such as productOrderItem.state)"
        )
    return Query(tuple(conditions.values()), tuple(sort), fields, offset, limit)


def _condition(name: str, raw: str, attributes: Shape) -> Condition:
    path, op = name, "eq"
    head, _, tail = name.rpartition(".")
    if head and tail in OPERATORS:
        path, op = head, tail
    elif head and _value_at(head, attributes):
        raise InvalidQuery(
            f"'{_shown(name)}': unknown operator '{_shown(tail)}'"
            f"{_nearest(tail, OPERATORS)} (operators: {', '.join(sorted(OPERATORS))})"
        )
    found = check_path(path, attributes, name)
    values = tuple(_split(raw, name)) if op == "eq" else (raw,)
    if not values:
        raise InvalidQuery(f"filter '{_shown(name)}' needs a value")
    if op != "eq":
        _comparable(raw, name)
    else:
        for value in values:
            check_value(found, value, name)
    return Condition(path, op, values)


def check_value(attribute: Attribute, value: str, name: str) -> None:
    """An enumerated attribute compared with a value it never takes is a typo: 400."""
    if attribute.values is not None and value not in attribute.values:
        raise InvalidQuery(
            f"'{_shown(name)}': unknown value '{_shown(value)}'"
            f"{_nearest(value, attribute.values)} (values: {', '.join(sorted(attribute.values))})"
        )


def _value_at(path: str, attributes: Shape) -> bool:
    """Whether ``path`` names a plain value (so a further part can only be an operator)."""
    parts = path.split(".")
    node, known = _walk(parts, attributes)
    return known == len(parts) and node is not None and node.is_value


def known_parts(path: str, attributes: Shape) -> int:
    """How many leading parts of ``path`` the shape knows (all: the path names something)."""
    return _walk(path.split("."), attributes)[1]


def _walk(parts: Sequence[str], attributes: Shape) -> tuple[Attribute | None, int]:
    """How far ``parts`` go in the shape: the last attribute reached and how many parts
    are known (all of them below an open attribute)."""
    node: Attribute | None = None
    children: Mapping[str, Attribute] = attributes
    for depth, part in enumerate(parts):
        if node is not None and node.open:
            return node, len(parts)
        found = children.get(part)
        if found is None:
            return node, depth
        node, children = found, found.children
    return node, len(parts)


def _nearest(word: str, known: Iterable[str]) -> str:
    near = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{near[0]}'?)" if near else ""


def _integer(name: str, raw: str, maximum: int) -> int:
    text = raw.strip()
    if not _INTEGER.fullmatch(text):
        raise InvalidQuery(f"{name} must be an integer, got '{_shown(raw)}'")
    if text.startswith("-"):
        raise InvalidQuery(f"{name} must not be negative")
    if len(text.lstrip("0")) > len(str(maximum)) or int(text) > maximum:
        raise InvalidQuery(f"{name} must be at most {maximum}")
    return int(text)


def _at_most(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise InvalidQuery(f"too many {what}: at most {limit}")


def _shown(text: str, width: int = 40) -> str:
    """A client's text as quoted in an error message: short, control characters escaped."""
    short = text if len(text) <= width else text[:width] + "..."
    return short.encode("unicode_escape").decode("ascii") if not short.isprintable() else short


def _split(raw: str, name: str) -> list[str]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    _at_most(len(parts), MAX_LIST, f"values in '{_shown(name)}'")
    return parts


def _paths(raw: str, attributes: Shape, name: str) -> Iterator[str]:
    for path in _split(raw, name):
        check_path(path, attributes, name)
        yield path


def check_path(path: str, attributes: Shape, name: str) -> Attribute:
    """The attribute a path names; 400 naming the first part the contract does not know
    (``name``: the parameter as the client wrote it, for the message)."""
    parts = path.split(".")
    if not path or any(not part for part in parts):
        raise InvalidQuery(f"'{_shown(name)}': unknown attribute '{_shown(path)}'")
    if len(parts) > MAX_PATH_PARTS:
        raise InvalidQuery(f"'{_shown(name)}': a path has at most {MAX_PATH_PARTS} parts")
    node, known = _walk(parts, attributes)
    if known == len(parts) and node is not None:
        return node
    where = ".".join(parts[:known])
    if node is not None and node.is_value:
        raise InvalidQuery(
            f"'{_shown(name)}': '{_shown(where)}' is a value, it has no attribute "
            f"'{_shown(parts[known])}'"
        )
    children = node.children if node is not None else attributes
    raise InvalidQuery(
        f"'{_shown(name)}': unknown attribute '{_shown(parts[known])}'"
        f"{f' of {_shown(where)!r}' if where else ''}{_nearest(parts[known], children)}"
    )


def _comparable(raw: str, name: str) -> None:
    if _as_number(raw) is not None:
        return
    try:
        parse_instant(raw)
    except InstantOutOfRange as exc:
        raise InvalidQuery(f"'{_shown(name)}': {exc}") from None
    except ValueError:
        raise InvalidQuery(
            f"'{_shown(name)}': '{_shown(raw)}' is neither a number nor a date-time"
        ) from None


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
