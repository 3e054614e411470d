"""Building a region's AOT kernel: Inductor's code, read, tuned and checked.

`aot_kernel` runs the stages in order: the environment and the region's inputs are vetted
(`environment_reason`, `index_inputs_reason`), Inductor compiles the body with its dims dynamic
(`inductor_code`), its wrapper is read (`wrapper.kernel_plan`), the configs are tuned into
tactics (`tuning.tactic_candidates`) and every tactic is checked against eager
(`check.check_against_eager`).
"""

import dataclasses
import logging
import operator
from collections.abc import Mapping

import sympy
import torch

from ..errors import AotError
from ..graph import target_name
from ..outline import RegionBody
from ..probes import cuda_driver_import_error
from ..refusal import Refusal, RefusalKind
from .check import check_against_eager, check_int32_bounds, random_inputs
from .decompositions import inductor_ready
from .hints import SMALL_TUNING_BYTES, check_cases, compile_hints, concrete_shapes, symbol_ranges
from .kernel import AotKernel
from .tuning import tactic_candidates, unchecked_kernel
from .wrapper import SeveralKernelsError, kernel_plan

logger = logging.getLogger(__name__)


def environment_reason() -> str | None:
    """Why AOT kernels can't be built in this process, or None."""
    if not torch.cuda.is_available():
        return "AOT kernels are compiled by TorchInductor for CUDA: no CUDA device here"
    if torch._guards.TracingContext.try_get() is not None:
        # Under torch.compile(backend="tensorrt") the pass runs inside Dynamo's backend call,
        # where a nested Inductor compile (and its dynamo.reset) would corrupt the outer one.
        return (
            "the pass runs inside a torch.compile backend, where a nested Inductor compile is "
            "unsafe; compile with torch_tensorrt.dynamo.compile or trt_autoplugin.compile"
        )
    try:
        import triton  # noqa: F401
        from torch._inductor.runtime import triton_heuristics  # noqa: F401
        from torch._inductor.utils import run_and_get_code  # noqa: F401
    except ImportError as e:
        return f"AOT kernels need Triton and TorchInductor: {e}"
    return cuda_driver_import_error()


# Inductor stores a pointwise result in a buffer of its own, between two kernels, once it is
# bigger than 30 ops and read more than once (``realize_opcount_threshold``). An AOT plugin is
# one kernel: where Inductor split a region so, it is compiled again with this limit instead,
# recomputing such a result in the one kernel that reads it (the antialiased resize's weights).
RECOMPUTE_OPS = 10_000


def inductor_code(
    body: RegionBody,
    hints: Mapping[sympy.Symbol, int],
    *,
    recompute: bool = False,
) -> str:
    """Inductor's wrapper code for the body compiled for CUDA, dynamic in the region's dims;
    with ``recompute``, Inductor stores no intermediate it can recompute (`RECOMPUTE_OPS`).
    ``x / y`` rounds as eager's does (IEEE), not as Triton's ``div.full`` (2 ulp): a kernel that
    rounds a quotient to an integer (a quantizer) would otherwise differ from eager by one
    where the quotient lands next to .5, on inputs no check can be sure to draw (the drawn
    batches of ``test_aot`` found one). On the H200 it cost the digamma kernel, three
    divisions per element, nothing measurable (1.01x against 1.03x with ``div.full``).

    Raises:
        AotError: Dynamo or Inductor failed, or the body compiled into more than one graph.
    """
    import torch._inductor.config
    from torch._inductor.utils import run_and_get_code

    inputs = random_inputs(body.input_specs, concrete_shapes(body.input_specs, hints), "cuda", 0)
    ranges = symbol_ranges(body)
    for tensor, spec in zip(inputs, body.input_specs, strict=True):
        for index, dim in enumerate(spec.shape):
            if isinstance(dim, sympy.Symbol):
                upper = ranges.get(dim, (0, None))[1]
                torch._dynamo.mark_dynamic(tensor, index, min=0, max=upper)
            elif not isinstance(dim, int):
                # A derived dim (2*s0) gets a symbol of its own; the wrapper's sizes are then
                # read back as the region's expression (`wrapper.kernel_plan`).
                torch._dynamo.mark_dynamic(tensor, index)
    # Ops Inductor would call back into ATen for become pointwise ops it fuses (`decompositions`).
    compiled = torch.compile(inductor_ready(body.graph_module), backend="inductor", fullgraph=True)
    settings = {
        # A cache hit would skip code generation, and with it the code this module reads.
        "fx_graph_cache": False,
        "fx_graph_remote_cache": False,
        "eager_numerics.division_rounding": True,
    }
    if recompute:
        settings["realize_opcount_threshold"] = RECOMPUTE_OPS
    try:
        with torch._inductor.config.patch(settings):
            _, codes = run_and_get_code(compiled, *inputs)
    except Exception as e:  # noqa: BLE001 - any Dynamo/Inductor failure keeps the region JIT
        raise AotError(
            f"TorchInductor could not compile the region: {type(e).__name__}: {e}"
        ) from e
    if len(codes) != 1:
        raise AotError(f"TorchInductor split the region into {len(codes)} graphs")
    return codes[0]


