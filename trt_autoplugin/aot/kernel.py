"""The AOT kernel record: what ``trtp.aot_impl`` returns, and the plan Inductor's wrapper gives.

`AotKernel` is the artifact the package produces: PTX whose entry takes exactly TensorRT's
arguments, and the grid and scalar arguments as expressions of the region's input dims.
`KernelPlan` is what the wrapper reader (`wrapper.kernel_plan`) finds: which kernel parameter
reads or writes which region tensor, and each scalar parameter's value.
"""

import dataclasses
from collections.abc import Sequence
from typing import TypeVar

from ..errors import AotError
from ..shape_expr import IntArithmetic, ShapeArithmetic, SymbolicDim, translate_shapes

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class AotKernel:
    """A region's ahead-of-time kernel, as ``trtp.aot_impl`` returns it.

    Attributes:
        plugin_id: the region's plugin, ``trt_autoplugin::region_<hash>``.
        kernel_name: the PTX entry.
        ptx: the kernel for ``arch``; its entry takes exactly TensorRT's arguments.
        input_shapes: the region's symbolic input shapes, which `scalars` and `grid` refer to.
        scalars: the extra arguments, passed as int32 after the input pointers.
        grid: blocks in x, y, z.
        block: threads per block (x).
        shared_mem: dynamic shared memory per block, in bytes.
        config: the Inductor config compiled (block sizes, warps, stages).
        arch: compute capability the PTX targets (90 for H100).
        checked_shapes: input shapes the kernel was checked on against the eager region.
        alternatives: the same kernel compiled with other configs, each checked too. They
            are TensorRT tactics 2, 3...: TensorRT times every tactic at the optimization
            profile's shapes when it builds the engine and keeps the fastest, where this
            kernel (tactic 1) is only the fastest at the compile hint.
    """

    plugin_id: str
    kernel_name: str
    ptx: str
    input_shapes: tuple[tuple[SymbolicDim, ...], ...]
    scalars: tuple[SymbolicDim, ...]
    grid: tuple[SymbolicDim, SymbolicDim, SymbolicDim]
    block: int
    shared_mem: int
    config: str
    arch: int
    checked_shapes: tuple[tuple[tuple[int, ...], ...], ...] = ()
    alternatives: tuple["AotKernel", ...] = ()

    def tactics(self) -> tuple["AotKernel", ...]:
        """This kernel, then its alternatives: TensorRT tactic ``t`` is ``tactics()[t - 1]``."""
        return (self, *self.alternatives)

    def for_tactic(self, tactic: int) -> "AotKernel":
        """The kernel TensorRT's ``tactic`` stands for; 0, TensorRT's default, is this one."""
        options = self.tactics()
        if tactic == 0:
            return self
        if not 1 <= tactic <= len(options):
            raise AotError(
                f"{self.plugin_id}: TensorRT asked for tactic {tactic}; the plugin declared "
                f"1 to {len(options)}"
            )
        return options[tactic - 1]

    def launch_dims(
        self, input_dims: Sequence[Sequence[T]], arith: ShapeArithmetic[T]
    ) -> tuple[tuple[T, ...], tuple[T, ...]]:
        """``(grid, scalars)`` in a backend's expressions of the input dims.

        TensorRT: ``input_dims = [desc.shape_expr for desc in inputs]`` and
        `plugin.TrtShapeArithmetic`; concrete shapes: `concrete_launch`.
        """
        grid, scalars = translate_shapes(
            [self.grid, self.scalars], self.input_shapes, input_dims, arith
        )
        # At least one block per grid dim: Triton's launcher skips an empty grid, TensorRT
        # launches it and fails. The clamp is applied here, not in sympy, which drops
        # Max(16*s0, 1) for a symbol it assumes positive, although an export dim can be 0.
        one = arith.constant(1)
        return tuple(arith.max(g, one) for g in grid), scalars

    def concrete_launch(
        self, input_shapes: Sequence[Sequence[int]]
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(grid, scalars)`` for concrete input shapes."""
        return self.launch_dims([list(s) for s in input_shapes], IntArithmetic())


@dataclasses.dataclass(frozen=True, slots=True)
class KernelPlan:
    """What Inductor's wrapper does with its one kernel, in the region's terms.

    Attributes:
        kernel_name: the kernel's name in the wrapper module.
        kernel_source: the kernel module's source (heuristics decorator included).
        inputs: per region input, the kernel parameter that reads it (None: unused).
        outputs: per region output, the kernel parameter that writes it.
        scalars: the kernel's scalar parameters in order, each with its value as an
            expression of the region's input dims.
    """

    kernel_name: str
    kernel_source: str
    inputs: tuple[str | None, ...]
    outputs: tuple[str, ...]
    scalars: tuple[tuple[str, SymbolicDim], ...]
