"""The Torch-TensorRT lowering pass, its registration, and `compile`.

Torch-TensorRT runs post-lowering passes as ``pass(gm, settings) -> gm`` on the decomposed
``ExportedProgram.module()``, then partitions. `lowering_pass` runs just before Torch-TensorRT's
complex rewrite (see `_RUN_BEFORE`): it outlines what the live converter registry
rejects (under the same settings) into region ops and registers a converter (and, where
``tensorrt.plugin`` imports, a TensorRT plugin) for each, so the partitioner finds every node
convertible. ``torch_tensorrt`` is imported inside functions only.
"""

import dataclasses
import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import torch
import torch.fx

from .aot import AotKernel, aot_or_reason
from .converter import RegionHandle, register_region
from .errors import AutopluginError
from .handles import RegistrationHandle
from .outline import OutlinedRegion
from .output_writes import output_writes
from .pipeline import GraphOutcome, outline_graph_module
from .pluggable import size_tensors
from .probes import require_torch_tensorrt
from .refusal import Refusal, RefusalKind
from .report import DryrunSegments, ImplementationEntry, NodeEntry
from .segments import Segments
from .support import SupportOracle, TorchTensorRTSupport
from .torch_tensorrt_registry import CompilationSettingsLike

logger = logging.getLogger(__name__)

LoweringPass = Callable[[torch.fx.GraphModule, Any], torch.fx.GraphModule]


# --- the pass ------------------------------------------------------------------------------------


def outline_for_tensorrt(
    gm: torch.fx.GraphModule,
    settings: CompilationSettingsLike,
    *,
    oracle: SupportOracle | None = None,
) -> GraphOutcome:
    """Outlines, in place, what Torch-TensorRT can't convert; registers nothing.

    Regions `pluggable.region_refusal_reason` refuses (a plugin can't take them, or they hold an
    op listed in ``settings.torch_executed_ops``) stay in the graph, reported with their reason.

    Args:
        gm: a post-lowering GraphModule with fake-tensor ``meta['val']``.
        settings: Torch-TensorRT's ``CompilationSettings`` (``min_block_size`` and
            ``torch_executed_ops`` are read).
        oracle: who decides support; Torch-TensorRT's live registry under ``settings`` if None.

    Returns:
        The outcome: report, outlined regions, renamed outputs.
    """
    if oracle is None:
        oracle = TorchTensorRTSupport(settings)
    return outline_graph_module(
        gm,
        oracle,
        min_block_size=settings.min_block_size,
        torch_executed_ops=tuple(getattr(settings, "torch_executed_ops", None) or ()),
        # Absent before 2.13, where nothing falls back.
        fallback_data_dependent_ops=bool(getattr(settings, "fallback_data_dependent_ops", False)),
    )


def _aot_or_reason(region: OutlinedRegion, *, aot: bool) -> AotKernel | Refusal:
    if not aot:
        return Refusal(RefusalKind.NOT_REQUESTED, "AOT kernels were not requested")
    sizes = size_tensors(region.body)
    if sizes:
        # Inductor's kernels write outputs of known size; none writes its output's length.
        extents = ", ".join(str(s.extent) for s in sizes)
        return Refusal(
            RefusalKind.DATA_DEPENDENT_OUTPUT,
            f"data-dependent outputs (extent {extents}): an Inductor kernel can't write the "
            "extent into TensorRT's size tensor",
        )
    return aot_or_reason(region.body)


def implementations(
    regions: Sequence[OutlinedRegion], *, aot: bool
) -> tuple[tuple[AotKernel | None, ...], tuple[ImplementationEntry, ...]]:
    """Per region, its `aot.AotKernel` (or None: JIT) and the report entry saying why."""
    # Repeated blocks outline to one region op: built once.
    built: dict[str, AotKernel | Refusal] = {}
    answers = []
    for region in regions:
        if region.name not in built:
            built[region.name] = _aot_or_reason(region, aot=aot)
        answers.append(built[region.name])
    kernels = tuple(None if isinstance(a, Refusal) else a for a in answers)
    entries = tuple(
        ImplementationEntry.of(r.name, a, _copies(r) if isinstance(a, Refusal) else ())
        for r, a in zip(regions, answers, strict=True)
    )
    return kernels, entries


def _copies(region: OutlinedRegion) -> tuple[str, ...]:
    return tuple(str(w) for w in output_writes(region.body) if not w.in_place)


