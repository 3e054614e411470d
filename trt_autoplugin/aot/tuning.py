"""Tuning: which Triton configs of the kernel ship, as TensorRT tactics, the fastest first.

The kernel is compiled by Triton for the current GPU in TensorRT's parameter order once per
config. Inductor's configs are timed on TensorRT's launch path at a large and a small size, then
Inductor's coordinate-descent tuner walks from the fastest at each. The large size's winner is
the kernel; the small size's winner and Inductor's configs ride along as tactics, which TensorRT
times at the engine's own shapes.
"""

import copy
import dataclasses
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sympy
import torch

from ..errors import AotError
from ..limits import SHARED_MEM_MAX
from ..outline import RegionBody
from .check import check_grid_bounds, empty_outputs, random_inputs
from .hints import concrete_shapes
from .kernel import AotKernel, KernelPlan
from .launch import device_seconds, launch
from .triton_source import (
    kernel_attributes,
    kernel_constants,
    kernel_parameters,
    launch_grid,
    retargeted_source,
    trimmed_ptx,
)

logger = logging.getLogger(__name__)

# A timing sample of a config lasts at least this long, in at most this many launches.
_TIMED_SAMPLE_S = 100e-6
_TIMED_CALLS_MAX = 50


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """One config of the kernel, compiled: its PTX entry and launch, before it is checked."""

    name: str
    ptx: str
    grid: tuple[sympy.Expr, sympy.Expr, sympy.Expr]
    block: int
    shared_mem: int
    config: str


def _config_compiler(
    plan: KernelPlan, tuned: Any, ranges: Mapping[sympy.Symbol, tuple[int, int | None]]
) -> Callable[[Any], Candidate]:
    """Compiles the kernel in TensorRT's parameter order for one Triton config.

    A config whose grid leaves CUDA's limits somewhere in ``ranges`` raises `AotError`.
    """
    import triton
    from torch._inductor.codecache import PyCodeCache
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    parameters = kernel_parameters(plan.kernel_source, plan.kernel_name)
    types = dict(parameters)
    order = _trt_order(plan)
    grid_type = tuned.inductor_meta.get("grid_type", "?")
    retargeted = getattr(
        PyCodeCache.load(retargeted_source(plan.kernel_source, plan.kernel_name, order)),
        plan.kernel_name,
    )
    signature = {name: _retargeted_type(name, types, plan) for name in order}
    signature.update({name: "constexpr" for name, kind in parameters if kind == "constexpr"})
    attributes = _remapped_attributes(plan, parameters, list(signature))
    constants = kernel_constants(plan.kernel_source, plan.kernel_name)
    numels = {name: sympy.sympify(value) for name, value in plan.scalars}
    declared = {name for name, kind in parameters if kind == "constexpr"}

    def compiled(config: Any) -> Candidate:
        # Persistent reductions fix R0_BLOCK in the body; only declared constexprs are passed.
        constexprs = {k: v for k, v in {**constants, **config.kwargs}.items() if k in declared}
        source = ASTSource(
            fn=retargeted, signature=signature, constexprs=constexprs, attrs=attributes
        )
        options = {"num_warps": config.num_warps, "num_stages": config.num_stages}
        binary = triton.compile(source, target=GPUTarget("cuda", _arch(), 32), options=options)
        built = _candidate(binary, plan, grid_type, config, numels)
        check_grid_bounds(plan.kernel_name, built.grid, ranges)
        return built

    return compiled


