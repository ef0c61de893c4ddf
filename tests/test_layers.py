"""The packages form one stack, each importing only those below it, and no module imports itself
back through others: every import counts, those inside functions ("lazy") too.

    sparse_edge  (commands, service, benchmarks, reports)
      -> convert  (TFLite and MediaPipe files, parity, the page server)
        -> training  (data, recipes, the model folder)
          -> model  (the architecture)
            -> edge_runtime  (numpy + a TFLite interpreter: the device)
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STACK = ("edge_runtime", "model", "training", "convert", "sparse_edge")   # bottom first


def module_files() -> dict[str, Path]:
    files = {}
    for package in STACK:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def imports_of(name: str, path: Path, known: dict) -> set[str]:
    """The project modules ``name`` imports anywhere in its file (module level, functions, branches)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:   # relative: from the module's package, up level - 1 packages
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names]   # a submodule, or a name in base
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


FILES = module_files()
GRAPH = {name: imports_of(name, path, FILES) for name, path in FILES.items()}


def layer(module: str) -> int:
    return STACK.index(module.split(".")[0])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each a circle of imports."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walk_sees_every_package_and_lazy_imports():
    assert {layer(m) for m in FILES} == set(range(len(STACK)))
    assert "training.hybrid" in GRAPH["training.saved"]          # imported inside ModelFolder.load_keras
    assert "training.sources" in GRAPH["convert.parity"]         # imported inside run_parity


def test_no_package_imports_one_above_it():
    upward = [f"{m} -> {t}" for m, targets in sorted(GRAPH.items()) for t in sorted(targets) if layer(t) > layer(m)]
    assert upward == []


def test_no_circle_of_imports():
    assert cycles(GRAPH) == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_circle_finder_finds_circles(graph, expected):
    assert cycles(graph) == expected


def test_a_lazy_upward_import_is_caught(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from sparse_edge.cli import main\n    from . import strict\n")
    found = imports_of("model.mod", path, {**FILES, "model.mod": path})
    assert found == {"sparse_edge.cli", "model.strict"}
    assert max(layer(t) for t in found) > layer("model.mod")
