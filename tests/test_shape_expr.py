"""Tests for `trt_autoplugin.shape_expr`: symbolic torch sizes -> shape-expression backends."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest
import sympy
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from strategies_shape import (
    SYMBOLS,
    size_expressions,
    sizes_in_ranges,
    symbol_values,
    sympy_value,
)
from torch.export import Dim
from torch.utils._sympy import functions as torch_sympy

from trt_autoplugin.errors import ShapeTranslationError
from trt_autoplugin.graph import symbolic_shape
from trt_autoplugin.shape_expr import (
    IntArithmetic,
    SymbolicDim,
    infer_output_shapes,
    symbol_sources,
    translate_dim,
    translate_shapes,
    untranslatable_reason,
)

S0, S1, S2 = SYMBOLS

# ---------------------------------------------------------------------------------------------
# An emulator of TensorRT's documented ShapeExpr rules (reference/tensorrt-qdp.md, section 5).
#
# It is NOT TensorRT: it exists to catch translations that break the API's rules (reflected
# operators, an int on the left, unary minus, /, %, **, comparisons used as bools, hashing,
# sympy integers instead of Python ints) on a CPU-only machine. Values are tracked so results can
# be checked too. The real check against tensorrt.plugin is a @pytest.mark.tensorrt test.
# ---------------------------------------------------------------------------------------------


class EmulatedShapeExpr:
    """A ShapeExpr stand-in that raises wherever the documented API would (or might)."""

    __slots__ = ("value",)
    __hash__ = None  # type: ignore[assignment]  # ShapeExpr defines __eq__ without __hash__

    def __init__(self, value: int) -> None:
        self.value = value

    def __add__(self, other: object) -> "EmulatedShapeExpr":
        return EmulatedShapeExpr(self.value + _right_operand(other))

    def __sub__(self, other: object) -> "EmulatedShapeExpr":
        return EmulatedShapeExpr(self.value - _right_operand(other))

    def __mul__(self, other: object) -> "EmulatedShapeExpr":
        return EmulatedShapeExpr(self.value * _right_operand(other))

    def __floordiv__(self, other: object) -> "EmulatedShapeExpr":
        return EmulatedShapeExpr(self.value // _right_operand(other))

    def __eq__(self, other: object) -> "EmulatedShapeExpr":  # type: ignore[override]
        return EmulatedShapeExpr(int(self.value == _right_operand(other)))

    def __lt__(self, other: object) -> "EmulatedShapeExpr":
        return EmulatedShapeExpr(int(self.value < _right_operand(other)))

    def _unsupported(self, *args: object) -> None:
        raise TypeError("TensorRT ShapeExpr does not support this operation")

    __radd__ = __rsub__ = __rmul__ = __rfloordiv__ = _unsupported
    __truediv__ = __rtruediv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = _unsupported
    __neg__ = __pos__ = __abs__ = _unsupported
    __gt__ = __le__ = __ge__ = __ne__ = _unsupported
    __bool__ = __int__ = __index__ = __float__ = _unsupported


def _right_operand(other: object) -> int:
    if isinstance(other, EmulatedShapeExpr):
        return other.value
    if type(other) is int:  # not bool, not sympy.Integer, not numpy
        return other
    raise TypeError(f"ShapeExpr operand must be a ShapeExpr or int, got {type(other).__name__}")


def _left_operand(other: object) -> int:
    if not isinstance(other, EmulatedShapeExpr):
        raise TypeError(f"the left operand must be a ShapeExpr, got {type(other).__name__}")
    return other.value


def emulated_cdiv(left: object, right: object) -> EmulatedShapeExpr:
    """trtp.cdiv, strict: the translation must put the ShapeExpr on the left."""
    return EmulatedShapeExpr(-(-_left_operand(left) // _right_operand(right)))


def emulated_max(left: object, right: object) -> EmulatedShapeExpr:
    return EmulatedShapeExpr(max(_left_operand(left), _right_operand(right)))


def emulated_min(left: object, right: object) -> EmulatedShapeExpr:
    return EmulatedShapeExpr(min(_left_operand(left), _right_operand(right)))


class EmulatedTrtArithmetic:
    """What plugin.py's TensorRT backend will be, over the emulator instead of ``trtp``."""

    def __init__(self, anchor: EmulatedShapeExpr) -> None:
        self._anchor = anchor

    def constant(self, value: int) -> EmulatedShapeExpr:
        return self._anchor * 0 + value

    def add(self, left: EmulatedShapeExpr, right: EmulatedShapeExpr | int) -> EmulatedShapeExpr:
        return left + right

    def sub(self, left: EmulatedShapeExpr, right: EmulatedShapeExpr | int) -> EmulatedShapeExpr:
        return left - right

    def mul(self, left: EmulatedShapeExpr, right: EmulatedShapeExpr | int) -> EmulatedShapeExpr:
        return left * right

    def floordiv(
        self, left: EmulatedShapeExpr, right: EmulatedShapeExpr | int
    ) -> EmulatedShapeExpr:
        return left // right

    def cdiv(self, left: EmulatedShapeExpr, right: EmulatedShapeExpr | int) -> EmulatedShapeExpr:
        return emulated_cdiv(left, right)

    def max(self, left: EmulatedShapeExpr, right: EmulatedShapeExpr | int) -> EmulatedShapeExpr:
        return emulated_max(left, right)

    def min(self, left: EmulatedShapeExpr, right: EmulatedShapeExpr | int) -> EmulatedShapeExpr:
        return emulated_min(left, right)


