"""Reading the integer size expressions Inductor prints, as sympy, without ``eval``.

The wrapper's sizes and kernel arguments and ``GridExpr``'s grid dims are Python text; they are
parsed and read back here from a known vocabulary only.
"""

import ast
from collections.abc import Mapping

import sympy
from torch.utils._sympy.functions import FloorDiv, PythonMod

from ..errors import AotError


def size_expression(node: ast.expr, values: Mapping[str, sympy.Expr]) -> sympy.Expr:
    """A sympy expression for an integer size expression in Inductor's printed Python.

    Only ints, known names, ``+ - * // %``, unary minus and ``max``/``min`` calls are read;
    anything else raises. This is how saved and generated expressions are read back without
    ``eval``.

    Raises:
        AotError: the expression uses anything else, or an unknown name.
    """
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sympy.Integer(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise AotError(f"unknown size {node.id!r}")
        return values[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = size_expression(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _binary(node, values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        function = {"max": sympy.Max, "min": sympy.Min}.get(node.func.id)
        if function is not None and node.args:
            return function(*(size_expression(a, values) for a in node.args))
    raise AotError(f"a size expression this reader doesn't know: {ast.unparse(node)!r}")


def _binary(node: ast.BinOp, values: Mapping[str, sympy.Expr]) -> sympy.Expr:
    left = size_expression(node.left, values)
    right = size_expression(node.right, values)
    if isinstance(node.op, ast.Add):
        return left + right
    if isinstance(node.op, ast.Sub):
        return left - right
    if isinstance(node.op, ast.Mult):
        return left * right
    if isinstance(node.op, ast.FloorDiv):
        if right.is_Integer and right < 0:
            # floor(a / -k) == -ceil(a / k): Inductor's ceil-division idiom -(a // -k).
            k = -right
            return -FloorDiv(left + k - 1, k)
        return FloorDiv(left, right)
    if isinstance(node.op, ast.Mod):
        return PythonMod(left, right)
    raise AotError(f"a size expression this reader doesn't know: {ast.unparse(node)!r}")
