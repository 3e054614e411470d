"""Symbolic torch shapes -> shape expressions of a backend (TensorRT, or plain ints).

A region's output sizes are sympy expressions over the ShapeEnv symbols of its input sizes
(``s0``, ``s1``, ...). TensorRT wants each output dim as a ``trtp.ShapeExpr`` built from the
input dims with a handful of integer operations. This module translates one into the other
through `ShapeArithmetic`, so the same translation runs on Python ints (`IntArithmetic`, used to
infer concrete shapes and in tests) and on TensorRT (a small class in ``plugin.py``).

The translation only emits what TensorRT allows: the backend's own values combined with
``add/sub/mul/floordiv/cdiv/max/min``, an int only ever as the right operand, and constants made
through ``constant()``. It never compares, hashes or negates a backend value. Anything without an
exact integer counterpart raises `ShapeTranslationError`.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

import sympy
from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols
from torch.utils._sympy import functions as torch_sympy

from .errors import ShapeTranslationError
from .graph import SymbolicDim

T = TypeVar("T")

"""One dim of a symbolic shape: a static int or a sympy expression over ShapeEnv symbols."""

# TensorRT dims are int64: x ** 63 overflows for every x >= 2, so a bigger exponent can only be
# a mistake (torch emits small ones, x.shape[0] ** 2).
_MAX_POWER = 63

_TRUE_DIVISIONS = (torch_sympy.IntTrueDiv, torch_sympy.FloatTrueDiv)
_FLOAT_FUNCTIONS = (
    torch_sympy.ToFloat,
    torch_sympy.FloatPow,
    torch_sympy.TruncToFloat,
    torch_sympy.TruncToInt,
    torch_sympy.RoundToInt,
    torch_sympy.RoundDecimal,
)
_MODULOS = (torch_sympy.Mod, torch_sympy.PythonMod)
_MAXIMA = (torch_sympy.Max, sympy.Max)
_MINIMA = (torch_sympy.Min, sympy.Min)


class ShapeArithmetic(Protocol[T]):
    """The integer operations a shape-expression backend offers, as TensorRT's ShapeExpr does.

    The left operand is always a backend value; the right one is a backend value or an int.
    The translation never calls anything else on a backend value (no ``bool``, ``hash``, ``==``,
    reflected operators or unary minus), so a backend is a thin wrapper: `IntArithmetic` below
    evaluates on ints, and ``plugin.TrtShapeArithmetic`` builds TensorRT's ``trtp.ShapeExpr``
    (its constants are ``trtp.ShapeExpr(value)``, which TensorRT's expression builder makes real
    while it asks for output shapes).
    """

    def constant(self, value: int) -> T:
        """The backend value of the integer constant ``value``."""
        ...

    def add(self, left: T, right: T | int) -> T:
        """``left + right``."""
        ...

    def sub(self, left: T, right: T | int) -> T:
        """``left - right``."""
        ...

    def mul(self, left: T, right: T | int) -> T:
        """``left * right``."""
        ...

    def floordiv(self, left: T, right: T | int) -> T:
        """``left // right``, rounding toward negative infinity."""
        ...

    def cdiv(self, left: T, right: T | int) -> T:
        """``left / right`` rounded toward positive infinity."""
        ...

    def max(self, left: T, right: T | int) -> T:
        """The larger of ``left`` and ``right``."""
        ...

    def min(self, left: T, right: T | int) -> T:
        """The smaller of ``left`` and ``right``."""
        ...


