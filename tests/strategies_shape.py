"""Hypothesis strategies for `trt_autoplugin.shape_expr`: symbolic sizes and values for them.

Kept apart from ``tests/strategies.py`` (graphs and regions) because these strategies build
sympy expressions, not graphs.
"""

import math
from collections.abc import Callable, Mapping
from fractions import Fraction

import sympy
from hypothesis import strategies as st
from torch.utils._sympy import functions as torch_sympy

# Nonnegative like sizes, but not positive: 0 is a legal value here, so sympy must not simplify
# with a positivity it can't assume.
SYMBOLS = tuple(sympy.Symbol(f"s{index}", integer=True, nonnegative=True) for index in range(3))

# Values beyond this are kept out of products and powers: CeilToInt(IntTrueDiv(a, b)) evaluates
# through a float in torch, which stops being exact around 2**53.
_MAX_MAGNITUDE = 10**6
# Products and powers of 0 and 1 stay small at any degree; translations refuse exponents above
# 63 (int64), so keep the degree well below.
_MAX_EXPONENT = 24

_Draw = Callable[[st.SearchStrategy], object]


def sympy_value(expr: sympy.Expr, values: Mapping[sympy.Symbol, int]) -> int:
    """``expr`` evaluated at ``values`` by walking its tree with Python's exact arithmetic.

    It never rebuilds a node around symbolic arguments, as ``expr.func(*args)`` or ``subs``
    would: torch's sympy functions re-canonicalize then, and some rewrites are wrong for values
    the expression can take. ``FloorDiv(FloorDiv(a, b), c)`` becomes ``FloorDiv(a, b * c)``,
    wrong for ``c = -1``: ``(1 // 2) // -1 == 0`` but ``1 // -2 == -1``. A reference that
    rebuilt would then disagree with the very expression under test.
    """
    value = _exact_value(sympy.sympify(expr), values)
    if value.denominator != 1:
        raise ValueError(f"{expr} is not an integer at {dict(values)}: {value}")
    return int(value)


def _exact_value(expr: sympy.Basic, values: Mapping[sympy.Symbol, int]) -> Fraction:
    """``expr`` at ``values``, as torch's sympy functions define each node on integers.

    IntTrueDiv is exact here where torch goes through a float: `size_expressions` keeps values
    small enough (`_MAX_MAGNITUDE`) for the two to agree.
    """
    if isinstance(expr, sympy.Symbol):
        return Fraction(values[expr])
    if isinstance(expr, sympy.Rational):  # Integer included
        return Fraction(int(expr.p), int(expr.q))
    args = [_exact_value(argument, values) for argument in expr.args]
    if isinstance(expr, torch_sympy.Identity):
        return args[0]
    operation = _EXACT_OPERATIONS.get(type(expr))
    if operation is None:
        raise TypeError(f"no reference evaluation for {type(expr).__name__} in {expr}")
    return operation(*args)


