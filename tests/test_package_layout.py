"""The package's layout: no import circles (module-level or lazy imports),
and new module paths inside the package.

Authors
 * ast_sb developers 2026
"""

import ast
import os
from typing import Dict, List, Set

import ast_sb
from ast_sb._aliases import MODULE_ALIASES

PACKAGE = os.path.dirname(os.path.abspath(ast_sb.__file__))
ROOT = os.path.dirname(PACKAGE)


def _modules() -> Dict[str, str]:
    """Dotted name -> file of every module of the package."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
            found[dotted.removesuffix(".__init__")] = path
    return found


def _imports(path: str) -> List[str]:
    """ast_sb modules named by the import statements of a module, at module
    level or inside functions (a lazy import is an edge of the graph too)."""
    with open(path, encoding="utf-8") as fin:
        tree = ast.parse(fin.read(), path)
    names: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif (
            isinstance(node, ast.ImportFrom) and node.module and not node.level
        ):
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return [n for n in names if n == "ast_sb" or n.startswith("ast_sb.")]


def _graph() -> Dict[str, Set[str]]:
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        targets = {MODULE_ALIASES.get(n, n) for n in _imports(path)}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import circle of ``graph`` (empty if none)."""
    state: Dict[str, int] = {}  # 1: on the stack, 2: done
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_the_checker_sees_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    graph = _graph()
    assert len(graph) > 50
    assert "ast_sb.dataio.validation" in graph["ast_sb.lobes.model"]
    cycle = _cycle(graph)
    assert not cycle, "import circle: " + " -> ".join(cycle)


def test_package_code_names_the_new_paths():
    """Inside ast_sb/, imports name today's modules (the old flat paths are
    for exported folders and users' code; ast_sb/_aliases.py maps them)."""
    old = []
    for name, path in _modules().items():
        for target in _imports(path):
            if target in MODULE_ALIASES:
                old.append(f"{name}: {target} -> {MODULE_ALIASES[target]}")
    assert not old, "\n".join(old)


#: module split for size -> the modules that took some of its names
SPLITS = {
    "ast_sb.weights.pretrained": [
        "ast_sb.weights.formats",
        "ast_sb.weights.format_export",
    ],
    "ast_sb.lobes.model": ["ast_sb.lobes.classifier", "ast_sb.lobes.patches"],
    "ast_sb.training.recipe": [
        "ast_sb.training.dataloaders",
        "ast_sb.training.preparation",
    ],
    "ast_sb.dataio.sharding": ["ast_sb.dataio.shard_writing"],
    "ast_sb.inference.tagging": ["ast_sb.inference.timeline"],
    "ast_sb.inference.fast": ["ast_sb.inference.onednn"],
    "ast_sb.weights.hub": ["ast_sb.weights.published"],
    "ast_sb.cli": ["ast_sb.cli_parser"],
}


def test_names_of_a_split_module_stay_importable_from_it():
    import importlib

    for old, parts in SPLITS.items():
        module = importlib.import_module(old)
        for part in parts:
            new = importlib.import_module(part)
            for name in new.__all__:
                assert getattr(module, name, None) is getattr(new, name), (
                    f"{old}.{name}"
                )
