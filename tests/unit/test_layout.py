"""The house's rules (issue 21), checked on the source: imports go one way (orchestration ->
assets -> sources), no import cycles, demo code loads only with the demo, no module over 400
lines."""

import ast
import os
from pathlib import Path

import pytest

# under `make mutation` the sources are mutmut's rewritten copies, not the layout under review
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("MUTANT_UNDER_TEST")), reason="mutmut's copy of the sources"
)

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("sources", "assets", "orchestration")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _internal(names: set[str], modules: dict[str, Path]) -> set[str]:
    return {n for n in names if n in modules and n not in PACKAGES}


def test_imports_go_one_way():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        imported = _imports(path)
        layer = name.split(".")[0]
        forbidden = {
            "sources": ("assets", "orchestration", "dagster"),
            "assets": ("orchestration",),
        }
        for target in imported:
            if target.split(".")[0] in forbidden.get(layer, ()) or (
                layer == "sources" and target.startswith("dagster")
            ):
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_no_import_cycles():
    modules = _modules()
    graph = {name: _internal(_imports(path), modules) - {name} for name, path in modules.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_demo_code_loads_only_with_the_demo():
    """Production modules never import sources.demo at module level (the demo command and the
    tests import it when they need it)."""
    modules = _modules()
    wrong = [
        name
        for name, path in modules.items()
        if not name.startswith("sources.demo")
        and any(i.startswith("sources.demo") for i in _imports(path, top_level_only=True))
    ]
    assert wrong == []


def test_no_module_is_over_400_lines():
    long = {
        str(path.relative_to(REPO)): n
        for path in _modules().values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