class IntArithmetic:
    """`ShapeArithmetic` on Python ints, with Python's floor-division semantics.

    Examples:
        >>> from torch.utils._sympy.functions import FloorDiv
        >>> s0 = sympy.Symbol("s0", integer=True, positive=True)
        >>> translate_dim(FloorDiv(s0 + 2, 3), {s0: 10}, IntArithmetic())
        4
    """

    def constant(self, value: int) -> int:
        """The int itself."""
        return value

    def add(self, left: int, right: int) -> int:
        """``left + right``."""
        return left + right

    def sub(self, left: int, right: int) -> int:
        """``left - right``."""
        return left - right

    def mul(self, left: int, right: int) -> int:
        """``left * right``."""
        return left * right

    def floordiv(self, left: int, right: int) -> int:
        """``left // right``."""
        return left // right

    def cdiv(self, left: int, right: int) -> int:
        """``ceil(left / right)``, computed exactly on ints."""
        return -(-left // right)

    def max(self, left: int, right: int) -> int:
        """``max(left, right)``."""
        return max(left, right)

    def min(self, left: int, right: int) -> int:
        """``min(left, right)``."""
        return min(left, right)


class _CheckingArithmetic:
    """Builds nothing: lets `untranslatable_reason` run the translation without a backend."""

    def constant(self, value: int) -> None:
        return None

    def add(self, left: None, right: None | int) -> None:
        return None

    sub = mul = floordiv = cdiv = max = min = add


def symbol_sources(
    input_shapes: Sequence[Sequence[SymbolicDim]],
) -> dict[sympy.Symbol, tuple[int, int]]:
    """Where each symbol of the inputs' shapes can be read off as a whole input dim.

    Args:
        input_shapes: the region's symbolic input shapes, in input order.

    Returns:
        ``{symbol: (input index, dim index)}`` for the first dim that is exactly that symbol, in
        input order. Symbols that only occur inside larger expressions are absent.
    """
    sources: dict[sympy.Symbol, tuple[int, int]] = {}
    for input_index, shape in enumerate(input_shapes):
        for dim_index, dim in enumerate(shape):
            if isinstance(dim, sympy.Symbol) and dim not in sources:
                sources[dim] = (input_index, dim_index)
    return sources


def translate_shapes(
    output_shapes: Sequence[Sequence[SymbolicDim]],
    input_shapes: Sequence[Sequence[SymbolicDim]],
    input_dims: Sequence[Sequence[T]],
    arith: ShapeArithmetic[T],
    *,
    extents: Mapping[sympy.Expr, T] | None = None,
) -> list[tuple[T, ...]]:
    """Translates every output dim into the backend's expressions over the input dims.

    Each symbol is read from the first input dim that is exactly that symbol (`symbol_sources`).
    A symbol that occurs only as a derived dim ``a*s + b`` (``torch.export`` derived ``Dim``)
    is recovered as ``(dim - b) // a``, which is exact on every input that satisfies the shape.

    Args:
        output_shapes: the region's symbolic output shapes.
        input_shapes: the region's symbolic input shapes.
        input_dims: the backend's value for each input dim, shaped like ``input_shapes``
            (TensorRT: ``[desc.shape_expr for desc in inputs]``).
        arith: the backend.
        extents: backend values for data-dependent output dims, by their symbolic size (a
            TensorRT size tensor's ``expr()``); such a dim is taken as given.

    Returns:
        One tuple of backend values per output.

    Raises:
        ShapeTranslationError: an output dim has no exact translation; the message names the
            output, the dim, the offending sub-expression and the reason.
        ValueError: ``input_dims`` is not shaped like ``input_shapes``.
    """
    dims_by_symbol = _dims_by_symbol(input_shapes, input_dims, arith)
    given = extents or {}
    return [
        tuple(
            given[sympy.sympify(dim)]
            if sympy.sympify(dim) in given
            else _translate_output_dim(dim, output_index, dim_index, dims_by_symbol, arith)
            for dim_index, dim in enumerate(shape)
        )
        for output_index, shape in enumerate(output_shapes)
    ]


def _translate_output_dim(
    dim: SymbolicDim,
    output_index: int,
    dim_index: int,
    dims_by_symbol: Mapping[sympy.Symbol, T],
    arith: ShapeArithmetic[T],
) -> T:
    try:
        return translate_dim(dim, dims_by_symbol, arith)
    except ShapeTranslationError as e:
        raise ShapeTranslationError(f"output {output_index} dim {dim_index}: {e}") from e


def untranslatable_reason(
    output_shapes: Sequence[Sequence[SymbolicDim]],
    input_shapes: Sequence[Sequence[SymbolicDim]],
    *,
    extents: Sequence[sympy.Expr] = (),
) -> str | None:
    """Why the output shapes can't be TensorRT shape expressions, without building any.

    Args:
        output_shapes: the region's symbolic output shapes.
        input_shapes: the region's symbolic input shapes.
        extents: data-dependent output dims a size tensor states (taken as given).

    Returns:
        The `ShapeTranslationError` message `translate_shapes` would raise, or None if every
        output dim translates.
    """
    arith = _CheckingArithmetic()
    input_dims = [[None] * len(shape) for shape in input_shapes]
    try:
        translate_shapes(
            output_shapes, input_shapes, input_dims, arith, extents=dict.fromkeys(extents)
        )
    except ShapeTranslationError as e:
        return str(e)
    return None


def infer_output_shapes(
    output_shapes: Sequence[Sequence[SymbolicDim]],
    input_shapes: Sequence[Sequence[SymbolicDim]],
    concrete_input_shapes: Sequence[Sequence[int]],
) -> list[tuple[int, ...]]:
    """Concrete output shapes for concrete input shapes, through the TensorRT translation.

    The result comes from the very expressions a TensorRT plugin would get, evaluated with
    `IntArithmetic`, so a mismatch against a real run points at the translation.

    Args:
        output_shapes: the region's symbolic output shapes.
        input_shapes: the region's symbolic input shapes.
        concrete_input_shapes: actual input shapes, one per symbolic input.

    Returns:
        One shape per output.

    Raises:
        ShapeTranslationError: as `translate_shapes`.
        ValueError: the concrete shapes don't fit the symbolic ones (rank, a static size, or a
            dim that disagrees with the symbols read from the other dims).

    Examples:
        >>> from torch.utils._sympy.functions import FloorDiv
        >>> s0 = sympy.Symbol("s0", integer=True, positive=True)
        >>> infer_output_shapes([(FloorDiv(s0 - 1, 2) + 1, 4)], [(s0, 4)], [(9, 4)])
        [(5, 4)]
    """
    arith = IntArithmetic()
    dims_by_symbol = _dims_by_symbol(input_shapes, concrete_input_shapes, arith)
    _check_concrete_inputs(input_shapes, concrete_input_shapes, dims_by_symbol)
    return translate_shapes(output_shapes, input_shapes, concrete_input_shapes, arith)


def _check_concrete_inputs(
    input_shapes: Sequence[Sequence[SymbolicDim]],
    concrete_input_shapes: Sequence[Sequence[int]],
    dims_by_symbol: Mapping[sympy.Symbol, int],
) -> None:
    """Raises ValueError where a concrete dim disagrees with its symbolic dim."""
    arith = IntArithmetic()
    pairs = zip(input_shapes, concrete_input_shapes, strict=True)
    for input_index, (shape, concrete) in enumerate(pairs):
        for dim_index, (dim, size) in enumerate(zip(shape, concrete, strict=True)):
            if not sympy.sympify(dim).free_symbols <= set(dims_by_symbol):
                continue  # unknowable here; translating an output that needs it will refuse
            expected = translate_dim(dim, dims_by_symbol, arith)
            if expected != size:
                raise ValueError(
                    f"input {input_index} dim {dim_index} is {size}, but its symbolic size "
                    f"{dim} is {expected} for the sizes of the other dims; "
                    f"pass shapes the region was traced for"
                )


def _dims_by_symbol(
    input_shapes: Sequence[Sequence[SymbolicDim]],
    input_dims: Sequence[Sequence[T]],
    arith: ShapeArithmetic[T],
) -> dict[sympy.Symbol, T]:
    """Each input symbol's backend value: a bare input dim, else inverted from ``a*s + b``."""
    _check_ranks(input_shapes, input_dims)
    dims_by_symbol = {
        symbol: input_dims[input_index][dim_index]
        for symbol, (input_index, dim_index) in symbol_sources(input_shapes).items()
    }
    for input_index, shape in enumerate(input_shapes):
        for dim_index, dim in enumerate(shape):
            inverse = _linear_inverse(dim)
            if inverse is None or inverse[0] in dims_by_symbol:
                continue
            symbol, scale, offset = inverse
            dims_by_symbol[symbol] = _inverted_dim(
                input_dims[input_index][dim_index], scale, offset, arith
            )
    return dims_by_symbol


def _check_ranks(
    input_shapes: Sequence[Sequence[SymbolicDim]], input_dims: Sequence[Sequence[object]]
) -> None:
    if len(input_shapes) != len(input_dims):
        raise ValueError(
            f"got dims for {len(input_dims)} inputs, but the region has {len(input_shapes)}"
        )
    for index, (shape, dims) in enumerate(zip(input_shapes, input_dims, strict=True)):
        if len(shape) != len(dims):
            raise ValueError(
                f"input {index} has rank {len(shape)} ({tuple(shape)}), but got {len(dims)} dims"
            )


def _linear_inverse(dim: SymbolicDim) -> tuple[sympy.Symbol, int, int] | None:
    """``(s, a, b)`` if ``dim`` is ``a*s + b`` with integers ``a >= 1`` and ``b``, else None."""
    if not isinstance(dim, sympy.Expr) or len(dim.free_symbols) != 1:
        return None
    (symbol,) = dim.free_symbols
    coefficients = dim.as_coefficients_dict()
    scale = coefficients.get(symbol, sympy.S.Zero)
    offset = coefficients.get(sympy.S.One, sympy.S.Zero)
    if set(coefficients) - {symbol, sympy.S.One}:
        return None
    if not (scale.is_Integer and offset.is_Integer and scale >= 1):
        return None
    return symbol, int(scale), int(offset)


def _inverted_dim(dim: T, scale: int, offset: int, arith: ShapeArithmetic[T]) -> T:
    """``(dim - offset) // scale``."""
    shifted = _plus_constant(dim, -offset, arith)
    return arith.floordiv(shifted, scale) if scale != 1 else shifted


def translate_dim(
    expr: SymbolicDim, dims_by_symbol: Mapping[sympy.Symbol, T], arith: ShapeArithmetic[T]
) -> T:
    """Translates one symbolic size into a backend expression.

    Handled: integers; symbols in ``dims_by_symbol``; ``+``/``-``; products with integer
    coefficients; ``x**n`` for an integer ``0 <= n <= 63`` (`_MAX_POWER`: beyond it an int64
    dim overflows); torch's ``FloorDiv``/``CleanDiv`` (the ceil-division forms torch emits,
    ``(a + b - 1)//b`` and ``-((-a)//b)``, become ``cdiv``); ``Mod``/``PythonMod`` as
    ``a - (a//b)*b``; ``Max``/``Min``; ``Identity``; ``FloorToInt``/``CeilToInt`` of
    ``IntTrueDiv`` (integer floor/ceil division).

    Args:
        expr: the size, an int or a sympy expression.
        dims_by_symbol: the backend's value of each symbol, usually input dims.
        arith: the backend.

    Returns:
        The backend's expression for ``expr``.

    Raises:
        ShapeTranslationError: ``expr`` has no exact translation: true division or a
            non-integer coefficient, a float function, a symbol not in ``dims_by_symbol`` (an
            unbacked one, ``u0``, is refused as data-dependent), or a sympy function outside the
            set above. An unbacked symbol that *is* in ``dims_by_symbol`` (an input dim of a
            region fed by ``nonzero``) is just a runtime input dim and translates.
    """
    try:
        return _translate(sympy.sympify(expr), dims_by_symbol, arith)
    except ShapeTranslationError as e:
        raise ShapeTranslationError(
            f"cannot express the size {expr} as a TensorRT shape expression: {e}"
        ) from e


def _translate(
    expr: sympy.Expr, dims_by_symbol: Mapping[sympy.Symbol, T], arith: ShapeArithmetic[T]
) -> T:
    """Any expression, as a sum of terms with integer coefficients."""
    if not isinstance(expr, sympy.Expr):
        raise ShapeTranslationError(f"{expr} is not an integer expression")
    constant = 0
    positive: list[T] = []
    negative: list[T] = []
    for term in sympy.Add.make_args(expr):
        coefficient, factor = _integer_coefficient(term)
        if factor == sympy.S.One:
            constant += coefficient
            continue
        is_positive, magnitude = _signed_term(coefficient, factor, dims_by_symbol, arith)
        (positive if is_positive else negative).append(magnitude)
    return _sum(positive, negative, constant, arith)


def _integer_coefficient(term: sympy.Expr) -> tuple[int, sympy.Expr]:
    """``(c, f)`` with ``term == c * f``; refuses a coefficient that isn't an integer."""
    coefficient, factor = term.as_coeff_Mul()
    if coefficient.is_Integer:
        return int(coefficient), factor
    if coefficient.is_Rational:
        raise ShapeTranslationError(
            f"{term} has the fractional coefficient {coefficient}, a true division; TensorRT "
            f"shape expressions are integer-only. Compute the size with // instead of /"
        )
    raise ShapeTranslationError(
        f"{term} has the non-integer coefficient {coefficient} (float sizes come from e.g. "
        f"interpolate(scale_factor=1.5)); TensorRT shape expressions are integer-only. "
        f"Pass an explicit integer size, or keep the op out of the region"
    )


def _signed_term(
    coefficient: int,
    factor: sympy.Expr,
    dims_by_symbol: Mapping[sympy.Symbol, T],
    arith: ShapeArithmetic[T],
) -> tuple[bool, T]:
    """Whether ``coefficient * factor`` adds or subtracts, and the magnitude to add or subtract."""
    if coefficient < 0 and _is_negated_floordiv(factor):
        # -((-a) // b) == ceil(a / b): torch's spelling of ceil division (-(-n // d)).
        numerator, divisor = factor.args
        ceil = arith.cdiv(
            _translate(-numerator, dims_by_symbol, arith),
            _operand(divisor, dims_by_symbol, arith),
        )
        return True, _times(ceil, -coefficient, arith)
    magnitude = _translate_product(factor, dims_by_symbol, arith)
    return coefficient > 0, _times(magnitude, abs(coefficient), arith)


def _is_negated_floordiv(expr: sympy.Expr) -> bool:
    return isinstance(expr, torch_sympy.FloorDiv) and expr.args[0].could_extract_minus_sign()


def _sum(positive: list[T], negative: list[T], constant: int, arith: ShapeArithmetic[T]) -> T:
    """``sum(positive) - sum(negative) + constant``, starting from a backend value."""
    if not positive and not negative:
        return arith.constant(constant)
    if positive:
        total, rest = positive[0], positive[1:]
    else:
        total, rest, constant = arith.constant(constant), [], 0
    for value in rest:
        total = arith.add(total, value)
    for value in negative:
        total = arith.sub(total, value)
    return _plus_constant(total, constant, arith)


def _plus_constant(value: T, constant: int, arith: ShapeArithmetic[T]) -> T:
    if constant > 0:
        return arith.add(value, constant)
    if constant < 0:
        return arith.sub(value, -constant)
    return value


def _times(value: T, factor: int, arith: ShapeArithmetic[T]) -> T:
    return arith.mul(value, factor) if factor != 1 else value


def _operand(
    expr: sympy.Expr, dims_by_symbol: Mapping[sympy.Symbol, T], arith: ShapeArithmetic[T]
) -> T | int:
    """A right operand: a plain int where the expression is one, else a backend value."""
    if expr.is_Integer:
        return int(expr)
    return _translate(expr, dims_by_symbol, arith)


def _translate_product(
    expr: sympy.Expr, dims_by_symbol: Mapping[sympy.Symbol, T], arith: ShapeArithmetic[T]
) -> T:
    """A product of non-numeric factors (the coefficient was split off by the caller)."""
    first, *rest = sympy.Mul.make_args(expr)
    product = _translate_factor(first, dims_by_symbol, arith)
    for factor in rest:
        product = arith.mul(product, _translate_factor(factor, dims_by_symbol, arith))
    return product


def _translate_factor(
    expr: sympy.Expr, dims_by_symbol: Mapping[sympy.Symbol, T], arith: ShapeArithmetic[T]
) -> T:
    """One factor of a product: a symbol, a sum, or one of the supported functions."""
    if isinstance(expr, sympy.Symbol):
        return _symbol_dim(expr, dims_by_symbol)
    if isinstance(expr, (sympy.Add, sympy.Number)):
        return _translate(expr, dims_by_symbol, arith)
    if isinstance(expr, sympy.Pow):
        return _power(expr, dims_by_symbol, arith)
    if isinstance(expr, torch_sympy.FloorDiv):  # CleanDiv included: it is a FloorDiv
        return _floordiv(expr, dims_by_symbol, arith)
    if isinstance(expr, _MODULOS):
        return _modulo(expr, dims_by_symbol, arith)
    if isinstance(expr, _MAXIMA):
        return _extremum(expr, arith.max, dims_by_symbol, arith)
    if isinstance(expr, _MINIMA):
        return _extremum(expr, arith.min, dims_by_symbol, arith)
    if isinstance(expr, torch_sympy.Identity):
        return _translate(expr.args[0], dims_by_symbol, arith)
    if isinstance(expr, (torch_sympy.FloorToInt, torch_sympy.CeilToInt)):
        return _rounded_division(expr, dims_by_symbol, arith)
    raise ShapeTranslationError(_unsupported_reason(expr))


def _symbol_dim(symbol: sympy.Symbol, dims_by_symbol: Mapping[sympy.Symbol, T]) -> T:
    if symbol in dims_by_symbol:
        return dims_by_symbol[symbol]
    if free_unbacked_symbols(symbol) or symbol.name.startswith("u"):
        raise ShapeTranslationError(
            f"{symbol} is an unbacked, data-dependent size (an op like nonzero, unique or "
            f"masked_select inside the region made it) and no region input has it as a dim; "
            f"only a whole output dim equal to such a size can be declared, through a size "
            f"tensor (pluggable.size_tensors)"
        )
    raise ShapeTranslationError(
        f"the symbol {symbol} is not the size of any region input dim (only a whole input dim "
        f"s, or a derived one a*s + b, can be read off); make a tensor whose dim is {symbol} "
        f"an input of the region"
    )


def _power(
    expr: sympy.Pow, dims_by_symbol: Mapping[sympy.Symbol, T], arith: ShapeArithmetic[T]
) -> T:
    """``base ** n`` by repeated squaring, for a natural ``n`` up to `_MAX_POWER`."""
    base, exponent = expr.args
    if not exponent.is_Integer:
        raise ShapeTranslationError(
            f"{expr} has the exponent {exponent}, which is not an integer constant; TensorRT "
            f"shape expressions have no power"
        )
    if exponent < 0:
        raise ShapeTranslationError(f"{expr} is a true division (negative power)")
    if exponent > _MAX_POWER:
        raise ShapeTranslationError(
            f"{expr} has an exponent above {_MAX_POWER}, which overflows int64 dims"
        )
    if exponent == 0:
        return arith.constant(1)
    return _repeated_squaring(_translate(base, dims_by_symbol, arith), int(exponent), arith)


def _repeated_squaring(value: T, exponent: int, arith: ShapeArithmetic[T]) -> T:
    """``value ** exponent`` for ``exponent >= 1``, in O(log exponent) multiplications."""
    bits = bin(exponent)[:1:-1]  # least significant first
    squares = [value]
    for _ in bits[1:]:
        squares.append(arith.mul(squares[-1], squares[-1]))
    chosen = [square for square, bit in zip(squares, bits, strict=True) if bit == "1"]
    power = chosen[0]
    for square in chosen[1:]:
        power = arith.mul(power, square)
    return power


def _floordiv(
    expr: torch_sympy.FloorDiv,
    dims_by_symbol: Mapping[sympy.Symbol, T],
    arith: ShapeArithmetic[T],
) -> T:
    """``a // b``, or ``cdiv(x, d)`` for torch's ceil division ``(x + d - 1) // d``."""
    numerator, divisor = expr.args
    ceil_numerator = _ceil_numerator(numerator, divisor)
    if ceil_numerator is not None:
        return arith.cdiv(_translate(ceil_numerator, dims_by_symbol, arith), int(divisor))
    return arith.floordiv(
        _translate(numerator, dims_by_symbol, arith), _operand(divisor, dims_by_symbol, arith)
    )


def _ceil_numerator(numerator: sympy.Expr, divisor: sympy.Expr) -> sympy.Expr | None:
    """``x`` if ``numerator // divisor`` is ``(x + d - 1) // d`` for an integer ``d > 1``.

    Both spellings are exact; cdiv just gives TensorRT one operation instead of two.
    """
    if not (divisor.is_Integer and divisor > 1):
        return None
    constant, rest = numerator.as_coeff_Add()
    if constant.is_Integer and constant == divisor - 1 and rest != sympy.S.Zero:
        return rest
    return None


def _modulo(
    expr: sympy.Expr, dims_by_symbol: Mapping[sympy.Symbol, T], arith: ShapeArithmetic[T]
) -> T:
    """``a mod b`` as ``a - (a // b) * b``: Python's (and sympy's) floored modulo."""
    dividend, divisor = expr.args
    value = _translate(dividend, dims_by_symbol, arith)
    modulus = _operand(divisor, dims_by_symbol, arith)
    return arith.sub(value, arith.mul(arith.floordiv(value, modulus), modulus))


def _extremum(
    expr: sympy.Expr,
    combine: Callable[[T, T | int], T],
    dims_by_symbol: Mapping[sympy.Symbol, T],
    arith: ShapeArithmetic[T],
) -> T:
    """``Max``/``Min`` of any arity, folded pairwise, with integer arguments on the right."""
    numbers = [int(arg) for arg in expr.args if arg.is_Integer]
    others = [arg for arg in expr.args if not arg.is_Integer]
    if not others:
        result, numbers = arith.constant(numbers[0]), numbers[1:]
    else:
        result = _translate(others[0], dims_by_symbol, arith)
        for arg in others[1:]:
            result = combine(result, _translate(arg, dims_by_symbol, arith))
    for number in numbers:
        result = combine(result, number)
    return result


def _rounded_division(
    expr: sympy.Expr, dims_by_symbol: Mapping[sympy.Symbol, T], arith: ShapeArithmetic[T]
) -> T:
    """``FloorToInt(a / b)`` and ``CeilToInt(a / b)`` (``math.floor/ceil(n / d)``) on ints."""
    (argument,) = expr.args
    if isinstance(argument, torch_sympy.IntTrueDiv):
        numerator, divisor = argument.args
        divide = arith.floordiv if isinstance(expr, torch_sympy.FloorToInt) else arith.cdiv
        return divide(
            _translate(numerator, dims_by_symbol, arith), _operand(divisor, dims_by_symbol, arith)
        )
    if argument.is_integer:
        return _translate(argument, dims_by_symbol, arith)
    raise ShapeTranslationError(
        f"{expr} rounds a float ({argument}); TensorRT shape expressions are integer-only"
    )


def _unsupported_reason(expr: sympy.Expr) -> str:
    name = type(expr).__name__
    if isinstance(expr, _TRUE_DIVISIONS):
        return (
            f"{expr} is a true division ({name}); TensorRT shape expressions only have // and "
            f"ceil division. Compute the size with // (or math.ceil(a / b))"
        )
    if isinstance(expr, _FLOAT_FUNCTIONS):
        return (
            f"{expr} goes through floating point ({name}; interpolate(scale_factor=1.5) gives "
            f"TruncToInt(1.5*ToFloat(s))); TensorRT shape expressions are integer-only. Pass "
            f"an explicit integer size, or keep the op out of the region"
        )
    if isinstance(expr, torch_sympy.PowByNatural):
        return f"{expr} is a power with a symbolic exponent; TensorRT shape expressions have none"
    return (
        f"{expr} uses {name}, which has no TensorRT shape-expression counterpart (supported: "
        f"+, -, * by integers, integer powers, FloorDiv, CleanDiv, Mod, PythonMod, Max, Min, "
        f"Identity, FloorToInt/CeilToInt of IntTrueDiv)"
    )
