"""The package's imports only look down the pipeline, and nothing imports in a circle.

Every import of a ``trt_autoplugin`` module, at module level or inside a function, is read
from the source (nothing is imported). Each module has a rank in `RANKS`: a module may import
modules of its own rank or lower, never higher, so the analysis stages never reach the
TensorRT layer and the kernel layer never reaches the plugin layer. A new module must be given
a rank here, which is where its place in the pipeline gets decided.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "trt_autoplugin"

# Lowest first. Modules of one rank may import each other (acyclically).
LAYERS: list[tuple[str, list[str]]] = [
    ("shared helpers", ["errors", "graph", "limits", "probes", "handles", "refusal", "examples"]),
    ("files and shapes", ["snapshot", "archive", "shape_expr", "snapshot_build"]),
    ("Torch-TensorRT's registry", ["torch_tensorrt_registry"]),
    ("support", ["support", "data_dependent"]),
    ("partition", ["partition", "segments"]),
    ("outline", ["outline"]),
    ("what a plugin can take", ["pluggable"]),
    ("report", ["report"]),
    ("pipeline and saved sets", ["pipeline", "serialize"]),
    ("kernels", ["output_writes", "jit_graphs", "jit", "aot"]),
    ("TensorRT plugin", ["plugin"]),
    ("Torch-TensorRT converter", ["converter"]),
    ("lowering pass", ["lowering"]),
    ("entry points", ["cli", "__init__"]),
]
RANKS = {module: rank for rank, (_, modules) in enumerate(LAYERS) for module in modules}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__") or "__init__"


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imported(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The package modules a file imports, resolved to names like 'aot.build' or 'support'."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if not (node.module or "").startswith("trt_autoplugin"):
                    continue
                base = (node.module or "").removeprefix("trt_autoplugin").lstrip(".")
            else:
                parts = [p for p in package.split(".") if p and p != "__init__"]
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                found.add(candidate if candidate in modules else base or "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("trt_autoplugin."):
                    found.add(alias.name.removeprefix("trt_autoplugin."))
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(path, name, modules) for name, path in modules.items()}


def _rank(module: str) -> int:
    top = module.split(".")[0]
    if top not in RANKS:
        pytest.fail(f"trt_autoplugin/{top} has no layer: give it a rank in tests/test_layers.py")
    return RANKS[top]


def test_every_module_has_a_layer() -> None:
    for module in _graph():
        _rank(module)


def test_imports_only_look_down() -> None:
    upward = [
        f"{module} ({LAYERS[_rank(module)][0]}) imports {target} ({LAYERS[_rank(target)][0]})"
        for module, targets in _graph().items()
        for target in sorted(targets)
        if module.split(".")[0] != target.split(".")[0] and _rank(target) > _rank(module)
    ]
    assert upward == []


def test_no_import_circle() -> None:
    graph = _graph()
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, " -> ".join(cycle)


def test_the_reader_sees_real_imports() -> None:
    graph = _graph()
    assert "converter" in graph["lowering"]
    assert "aot.kernel" in graph["aot.build"] or "aot.hints" in graph["aot.build"]
    assert {"outline", "partition"} <= graph["pipeline"]


def test_no_module_has_more_than_700_lines() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > 700
    }
    assert long == {}, "split them along their seams (STYLE.md)"
