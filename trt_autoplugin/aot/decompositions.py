"""Decompositions that keep Inductor from making extern calls: formulas it fuses.

Inductor lowers most pointwise ops to Triton, but a few it hands back to ATen as an extern call
(``aten.digamma``), and a wrapper with an extern call gets no AOT kernel (`wrapper.kernel_plan`).
`inductor_ready` rewrites those ops, before Inductor sees the graph, into torch ops it does
lower, so the region becomes one Triton kernel. Each formula follows ATen's CUDA kernel, its
loops unrolled to a fixed trip count with ``torch.where``, so the kernel agrees with the eager
region that `check.check_against_eager` compares it with. A user's ``torch.library.custom_op``
whose implementation is Python over torch ops is traced into those ops in the same way.
"""

import copy
import math
import operator
from collections.abc import Callable

import torch
import torch.fx
from torch.fx.experimental.proxy_tensor import make_fx

from ..errors import AotError
from ..graph import describe_node
from .antialias import upsample_bilinear2d_aa

aten = torch.ops.aten

# calc_digamma in ATen's aten/src/ATen/native/cuda/Math.cuh: psi(10), and the coefficients of the
# asymptotic series' tail in 1/x^2, highest power first (B_2k / 2k for k = 7 down to 1).
_PSI_10 = 2.25175258906672110764
_ASYMPTOTIC_TAIL = (
    8.33333333333333333333e-2,
    -2.10927960927960927961e-2,
    7.57575757575757575758e-3,
    -4.16666666666666666667e-3,
    3.96825396825396825397e-3,
    -8.33333333333333333333e-3,
    8.33333333333333333333e-2,
)
# The series is used from x >= 10; a positive x < 10 needs at most 10 steps of psi(x) =
# psi(x + 1) - 1/x to get there (after the reflection, x >= 1 for every negative input).
_ASYMPTOTIC_FROM = 10.0
_RECURRENCE_STEPS = 10
# ATen drops the tail from here on, where it is far below an ulp of log(x).
_TAIL_UNTIL = 1.0e17


def digamma(x: torch.Tensor) -> torch.Tensor:
    """``aten.digamma`` as pointwise ops, as ATen's CUDA kernel computes it.

    float16 and bfloat16 compute in float32 (ATen's opmath), float64 in float64. The reflection
    term ``pi / tan(pi * x)`` takes x's fraction, in float32 moved into [-0.5, 0.5], where it
    keeps the bits that set the term next to a pole (ATen computes it in float64 instead).
    Special values as ATen: ``digamma(+-0) = -+inf``, negative integers and ``-inf``
    give NaN, ``+inf`` gives ``+inf``, NaN gives NaN.

    Args:
        x: the input; an integer input gives the default float dtype, as ``torch.digamma``.

    Returns:
        ``digamma(x)`` in ``x``'s floating dtype.
    """
    out_dtype = x.dtype if x.dtype.is_floating_point else torch.get_default_dtype()
    opmath = torch.float64 if out_dtype == torch.float64 else torch.float32
    x = x.to(opmath)
    negative = x < 0
    # psi(x) = psi(1 - x) - pi / tan(pi * x). ATen takes modf's fraction r of x and computes
    # tan in float64, so that pi * r with r near -1 keeps the bits that set the term next to a
    # pole. In float32 opmath, r is moved by an integer into [-0.5, 0.5] instead (tan has period
    # pi; both steps are exact, Sterbenz), where pi * r loses nothing that matters and tanf is
    # within a few ulp: float64 for every element cost the kernel 1.7x eager's time on the H200.
    fraction = x - torch.trunc(x)
    if opmath == torch.float32:
        fraction = fraction - torch.round(fraction)
    reflection = -math.pi / torch.tan(math.pi * fraction)
    # Constants are full_like, never Python scalars in where: those trace to scalar_tensor
    # nodes with the tracing device baked in.
    zero = torch.zeros_like(x)
    shifted, result = _recurrence(
        torch.where(negative, 1 - x, x), torch.where(negative, reflection, zero), zero
    )
    value = torch.where(
        shifted == _ASYMPTOTIC_FROM, result + _PSI_10, _asymptotic(shifted, zero) + result
    )
    value = torch.where(negative & (x == torch.trunc(x)), torch.full_like(x, math.nan), value)
    # digamma(+-0) = -+inf. The sign of a zero is read from its bits: Inductor's Triton
    # signbit reads -0.0 as positive in float64, and on the H200 copysign(inf, -x) gave +inf
    # for some +0.0 inputs (the suite's check at 67M elements, where rand * 2 - 1 hits 0).
    bits = x.view(torch.int64 if opmath == torch.float64 else torch.int32)
    pole = torch.where(bits < 0, torch.full_like(x, math.inf), torch.full_like(x, -math.inf))
    return torch.where(x == 0, pole, value).to(out_dtype)