def register_regions(
    regions: Sequence[OutlinedRegion],
    *,
    aot_kernels: Sequence[object] | None = None,
    size_tensor_opt: float = 0.5,
) -> tuple[RegionHandle, ...]:
    """Registers a plugin and a converter per region; on failure undoes the ones it made.

    Handles are not destroyed after compiling: an engine needs its plugins while it lives.
    ``size_tensor_opt`` is as in `plugin.register_plugin`.
    """
    kernels = list(aot_kernels) if aot_kernels is not None else [None] * len(regions)
    handles: list[RegionHandle] = []
    complete = False
    try:
        for region, kernel in zip(regions, kernels, strict=True):
            handles.append(
                register_region(region.body, aot_kernel=kernel, size_tensor_opt=size_tensor_opt)
            )
        complete = True
    finally:
        if not complete:
            for handle in reversed(handles):
                handle.destroy()
    return tuple(handles)


def lowering_pass(
    gm: torch.fx.GraphModule, settings: CompilationSettingsLike
) -> torch.fx.GraphModule:
    """Torch-TensorRT post-lowering pass: outline unconvertible subgraphs into plugin ops.

    Has the 2.13 pass signature ``(gm, settings) -> gm``; register it with
    `register_lowering_pass`, or use `compile`.

    Raises:
        AutopluginError: a stage failed (names the node or region and the reason).
    """
    outcome, entries = outlined_and_registered(
        gm, settings, aot=True, size_tensor_opt=_PASS_OPTIONS["size_tensor_opt"]
    )
    for entry in entries:
        logger.info(
            "%s runs as %s %s", entry.op, entry.implementation.value, entry.reason or entry.kernel
        )
    logger.info(
        "trt_autoplugin: %d regions outlined into plugins, %d nodes left in PyTorch",
        len(outcome.regions),
        len(outcome.report.left_in_graph),
    )
    return gm


def outlined_and_registered(
    gm: torch.fx.GraphModule,
    settings: CompilationSettingsLike,
    *,
    aot: bool,
    size_tensor_opt: float = 0.5,
) -> tuple[GraphOutcome, tuple[ImplementationEntry, ...]]:
    """What the pass does to one graph: outline it in place, then register each region's
    converter and plugin (with its AOT kernel where ``aot`` and one builds).

    Returns:
        The outcome, and how each region's plugin runs.
    """
    outcome = outline_for_tensorrt(gm, settings)
    kernels, entries = implementations(outcome.regions, aot=aot)
    register_regions(outcome.regions, aot_kernels=kernels, size_tensor_opt=size_tensor_opt)
    return outcome, entries


# --- registration --------------------------------------------------------------------------------


class LoweringPassHandle(RegistrationHandle):
    """A lowering pass in Torch-TensorRT's post-lowering passes; `destroy` removes it."""

    __slots__ = ("lowering_pass",)
    _lock = threading.RLock()

    def __init__(self, lowering_pass: LoweringPass) -> None:
        super().__init__()
        self.lowering_pass = lowering_pass

    def _unregister(self) -> None:
        _remove_pass(self.lowering_pass)

    def _name(self) -> str:
        return getattr(self.lowering_pass, "__name__", repr(self.lowering_pass))


def _post_lowering_passes() -> list[LoweringPass]:
    # Import from the module, not the package: ``lowering.passes`` star-imports without
    # ``__all__``, so ``passes._aten_lowering_pass`` is the submodule, not the function.
    from torch_tensorrt.dynamo.lowering.passes._aten_lowering_pass import (
        ATEN_POST_LOWERING_PASSES,
    )

    return ATEN_POST_LOWERING_PASSES.passes


# The post-lowering pass our pass must precede: Torch-TensorRT's complex rewrite, named
# ``complex_graph_detection`` in 2.11-2.13 and ``complex_lowering_pass`` in 2.14 (which picks
# between that rewrite and PyTorch's complex decomposition). ``constant_fold``, earlier in the
# list, freezes ``view_as_complex(parameter)`` into a complex constant; the rewrite then turns
# complex subgraphs into real arithmetic and crashes on an FFT chain it can't rewrite (2.13: "The
# size of tensor a (8) must match the size of tensor b (6)"). Outlining first hands it a graph
# whose FFT chains are already region ops, with complex constants entering as real views.
_RUN_BEFORE = ("complex_graph_detection", "complex_lowering_pass")