def tactic_candidates(
    plan: KernelPlan,
    body: RegionBody,
    cases: Sequence[Mapping[sympy.Symbol, int]],
    ranges: Mapping[sympy.Symbol, tuple[int, int | None]],
) -> list[Candidate]:
    """The configs to ship as TensorRT tactics, the fastest at ``cases[0]`` first.

    At each case, Inductor's own configs are timed on TensorRT's launch path (device time:
    TensorRT launches from C++), then Inductor's coordinate-descent tuner walks from the
    fastest (block sizes and warps halved and doubled) until nothing improves. The winners come
    first, then Inductor's configs, because at the shapes of another optimization profile
    another may win; TensorRT times them all there.

    Args:
        plan: the kernel's plan.
        body: the region body, run for its output buffers.
        cases: the symbol values to tune at, the one that decides the first tactic first.
        ranges: the symbols' ranges; a config whose grid leaves CUDA's limits in them is
            skipped by the tuner, and refuses the region where it is Inductor's.

    Raises:
        AotError: an Inductor config fails to compile or to fit TensorRT's launch.
    """
    tuned = _autotuner(plan)
    compiled = _config_compiler(plan, tuned, ranges)
    built: dict[str, Candidate] = {}

    def candidate(config: Any) -> Candidate:
        key = describe_config(config)
        if key not in built:
            built[key] = compiled(config)
        return built[key]

    inductor_configs = _configs(tuned, plan)
    for config in inductor_configs:
        candidate(config)  # an Inductor config that can't be built refuses the region
    winners, seconds = [], []
    for case in cases:
        times = _ConfigTimes(_launch_timer(plan, body, case), candidate)
        fastest = min(inductor_configs, key=times)
        winners.append(describe_config(_descended(tuned, times, fastest)))
        seconds.append(times.cache)
        logger.info("%s at %s: %s", plan.kernel_name, dict(case), times.ranking())
    inductor_keys = sorted({describe_config(c) for c in inductor_configs}, key=seconds[0].get)
    return [built[key] for key in dict.fromkeys([*winners, *inductor_keys])]


class _ConfigTimes:
    """Device seconds per config at one case, each config timed once."""

    def __init__(self, timer: Callable[[Candidate], float], candidate: Callable[..., Any]) -> None:
        self.cache: dict[str, float] = {}
        self._timer = timer
        self._candidate = candidate

    def __call__(self, config: Any) -> float:
        key = describe_config(config)
        if key not in self.cache:
            self.cache[key] = self._timer(self._candidate(config))
        return self.cache[key]

    def ranking(self) -> str:
        ranked = sorted(self.cache, key=self.cache.__getitem__)
        return ", ".join(f"[{key}] {self.cache[key] * 1e6:.1f} us" for key in ranked)


def _descended(tuned: Any, times: _ConfigTimes, start: Any) -> Any:
    """Inductor's coordinate descent from ``start`` over ``times``; ``start`` where this
    Inductor has no tuner. Configs that fail to compile (or to fit TensorRT's launch) are
    skipped by the tuner."""
    tuner = getattr(tuned, "coordesc_tuner", None)
    if tuner is None:
        return start
    tuner = copy.copy(tuner)
    tuner.cached_benchmark_results = {}  # its timings of another case must not be reused
    return tuner.autotune(times, copy.deepcopy(start), times(start))


def _launch_timer(
    plan: KernelPlan, body: RegionBody, case: Mapping[sympy.Symbol, int]
) -> Callable[[Candidate], float]:
    """Device seconds of one launch of a candidate, as TensorRT launches it, at ``case``."""
    shapes = concrete_shapes(body.input_specs, case)
    inputs = random_inputs(body.input_specs, shapes, "cuda", 1)
    outputs = empty_outputs(body, inputs)
    stream = torch.cuda.current_stream().cuda_stream

    def seconds(candidate: Candidate) -> float:
        kernel = unchecked_kernel(candidate, plan, body)

        def run() -> None:
            launch(kernel, inputs, outputs, stream)

        once = device_seconds(run, repeats=1)
        # Several launches per sample where one is short, so event resolution doesn't decide.
        calls = max(1, min(_TIMED_CALLS_MAX, math.ceil(_TIMED_SAMPLE_S / max(once, 1e-7))))
        return device_seconds(run, calls=calls)

    return seconds