def _recurrence(
    x: torch.Tensor, result: torch.Tensor, zero: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x + n, result - 1/x - 1/(x + 1) - ... - 1/(x + n - 1))``, n the steps that reach 10.

    ATen's loop divides once per step; every division is a long instruction sequence, and ten
    of them made the kernel slower than ATen's, which stops at 10 and skips the reflection for
    a positive x. Here the first term, which is 1/x and unbounded as x nears 0, is its own
    division, and the other steps, each 1/(x + k) <= 1 and summing below 3, are added as one
    fraction ``p / q`` (``p / q + 1/s = (p s + q) / (q s)``) and divided once: a few ulp of
    a sum below 3, far inside the tolerance, and q stays below 10! for x >= 1 (the steps that
    run have x + k < 10), so nothing overflows. Every ``x + k`` is computed from x, not from
    the step before: Inductor re-traces a pointwise input once per use.
    """
    one = torch.ones_like(x)
    below = x < _ASYMPTOTIC_FROM
    steps = below.to(x.dtype)
    first = torch.where(below, torch.reciprocal(x), zero)
    numerator, denominator = zero, one
    for k in range(1, _RECURRENCE_STEPS):
        step = x + k
        below = step < _ASYMPTOTIC_FROM
        numerator = torch.where(below, numerator * step + denominator, numerator)
        denominator = torch.where(below, denominator * step, denominator)
        steps = steps + below.to(x.dtype)
    return x + steps, result - first - numerator / denominator


def _asymptotic(x: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    """``log(x) - 1/(2x) - sum(B_2k / (2k x^2k))`` for x >= 10, by Horner in ``1/x^2``.

    One division: 0.5 / x is 0.5 * (1/x) exactly (a power of two), and z = (1/x)^2 feeds only
    the tail, which is below 1e-3 of the result.
    """
    inverse = torch.reciprocal(x)
    z = inverse * inverse
    tail = zero
    for coefficient in _ASYMPTOTIC_TAIL:
        tail = tail * z + coefficient
    tail = torch.where(x < _TAIL_UNTIL, z * tail, zero)
    return torch.log(x) - 0.5 * inverse - tail


# Ops Inductor would call back into ATen for, by the decomposition that Inductor fuses instead.
INDUCTOR_DECOMPOSITIONS: dict[torch._ops.OpOverload, Callable[..., torch.Tensor]] = {
    aten.digamma.default: digamma,
    aten._upsample_bilinear2d_aa.default: upsample_bilinear2d_aa,
}


def custom_op_implementation(target: object) -> Callable[..., object] | None:
    """The Python implementation CUDA runs for a ``torch.library.custom_op``, or None.

    Inductor can't see inside a custom op and calls it as an extern kernel; a custom op whose
    implementation is Python over torch ops (the usual way to keep an op opaque to export and
    to Torch-TensorRT) can instead be traced into the body, where Inductor fuses it. The CUDA
    kernel registered with ``register_kernel("cuda")`` wins over the default, as the dispatcher
    picks it. Ops declared with ``torch.library.Library`` or in C++ have no Python
    implementation to trace and stay extern.
    """
    if not isinstance(target, torch._ops.OpOverload):
        return None
    from torch._library.custom_ops import _maybe_get_opdef

    opdef = _maybe_get_opdef(target)
    # torch 2.12+ marks in-place and out= custom ops; mutating ops never reach a region on 2.11.
    if opdef is None or getattr(opdef, "_is_inplace", False) or getattr(opdef, "_is_out", False):
        return None
    functions = opdef._backend_fns
    return functions.get("cuda") or functions.get(None)


def _decomposition(node: torch.fx.Node) -> Callable[..., object] | None:
    if node.op != "call_function":
        return None
    if node.target in INDUCTOR_DECOMPOSITIONS:
        return INDUCTOR_DECOMPOSITIONS[node.target]
    return custom_op_implementation(node.target)


def inductor_ready(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """A copy of ``gm`` with every op in `INDUCTOR_DECOMPOSITIONS` replaced by its decomposition,
    and every custom op with a Python implementation by that implementation's torch ops.

    Each such node is traced through its decomposition on its inputs' fake values, whose
    symbolic dims stay the graph's own, and the traced ops are inlined in its place; every other
    node is copied as it is. A node with several results (a custom op returning a tuple) has
    its ``getitem`` users rewired to the inlined results.

    Args:
        gm: a graph whose nodes carry fake values (``meta["val"]``), as a region body's do.

    Returns:
        The rewritten copy; ``gm`` is left unchanged.

    Raises:
        AotError: a decomposition could not be traced (the message names the node).
    """
    ready = torch.fx.GraphModule(gm, copy.deepcopy(gm.graph), class_name=type(gm).__name__)
    graph = ready.graph
    for node in list(graph.nodes):
        decomposition = _decomposition(node)
        if decomposition is None:
            continue
        traced = _traced_decomposition(node, decomposition)
        placeholders = traced.graph.find_nodes(op="placeholder")
        before = set(graph.nodes)
        with graph.inserting_before(node):
            value = graph.graph_copy(
                traced.graph, dict(zip(placeholders, node.all_input_nodes, strict=True))
            )
        for inlined in set(graph.nodes) - before:
            # Errors about the inlined ops still point at the user's line.
            inlined.meta.setdefault("stack_trace", node.meta.get("stack_trace"))
        _replace_results(node, value)
        graph.erase_node(node)
    graph.lint()
    ready.recompile()
    return ready


def _replace_results(node: torch.fx.Node, value: object) -> None:
    """Points the node's users at the inlined value: itself, or one result per ``getitem``."""
    if isinstance(value, torch.fx.Node):
        node.replace_all_uses_with(value)
        return
    results = list(value)  # type: ignore[call-overload]
    for user in list(node.users):
        if user.target is not operator.getitem:
            raise AotError(
                f"can't inline {describe_node(node)}: its tuple result is used by "
                f"{describe_node(user)}, not by getitem"
            )
        user.replace_all_uses_with(results[user.args[1]])
        node.graph.erase_node(user)