def _pass_index(passes: Sequence[LoweringPass]) -> int | None:
    """Where our pass goes: just before the complex rewrite, or None (appended) if it is absent."""
    names = [getattr(p, "__name__", "") for p in passes]
    found = [i for i, name in enumerate(names) if name in _RUN_BEFORE]
    return found[0] if found else None


def _insert_pass(function: LoweringPass) -> LoweringPassHandle:
    require_torch_tensorrt()
    from torch_tensorrt.dynamo.lowering.passes._aten_lowering_pass import _aten_lowering_pass

    passes = _post_lowering_passes()
    if function not in passes:
        _aten_lowering_pass(function, index=_pass_index(passes))
    return LoweringPassHandle(function)


def _remove_pass(function: LoweringPass) -> None:
    require_torch_tensorrt()
    from torch_tensorrt.dynamo.lowering.passes._aten_lowering_pass import _remove_lowering_pass

    passes = _post_lowering_passes()
    if function in passes:
        _remove_lowering_pass(index=passes.index(function))


# What `register_lowering_pass` was told; the pass Torch-TensorRT calls takes only (gm, settings).
_PASS_OPTIONS: dict[str, float] = {"size_tensor_opt": 0.5}


def register_lowering_pass(*, size_tensor_opt: float = 0.5) -> LoweringPassHandle:
    """Adds `lowering_pass` to Torch-TensorRT's post-lowering passes (idempotent).

    It runs after ``constant_fold`` and just before Torch-TensorRT's complex rewrite
    (``complex_graph_detection``, ``complex_lowering_pass`` in 2.14; appended where neither
    exists), so that FFT chains reach the rewrite already outlined.

    Afterwards plain ``torch_tensorrt.dynamo.compile(ep, inputs=...)`` outlines and plugs in what
    it can't convert. The registration lasts for the process; undo it with
    `unregister_lowering_pass` or the handle's ``destroy()``.

    Args:
        size_tensor_opt: for regions with data-dependent outputs, the fraction of each extent's
            upper bound TensorRT optimizes for (default: half).

    Raises:
        MissingDependencyError: ``torch_tensorrt`` does not import.
        ValueError: ``size_tensor_opt`` is not in (0, 1].
    """
    if not 0 < size_tensor_opt <= 1:
        raise ValueError(f"size_tensor_opt must be in (0, 1], not {size_tensor_opt}")
    _PASS_OPTIONS["size_tensor_opt"] = size_tensor_opt
    return _insert_pass(lowering_pass)


def unregister_lowering_pass() -> None:
    """Removes `lowering_pass` from Torch-TensorRT's post-lowering passes, if there."""
    _remove_pass(lowering_pass)


