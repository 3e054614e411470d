"""Ahead-of-time region kernels: TorchInductor's Triton kernel, as PTX that TensorRT launches.

A JIT plugin calls back into Python on every inference. TensorRT's ``trtp.aot_impl`` instead
takes a compiled kernel and its launch parameters and embeds them in the engine. This package
produces that artifact, an `AotKernel`, for a region whose computation TorchInductor turns into
exactly one Triton kernel and nothing else. Its modules are the stages, each importing only
those below it (`build` on top; `launch`, `kernel` and `expressions` at the bottom):

1. `build.inductor_code`: Inductor compiles the region body for CUDA with the region's symbolic
   dims marked dynamic, at the sizes `hints.compile_hints` picks.
2. `wrapper.kernel_plan`: its Python wrapper is read, never executed: which kernel it launches,
   which region input or output each pointer parameter is, and each scalar parameter (element
   counts) as a sympy expression of the region's input dims (`expressions.size_expression`).
   Anything else in the wrapper is refused with the line that caused it.
3. `triton_source` and `tuning`: the kernel's source is re-emitted with its parameters in
   TensorRT's order (input pointers, then the 32-bit scalars, then output pointers; unused
   inputs get a dummy pointer) and compiled by Triton for the current GPU, once per config.
   Inductor's configs are timed on TensorRT's launch path at a large and a small size, then
   Inductor's coordinate-descent tuner runs from the fastest at each. The large size's winner
   is the kernel; the small size's winner and Inductor's configs ride along as TensorRT
   tactics. The launch grid comes from Inductor's own ``GridExpr`` for the kernel's grid type,
   with the element counts substituted, so grid and scalars are expressions TensorRT evaluates
   for any shape in the dynamic range.
4. `check`: every tactic is launched exactly as TensorRT would (`launch.launch`: the PTX through
   the CUDA driver, only TensorRT's arguments) on poisoned outputs over several shapes (0, 1,
   odd sizes and the range's maximum), against the eager region. A mismatch in any tactic
   refuses the kernel.

Every refusal raises `AotError` with the reason; the caller keeps the JIT plugin and reports it.

PyTorch's internals move between releases: the wrapper format, ``GridExpr`` and the heuristics
are those of torch 2.11.0+cu130 with Triton 3.6.0. A format this package doesn't know is refused
with the statement it met, never guessed.
"""

from .build import aot_kernel, aot_or_reason, environment_reason
from .check import TOLERANCES, check_against_eager
from .kernel import AotKernel, KernelPlan
from .launch import device_seconds, ptx_digest
from .triton_source import launch_grid
from .wrapper import kernel_plan

__all__ = [
    "TOLERANCES",
    "AotKernel",
    "KernelPlan",
    "aot_kernel",
    "aot_or_reason",
    "check_against_eager",
    "device_seconds",
    "environment_reason",
    "kernel_plan",
    "launch_grid",
    "ptx_digest",
]
