"""Checking an AOT kernel before it ships: against the eager region, and against TensorRT's limits.

Every tactic is launched exactly as TensorRT would (`launch.launch`: the PTX through the CUDA
driver, only TensorRT's arguments) on poisoned outputs over several shapes, and compared with
the eager region (`check_against_eager`). The scalar arguments and the grid are checked at the
top of the dynamic range, where they are largest (`check_int32_bounds`, `check_grid_bounds`).
"""

import math
from collections.abc import Mapping, Sequence

import sympy
import torch

from ..errors import AotError
from ..limits import GRID_YZ_MAX, INT32_MAX
from ..outline import RegionBody, TensorSpec, run_body
from ..shape_expr import infer_output_shapes
from .hints import concrete_shapes
from .kernel import AotKernel, KernelPlan
from .launch import launch

# Inputs at the range's maximum are checked only below this many elements per tensor.
_MAX_CHECK_ELEMENTS = 1 << 26

# (rtol, atol). Inductor computes a fp16/bf16 chain in fp32 and rounds once, eager rounds after
# every op: a few units in the last place apart (fp16 ulp is 2**-10 relative, bf16 2**-7).
TOLERANCES = {
    torch.float32: (1e-5, 1e-5),
    torch.float16: (5e-3, 5e-3),
    torch.bfloat16: (4e-2, 4e-2),
}


def poison(tensor: torch.Tensor, seed: int) -> None:
    """Fills a buffer with values no kernel computes by accident: NaN (floats) or 0x7F bytes."""
    if tensor.dtype.is_floating_point and seed % 2 == 0:
        tensor.fill_(float("nan"))
    else:
        tensor.view(torch.uint8).fill_(0x7F)


def check_against_eager(
    kernel: AotKernel, body: RegionBody, cases: Sequence[Mapping[sympy.Symbol, int]]
) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Launches the kernel as TensorRT would on poisoned outputs and compares with eager.

    Returns:
        The input shapes checked (cases too large to allocate are skipped).

    Raises:
        AotError: an output differs, names the shape and the largest difference.
    """
    checked = []
    for seed, case in enumerate(cases):
        shapes = concrete_shapes(body.input_specs, case)
        if any(math.prod(s) > _MAX_CHECK_ELEMENTS for s in shapes):
            continue
        inputs = random_inputs(body.input_specs, shapes, "cuda", seed)
        outputs = empty_outputs(body, inputs)
        for out in outputs:
            poison(out, seed)
        try:
            expected = run_body(body, inputs)
        except RuntimeError:
            continue  # eager can't run this shape (nor can the original program)
        launch(kernel, inputs, outputs, torch.cuda.current_stream().cuda_stream)
        torch.cuda.synchronize()
        for index, (got, want) in enumerate(zip(outputs, expected, strict=True)):
            _compare(kernel, index, shapes, got, want)
        checked.append(tuple(shapes))
    if not checked:
        raise AotError("no check case fits in memory")
    return tuple(checked)


def _compare(
    kernel: AotKernel,
    index: int,
    shapes: Sequence[tuple[int, ...]],
    got: torch.Tensor,
    want: torch.Tensor,
) -> None:
    rtol, atol = TOLERANCES.get(want.dtype, (0.0, 0.0))
    try:
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol, equal_nan=True)
    except AssertionError as e:
        summary = " ".join(str(e).split())[:300]
        raise AotError(
            f"AOT kernel {kernel.kernel_name} ({kernel.config}) differs from the eager region on "
            f"output {index} for input shapes {list(shapes)}: {summary}"
        ) from e


def random_inputs(
    specs: Sequence[TensorSpec], shapes: Sequence[tuple[int, ...]], device: str, seed: int
) -> list[torch.Tensor]:
    """Random inputs; even seeds draw floats in (-1, 1) (erfinv's domain), odd ones N(0, 9)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    tensors = []
    for spec, shape in zip(specs, shapes, strict=True):
        if spec.dtype.is_floating_point and seed % 2 == 0:
            value = torch.rand(shape, device=device, generator=generator) * 2 - 1
        elif spec.dtype.is_floating_point:
            value = torch.randn(shape, device=device, generator=generator) * 3
        elif spec.dtype == torch.bool:
            value = torch.rand(shape, device=device, generator=generator) > 0.5
        else:
            value = torch.randint(-100, 100, shape, device=device, generator=generator)
        tensors.append(value.to(spec.dtype))
    return tensors


def empty_outputs(body: RegionBody, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Uninitialised CUDA outputs of the region for its ``inputs``' shapes."""
    shapes = infer_output_shapes(
        [s.shape for s in body.output_specs],
        [s.shape for s in body.input_specs],
        [tuple(x.shape) for x in inputs],
    )
    return [
        torch.empty(shape, dtype=spec.dtype, device="cuda")
        for shape, spec in zip(shapes, body.output_specs, strict=True)
    ]


def check_int32_bounds(
    plan: KernelPlan, ranges: Mapping[sympy.Symbol, tuple[int, int | None]]
) -> None:
    """Every scalar must fit int32 at the top of the range (they grow with the dims)."""
    unbounded = sorted(str(s) for s, (_, upper) in ranges.items() if upper is None)
    if unbounded and plan.scalars:
        raise AotError(
            f"dims {', '.join(unbounded)} have no upper bound, and TensorRT passes kernel "
            "arguments as int32: export with a bounded Dim (max=...) to allow an AOT kernel"
        )
    top = {s: upper for s, (_, upper) in ranges.items()}
    for name, value in plan.scalars:
        largest = int(sympy.sympify(value).subs(top))
        if largest > INT32_MAX:
            raise AotError(f"kernel argument {name} = {value} reaches {largest} > int32 max")


def check_grid_bounds(
    kernel_name: str,
    grid: Sequence[sympy.Expr],
    ranges: Mapping[sympy.Symbol, tuple[int, int | None]],
) -> None:
    """The grid's y and z dims must stay within CUDA's `GRID_YZ_MAX` blocks over the range.

    Inductor's grids grow with the dims, so the top of the range is where they are largest.

    Raises:
        AotError: a y or z dim exceeds the limit at the top of the range, or has no bound.
    """
    top = {s: upper for s, (_, upper) in ranges.items() if upper is not None}
    for axis, dim in zip("yz", grid[1:], strict=True):
        largest = sympy.sympify(dim).subs(top)
        if largest.free_symbols:
            raise AotError(
                f"{kernel_name}'s grid {tuple(grid)} has no bound in {axis}, where CUDA allows "
                f"at most {GRID_YZ_MAX} blocks: export with a bounded Dim (max=...)"
            )
        if int(largest) > GRID_YZ_MAX:
            raise AotError(
                f"{kernel_name}'s grid {tuple(grid)} reaches {int(largest)} blocks in {axis} at "
                f"the top of the range, above CUDA's {GRID_YZ_MAX}"
            )