def _emulated(values: dict[sympy.Symbol, int]) -> dict[sympy.Symbol, EmulatedShapeExpr]:
    return {symbol: EmulatedShapeExpr(value) for symbol, value in values.items()}


@pytest.mark.parametrize(
    "operation",
    [
        lambda e: 2 * e,
        lambda e: 1 + e,
        lambda e: 5 - e,
        lambda e: -e,
        lambda e: e / 2,
        lambda e: e % 2,
        lambda e: e**2,
        lambda e: hash(e),
        lambda e: bool(e),
        lambda e: e + sympy.Integer(1),
        lambda e: max(e, 3),
        lambda e: emulated_cdiv(4, e),
    ],
)
def test_emulator_rejects_what_tensorrt_rejects(
    operation: Callable[[EmulatedShapeExpr], object],
) -> None:
    with pytest.raises(TypeError):
        operation(EmulatedShapeExpr(3))


# ---------------------------------------------------------------------------------------------
# Random expressions: the translation agrees with sympy's own evaluation.
# ---------------------------------------------------------------------------------------------


@given(data=st.data())
def test_int_translation_matches_sympy(data: st.DataObject) -> None:
    values = data.draw(symbol_values(), label="values")
    expr = data.draw(size_expressions(values), label="expr")
    assert translate_dim(expr, values, IntArithmetic()) == sympy_value(expr, values)


def test_reference_value_does_not_rebuild_nested_floordiv() -> None:
    # Rebuilt without its Identity, this becomes FloorDiv(s0, 2 * (s2 - 1)): torch rewrites
    # (a // b) // c as a // (b * c), wrong for c = -1. Its value is (1 // 2) // -1 == 0, not
    # 1 // -2 == -1; a reference that rebuilt it failed test_int_translation_matches_sympy.
    expr = torch_sympy.FloorDiv(torch_sympy.Identity(torch_sympy.FloorDiv(S0, 2)), S2 - 1)
    values = {S0: 1, S1: 1, S2: 0}
    assert sympy_value(expr, values) == 0
    assert translate_dim(expr, values, IntArithmetic()) == 0


@given(data=st.data())
def test_emulated_trt_translation_follows_rules_and_matches_sympy(data: st.DataObject) -> None:
    values = data.draw(symbol_values(), label="values")
    expr = data.draw(size_expressions(values), label="expr")
    arith = EmulatedTrtArithmetic(anchor=EmulatedShapeExpr(values[S0]))
    result = translate_dim(expr, _emulated(values), arith)
    assert isinstance(result, EmulatedShapeExpr)
    assert result.value == sympy_value(expr, values)


