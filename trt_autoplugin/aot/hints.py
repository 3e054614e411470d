"""The sizes a region's kernel is compiled, tuned and checked at (pure).

The region's symbolic dims range over what export allowed (`symbol_ranges`). Inductor derives
its configs from the sizes it compiles at, so those are large (`compile_hints`); the kernel is
then checked on sizes that catch edge cases: 0, 1, odd sizes and the top of the range
(`check_cases`).
"""

import math
from collections.abc import Mapping, Sequence

import sympy
import torch

from ..outline import RegionBody, TensorSpec

# Where a dynamic dim has no upper bound, the check and the compile hint stop here.
UNBOUNDED_CHECK_SIZE = 4096
# Configs are compiled for and timed at sizes whose inputs hold about this many bytes; a
# second descent at the small size finds the config for launch-latency-bound profiles.
TUNING_BYTES = 256 << 20
SMALL_TUNING_BYTES = 4 << 20


def symbol_ranges(body: RegionBody) -> dict[sympy.Symbol, tuple[int, int | None]]:
    """``{symbol: (lower, upper or None)}`` of the region's input dims, from its ShapeEnv."""
    ranges: dict[sympy.Symbol, tuple[int, int | None]] = {}
    for node in body.graph_module.graph.find_nodes(op="placeholder"):
        value = node.meta.get("val")
        for size in getattr(value, "shape", ()):
            if not isinstance(size, torch.SymInt):
                continue
            expression = size.node.expr
            env = size.node.shape_env
            for symbol in expression.free_symbols:
                bounds = env.var_to_range.get(symbol)
                upper = None if bounds is None or not bounds.upper.is_finite else int(bounds.upper)
                ranges[symbol] = (0, upper)
    for spec in body.input_specs:
        for dim in spec.shape:
            for symbol in getattr(dim, "free_symbols", ()):
                ranges.setdefault(symbol, (0, None))
    return ranges


def compile_hints(
    ranges: Mapping[sympy.Symbol, tuple[int, int | None]],
    specs: Sequence[TensorSpec] = (),
    *,
    budget_bytes: int = TUNING_BYTES,
) -> dict[sympy.Symbol, int]:
    """A concrete value per symbol to compile and tune with.

    Large, because Inductor derives its configs from these sizes and `tuning.tactic_candidates`
    times them there: the top of the range, halved until the inputs ``specs`` hold at most
    ``budget_bytes``. Distinct, so duck sizing merges no dims the region keeps apart. Never 0
    or 1, which Dynamo specialises.
    """
    ordered = sorted(ranges.items(), key=lambda kv: str(kv[0]))
    tops = {s: UNBOUNDED_CHECK_SIZE if upper is None else upper for s, (_, upper) in ordered}
    while input_bytes(specs, tops) > budget_bytes and max(tops.values(), default=2) > 2:
        tops = {s: max(v // 2, 2) for s, v in tops.items()}
    hints = {}
    for offset, (symbol, (_, upper)) in enumerate(ordered):
        value = tops[symbol] - offset if tops[symbol] - offset >= 2 else 2 + offset
        hints[symbol] = value if upper is None else max(min(value, upper), 2)
    return hints


def input_bytes(specs: Sequence[TensorSpec], values: Mapping[sympy.Symbol, int]) -> int:
    """The bytes tensors of ``specs`` hold at the symbols' ``values``."""
    shapes = concrete_shapes(specs, values)
    return sum(math.prod(s) * spec.dtype.itemsize for s, spec in zip(shapes, specs, strict=True))


def concrete_shapes(
    specs: Sequence[TensorSpec], values: Mapping[sympy.Symbol, int]
) -> list[tuple[int, ...]]:
    """The specs' shapes with each symbol replaced by its value."""
    return [
        tuple(d if isinstance(d, int) else int(sympy.sympify(d).subs(values)) for d in spec.shape)
        for spec in specs
    ]


def check_cases(
    ranges: Mapping[sympy.Symbol, tuple[int, int | None]], hints: Mapping[sympy.Symbol, int]
) -> list[dict[sympy.Symbol, int]]:
    """Symbol values to check a kernel on: 0, 1, small odd sizes, the compile hint, the top of
    the range; symbols are offset from each other so no two dims coincide by accident."""
    if not ranges:
        return [{}]
    cases = []
    for base in (0, 1, 3, 7, 33, 257, None, "top"):
        case = {}
        for offset, (symbol, (_, upper)) in enumerate(
            sorted(ranges.items(), key=lambda kv: str(kv[0]))
        ):
            top = UNBOUNDED_CHECK_SIZE if upper is None else upper
            if base is None:
                value = hints[symbol]
            elif base == "top":
                value = top
            else:
                value = int(base) + (2 * offset if base > 1 else 0)
            case[symbol] = min(value, top)
        if case not in cases:
            cases.append(case)
    return cases
