"""Data-dependent sizes: the upper bound of every size only the data decides, and the size
tensors a plugin declares for them.

``masked_select``, ``nonzero``, ``unique`` and boolean-mask indexing give outputs whose length
is an unbacked symbol (``u0``): no shape expression of the inputs states it. TensorRT's Quick
Deployable Plugins still take such an output (``trtp.size_tensor(opt, upper_bound)``, TensorRT
10.6 on): the plugin declares an int32 size tensor whose value is the real extent, TensorRT
reserves room for ``upper_bound`` and reads the extent after the plugin ran. So a region may
end in a data-dependent output when every such extent has an upper bound written in the
region's input dims. `BOUNDS` holds them per op, from the op's semantics; the fake kernel's
value range (``torch.export`` records one when the input sizes are bounded) is the fallback.

Pure analysis over graphs and bodies: no TensorRT.
"""

import dataclasses
import fractions
from collections.abc import Callable, Mapping, Sequence

import sympy
import torch
import torch.fx
from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols
from torch.utils._sympy.functions import FloorDiv

from .graph import target_name
from .limits import INT32_MAX
from .refusal import Refusal, RefusalKind

aten = torch.ops.aten


@dataclasses.dataclass(frozen=True, slots=True)
class SizeTensor:
    """An output extent TensorRT learns at run time from one of the plugin's size tensors.

    Attributes:
        extent: the output dim it stands for (``u0``, or ``2*u0`` when the region scales it),
            in the region's data-dependent symbols.
        upper_bound: the most it can be, in the region's input dims' symbols.
        source: where the bound comes from, for reports ("masked_select: at most the
            broadcast input's element count").
    """

    extent: sympy.Expr
    upper_bound: sympy.Expr
    source: str

    def __post_init__(self) -> None:
        if not free_unbacked_symbols(self.extent):
            raise ValueError(f"size tensor extent {self.extent} is not data-dependent")


# --- the bound table -----------------------------------------------------------------------------


def _shape(node: object) -> tuple[sympy.Expr, ...] | None:
    value = node.meta.get("val") if isinstance(node, torch.fx.Node) else None
    if not isinstance(value, torch.Tensor):
        return None
    return tuple(
        sympy.sympify(d.node.expr if isinstance(d, torch.SymInt) else d) for d in value.shape
    )


def _numel(shape: Sequence[sympy.Expr]) -> sympy.Expr:
    return sympy.Mul(*shape) if shape else sympy.Integer(1)


def _argument(node: torch.fx.Node, index: int, name: str, default: object = None) -> object:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _input_numel(node: torch.fx.Node) -> sympy.Expr | None:
    shape = _shape(_argument(node, 0, "self"))
    return None if shape is None else _numel(shape)


def _broadcast_numel(node: torch.fx.Node) -> sympy.Expr | None:
    shapes = [_shape(_argument(node, 0, "self")), _shape(_argument(node, 1, "mask"))]
    if any(s is None for s in shapes):
        return None
    rank = max(len(s) for s in shapes)
    padded = [(sympy.Integer(1),) * (rank - len(s)) + tuple(s) for s in shapes]
    # A broadcast dim is the larger one (the other is 1 or equal): Max states it without
    # knowing which, and TensorRT has max.
    return _numel([sympy.Max(*dims) for dims in zip(*padded, strict=True)])


def _mask_index_numel(node: torch.fx.Node) -> sympy.Expr | None:
    indices = _argument(node, 1, "indices") or []
    masks = [
        _shape(i)
        for i in indices
        if isinstance(i, torch.fx.Node)
        and isinstance(i.meta.get("val"), torch.Tensor)
        and i.meta["val"].dtype in (torch.bool, torch.uint8)
    ]
    if not masks or any(m is None for m in masks):
        return None
    # Each mask becomes its nonzero indices, broadcast together: the count is at most the
    # largest mask's element count.
    return sympy.Max(*(_numel(m) for m in masks))


def _unique_extent(node: torch.fx.Node) -> sympy.Expr | None:
    shape = _shape(_argument(node, 0, "self"))
    if shape is None:
        return None
    if node.target is aten._unique2.default:
        dim = None
    elif node.target is aten.unique_consecutive.default:
        dim = _argument(node, 3, "dim")
    else:
        dim = _argument(node, 1, "dim")
    if isinstance(dim, int) and shape:
        return shape[dim % len(shape)]
    return _numel(shape)