def describe_config(config: Any) -> str:
    """A Triton config as text: its block sizes, warps and stages."""
    text = ", ".join(f"{k}={v}" for k, v in config.kwargs.items())
    return f"{text}, num_warps={config.num_warps}, num_stages={config.num_stages}"


def _autotuner(plan: KernelPlan) -> Any:
    """A fresh copy of Inductor's autotuner object for the kernel, configs not yet pruned.

    The module Inductor ran is cached by source hash, and running it kept only the winning
    config; a comment makes the source, and so the module, new.
    """
    from torch._inductor.codecache import PyCodeCache

    fresh = plan.kernel_source + "\n# trt_autoplugin: every config\n"
    return getattr(PyCodeCache.load(fresh), plan.kernel_name)


def _configs(tuned: Any, plan: KernelPlan) -> list[Any]:
    configs = getattr(tuned, "configs", None)
    if not configs:
        configs = [launcher.config for launcher in getattr(tuned, "launchers", None) or ()]
    if not configs:
        raise AotError(f"Inductor's autotuner for {plan.kernel_name} exposes no configs")
    return list(configs)


def _trt_order(plan: KernelPlan) -> list[str]:
    inputs = [p if p is not None else f"unused_input_{i}" for i, p in enumerate(plan.inputs)]
    return inputs + [name for name, _ in plan.scalars] + list(plan.outputs)


def _retargeted_type(name: str, types: Mapping[str, str], plan: KernelPlan) -> str:
    if name not in types:
        return "*i8"  # an input the kernel never reads: TensorRT still passes its pointer
    if name in dict(plan.scalars):
        return "i32"  # TensorRT's SymInt32; the bounds were checked (check.check_int32_bounds)
    return types[name]


def _remapped_attributes(
    plan: KernelPlan, parameters: Sequence[tuple[str, str]], order: Sequence[str]
) -> dict[tuple[int, ...], list[list[Any]]]:
    old = [name for name, _ in parameters]
    remapped = {}
    for (index, *rest), hints in kernel_attributes(plan.kernel_source, plan.kernel_name).items():
        if rest:
            continue
        remapped[(order.index(old[index]),)] = hints
    return remapped


def _candidate(
    compiled: Any,
    plan: KernelPlan,
    grid_type: str,
    config: Any,
    numels: Mapping[str, sympy.Expr],
) -> Candidate:
    metadata = compiled.metadata
    for scratch in ("global_scratch_size", "profile_scratch_size"):
        if getattr(metadata, scratch, 0):
            raise AotError(
                f"{plan.kernel_name} needs Triton {scratch.removesuffix('_size')} memory"
            )
    if metadata.shared > SHARED_MEM_MAX:
        raise AotError(
            f"{plan.kernel_name} needs {metadata.shared} bytes of dynamic shared memory, above "
            "the 48 KiB a launch gets without cuFuncSetAttribute, which TensorRT doesn't call"
        )
    expected = len(plan.inputs) + len(plan.scalars) + len(plan.outputs)
    ptx = trimmed_ptx(compiled.asm["ptx"], metadata.name, expected)
    grid = launch_grid(grid_type, config.kwargs, numels)
    return Candidate(
        metadata.name, ptx, grid, 32 * metadata.num_warps, metadata.shared, describe_config(config)
    )


def unchecked_kernel(candidate: Candidate, plan: KernelPlan, body: RegionBody) -> AotKernel:
    """The candidate as the region's kernel, before `check.check_against_eager`."""
    return AotKernel(
        body.qualified_name,
        candidate.name,
        candidate.ptx,
        tuple(s.shape for s in body.input_specs),
        tuple(value for _, value in plan.scalars),
        candidate.grid,
        candidate.block,
        candidate.shared_mem,
        candidate.config,
        _arch(),
    )


def _arch() -> int:
    major, minor = torch.cuda.get_device_capability()
    return major * 10 + minor
