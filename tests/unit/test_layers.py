"""The layers of docs/extending.md hold: no import circle anywhere in the package, and the pure
layers (facts, rules) load none of the heavy or I/O libraries.

The direction of imports between layers is import-linter's contract (pyproject.toml, run by
`make lint`); pytest imported outside smokegate/pytest_plugin/ is ruff's TID251. This test
covers what neither sees: a circle between two modules of one layer (two modules of the
plugin importing each other, say), in-function imports included, and what importing a pure
module really loads at run time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("pytest", "_pytest", "boto3", "botocore", "cryptography", "requests.sessions", "moto")


def _import_graph() -> dict[str, set[str]]:
    """Every import that runs, in-function ones included; those under `if TYPE_CHECKING:`
    never run (they only name types for annotations), so they make no circle."""
    graph = grimp.build_graph("smokegate", exclude_type_checking_imports=True, cache_dir=None)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_circle() -> None:
    graph = _import_graph()
    assert "smokegate.pytest_plugin.plugin" in graph  # the graph saw the whole package
    assert _circles(graph) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]


def test_no_module_of_the_plugin_imports_its_entry_module() -> None:
    """keys.py holds what the plugin's modules share, so none needs the entry module."""
    graph = _import_graph()
    importers = {m for m, deps in graph.items() if "smokegate.pytest_plugin.plugin" in deps}
    assert importers == set()


def test_pure_modules_load_no_heavy_library() -> None:
    """Importing every fact and rule module, in a fresh interpreter, loads neither pytest,
    boto3, requests' session machinery, moto nor cryptography."""
    modules = sorted(
        m for m in _import_graph() if m.startswith(("smokegate.facts", "smokegate.rules"))
    )
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(h for h in {HEAVY!r} if h in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    assert json.loads(done.stdout) == []
    assert len(modules) >= 9  # facts.http, .tls, .iam and the six rule modules at least
