"""The layer rule of ARCHITECTURE.md, checked on the source: no package imports one above it,
and no two modules import each other (directly or around a longer cycle).

The layer order is read from ARCHITECTURE.md's diagram itself, so the document and the code
cannot drift apart silently. Every import counts, also one inside a function (a lazy import
is still a dependency); only imports under ``if TYPE_CHECKING:`` are left out, since they
never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "makeable"


def _layers() -> list[str]:
    """Top-level packages and modules of makeable, lowest first, as ARCHITECTURE.md lists them."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    block = text.split("```", 2)[1]
    order: list[str] = []
    for line in block.splitlines():
        if not line or line[0].isspace():
            continue
        word = line.split()[0].rstrip(",")
        if word.endswith("/") and word.count("/") == 1:
            name = word.rstrip("/")
        elif word.endswith(".py") and "/" not in word:
            name = word.removesuffix(".py")
        else:
            continue  # a file listed inside another layer (e.g. chem/reaction.py)
        if name not in order:
            order.append(name)
    return order


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["makeable", *parts])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[tuple[str, int]]:
    """(imported module, line) of every import that can run."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found.extend((f"{node.module}.{a.name}", node.lineno) for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend((a.name, node.lineno) for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, dict[str, int]]:
    """module → {makeable module it imports: line}."""
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        edges: dict[str, int] = {}
        for name, line in _runtime_imports(ast.parse(path.read_text())):
            while name and name not in files:  # `from pkg.mod import function` → pkg.mod
                name = name.rpartition(".")[0]
            if name.startswith("makeable") and name != module and not module.startswith(name + "."):
                edges.setdefault(name, line)
        graph[module] = edges
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_architecture_lists_every_package():
    layers = _layers()
    packages = {
        p.name if p.is_dir() else p.stem
        for p in SRC.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py")
    } - {"__init__", "resources"}
    assert packages <= set(layers), f"not in ARCHITECTURE.md: {sorted(packages - set(layers))}"


def test_no_package_imports_one_above_it():
    rank = {name: i for i, name in enumerate(_layers())}
    upward = [
        f"{module} imports {target} (line {line})"
        for module, edges in _graph().items()
        for target, line in edges.items()
        if _layer(module) in rank
        and _layer(target) in rank
        and rank[_layer(target)] > rank[_layer(module)]
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            connect(module)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checks_see_a_violation(tmp_path):
    """The visitor finds lazy imports and skips TYPE_CHECKING ones."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from makeable.cli.main import main\n"
        "def f():\n"
        "    from makeable.bench.jobs import JobRun\n"
    )
    names = [name for name, _ in _runtime_imports(ast.parse(source))]
    assert "makeable.bench.jobs" in names
    assert not any(name.startswith("makeable.cli") for name in names)
