"""The package's import graph: no cycles and no upward imports, deferred imports included.

The graph is built with ``ast`` from every ``import``/``from ... import`` in the package,
wherever it stands (top of the module or inside a function), so a cycle cannot hide behind
an import moved into a function. Layers, lowest first: the core modules at the package root,
then ``io``, ``perception``, ``matte``, ``render``, ``pipeline``, ``eval`` and ``app``; a
module may import its own layer or lower ones only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import livebokeh

PACKAGE = Path(livebokeh.__file__).parent
LAYERS = ["core", "io", "perception", "matte", "render", "pipeline", "eval", "app"]
CORE = {"errors", "settings", "imgops", "quiet", "models", "threads", "heap"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """The package modules ``path`` imports anywhere in its body (resolved to modules)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imported(path, name, known) for name, path in mods.items()}


def layer(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1:
        return "app"  # the package's __init__ is the public face: it may import anything
    top = parts[1]
    if top in CORE or top == "__main__":
        return "core" if top in CORE else "app"
    assert top in LAYERS, f"{name} is in no layer: add its folder to LAYERS"
    return top


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_graph_sees_deferred_imports_and_cycles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    # a deferred import inside a function is an edge like any other
    assert "livebokeh.render.cuda.renderer" in graph()["livebokeh.render.backend"]


def test_no_import_cycles():
    assert find_cycle(graph()) is None


def test_no_upward_imports():
    rank = {name: LAYERS.index(name) for name in LAYERS}
    upward = [f"{src} -> {dst}" for src, targets in graph().items() for dst in targets
              if rank[layer(dst)] > rank[layer(src)]]
    assert upward == []


def test_stage_folders_hold_the_pipeline():
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert {"io", "perception", "matte", "render", "app", "eval"} <= folders
