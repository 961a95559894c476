"""States, roles, timer kinds and event types are spelled once, in the enum that defines
them: everywhere else the code names the member, so mypy catches ``"inprogress"``.

The scan reads every module under ``src/`` with ``ast`` and reports a string constant
equal to one of those values where it is used as a value. Not values: dict keys,
subscripts and ``get``/``pop``/``setdefault`` keys (field names such as
``{"provider": ...}``), docstrings, the text of f-strings, and the members of any
``StrEnum`` (another vocabulary that shares a word, such as ``Phase.DRAFT``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from pss_ordering.domain.events import EventType
from pss_ordering.domain.identity import Role
from pss_ordering.domain.lifecycle import State
from pss_ordering.domain.timers import TimerKind

SRC = Path(__file__).resolve().parents[2] / "src" / "pss_ordering"
VOCABULARIES = {
    "domain/lifecycle.py": State,
    "domain/identity.py": Role,
    "domain/timers.py": TimerKind,
    "domain/events.py": EventType,
}
#: The same word meaning something else, where it is defined (module -> words).
OTHER_MEANINGS = {
    "domain/catalog.py": {"rejected"},  # an offering's lifecycleStatus
    "domain/missing.py": {"informationRequired"},  # the error message's code (seed 001)
    "domain/deadlines.py": {"responseDeadline"},  # the milestone's name
    "store/deliveries.py": {"pending"},  # a delivery's state
    "store/order_filters.py": {"provider"},  # a way of seeing orders (a statement shape)
    "store/schema.py": {"governance", "customer"},  # column and index names
    "store/named_parties.py": {"customer"},  # a table alias
    "store/parties.py": {"provider"},  # a table alias
    "response_time/routes.py": {"provider"},  # a query parameter's name
    "response_time/metrics.py": {"provider"},  # a Prometheus label's name
    "response_time/commands.py": {"provider"},  # a column heading
    "cli/tables.py": {"pending", "provider"},  # column headings
    "console/signin.py": {"pss"},  # the name the OpenID Connect client is registered under
}
#: Migrations are history: a revision keeps the text it was written with.
HISTORY = "store/migrations/"
KEYS_OF = {"get", "pop", "setdefault"}


def _not_values(tree: ast.AST) -> set[int]:
    """ids of the string constants that are names or text, not values."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            skipped |= {id(k) for k in node.keys if k is not None}
        elif isinstance(node, ast.Subscript):
            skipped.add(id(node.slice))
        elif isinstance(node, ast.Call) and node.args:
            if isinstance(node.func, ast.Attribute) and node.func.attr in KEYS_OF:
                skipped.add(id(node.args[0]))
        elif isinstance(node, ast.JoinedStr):
            skipped |= {id(v) for v in node.values}
        elif isinstance(node, ast.ClassDef) and any(
            isinstance(b, ast.Name) and b.id == "StrEnum" for b in node.bases
        ):
            skipped |= {id(n) for n in ast.walk(node) if isinstance(n, ast.Constant)}
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                skipped.add(id(body[0].value))
    return skipped


def spelled_out(source: str, words: dict[str, str]) -> Iterator[tuple[int, str, str]]:
    """(line, word, vocabulary) of each value in ``source`` spelled as a literal."""
    tree = ast.parse(source)
    skipped = _not_values(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in words
            and id(node) not in skipped
        ):
            yield node.lineno, node.value, words[node.value]


def test_no_state_role_kind_or_event_type_is_spelled_outside_its_enum() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        if module.startswith(HISTORY):
            continue
        words = {
            member.value: enum.__name__
            for defining, enum in VOCABULARIES.items()
            if defining != module
            for member in enum
            if member.value not in OTHER_MEANINGS.get(module, set())
        }
        found += [
            f"{module}:{line}: {word!r} (use {vocabulary})"
            for line, word, vocabulary in spelled_out(path.read_text(), words)
        ]
    assert not found, "\n".join(found)


def test_the_scan_sees_a_misspelt_state_and_not_a_field_name() -> None:
    words = {"inProgress": "State", "provider": "Role"}
    source = 'if item["state"] == "inProgress":\n    details = {"provider": x.get("provider")}\n'
    assert list(spelled_out(source, words)) == [(1, "inProgress", "State")]
