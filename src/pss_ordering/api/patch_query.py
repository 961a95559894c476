"""TMF630 JSON Patch Query (``application/json-patch-query+json``), as plain JSON Patch.

An operation's ``path`` may end in a query that selects array elements by their
attributes, written from the document's root in dot notation:
``/productOrderItem/billingAccount/id?productOrderItem.id=120`` is
``/productOrderItem/<index of the item whose id is 120>/billingAccount/id``.
Each condition (``&`` joins them, all must hold) applies to the deepest array on
the path its dotted name leads to; a condition on a deeper attribute of the
element (``productOrderItem.productOffering.id=off-a``) matches when any value
there equals it. A query that selects several elements yields one plain
operation per element (removals last element first, so indices stay right);
one that selects none, an array on the path that no condition (nor an index)
selects in, or a condition outside the path, is a 400. ``patching.py`` applies
the plain operations it yields, within the same budget as any JSON Patch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import jsonpointer

from ..domain.errors import InvalidBody

#: At most this many conditions in one query (each is checked on every element).
MAX_CONDITIONS = 16


@dataclass(frozen=True, slots=True)
class Condition:
    names: tuple[str, ...]
    value: str


@dataclass(frozen=True, slots=True)
class Selector:
    """An operation's path: the JSON Pointer's parts and the query's conditions."""

    parts: tuple[str, ...]
    conditions: tuple[Condition, ...]


def parse(op: Mapping[str, Any]) -> Selector | None:
    """The operation's selector, or None for a plain JSON Pointer (400 if malformed)."""
    path = op.get("path")
    if isinstance(op.get("from"), str) and "?" in op["from"]:
        raise InvalidBody("JSON Patch Query: 'from' must be a plain JSON Pointer")
    if not isinstance(path, str) or "?" not in path:
        return None
    pointer, _, query = path.partition("?")
    try:
        parts = tuple(jsonpointer.JsonPointer(pointer).parts)
    except jsonpointer.JsonPointerException as exc:
        raise InvalidBody(f"JSON Patch Query: invalid path '{pointer}': {exc}") from None
    terms = [term for term in query.split("&") if term]
    if not terms or len(terms) > MAX_CONDITIONS:
        raise InvalidBody(
            f"JSON Patch Query: the query after '?' needs 1 to {MAX_CONDITIONS} conditions"
        )
    conditions = []
    for term in terms:
        name, sep, value = term.partition("=")
        names = _names(unquote(name))
        if not sep or len(names) < 2 or "" in names or not parts or names[0] != parts[0]:
            raise InvalidBody(
                f"JSON Patch Query: condition '{term}' must be <array>.<attribute>=<value> "
                "(or /<array>/<attribute>=<value>), "
                "its array on the path"
            )
        conditions.append(Condition(names, unquote(value)))
    return Selector(parts, tuple(conditions))


def _names(name: str) -> tuple[str, ...]:
    """A condition's attribute path: dotted (``productOrderItem.id``, PSID622's example)
    or a JSON Pointer (``/partyCharacteristic/name``, PSID632's examples)."""
    if name.startswith("/"):
        try:
            return tuple(jsonpointer.JsonPointer(name).parts)
        except jsonpointer.JsonPointerException:
            return ()
    return tuple(name.split("."))


def expand(op: Mapping[str, Any], selector: Selector, doc: Any) -> list[dict[str, Any]]:
    """The plain operations ``op`` stands for in ``doc`` (400 when it selects nothing)."""
    found: list[list[str]] = []
    used: set[Condition] = set()
    _walk(doc, selector, 0, [], found, used)
    unused = [c for c in selector.conditions if c not in used]
    if unused:
        shown = ".".join(unused[0].names)
        raise InvalidBody(f"JSON Patch Query: '{shown}' selects in no array on the path")
    if not found:
        raise InvalidBody(f"JSON Patch Query: '{op.get('path')}' selects nothing")
    if op.get("op") == "remove":
        found.reverse()
    return [{**op, "path": "".join("/" + _escape(p) for p in parts)} for parts in found]


def _walk(
    node: Any,
    selector: Selector,
    depth: int,
    concrete: list[str],
    found: list[list[str]],
    used: set[Condition],
) -> None:
    if isinstance(node, list):
        here = _conditions_at(selector, depth, node)
        through = any(c.names[:depth] == selector.parts[:depth] for c in selector.conditions)
        if here or (through and depth < len(selector.parts)):  # a deeper array selects
            used.update(here)
            for index, element in enumerate(node):
                if all(_matches(element, c, depth) for c in here):
                    _walk_into(element, selector, depth, [*concrete, str(index)], found, used)
            return
    _walk_into(node, selector, depth, concrete, found, used)


def _walk_into(
    node: Any,
    selector: Selector,
    depth: int,
    concrete: list[str],
    found: list[list[str]],
    used: set[Condition],
) -> None:
    """Past any array at this depth: the next part of the pointer, or the end."""
    parts = selector.parts
    if depth == len(parts):
        found.append(concrete)
        return
    name = parts[depth]
    if isinstance(node, list):
        if not (name.isdigit() or name == "-"):
            where = ".".join(parts[:depth]) or "the document"
            raise InvalidBody(
                f"JSON Patch Query: '{where}' is an array; a condition must select its elements"
            )
        if name == "-" or int(name) >= len(node):
            if depth == len(parts) - 1:
                found.append([*concrete, name])
            return
        _walk(node[int(name)], selector, depth + 1, [*concrete, name], found, used)
    elif isinstance(node, dict):
        if name in node:
            _walk(node[name], selector, depth + 1, [*concrete, name], found, used)
        elif depth == len(parts) - 1:
            found.append([*concrete, name])  # a new attribute ("add")


def _conditions_at(selector: Selector, depth: int, node: list[Any]) -> list[Condition]:
    """Conditions on the elements of the array at ``parts[:depth]``, not a deeper one's."""
    prefix = selector.parts[:depth]
    return [
        c
        for c in selector.conditions
        if c.names[:depth] == prefix
        and len(c.names) > depth
        and not _deeper_array_on_path(c, selector.parts, depth, node)
    ]


def _deeper_array_on_path(
    condition: Condition, parts: Sequence[str], depth: int, node: list[Any]
) -> bool:
    """The condition names an array further along the pointer: it selects there."""
    for end in range(depth + 1, len(condition.names)):
        if condition.names[:end] != tuple(parts[:end]):
            return False
        if any(isinstance(v, list) for e in node for v in _values(e, condition.names[depth:end])):
            return True
    return False


def _matches(element: Any, condition: Condition, depth: int) -> bool:
    return any(_text(v) == condition.value for v in _values(element, condition.names[depth:]))


def _values(node: Any, names: Sequence[str]) -> list[Any]:
    """Values at ``names`` under ``node``; arrays on the way give each element's."""
    nodes = [node]
    for name in names:
        following = []
        for current in nodes:
            for item in current if isinstance(current, list) else [current]:
                if isinstance(item, dict) and name in item:
                    following.append(item[name])
        nodes = following
    return nodes


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")
