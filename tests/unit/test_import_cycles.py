"""No import cycle inside ``pss_ordering`` (issue 12): each module can be read knowing
only what it imports, and the layers stay layers.

Every import counts, wherever it is written: at the top, inside a function, or
under ``TYPE_CHECKING`` (a cycle the type checker sees is still two modules that
each need the other to be understood). Importing a module also imports the
packages above it, so those count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pss_ordering

Graph = dict[str, set[str]]


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for the package at ``root`` (packages by __init__)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """The package's modules that ``module`` imports, and the packages above them."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # ``from a import b`` imports the module a.b when there is one, else a name of a.
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                name = ".".join(parts[:end])
                if name in known and name != module:
                    yield name


def import_graph(root: Path) -> Graph:
    found = modules(root)
    known = set(found)
    return {module: set(imported(module, path, known)) for module, path in found.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            following = next(edges, None)
            if following is not None:
                if following not in index:
                    index[following] = low[following] = len(index)
                    stack.append(following)
                    on_stack.add(following)
                    work.append((following, iter(sorted(graph[following]))))
                elif following in on_stack:
                    low[node] = min(low[node], index[following])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_service_has_no_import_cycle() -> None:
    root = Path(pss_ordering.__file__).parent
    graph = import_graph(root)
    assert "pss_ordering.bootstrap" in graph  # the walk found the package
    assert cycles(graph) == []


def test_a_cycle_is_found_through_type_checking_and_function_imports(tmp_path: Path) -> None:
    """The check itself: a cycle written the ways the service once wrote them is seen."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n"
    )
    (package / "sub" / "b.py").write_text("def f():\n    from ..sub import a\n")
    (package / "c.py").write_text("from pkg.sub import b\n")
    graph = import_graph(package)
    assert graph["pkg.c"] == {"pkg", "pkg.sub", "pkg.sub.b"}
    assert cycles(graph) == [["pkg.sub.a", "pkg.sub.b"]]