# --- compile -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class CompileReport:
    """What `compile` produced.

    Attributes:
        engines: TensorRT engines in the compiled module (``_run_on_acc*`` submodules).
        graph_breaks: PyTorch segments left between them (``_run_on_gpu*`` submodules; 1 when
            Torch-TensorRT returned the module unpartitioned).
        regions: the region ops outlined into plugins.
        left_in_graph: unsupported nodes left in PyTorch, with reasons.
        implementations: per region, AOT kernel or JIT, and why not AOT.
    """

    engines: int
    graph_breaks: int
    regions: tuple[str, ...]
    left_in_graph: tuple[NodeEntry, ...]
    implementations: tuple[ImplementationEntry, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class CompileResult:
    """The compiled module, the regions that became plugins, and the report."""

    module: torch.nn.Module
    regions: tuple[OutlinedRegion, ...]
    report: CompileReport


def segment_counts(module: torch.nn.Module) -> tuple[int, int]:
    """``(engines, PyTorch segments)`` of a module Torch-TensorRT compiled.

    Torch-TensorRT names engine submodules ``_run_on_acc_<i>`` and PyTorch ones
    ``_run_on_gpu_<i>``. A module with neither was returned unpartitioned (too few supported
    ops): no engine, one PyTorch segment.
    """
    names = [name for name, _ in module.named_children()]
    engines = sum("_run_on_acc" in name for name in names)
    torch_segments = sum("_run_on_gpu" in name for name in names)
    if engines == 0 and torch_segments == 0:
        return 0, 1
    return engines, torch_segments


def compile(
    model_or_ep: torch.nn.Module | torch.export.ExportedProgram,
    inputs: Sequence[Any],
    *,
    dynamic_shapes: Mapping[str, Any] | Sequence[Any] | None = None,
    aot: bool = True,
    size_tensor_opt: float = 0.5,
    **torch_tensorrt_kwargs: Any,
) -> CompileResult:
    """Compiles with Torch-TensorRT, outlining what it can't convert into plugins.

    Exports the model if needed, appends the lowering pass for the duration of the call, runs
    ``torch_tensorrt.dynamo.compile`` and counts the engines and graph breaks it produced. The
    plugins stay registered: the compiled module needs them.

    Args:
        model_or_ep: a module (exported with ``inputs`` and ``dynamic_shapes``) or an
            ExportedProgram.
        inputs: example inputs or ``torch_tensorrt.Input`` specs, passed as ``inputs=``.
        dynamic_shapes: for ``torch.export.export`` when a module is given.
        aot: compile each region into an ahead-of-time kernel where it can be (`aot.aot_kernel`),
            so the engine runs it without Python; the others stay JIT, with the reason reported.
        size_tensor_opt: for regions with data-dependent outputs, the fraction of each extent's
            upper bound TensorRT optimizes for (default: half).
        **torch_tensorrt_kwargs: passed to ``torch_tensorrt.dynamo.compile`` (e.g.
            ``min_block_size``, ``torch_executed_ops``).

    Returns:
        The compiled module, the outlined regions and a `CompileReport`.

    Raises:
        MissingDependencyError: ``torch_tensorrt`` does not import.
        AutopluginError: the pass failed.

    Examples:
        >>> result = trt_autoplugin.compile(model, (x,), dynamic_shapes=({0: Dim("b")},))
        >>> result.report.engines, result.report.graph_breaks
        (1, 0)
    """
    require_torch_tensorrt()
    import torch_tensorrt

    ep = _exported(model_or_ep, inputs, dynamic_shapes)
    outcomes: list[GraphOutcome] = []
    entries: list[ImplementationEntry] = []

    def trt_autoplugin_pass(
        gm: torch.fx.GraphModule, settings: CompilationSettingsLike
    ) -> torch.fx.GraphModule:
        outcome, implemented = outlined_and_registered(
            gm, settings, aot=aot, size_tensor_opt=size_tensor_opt
        )
        outcomes.append(outcome)
        entries.extend(implemented)
        return gm

    handle = _insert_pass(trt_autoplugin_pass)
    try:
        module = torch_tensorrt.dynamo.compile(ep, inputs=list(inputs), **torch_tensorrt_kwargs)
    finally:
        handle.destroy()
    regions, report = _summary(module, outcomes)
    return CompileResult(
        module, regions, dataclasses.replace(report, implementations=tuple(entries))
    )


def _exported(
    model_or_ep: torch.nn.Module | torch.export.ExportedProgram,
    inputs: Sequence[Any],
    dynamic_shapes: Mapping[str, Any] | Sequence[Any] | None,
) -> torch.export.ExportedProgram:
    if isinstance(model_or_ep, torch.export.ExportedProgram):
        return model_or_ep
    tensors = tuple(x for x in inputs if isinstance(x, torch.Tensor))
    if len(tensors) != len(inputs):
        raise TypeError(
            "exporting a module needs example tensors as inputs; for torch_tensorrt.Input "
            "specs, export the module yourself and pass the ExportedProgram"
        )
    return torch.export.export(model_or_ep, tensors, dynamic_shapes=dynamic_shapes)


def _summary(
    module: torch.nn.Module, outcomes: Sequence[GraphOutcome]
) -> tuple[tuple[OutlinedRegion, ...], CompileReport]:
    regions = tuple(r for outcome in outcomes for r in outcome.regions)
    left = tuple(e for outcome in outcomes for e in outcome.report.left_in_graph)
    engines, graph_breaks = segment_counts(module)
    report = CompileReport(engines, graph_breaks, tuple(r.name for r in regions), left)
    return regions, report


# --- Torch-TensorRT's own dryrun -----------------------------------------------------------------


def input_specs(ep: torch.export.ExportedProgram) -> list[Any]:
    """A ``torch_tensorrt.Input`` per user input, each dynamic dim over its export range.

    Ranges start at 1 (a TensorRT optimization profile holds no empty dim; Torch-TensorRT raises a
    minimum of 0 to 1 too); the optimum is the export's example size.

    Raises:
        AutopluginError: an input is not a tensor, or a dynamic dim has no upper bound (TensorRT
            needs one: export with ``Dim(..., max=...)``).
    """
    require_torch_tensorrt()
    import torch_tensorrt

    user_inputs = set(ep.graph_signature.user_inputs)
    specs = []
    for node in ep.graph.nodes:
        if node.op != "placeholder" or node.name not in user_inputs:
            continue
        value = node.meta.get("val")
        if not isinstance(value, torch.Tensor):
            raise AutopluginError(f"input {node.name} is {type(value).__name__}, not a tensor")
        low, opt, high = zip(
            *(_dim_range(ep, node.name, size) for size in value.shape), strict=True
        )
        specs.append(
            torch_tensorrt.Input(min_shape=low, opt_shape=opt, max_shape=high, dtype=value.dtype)
        )
    return specs


def _dim_range(
    ep: torch.export.ExportedProgram, name: str, size: int | torch.SymInt
) -> tuple[int, int, int]:
    if not isinstance(size, torch.SymInt):
        return int(size), int(size), int(size)
    bounds = ep.range_constraints.get(size.node.expr)
    if bounds is None or not bounds.upper.is_finite:
        raise AutopluginError(
            f"input {name}: dim {size} has no upper bound, which a TensorRT optimization profile "
            "needs; export with torch.export.Dim(..., max=...)"
        )
    low, high = max(int(bounds.lower), 1), int(bounds.upper)
    hint = size.node.hint
    return low, min(max(int(hint) if hint is not None else low, low), high), high


# What Torch-TensorRT's compile raises on a program it can't take (e.g. 2.13's complex rewrite on
# an FFT chain: RuntimeError). The dryrun reports it as that run's answer; anything else is a bug
# and propagates.
_TORCH_TENSORRT_FAILURES = (
    RuntimeError,
    AssertionError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    NotImplementedError,
)


def torch_tensorrt_dryrun(
    ep: torch.export.ExportedProgram,
    *,
    min_block_size: int = 5,
    torch_executed_ops: Collection[object] = (),
) -> DryrunSegments:
    """Torch-TensorRT's own partition of ``ep``, without the pass and with it (its dryrun).

    Runs ``torch_tensorrt.dynamo.compile(..., dryrun=True)`` twice: lowering passes, converter
    registry and partitioner run for real, nothing is built. The pass is registered for the
    second run only and left as the caller had it. A run Torch-TensorRT fails (e.g. 2.13's
    complex rewrite on an FFT chain, without the pass) gives no counts and its error.

    Raises:
        MissingDependencyError: ``torch_tensorrt`` does not import.
        AutopluginError: the program's inputs can't be described to Torch-TensorRT.
    """
    require_torch_tensorrt()
    import torch_tensorrt

    specs = input_specs(ep)
    was_registered = lowering_pass in _post_lowering_passes()

    def partitioned() -> tuple[Segments | None, str | None]:
        return _dryrun_partition(ep, specs, min_block_size, torch_executed_ops)

    unregister_lowering_pass()
    try:
        before, before_error = partitioned()
        register_lowering_pass()
        after, after_error = partitioned()
    finally:
        if not was_registered:
            unregister_lowering_pass()
    return DryrunSegments(
        torch_tensorrt.__version__, min_block_size, before, after, before_error, after_error
    )


def _dryrun_partition(
    ep: torch.export.ExportedProgram,
    specs: Sequence[Any],
    min_block_size: int,
    torch_executed_ops: Collection[object],
) -> tuple[Segments | None, str | None]:
    """One dryrun: (engines and PyTorch segments, None), or (None, what Torch-TensorRT raised)."""
    import copy

    import torch_tensorrt

    try:
        module = torch_tensorrt.dynamo.compile(
            copy.deepcopy(ep),  # compile runs its pre-lowering passes on the program in place
            arg_inputs=list(specs),
            dryrun=True,
            min_block_size=min_block_size,
            torch_executed_ops=set(torch_executed_ops),
            # No engine is built in a dryrun; this spares it the GPU memory query.
            offload_module_to_cpu=True,
        )
    except _TORCH_TENSORRT_FAILURES as e:
        logger.warning("Torch-TensorRT's dryrun failed: %s", e)
        return None, f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
    return Segments(*segment_counts(module)), None
