"""The package's shape: no import cycles, dependencies point one way, modules stay readable.

The graph is read from the source with :mod:`ast` (no import is executed), and it counts
every import, at module level or inside a function: a lazy import still ties two modules
together. ``import a.b.c`` and ``from a.b import c`` both count as an edge to the module
they name (``a.b.c`` when it is a module, else ``a.b``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fizzcheck"

MAX_LINES = 600
COHESIVE_EXCEPTIONS: dict[str, str] = {}
"""Modules allowed past MAX_LINES, each with the reason it is one cohesive thing."""

LAYERS = {
    # a module of the key package must not import any of the listed packages
    "fizzcheck.reference": (
        "fizzcheck.bounds",
        "fizzcheck.check",
        "fizzcheck.strategies",
        "fizzcheck.targets",
        "fizzcheck.plugin",
        "fizzcheck.cli",
        "fizzcheck.report",
        "fizzcheck.results",
        "fizzcheck.bench",
        "fizzcheck.seed",
        "fizzcheck.graphs",
        "fizzcheck.mutants",
        "fizzcheck.compat",
    ),
    "fizzcheck.bounds": (
        "fizzcheck.check",
        "fizzcheck.strategies",
        "fizzcheck.targets",
        "fizzcheck.plugin",
        "fizzcheck.cli",
        "fizzcheck.report",
        "fizzcheck.bench",
        "fizzcheck.mutants",
        "fizzcheck.compat",
    ),
    # strategies may ask bounds how far torch may be off, to keep only well-conditioned cases
    "fizzcheck.strategies": (
        "fizzcheck.check",
        "fizzcheck.targets",
        "fizzcheck.plugin",
        "fizzcheck.cli",
        "fizzcheck.report",
        "fizzcheck.bench",
        "fizzcheck.mutants",
        "fizzcheck.compat",
    ),
    "fizzcheck.results": (
        "fizzcheck.plugin",
        "fizzcheck.cli",
        "fizzcheck.report",
        "fizzcheck.bench",
        "fizzcheck.mutants",
        "fizzcheck.compat",
    ),
    "fizzcheck.report": (
        "fizzcheck.plugin",
        "fizzcheck.cli",
        "fizzcheck.bench",
        "fizzcheck.targets",
        "fizzcheck.mutants",
        "fizzcheck.compat",
    ),
    "fizzcheck.plugin": ("fizzcheck.cli", "fizzcheck.report", "fizzcheck.mutants", "fizzcheck.compat"),
    "fizzcheck.bench": (
        "fizzcheck.cli",
        "fizzcheck.report",
        "fizzcheck.plugin",
        "fizzcheck.mutants",
        "fizzcheck.compat",
    ),
    # torch history: probes and registry ask torch itself; the plugin and the properties ask them
    "fizzcheck.history": (
        "fizzcheck.reference",
        "fizzcheck.bounds",
        "fizzcheck.check",
        "fizzcheck.strategies",
        "fizzcheck.targets",
        "fizzcheck.plugin",
        "fizzcheck.cli",
        "fizzcheck.report",
        "fizzcheck.results",
        "fizzcheck.bench",
        "fizzcheck.mutants",
        "fizzcheck.compat",
    ),
    "fizzcheck.mutants": ("fizzcheck.cli",),
    "fizzcheck.compat": ("fizzcheck.cli",),
    # the declared API surface is data and counting: torch-free, read by targets, plugin, report, CLI
    "fizzcheck.surface": (
        "fizzcheck.reference",
        "fizzcheck.bounds",
        "fizzcheck.check",
        "fizzcheck.strategies",
        "fizzcheck.targets",
        "fizzcheck.plugin",
        "fizzcheck.cli",
        "fizzcheck.report",
        "fizzcheck.results",
        "fizzcheck.bench",
        "fizzcheck.history",
        "fizzcheck.mutants",
        "fizzcheck.compat",
    ),
}
"""Dependencies point one way: cli → workflows → plugin/check → bounds/strategies → reference;
report reads results and never the plugin or the CLI. A package's ``__main__`` is a command-line
shim (``python -m fizzcheck.report``) and belongs to the CLI layer."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    edges = set()
    for target in found:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
    return edges


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _edge_to_parent_package(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Importing ``a.b.c`` runs ``a/b/__init__.py`` first: that is an edge of its own, except
    from a package's own modules to the package (which Python has already started)."""
    return {
        name: {target for target in targets if not name.startswith(target + ".")} for name, targets in graph.items()
    }


def test_the_graph_sees_imports():
    graph = _graph()
    assert "fizzcheck.reference.ops" in graph["fizzcheck.bounds.ops"]
    assert "fizzcheck.errors" in graph["fizzcheck.reference.ops"]


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_inside_the_package():
    cycles = _cycles(_edge_to_parent_package(_graph()))
    assert not cycles, "import cycles (each line: modules that import each other): " + "; ".join(
        " ↔ ".join(component) for component in cycles
    )


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_dependencies_point_one_way(layer):
    forbidden = LAYERS[layer]
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in _graph().items()
        if (name == layer or name.startswith(layer + ".")) and not name.endswith(".__main__")
        for target in targets
        if any(target == f or target.startswith(f + ".") for f in forbidden)
    )
    assert not wrong, f"{layer} must not import {', '.join(forbidden)}: " + "; ".join(wrong)


def test_the_surface_catalogue_never_imports_torch():
    """``fizzcheck surface`` and the report read the catalogue without a torch install."""
    for path in (PACKAGE / "surface").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = [
            alias.name if isinstance(node, ast.Import) else (node.module or "")
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        ]
        assert not [n for n in names if n.split(".")[0] in ("torch", "numpy", "pandas")], (path, names)


def test_the_reference_never_imports_torch():
    wrong = [
        name
        for name, path in _modules().items()
        if name.startswith("fizzcheck.reference")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            (alias.name if isinstance(node, ast.Import) else (node.module or "")).split(".")[0] == "torch"
            for alias in node.names
        )
    ]
    assert not wrong, f"the oracle imports torch: {wrong}"


def test_modules_stay_readable():
    long = {
        name: lines
        for name, path in _modules().items()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES and name not in COHESIVE_EXCEPTIONS
    }
    assert not long, f"modules over {MAX_LINES} lines (split them, or name the reason in COHESIVE_EXCEPTIONS): {long}"