@dataclasses.dataclass(slots=True)
class _Stage:
    """The stage `_built_kernel` is in: an `AotError`'s refusal kind is where it was raised."""

    kind: RefusalKind = RefusalKind.ENVIRONMENT


def aot_kernel(body: RegionBody, *, check_shapes: int = 8) -> AotKernel:
    """Compiles a region into a checked ahead-of-time kernel for the current GPU.

    Args:
        body: the region body.
        check_shapes: how many shape cases to check against eager (0, 1, odd sizes, the hint
            and the range's maximum come first).

    Returns:
        The kernel, its launch expressions and the shapes it was checked on.

    Raises:
        AotError: why the region stays a JIT plugin (no CUDA/Triton, several kernels, an extern
            call, unbounded scalars, a failed check...).
    """
    return _built_kernel(body, check_shapes, _Stage())


def _built_kernel(body: RegionBody, check_shapes: int, stage: _Stage) -> AotKernel:
    reason = environment_reason()
    if reason is not None:
        raise AotError(reason)
    ranges = symbol_ranges(body)
    stage.kind = RefusalKind.INDEX_BOUNDS
    reason = index_inputs_reason(body)
    if reason is not None:
        raise AotError(reason)
    hints = compile_hints(ranges, body.input_specs)
    return _checked_kernel(body, check_shapes, stage, ranges, hints)


def _checked_kernel(
    body: RegionBody,
    check_shapes: int,
    stage: _Stage,
    ranges: Mapping[sympy.Symbol, tuple[int, int | None]],
    hints: Mapping[sympy.Symbol, int],
) -> AotKernel:
    stage.kind = RefusalKind.INDUCTOR
    try:
        code = inductor_code(body, hints)
        plan = kernel_plan(code, body.input_specs, body.output_specs)
    except SeveralKernelsError as e:
        logger.info("region %s: %s; compiling again, recomputing intermediates", body.digest(), e)
        code = inductor_code(body, hints, recompute=True)
        plan = kernel_plan(code, body.input_specs, body.output_specs)
    stage.kind = RefusalKind.INT32_BOUNDS
    check_int32_bounds(plan, ranges)
    cases = check_cases(ranges, hints)[: max(check_shapes, 1)]
    small = compile_hints(ranges, body.input_specs, budget_bytes=SMALL_TUNING_BYTES)
    tuning = [hints] if small == hints else [hints, small]
    stage.kind = RefusalKind.TUNING
    unchecked = [
        unchecked_kernel(c, plan, body) for c in tactic_candidates(plan, body, tuning, ranges)
    ]
    stage.kind = RefusalKind.EAGER_MISMATCH
    kernels = [
        dataclasses.replace(kernel, checked_shapes=check_against_eager(kernel, body, cases))
        for kernel in unchecked
    ]
    first, *alternatives = kernels
    logger.info(
        "AOT kernel %s for %s (%s; %d tactics)",
        first.kernel_name,
        first.plugin_id,
        first.config,
        len(kernels),
    )
    return dataclasses.replace(first, alternatives=tuple(alternatives))


def aot_or_reason(body: RegionBody) -> AotKernel | Refusal:
    """The region's checked AOT kernel, or the refusal that keeps it a JIT plugin; its kind
    is the stage that refused (the environment, index inputs, Inductor's code, int32 bounds,
    tuning, or the check against eager)."""
    stage = _Stage()
    try:
        return _built_kernel(body, 8, stage)
    except AotError as e:
        logger.info("region %s stays JIT: %s", body.digest(), e)
        return Refusal(stage.kind, str(e))


aten = torch.ops.aten
# Ops that are neither pointwise nor reductions by their tags, yet read integers as values.
_VALUE_OPS = frozenset(
    {aten._to_copy, aten.clone, aten.cat, aten.stack, aten.cumsum, aten.cumprod, aten.sort}
)


def _reads_values_only(target: object) -> bool:
    """Whether an op reads an integer argument as values (arithmetic, comparison, a cast, a
    view, a reduction), never as positions into another tensor."""
    if target is operator.getitem:
        return True
    if not isinstance(target, torch._ops.OpOverload):
        return False
    if torch.Tag.pointwise in target.tags or torch.Tag.reduction in target.tags:
        return True
    if any(r.alias_info is not None for r in target._schema.returns):
        return True  # a view of the input
    return target.overloadpacket in _VALUE_OPS


def index_inputs_reason(body: RegionBody) -> str | None:
    """Why a region with integer inputs gets no AOT kernel, or None.

    The kernel is compiled and checked on random inputs (`inductor_code`,
    `check.check_against_eager`); random integers read as positions (indices, unpooling
    indices, class targets) run out of bounds, and an out-of-bounds index on the GPU is a
    device-side assert that leaves the CUDA context unusable for the rest of the process. So an
    integer input may only be read as values (`_reads_values_only`).
    """
    for node in body.graph_module.graph.find_nodes(op="placeholder"):
        value = node.meta.get("val")
        if value is None or value.dtype.is_floating_point or value.dtype == torch.bool:
            continue
        for user in node.users:
            if not _reads_values_only(user.target):
                return (
                    f"integer input {node.name} is read by {target_name(user.target)}, which may "
                    "read it as positions; the kernel can't be checked on random values (an "
                    "out-of-bounds index faults the CUDA context)"
                )
    return None