def _traced_decomposition(
    node: torch.fx.Node, decomposition: Callable[..., object]
) -> torch.fx.GraphModule:
    """The node's decomposition traced into aten ops, one placeholder per input node.

    Raises:
        AotError: an input carries no fake value to trace with, or the trace failed.
    """
    inputs = node.all_input_nodes
    missing = [n.name for n in inputs if "val" not in n.meta]
    if missing:
        raise AotError(
            f"can't decompose {describe_node(node)} for Inductor: its inputs {missing} carry no "
            "fake value (meta['val']); pass a graph from torch.export or a region body"
        )

    def call(*values: torch.Tensor) -> object:
        by_node = dict(zip(inputs, values, strict=True))
        args = torch.fx.node.map_arg(node.args, by_node.__getitem__)
        kwargs = torch.fx.node.map_arg(node.kwargs, by_node.__getitem__)
        return decomposition(*args, **kwargs)

    # Symbolic tracing over the graph's own fake values reuses their fake mode and shape env.
    try:
        return make_fx(call, tracing_mode="symbolic")(*(n.meta["val"] for n in inputs))
    except Exception as e:  # noqa: BLE001 - a failed trace keeps the region JIT, with the reason
        raise AotError(
            f"tracing the decomposition of {describe_node(node)} failed: {type(e).__name__}: {e}"
        ) from e