def _exact_pow(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        raise ValueError(f"non-integer exponent {exponent}")
    return base ** int(exponent)


# FloorDiv's subclass CleanDiv is listed too: lookup is by exact type. CeilDiv never survives
# construction (it returns a FloorDiv), so it has no entry.
_EXACT_OPERATIONS: dict[type, Callable[..., Fraction]] = {
    sympy.Add: lambda *terms: sum(terms, Fraction(0)),
    sympy.Mul: lambda *factors: math.prod(factors, start=Fraction(1)),
    sympy.Pow: _exact_pow,
    torch_sympy.PowByNatural: _exact_pow,
    torch_sympy.FloorDiv: lambda base, divisor: Fraction(base // divisor),
    torch_sympy.CleanDiv: lambda base, divisor: Fraction(base // divisor),
    torch_sympy.IntTrueDiv: lambda base, divisor: base / divisor,
    torch_sympy.FloorToInt: lambda number: Fraction(math.floor(number)),
    torch_sympy.CeilToInt: lambda number: Fraction(math.ceil(number)),
    torch_sympy.Max: max,
    torch_sympy.Min: min,
    sympy.Max: max,
    sympy.Min: min,
    # Mod is torch's for nonnegative dividends, where it agrees with Python's %.
    torch_sympy.Mod: lambda base, divisor: base % divisor,
    torch_sympy.PythonMod: lambda base, divisor: base % divisor,
}


@st.composite
def symbol_values(draw: _Draw) -> dict[sympy.Symbol, int]:
    """A value for each of `SYMBOLS`, 0 and 1 included."""
    return {symbol: draw(st.integers(min_value=0, max_value=12)) for symbol in SYMBOLS}


@st.composite
def sizes_in_ranges(
    draw: _Draw, ranges: Mapping[sympy.Symbol, tuple[int, int]]
) -> dict[sympy.Symbol, int]:
    """A value for each symbol, within its inclusive ``(lower, upper)`` range."""
    return {
        symbol: draw(st.integers(min_value=lower, max_value=upper))
        for symbol, (lower, upper) in ranges.items()
    }


@st.composite
def size_expressions(
    draw: _Draw, values: Mapping[sympy.Symbol, int], max_depth: int = 4
) -> sympy.Expr:
    """A random size expression over `SYMBOLS`, built from the grammar torch emits.

    Nodes: ``+``, ``-``, ``*``, small powers, FloorDiv, CleanDiv, the ceil divisions torch
    writes (``CeilDiv``, ``-((-a)//b)``, ``CeilToInt(IntTrueDiv)``), ``FloorToInt(IntTrueDiv)``,
    Max, Min, Mod, PythonMod, Identity; leaves are symbols and small constants (0 and 1
    included). Each node is built knowing its operands' values at ``values``, so divisors are
    positive and Mod only sees nonnegative dividends there, as for real sizes.
    """
    if max_depth == 0 or draw(st.integers(min_value=0, max_value=3)) == 0:
        return draw(
            st.sampled_from(SYMBOLS) | st.integers(min_value=-3, max_value=8).map(sympy.Integer)
        )
    kind = draw(st.sampled_from(sorted(_BUILDERS)))
    left = draw(size_expressions(values, max_depth - 1))
    right = draw(size_expressions(values, max_depth - 1))
    return _BUILDERS[kind](draw, left, right, values)


def _small(expr: sympy.Expr, values: Mapping[sympy.Symbol, int]) -> bool:
    exponents = [power.exp for power in expr.atoms(sympy.Pow)]
    if any(exponent > _MAX_EXPONENT for exponent in exponents):
        return False
    return abs(sympy_value(expr, values)) <= _MAX_MAGNITUDE


def _divisor(draw: _Draw, expr: sympy.Expr, values: Mapping[sympy.Symbol, int]) -> sympy.Expr:
    """``expr`` if it is positive at ``values``, else a positive constant."""
    if sympy_value(expr, values) > 0:
        return expr
    return sympy.Integer(draw(st.integers(min_value=1, max_value=5)))


def _add(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    return left + right


def _sub(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    return left - right


def _mul(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    product = left * right
    return product if _small(product, values) else left + right


def _scale(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    scaled = left * draw(st.integers(min_value=-3, max_value=4))
    return scaled if _small(scaled, values) else left


def _pow(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    power = left ** draw(st.integers(min_value=0, max_value=3))
    return power if _small(power, values) else left


def _floordiv(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    return torch_sympy.FloorDiv(left, _divisor(draw, right, values))


def _cleandiv(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    divisor = _divisor(draw, right, values)
    if sympy_value(left, values) % sympy_value(divisor, values) != 0:
        return torch_sympy.FloorDiv(left, divisor)
    return torch_sympy.CleanDiv(left, divisor)


def _ceildiv(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    # CeilDiv.__new__ returns FloorDiv(a + (b - 1), b) (or CleanDiv): never a CeilDiv node.
    return torch_sympy.CeilDiv(left, _divisor(draw, right, values))


def _negated_floordiv(
    draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping
) -> sympy.Expr:
    # What -(-n // d) in user code traces to.
    return -torch_sympy.FloorDiv(-left, _divisor(draw, right, values))


def _ceil_to_int(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    # What math.ceil(n / d) traces to.
    divisor = _divisor(draw, right, values)
    return torch_sympy.CeilToInt(torch_sympy.IntTrueDiv(left, divisor))


def _floor_to_int(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    divisor = _divisor(draw, right, values)
    return torch_sympy.FloorToInt(torch_sympy.IntTrueDiv(left, divisor))


def _max(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    return torch_sympy.Max(left, right)


def _min(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    return torch_sympy.Min(left, right)


def _mod(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    divisor = _divisor(draw, right, values)
    if sympy_value(left, values) < 0:
        # torch's Mod is only defined on nonnegative dividends (its eval asserts it).
        return torch_sympy.PythonMod(left, divisor)
    return torch_sympy.Mod(left, divisor)


def _python_mod(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    return torch_sympy.PythonMod(left, _divisor(draw, right, values))


def _identity(draw: _Draw, left: sympy.Expr, right: sympy.Expr, values: Mapping) -> sympy.Expr:
    # torch wraps symbolic sums in Identity, never bare numbers.
    return left if left.is_number else torch_sympy.Identity(left)


_BUILDERS: dict[str, Callable[[_Draw, sympy.Expr, sympy.Expr, Mapping], sympy.Expr]] = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "scale": _scale,
    "pow": _pow,
    "floordiv": _floordiv,
    "cleandiv": _cleandiv,
    "ceildiv": _ceildiv,
    "negated_floordiv": _negated_floordiv,
    "ceil_to_int": _ceil_to_int,
    "floor_to_int": _floor_to_int,
    "max": _max,
    "min": _min,
    "mod": _mod,
    "python_mod": _python_mod,
    "identity": _identity,
}