@dataclasses.dataclass(frozen=True, slots=True)
class _Rule:
    bound: Callable[[torch.fx.Node], sympy.Expr | None]
    source: str


# The upper bound of the one size each op leaves to the data, in its inputs' sizes.
BOUNDS: Mapping[object, _Rule] = {
    aten.nonzero.default: _Rule(_input_numel, "nonzero: at most the input's element count"),
    aten.masked_select.default: _Rule(
        _broadcast_numel, "masked_select: at most the broadcast input's element count"
    ),
    aten.index.Tensor: _Rule(
        _mask_index_numel, "boolean-mask indexing: at most the mask's element count"
    ),
    aten._unique2.default: _Rule(_unique_extent, "unique: at most the input's element count"),
    aten.unique_consecutive.default: _Rule(
        _unique_extent, "unique_consecutive: at most the input's element count (or dim size)"
    ),
    aten.unique_dim.default: _Rule(_unique_extent, "unique(dim=d): at most the size of dim d"),
    aten.unique_dim_consecutive.default: _Rule(
        _unique_extent, "unique_consecutive(dim=d): at most the size of dim d"
    ),
}


# --- what a node defines, and its bound ----------------------------------------------------------


def _value_symbols(value: object) -> set[sympy.Symbol]:
    if isinstance(value, torch.Tensor):
        return set(free_unbacked_symbols(value.shape))
    if isinstance(value, list | tuple):
        return set().union(*(_value_symbols(v) for v in value)) if value else set()
    return set()


def defined_symbols(node: torch.fx.Node) -> set[sympy.Symbol]:
    """The unbacked symbols a node's output introduces (not those it inherits from inputs)."""
    bindings = node.meta.get("unbacked_bindings")
    if bindings:
        return set(bindings)
    inherited = set().union(*(_value_symbols(a.meta.get("val")) for a in node.all_input_nodes))
    return _value_symbols(node.meta.get("val")) - inherited


def _value_range_upper(node: torch.fx.Node, symbol: sympy.Symbol) -> int | None:
    value = node.meta.get("val")
    leaves = value if isinstance(value, list | tuple) else [value]
    for leaf in leaves:
        shape_env = getattr(getattr(leaf, "fake_mode", None), "shape_env", None)
        if shape_env is None or symbol not in shape_env.var_to_range:
            continue
        upper = shape_env.var_to_range[symbol].upper
        # torch's int_oo claims is_finite; only a sympy Integer is a real bound.
        if upper.is_Integer and int(upper) <= INT32_MAX:
            return int(upper)
    return None


def node_bound(node: torch.fx.Node, symbol: sympy.Symbol) -> tuple[sympy.Expr, str] | None:
    """The upper bound of a data-dependent size the node defines, and where it comes from.

    From `BOUNDS` (in the node's input sizes), else from the value range export recorded (a
    constant), else None.
    """
    rule = BOUNDS.get(node.target)
    if rule is not None:
        bound = rule.bound(node)
        if bound is not None:
            return bound, rule.source
    upper = _value_range_upper(node, symbol)
    if upper is not None:
        return sympy.Integer(upper), f"{target_name(node.target)}: the value range export recorded"
    return None


def unbounded_reason(node: torch.fx.Node) -> Refusal | None:
    """Why a node's data-dependent output sizes can't be declared to TensorRT, or None."""
    symbols = sorted(defined_symbols(node), key=str)
    missing = [s for s in symbols if node_bound(node, s) is None]
    if not missing:
        return None
    names = ", ".join(str(s) for s in missing)
    message = (
        f"data-dependent output shape (unbacked symbol {names}) with no upper bound in the input "
        f"sizes: {target_name(node.target)} is not in trt_autoplugin's bound table and export "
        "recorded no finite value range, so a TensorRT size tensor can't be declared for it"
    )
    return Refusal(RefusalKind.UNBOUNDED_DATA_DEPENDENT, message, node.name)


def opt_extent(size: SizeTensor, fraction: float) -> sympy.Expr:
    """The extent TensorRT optimizes for at ``fraction`` of the upper bound, rounded up.

    Raises:
        ValueError: ``fraction`` is not in (0, 1].
    """
    if not 0 < fraction <= 1:
        raise ValueError(
            f"a size tensor's opt is a fraction of its bound in (0, 1], not {fraction}"
        )
    ratio = fractions.Fraction(fraction).limit_denominator(1024)
    return FloorDiv(size.upper_bound * ratio.numerator + ratio.denominator - 1, ratio.denominator)


