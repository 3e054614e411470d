"""The kernel's Triton source and PTX, retargeted to TensorRT's arguments (pure).

Inductor's kernel module is read for the kernel's signature, compiler hints and constants, and
re-emitted with its parameters in TensorRT's order (input pointers, the 32-bit scalars, output
pointers) under a plain ``@triton.jit`` (`retargeted_source`). The launch grid comes from
Inductor's own ``GridExpr`` for the kernel's grid type (`launch_grid`); the PTX Triton compiles
loses the hidden parameters TensorRT doesn't pass (`trimmed_ptx`).
"""

import ast
import re
from collections.abc import Mapping, Sequence
from typing import Any

import sympy

from ..errors import AotError
from .expressions import size_expression


def kernel_parameters(source: str, kernel_name: str) -> list[tuple[str, str]]:
    """``[(parameter, type)]`` of a kernel, from ``triton_meta['signature']`` in its source.

    Types are Triton's: ``'*fp32'``, ``'i32'``, ``'constexpr'``...

    Raises:
        AotError: the source has no such kernel or no literal signature.
    """
    meta = _decorator_literal(source, kernel_name, "triton_meta", "signature")
    if not isinstance(meta, dict):
        raise AotError(f"{kernel_name} has no literal triton_meta signature")
    function = _kernel_function(ast.parse(source), kernel_name)
    names = [a.arg for a in function.args.args]
    if names != list(meta):
        raise AotError(f"{kernel_name}'s parameters {names} differ from its signature {list(meta)}")
    return [(name, str(meta[name])) for name in names]


def kernel_attributes(source: str, kernel_name: str) -> dict[tuple[int, ...], list[list[Any]]]:
    """The compiler hints Inductor attached per parameter (``tt.divisibility``...)."""
    configs = _decorator_literal(source, kernel_name, "triton_meta", "configs")
    return dict(configs[0]) if configs else {}


def kernel_constants(source: str, kernel_name: str) -> dict[str, Any]:
    """Parameters Inductor specialised to constants (``triton_meta['constants']``)."""
    return dict(_decorator_literal(source, kernel_name, "triton_meta", "constants") or {})


def _kernel_function(module: ast.Module, kernel_name: str) -> ast.FunctionDef:
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == kernel_name:
            return node
    raise AotError(f"the kernel source defines no {kernel_name}")


def _decorator_literal(source: str, kernel_name: str, keyword: str, key: str) -> Any:
    """One literal entry of a dict keyword of the kernel's heuristics decorator."""
    function = _kernel_function(ast.parse(source), kernel_name)
    for decorator in function.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        for item in decorator.keywords:
            if item.arg != keyword or not isinstance(item.value, ast.Dict):
                continue
            for k, v in zip(item.value.keys, item.value.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == key:
                    try:
                        return ast.literal_eval(v)
                    except ValueError as e:
                        raise AotError(f"{kernel_name}: {keyword}[{key!r}] is not a literal") from e
    return None


def retargeted_source(source: str, kernel_name: str, order: Sequence[str]) -> str:
    """The kernel module's source with the kernel's parameters in ``order`` and plain
    ``@triton.jit``; parameters in ``order`` that the kernel lacks are added (unused pointers).

    Inductor's heuristics decorator is dropped: its autotuning and launcher are what TensorRT
    replaces.
    """
    module = ast.parse(source)
    function = _kernel_function(module, kernel_name)
    existing = {a.arg: a for a in function.args.args}
    constexprs = [a for a in function.args.args if a.arg not in order]
    function.args.args = [existing.get(name, ast.arg(arg=name)) for name in order] + constexprs
    function.decorator_list = [ast.Attribute(ast.Name("triton", ast.Load()), "jit", ast.Load())]
    return ast.unparse(ast.fix_missing_locations(module))


# --- the launch grid (pure) ----------------------------------------------------------------------


def launch_grid(
    grid_type: str, config: Mapping[str, int], numels: Mapping[str, sympy.Expr]
) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    """Inductor's grid for a kernel of ``grid_type`` under ``config``, over the numels.

    Uses Inductor's own ``GridExpr`` classes. An empty grid (numel 0) stays 0 here;
    `AotKernel.launch_dims` raises every dim to at least 1.

    Raises:
        AotError: an unknown grid type, one that needs precomputed values, or an expression
            this module can't read.
    """
    from torch._inductor.runtime import triton_heuristics

    grid_class = getattr(triton_heuristics, grid_type, None)
    if grid_type not in ("Grid1D", "Grid2D", "Grid3D") or grid_class is None:
        raise AotError(f"Inductor grid type {grid_type} is not supported by AOT plugins")
    grid = grid_class(inductor_meta={"grid_type": grid_type}, mode="python")
    grid.generate(dict(config))
    if grid.prefix:
        raise AotError(f"Inductor grid {grid_type} needs precomputed values {grid.prefix}")
    values = {**{k: sympy.Integer(v) for k, v in config.items()}, **numels}
    dims = []
    for text in (grid.x_grid, grid.y_grid, grid.z_grid):
        expression = size_expression(ast.parse(str(text), mode="eval").body, values)
        dims.append(expression)
    return dims[0], dims[1], dims[2]


# --- PTX -----------------------------------------------------------------------------------------

_ENTRY = re.compile(r"\.entry\s+(?P<name>\w+)\s*\((?P<params>[^)]*)\)", re.S)


def entry_parameters(ptx: str, name: str) -> list[str]:
    """The parameter names of a PTX entry."""
    for match in _ENTRY.finditer(ptx):
        if match.group("name") == name:
            return re.findall(r"\.param\s+[^,]*?\s(\w+)\s*(?:,|$)", match.group("params").strip())
    raise AotError(f"the PTX has no entry {name}")


def trimmed_ptx(ptx: str, name: str, expected: int) -> str:
    """The PTX with the entry's trailing unused parameters removed, so it takes exactly
    TensorRT's ``expected`` arguments.

    Triton 3.x appends hidden scratch-pointer parameters (global and profile scratch) to every
    entry. TensorRT passes only inputs, extra args and outputs; the driver would read pointers
    past the end of its argument array. They are dropped when nothing reads them.

    Raises:
        AotError: fewer parameters than expected, or a surplus one is read by the kernel.
    """
    parameters = entry_parameters(ptx, name)
    if len(parameters) < expected:
        raise AotError(f"{name} takes {len(parameters)} parameters, TensorRT passes {expected}")
    surplus = parameters[expected:]
    match = next(m for m in _ENTRY.finditer(ptx) if m.group("name") == name)
    rest = ptx[match.end() :]
    used = [p for p in surplus if re.search(rf"\[{re.escape(p)}\]", rest)]
    if used:
        raise AotError(f"{name} reads its hidden parameters {used}, which TensorRT won't pass")
    if not surplus:
        return ptx
    declarations = [d.strip() for d in match.group("params").split(",")][:expected]
    header = f".entry {name}(\n\t" + ",\n\t".join(declarations) + "\n)"
    return ptx[: match.start()] + header + rest