@given(data=st.data())
def test_translate_shapes_reads_symbols_from_input_dims(data: st.DataObject) -> None:
    values = data.draw(symbol_values(), label="values")
    outputs = [
        tuple(data.draw(st.lists(size_expressions(values, max_depth=3), max_size=3)))
        for _ in range(data.draw(st.integers(min_value=1, max_value=2)))
    ]
    # Every symbol is a bare dim of some input, next to static dims and a derived one.
    inputs: list[tuple[SymbolicDim, ...]] = [(S0, 3, 2 * S1 + 1), (S1,), (4, S2, S0)]
    concrete = [tuple(sympy_value(sympy.sympify(dim), values) for dim in s) for s in inputs]
    expected = [tuple(sympy_value(dim, values) for dim in shape) for shape in outputs]
    assert infer_output_shapes(outputs, inputs, concrete) == expected
    emulated_dims = [[EmulatedShapeExpr(size) for size in shape] for shape in concrete]
    arith = EmulatedTrtArithmetic(anchor=emulated_dims[0][0])
    translated = translate_shapes(outputs, inputs, emulated_dims, arith)
    assert [tuple(dim.value for dim in shape) for shape in translated] == expected
    assert untranslatable_reason(outputs, inputs) is None


@given(
    scale=st.integers(min_value=1, max_value=4),
    offset=st.integers(min_value=-3, max_value=3),
    value=st.integers(min_value=3, max_value=20),
)
def test_symbol_only_in_a_derived_dim_is_recovered(scale: int, offset: int, value: int) -> None:
    # torch.export's derived Dims (2 * k) give input dims like 2*s6 with s6 nowhere bare.
    inputs = [(scale * S0 + offset, 4)]
    outputs = [(S0, 3 * S0 + 1, torch_sympy.FloorDiv(S0, 2))]
    shapes = infer_output_shapes(outputs, inputs, [(scale * value + offset, 4)])
    assert shapes == [(value, 3 * value + 1, value // 2)]


def test_symbol_sources_gives_first_bare_occurrence() -> None:
    inputs = [(2 * S2, 3), (S1, S0), (S0, S2, S1)]
    assert symbol_sources(inputs) == {S1: (1, 0), S0: (1, 1), S2: (2, 1)}


def test_inconsistent_concrete_shapes_are_rejected() -> None:
    inputs = [(S0, 4), (S0 + 1,)]
    with pytest.raises(ValueError, match="input 1 dim 0"):
        infer_output_shapes([(S0,)], inputs, [(5, 4), (7,)])
    with pytest.raises(ValueError, match="input 0 dim 1"):
        infer_output_shapes([(S0,)], inputs, [(5, 3), (6,)])
    with pytest.raises(ValueError, match="rank"):
        infer_output_shapes([(S0,)], inputs, [(5,), (6,)])


def test_ceil_division_spellings_become_cdiv() -> None:
    calls: list[str] = []

    class RecordingArithmetic(IntArithmetic):
        def cdiv(self, left: int, right: int) -> int:
            calls.append("cdiv")
            return super().cdiv(left, right)

    for expr in (
        torch_sympy.CeilDiv(S0, 4),
        -torch_sympy.FloorDiv(-S0, 4),
        torch_sympy.CeilToInt(torch_sympy.IntTrueDiv(S0, 4)),
    ):
        calls.clear()
        assert translate_dim(expr, {S0: 9}, RecordingArithmetic()) == 3
        assert calls == ["cdiv"], expr


# ---------------------------------------------------------------------------------------------
# Real shapes: export small modules once, then compare inferred shapes with eager runs.
# ---------------------------------------------------------------------------------------------


class _OneInput(torch.nn.Module):
    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class _TwoInputs(torch.nn.Module):
    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.fn(x, y)


@dataclass(frozen=True)
class ExportCase:
    """A module, example inputs, and the dims to export as dynamic."""

    name: str
    module: torch.nn.Module
    inputs: tuple[tuple[int, ...], ...]
    dynamic_shapes: tuple[dict[int, object], ...]
    # Largest value drawn above a symbol's lower bound: keeps eager runs small.
    span: int = 40


@dataclass(frozen=True)
class ExportedShapes:
    """What an exported program says about its user inputs and outputs."""

    case: ExportCase
    input_shapes: list[tuple[SymbolicDim, ...]]
    output_shapes: list[tuple[SymbolicDim, ...]]
    ranges: dict[sympy.Symbol, tuple[int, int]] = field(default_factory=dict)


_DYNAMIC = Dim.DYNAMIC
_K = Dim("k", min=2, max=32)

EXPORT_CASES = (
    ExportCase("slice_step", _OneInput(lambda x: x[::3]), ((10, 4),), ({0: _DYNAMIC},)),
    ExportCase("slice_offset_step", _OneInput(lambda x: x[1::3]), ((10, 4),), ({0: _DYNAMIC},)),
    ExportCase("narrow", _OneInput(lambda x: x[2:-1]), ((10, 4),), ({0: _DYNAMIC},)),
    ExportCase("unfold", _OneInput(lambda x: x.unfold(0, 3, 2)), ((10, 4),), ({0: _DYNAMIC},)),
    ExportCase(
        "conv2d_stride",
        torch.nn.Conv2d(3, 4, 3, stride=2, padding=1),
        ((1, 3, 16, 16),),
        ({2: _DYNAMIC, 3: _DYNAMIC},),
    ),
    ExportCase(
        "conv1d_dilation",
        torch.nn.Conv1d(2, 2, 5, stride=3, dilation=2),
        ((1, 2, 32),),
        ({2: _DYNAMIC},),
    ),
    ExportCase(
        "reshape_flat",
        _OneInput(lambda x: x.reshape(-1)),
        ((5, 4, 3),),
        ({0: _DYNAMIC, 1: _DYNAMIC},),
    ),
    ExportCase(
        "cat",
        _TwoInputs(lambda x, y: torch.cat([x, y])),
        ((5, 4), (6, 4)),
        ({0: _DYNAMIC}, {0: _DYNAMIC}),
    ),
    ExportCase(
        "repeat", _OneInput(lambda x: x.repeat(3, 2)), ((5, 4),), ({0: _DYNAMIC, 1: _DYNAMIC},)
    ),
    ExportCase("half", _OneInput(lambda x: x[:, : x.shape[1] // 2]), ((5, 8),), ({1: _DYNAMIC},)),
    ExportCase(
        "avg_pool_ceil",
        _OneInput(lambda x: F.avg_pool1d(x, 4, stride=3, padding=1, ceil_mode=True)),
        ((1, 2, 16),),
        ({2: _DYNAMIC},),
    ),
    ExportCase(
        "max_pool_ceil",
        _OneInput(lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)),
        ((1, 2, 16, 16),),
        ({2: _DYNAMIC, 3: _DYNAMIC},),
    ),
    ExportCase(
        "interpolate_int_scale",
        _OneInput(lambda x: F.interpolate(x, scale_factor=2.0)),
        ((1, 2, 16, 16),),
        ({2: _DYNAMIC},),
    ),
    ExportCase(
        "negated_floordiv",
        _OneInput(lambda x: x.new_zeros(-(-x.shape[0] // 4))),
        ((10, 4),),
        ({0: _DYNAMIC},),
    ),
    ExportCase(
        "math_ceil_floor",
        _OneInput(lambda x: x.new_zeros(math.ceil(x.shape[0] / 4), math.floor(x.shape[0] / 3))),
        ((10, 4),),
        ({0: _DYNAMIC},),
    ),
    ExportCase(
        "sym_max_min",
        _TwoInputs(
            lambda x, y: x.new_zeros(
                torch.sym_max(x.shape[0], y.shape[0]) * 2 + 1, torch.sym_min(x.shape[0], y.shape[0])
            )
        ),
        ((10, 4), (7,)),
        ({0: _DYNAMIC}, {0: _DYNAMIC}),
    ),
    ExportCase(
        "min_literal", _OneInput(lambda x: x[: min(x.shape[0], 5)]), ((10, 4),), ({0: _DYNAMIC},)
    ),
    # Not x[: n % 3 + 1]: export assumes that end is in bounds, which n = 2 breaks.
    ExportCase(
        "mod", _OneInput(lambda x: x.new_zeros(x.shape[0] % 3 + 1)), ((10, 4),), ({0: _DYNAMIC},)
    ),
    ExportCase(
        "python_mod",
        _TwoInputs(lambda x, y: x.new_zeros((x.shape[0] - y.shape[0]) % 5)),
        ((10, 4), (7,)),
        ({0: _DYNAMIC}, {0: _DYNAMIC}),
    ),
    ExportCase(
        "floordiv_by_size",
        _TwoInputs(lambda x, y: x.new_zeros(x.shape[0] // y.shape[0])),
        ((10, 4), (3,)),
        ({0: _DYNAMIC}, {0: _DYNAMIC}),
    ),
    ExportCase(
        "cube",
        _OneInput(lambda x: x.new_zeros(x.shape[0] ** 3)),
        ((10, 4),),
        ({0: _DYNAMIC},),
        span=12,
    ),
    ExportCase("derived_dim", _OneInput(lambda x: x.reshape(-1, 2)), ((10, 4),), ({0: 2 * _K},)),
)


def _exported_shapes(case: ExportCase, *, allow_assertions: bool = False) -> ExportedShapes:
    example = tuple(torch.randn(shape) for shape in case.inputs)
    ep = torch.export.export(case.module, example, dynamic_shapes=case.dynamic_shapes)
    # The shapes hold over the whole range only if export added no runtime assertion.
    assertions = [n for n in ep.graph.nodes if n.target is torch.ops.aten._assert_scalar.default]
    if assertions and not allow_assertions:
        raise AssertionError(f"{case.name}: export added runtime assertions {assertions}")
    placeholders = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    output_node = next(n for n in ep.graph.nodes if n.op == "output")
    ranges = {
        symbol: (int(bounds.lower), min(int(bounds.lower) + case.span, _upper(bounds.upper)))
        for symbol, bounds in ep.range_constraints.items()
        if isinstance(symbol, sympy.Symbol)
    }
    return ExportedShapes(
        case=case,
        input_shapes=[
            symbolic_shape(placeholders[name].meta["val"])
            for name in ep.graph_signature.user_inputs
        ],
        output_shapes=[symbolic_shape(node.meta["val"]) for node in output_node.args[0]],
        ranges=ranges,
    )


def _upper(bound: sympy.Expr) -> int:
    return int(bound) if bound.is_Integer else 1 << 30  # int_oo: unbounded above


@pytest.fixture(scope="module")
def exported() -> dict[str, ExportedShapes]:
    return {case.name: _exported_shapes(case) for case in EXPORT_CASES}


def _concrete(shape: Sequence[SymbolicDim], values: dict[sympy.Symbol, int]) -> tuple[int, ...]:
    return tuple(sympy_value(sympy.sympify(dim), values) for dim in shape)


@pytest.mark.parametrize("name", [case.name for case in EXPORT_CASES])
@given(data=st.data())
def test_inferred_shapes_match_eager(
    exported: dict[str, ExportedShapes], name: str, data: st.DataObject
) -> None:
    shapes = exported[name]
    values = data.draw(sizes_in_ranges(shapes.ranges), label="sizes")
    concrete_inputs = [_concrete(shape, values) for shape in shapes.input_shapes]
    with torch.no_grad():
        result = shapes.case.module(*(torch.randn(shape) for shape in concrete_inputs))
    results = result if isinstance(result, tuple) else (result,)
    expected = [tuple(tensor.shape) for tensor in results]
    assert (
        infer_output_shapes(shapes.output_shapes, shapes.input_shapes, concrete_inputs) == expected
    )
    emulated_dims = [[EmulatedShapeExpr(size) for size in shape] for shape in concrete_inputs]
    arith = EmulatedTrtArithmetic(anchor=emulated_dims[0][0])
    translated = translate_shapes(shapes.output_shapes, shapes.input_shapes, emulated_dims, arith)
    assert [tuple(dim.value for dim in shape) for shape in translated] == expected


def test_real_exports_produce_the_expected_sympy_classes(
    exported: dict[str, ExportedShapes],
) -> None:
    # The classes the translation special-cases, as torch 2.13 emits them for real ops; if a
    # torch upgrade changes that, the translation needs a look.
    def classes(name: str) -> set[str]:
        shapes = exported[name].output_shapes
        return {
            type(node).__name__
            for shape in shapes
            for dim in shape
            if isinstance(dim, sympy.Expr)
            for node in sympy.preorder_traversal(dim)
        }

    assert "FloorDiv" in classes("slice_step")
    assert "Mod" in classes("mod")
    assert "PythonMod" in classes("python_mod")
    assert {"Max", "Min"} <= classes("sym_max_min")
    assert {"CeilToInt", "FloorToInt", "IntTrueDiv"} <= classes("math_ceil_floor")
    assert "Pow" in classes("cube")


# ---------------------------------------------------------------------------------------------
# Refusals.
# ---------------------------------------------------------------------------------------------

_U0 = sympy.Symbol("u0", integer=True)
_S9 = sympy.Symbol("s9", integer=True, nonnegative=True)

# (untranslatable sub-expression, fragment the message must contain)
POISONS = (
    (S0 / 2, "true division"),
    (torch_sympy.IntTrueDiv(S0, 2), "true division"),
    (1 / S0, "true division"),
    (sympy.Float(1.5) * S1, "non-integer coefficient"),
    (torch_sympy.TruncToInt(1.5 * torch_sympy.ToFloat(S0)), "floating point"),
    (_U0, "data-dependent"),
    (_S9, "not the size of any region input"),
    (torch_sympy.PowByNatural(2, S0), "symbolic exponent"),
    (sympy.floor(S0 / 3), "no TensorRT shape-expression counterpart"),
    (torch_sympy.Where(sympy.Eq(S0, 1), S1, S2), "no TensorRT shape-expression counterpart"),
)


@pytest.mark.parametrize(("poison", "reason"), POISONS, ids=[str(p) for p, _ in POISONS])
def test_untranslatable_expression_is_refused_with_its_reason(
    poison: sympy.Expr, reason: str
) -> None:
    inputs = [(S0, S1), (S2,)]
    with pytest.raises(ShapeTranslationError, match="output 1 dim 0") as refusal:
        translate_shapes([(S0,), (poison,)], inputs, [[5, 6], [7]], IntArithmetic())
    assert str(poison) in str(refusal.value)
    assert reason in str(refusal.value)
    assert untranslatable_reason([(S0,), (poison,)], inputs) == str(refusal.value)


@given(data=st.data())
def test_expression_with_an_untranslatable_part_is_refused(data: st.DataObject) -> None:
    values = data.draw(symbol_values(), label="values")
    expr = data.draw(size_expressions(values, max_depth=3), label="expr")
    poison, reason = data.draw(st.sampled_from(POISONS), label="poison")
    wrap = data.draw(
        st.sampled_from([lambda e: e, lambda e: torch_sympy.FloorDiv(e, 2), lambda e: e * S1]),
        label="wrap",
    )
    poisoned = wrap(expr + poison)
    with pytest.raises(ShapeTranslationError, match=reason) as refusal:
        translate_dim(poisoned, values, IntArithmetic())
    assert str(poisoned) in str(refusal.value)


def _export_refused(
    module: torch.nn.Module, inputs: tuple[tuple[int, ...], ...], dynamic: tuple[dict, ...]
) -> ExportedShapes:
    case = ExportCase("refused", module, inputs, dynamic)
    return _exported_shapes(case, allow_assertions=True)


def test_unbacked_size_from_nonzero_is_refused() -> None:
    shapes = _export_refused(_OneInput(torch.nonzero), ((10, 4),), ({0: _DYNAMIC},))
    (output_shape,) = shapes.output_shapes
    assert torch.fx.experimental.symbolic_shapes.free_unbacked_symbols(output_shape[0])
    reason = untranslatable_reason(shapes.output_shapes, shapes.input_shapes)
    assert reason is not None
    assert "data-dependent" in reason
    assert str(output_shape[0]) in reason
    with pytest.raises(ShapeTranslationError, match="data-dependent"):
        infer_output_shapes(shapes.output_shapes, shapes.input_shapes, [(10, 4)])


def test_unbacked_size_of_a_region_input_is_a_plain_input_dim() -> None:
    # A region fed by nonzero's output sees u0 as an input dim, known when the plugin runs.
    outputs = [(torch_sympy.FloorDiv(_U0 + 1, 2), 2)]
    assert untranslatable_reason(outputs, [(_U0, 2)]) is None
    assert infer_output_shapes(outputs, [(_U0, 2)], [(7, 2)]) == [(4, 2)]


def test_float_scale_interpolate_is_refused() -> None:
    module = _OneInput(lambda x: F.interpolate(x, scale_factor=1.5))
    shapes = _export_refused(module, ((1, 2, 16, 16),), ({2: _DYNAMIC},))
    reason = untranslatable_reason(shapes.output_shapes, shapes.input_shapes)
    assert reason is not None
    assert "TruncToInt" in reason
    assert "floating point" in reason


def test_symbol_of_an_input_outside_the_region_is_refused() -> None:
    module = _TwoInputs(lambda x, y: torch.cat([x, y]))
    shapes = _export_refused(module, ((5, 4), (6, 4)), ({0: _DYNAMIC}, {0: _DYNAMIC}))
    only_x = shapes.input_shapes[:1]
    (y_size,) = set(sympy.sympify(shapes.input_shapes[1][0]).free_symbols)
    reason = untranslatable_reason(shapes.output_shapes, only_x)
    assert reason is not None
    assert f"the symbol {y_size} is not the size of any region input" in reason