# --- a region's size tensors ---------------------------------------------------------------------


def size_tensors(
    graph: torch.fx.Graph,
    input_shapes: Sequence[Sequence[object]],
    output_shapes: Sequence[Sequence[object]],
) -> tuple[SizeTensor, ...]:
    """The size tensors a region's plugin declares: one per distinct output dim that depends on
    sizes the region itself makes from data, in order of first appearance.

    Args:
        graph: the region body's graph (its nodes' ``meta["val"]`` give the sizes).
        input_shapes: the region's symbolic input shapes.
        output_shapes: the region's symbolic output shapes.

    Returns:
        The size tensors; empty when no output is data-dependent.

    Raises:
        ValueError: an extent has no upper bound in the input sizes, or one that can't be
            declared (not non-decreasing in the data-dependent sizes, or past int32); the
            message says which dim and why.
    """
    known = {s for shape in input_shapes for d in shape for s in sympy.sympify(d).free_symbols}
    definers: dict[sympy.Symbol, torch.fx.Node] = {}
    for node in graph.nodes:
        if node.op == "call_function":
            for symbol in defined_symbols(node):
                definers.setdefault(symbol, node)
    bounds = _Bounds(known, definers)
    found: dict[sympy.Expr, SizeTensor] = {}
    for index, shape in enumerate(output_shapes):
        for dim_index, dim in enumerate(shape):
            extent = sympy.sympify(dim)
            if extent in found or not (free_unbacked_symbols(extent) - known):
                continue
            where = f"output {index} dim {dim_index} ({extent})"
            found[extent] = bounds.size_tensor(extent, where)
    return tuple(found.values())


class _Bounds:
    """Upper bounds of a region's data-dependent symbols, in its input symbols (memoized)."""

    def __init__(self, known: set[sympy.Symbol], definers: Mapping[sympy.Symbol, torch.fx.Node]):
        self.known = known
        self.definers = definers
        self.memo: dict[sympy.Symbol, tuple[sympy.Expr, str]] = {}

    def size_tensor(self, extent: sympy.Expr, where: str) -> SizeTensor:
        if not is_non_decreasing(extent):
            raise ValueError(
                f"{where} is not a sum or product of data-dependent sizes with positive "
                "coefficients, so bounding its sizes does not bound it"
            )
        inner = sorted(free_unbacked_symbols(extent) - self.known, key=str)
        resolved = [self.bound(symbol, where) for symbol in inner]
        bounds = {symbol: bound for symbol, (bound, _) in zip(inner, resolved, strict=True)}
        upper = sympy.sympify(extent).subs(bounds)
        if upper.is_Integer and int(upper) > INT32_MAX:
            raise ValueError(f"{where}: its upper bound {upper} exceeds TensorRT's int32 sizes")
        source = "; ".join(dict.fromkeys(text for _, text in resolved))
        return SizeTensor(extent, upper, source)

    def bound(self, symbol: sympy.Symbol, where: str) -> tuple[sympy.Expr, str]:
        if symbol in self.memo:
            return self.memo[symbol]
        node = self.definers.get(symbol)
        if node is None:
            raise ValueError(f"{where}: no node of the region defines {symbol}")
        found = node_bound(node, symbol)
        if found is None:
            raise ValueError(f"{where}: {unbounded_reason(node)}")
        expr, source = found
        inner = sorted(free_unbacked_symbols(expr) - self.known, key=str)
        if inner and not is_non_decreasing(expr):
            raise ValueError(f"{where}: the bound {expr} of {symbol} can't be composed")
        for other in inner:
            expr = expr.subs(other, self.bound(other, where)[0])
        self.memo[symbol] = (expr, source)
        return expr, source


def is_non_decreasing(expr: object) -> bool:
    """Whether a size expression can only grow when any of its symbols grows: built from
    symbols and non-negative integers by ``+``, ``*``, max, min and floor division by a
    positive constant. Bounds then compose by substitution."""
    expr = sympy.sympify(expr)
    if expr.is_Symbol:
        return True
    if expr.is_Number:
        return bool(expr.is_Integer and expr >= 0)
    if isinstance(expr, FloorDiv):
        divisor = expr.args[1]
        return is_non_decreasing(expr.args[0]) and bool(divisor.is_Integer and divisor > 0)
    if isinstance(expr, sympy.Add | sympy.Mul | sympy.Max | sympy.Min):
        return all(is_non_decreasing(a) for a in expr.args)
    return False
