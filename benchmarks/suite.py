"""The benchmark suite: what the pass buys, measured on the GPU, with real models.

For each model of `benchmarks.models` (trt_autoplugin's examples, torchvision's deformable
convolution and RoIAlign in detection-style blocks, torchvision's preprocessing + MobileNetV3 and
timm's VOLO-D1) it measures:

1. the pass on the CPU side: ``torch.export`` time, then ``autoplugin(ep,
   support=SnapshotSupport())`` time, regions, nodes left in the graph and the engines and graph
   breaks the report predicts before and after;
2. per outlined region, at several batch sizes up to one whose inputs and outputs fill
   ``--target-gib`` of GPU memory: eager, the JIT plugin's launch, the AOT kernel (or why the
   region stays JIT) and the copy-bandwidth floor (`benchmarks.region_bench`);
3. end to end: eager, after the pass, ``torch.compile`` and Torch-TensorRT with and without the
   pass (`benchmarks.end_to_end`).

Run from the repository root::

    python -m benchmarks [--quick] [--device cuda|cpu] [--out benchmarks/results]
        [--models NAME ...] [--target-gib 2] [--no-inductor]

Writes ``suite.json`` (every raw number, machine, versions, commit), ``suite.md`` (tables and a
headline for the README) and ``suite.png`` (time against bytes moved per region) into ``--out``.
``--device cpu`` runs what needs no GPU (export, the pass, eager on the CPU) and records every
CUDA-only row as skipped with its reason.
"""

import argparse
import dataclasses
import datetime
import gc
import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sympy
import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

import trt_autoplugin
from trt_autoplugin import SnapshotSupport, autoplugin

from . import suite_output
from .end_to_end import Context, EndToEnd, Variant, end_to_end_rows
from .models import BenchModel, bench_models, missing_requirement
from .partition_scaling import machine, source_digest
from .region_bench import (
    AotOutcome,
    DistinctRegion,
    RegionSize,
    aot_outcome,
    capture_calls,
    concrete,
    distinct_regions,
    measure_region,
    region_bytes,
    skipped_region,
    tensor_bytes,
)
from .timing import FULL, QUICK, CopyBandwidth, TimingSettings, copy_bandwidth

GIB = 1 << 30
DEFAULT_TARGET_GIB = 2.0
QUICK_TARGET_GIB = 0.25
EXPORT_BATCH = 4  # the sample batch for torch.export (0 and 1 would be specialized)
CPU_BATCHES = (2, 16)
SEED = 0
DEFAULT_L2_BYTES = 50 * 1024 * 1024  # H100's, where the device does not say
STAGES_PER_MODEL = 3  # export and pass, regions, end to end

Tick = Callable[[str], None]


@dataclasses.dataclass(frozen=True, slots=True)
class SuiteConfig:
    """How the suite runs.

    Attributes:
        device: where models run ('cuda' or 'cpu').
        quick: fewer sizes and repeats, a smaller largest size, the declared batch range.
        target_bytes: inputs + outputs of the largest region at the largest size.
        pass_repeats: samples of ``autoplugin`` per model.
        timing: warm-up and repeats.
        inductor: run the ``torch.compile`` rows (on the CPU only when asked).
        models: names to run (None: all).
    """

    device: torch.device
    quick: bool
    target_bytes: int
    pass_repeats: int
    timing: TimingSettings
    inductor: bool
    models: tuple[str, ...] | None = None


def config_for(
    device: str,
    *,
    quick: bool,
    target_gib: float | None = None,
    inductor: bool | None = None,
    models: Sequence[str] | None = None,
) -> SuiteConfig:
    """The suite's settings for a device and mode (``inductor`` defaults to on for CUDA)."""
    default = QUICK_TARGET_GIB if quick else DEFAULT_TARGET_GIB
    target = target_gib if target_gib is not None else default
    return SuiteConfig(
        device=torch.device(device),
        quick=quick,
        target_bytes=int(target * GIB),
        pass_repeats=1 if quick else 3,
        timing=QUICK if quick else FULL,
        inductor=inductor if inductor is not None else device == "cuda",
        models=tuple(models) if models else None,
    )


# --- one model: export and the pass --------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class ModelResult:
    """What the suite learned about one model (filled in stage by stage)."""

    name: str
    library: str
    description: str
    status: str = "ok"
    reason: str | None = None
    export_s: float | None = None
    pass_samples_s: list[float] = dataclasses.field(default_factory=list)
    nodes: int | None = None
    regions: int | None = None
    distinct_regions: int | None = None
    region_ops: list[str] = dataclasses.field(default_factory=list)
    region_targets: list[list[str]] = dataclasses.field(default_factory=list)
    left_in_graph: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    predicted: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    declared_max: int | None = None
    bench_max: int | None = None
    region_batches: list[int] = dataclasses.field(default_factory=list)
    e2e_batches: list[int] = dataclasses.field(default_factory=list)
    aot: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def pass_s(self) -> float | None:
        return statistics.median(self.pass_samples_s) if self.pass_samples_s else None

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "pass_s": self.pass_s}


def _export(
    model: torch.nn.Module, spec: BenchModel, max_batch: int, device: torch.device
) -> tuple[torch.export.ExportedProgram, float]:
    generator = torch.Generator(device=device).manual_seed(SEED)
    inputs = spec.make_inputs(EXPORT_BATCH, device, generator)
    start = time.perf_counter()
    ep = torch.export.export(model, inputs, dynamic_shapes=spec.dynamic_shapes(max_batch))
    return ep, time.perf_counter() - start


def _timed_pass(
    ep: torch.export.ExportedProgram, repeats: int
) -> tuple[trt_autoplugin.AutopluginResult, list[float]]:
    samples = []
    result = None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = autoplugin(ep, support=SnapshotSupport())
        samples.append(time.perf_counter() - start)
    if result is None:
        raise ValueError("pass_repeats must be at least 1")
    return result, samples


def _record_pass(record: ModelResult, result: trt_autoplugin.AutopluginResult) -> None:
    report = result.report
    record.nodes = len(result.program.graph.nodes)
    record.regions = len(result.regions)
    distinct = distinct_regions(result.regions)
    record.distinct_regions = len(distinct)
    record.region_ops = [d.short_name for d in distinct]
    record.region_targets = [list(d.targets) for d in distinct]
    record.left_in_graph = [
        {"node": e.node, "target": e.target, "kind": e.kind, "reason": e.reason}
        for e in report.left_in_graph
    ]
    record.predicted = {
        "before": {"tensorrt": report.before.tensorrt, "pytorch": report.before.pytorch},
        "after": {"tensorrt": report.after.tensorrt, "pytorch": report.after.pytorch},
    }


# --- sizes ---------------------------------------------------------------------------------------


def input_symbols(program: torch.export.ExportedProgram) -> list[tuple[int, int, sympy.Symbol]]:
    """``(input index, dim, symbol)`` for each dynamic dim of the program's user inputs."""
    names = list(program.graph_signature.user_inputs)
    nodes = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    found = []
    for index, name in enumerate(names):
        value = nodes[name].meta.get("val")
        for dim, size in enumerate(getattr(value, "shape", ())):
            if isinstance(size, torch.SymInt) and isinstance(size.node.expr, sympy.Symbol):
                found.append((index, dim, size.node.expr))
    return found


def symbol_values(
    spec: BenchModel, program: torch.export.ExportedProgram
) -> Callable[[int], dict[sympy.Symbol, int]]:
    """The value of each input symbol at a batch size (each is linear in the batch)."""
    symbols = input_symbols(program)
    cpu = torch.device("cpu")
    shapes = {
        b: [tuple(x.shape) for x in spec.make_inputs(b, cpu, torch.Generator().manual_seed(SEED))]
        for b in (2, 3)
    }

    def values(batch: int) -> dict[sympy.Symbol, int]:
        result = {}
        for index, dim, symbol in symbols:
            two, three = shapes[2][index][dim], shapes[3][index][dim]
            result[symbol] = two + (three - two) * (batch - 2)
        return result

    return values


def input_bytes(program: torch.export.ExportedProgram, values: dict[sympy.Symbol, int]) -> int:
    """Bytes of the program's user inputs for the given symbol values."""
    names = set(program.graph_signature.user_inputs)
    total = 0
    for node in program.graph.nodes:
        value = node.meta.get("val") if node.name in names else None
        if isinstance(value, torch.Tensor):
            shape = [d.node.expr if isinstance(d, torch.SymInt) else int(d) for d in value.shape]
            total += tensor_bytes(concrete(shape, values), value.dtype)
    return total


def largest_batch(
    distinct: Sequence[DistinctRegion],
    values: Callable[[int], dict[sympy.Symbol, int]],
    program: torch.export.ExportedProgram,
    target_bytes: int,
    *,
    low: int = 2,
    high: int = 1 << 26,
) -> int:
    """The largest batch in ``[low, high]`` at which neither a region's inputs and outputs nor
    the model's inputs exceed the target."""

    def biggest(batch: int) -> int:
        at = values(batch)
        regions = (region_bytes(d.region, at) for d in distinct)
        return max(input_bytes(program, at), *regions)

    if biggest(low) >= target_bytes:
        return low
    while low < high:
        middle = (low + high + 1) // 2
        if biggest(middle) <= target_bytes:
            low = middle
        else:
            high = middle - 1
    return low


def batch_ladder(largest: int, quick: bool) -> list[int]:
    """Batch sizes for the per-region table: 1/256 and 1/16 of the largest, and the largest."""
    fractions = (16,) if quick else (256, 16)
    return sorted({max(2, largest // f) for f in fractions} | {largest})


# --- one model on the device ---------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Bench:
    """A model prepared for measuring: the program whose regions are timed, and its sizes."""

    spec: BenchModel
    model: torch.nn.Module
    ep: torch.export.ExportedProgram
    result: trt_autoplugin.AutopluginResult
    distinct: list[DistinctRegion]
    values: Callable[[int], dict[sympy.Symbol, int]]


def _prepare(
    spec: BenchModel,
    model: torch.nn.Module,
    ep: torch.export.ExportedProgram,
    result: trt_autoplugin.AutopluginResult,
    record: ModelResult,
    config: SuiteConfig,
) -> Bench:
    """Picks the sizes; re-exports with a wider batch range where the target needs one."""
    distinct = distinct_regions(result.regions)
    values = symbol_values(spec, result.program)
    if config.device.type != "cuda":
        record.bench_max = spec.declared_max
        record.region_batches = list(CPU_BATCHES[:1] if config.quick else CPU_BATCHES)
        record.e2e_batches = list(record.region_batches)
        return Bench(spec, model, ep, result, distinct, values)
    needed = largest_batch(distinct, values, result.program, config.target_bytes)
    record.bench_max = spec.declared_max
    if config.quick:
        needed = min(needed, spec.declared_max)
    elif needed > spec.declared_max:
        # The regions are rebuilt from an export whose range reaches the target size.
        ep, _ = _export(model, spec, needed, config.device)
        result = autoplugin(ep, support=SnapshotSupport())
        distinct = distinct_regions(result.regions)
        values = symbol_values(spec, result.program)
        record.bench_max = needed
    ladder = batch_ladder(needed, config.quick)
    record.region_batches = ladder if distinct else []
    record.e2e_batches = [ladder[-1]] if config.quick else sorted({ladder[0], ladder[-1]})
    return Bench(spec, model, ep, result, distinct, values)


def _aot_outcomes(bench: Bench, record: ModelResult, tick: Tick) -> dict[str, AotOutcome]:
    outcomes = {}
    for d in bench.distinct:
        tick(f"AOT kernel for {d.short_name}")
        outcome = aot_outcome(d.region)
        outcomes[d.region.name] = outcome
        record.aot.append(
            {
                "region": d.short_name,
                "status": outcome.status.value,
                "reason": outcome.reason,
                "compile_s": outcome.compile_s,
                "kernel": getattr(outcome.kernel, "kernel_name", None),
                "config": getattr(outcome.kernel, "config", None),
            }
        )
    return outcomes


def _region_rows_cuda(
    bench: Bench,
    record: ModelResult,
    config: SuiteConfig,
    bandwidth: CopyBandwidth,
    l2_bytes: int,
    tick: Tick,
) -> list[RegionSize]:
    outcomes = _aot_outcomes(bench, record, tick)
    return _region_sizes(bench, record, config, bandwidth, l2_bytes, outcomes, tick)


def _region_sizes(
    bench: Bench,
    record: ModelResult,
    config: SuiteConfig,
    bandwidth: CopyBandwidth,
    l2_bytes: int,
    outcomes: dict[str, AotOutcome],
    tick: Tick,
) -> list[RegionSize]:
    module = bench.result.program.module()
    ops = [d.region.op for d in bench.distinct]
    side_stream = torch.cuda.Stream(config.device)
    rows = []
    for batch in record.region_batches:
        tick(f"regions at batch {batch:,}")
        generator = torch.Generator(device=config.device).manual_seed(SEED)
        inputs = bench.spec.make_inputs(batch, config.device, generator)
        calls = capture_calls(module, inputs, ops)
        del inputs
        for d in bench.distinct:
            args = calls.pop(d.region.op)
            tick(f"{d.short_name} at batch {batch:,}")
            rows.append(
                measure_region(
                    record.name,
                    d,
                    batch,
                    args,
                    aot=outcomes[d.region.name],
                    side_stream=side_stream,
                    bandwidth=bandwidth,
                    l2_bytes=l2_bytes,
                    settings=config.timing,
                )
            )
            del args
        _free(config.device)
    return rows


def _region_rows_skipped(bench: Bench, record: ModelResult, reason: str) -> list[RegionSize]:
    return [
        skipped_region(record.name, d, batch, region_bytes(d.region, bench.values(batch)), reason)
        for batch in record.region_batches
        for d in bench.distinct
    ]


def _e2e_rows(bench: Bench, record: ModelResult, config: SuiteConfig, tick: Tick) -> list[EndToEnd]:
    inductor_reason = None
    if not config.inductor:
        inductor_reason = (
            "not run on the CPU (slow to compile; --inductor runs it)"
            if config.device.type == "cpu"
            else "disabled (--no-inductor)"
        )
    outlined = bench.result.program.module()
    rows: list[EndToEnd] = []
    for batch in record.e2e_batches:
        tick(f"end to end at batch {batch:,}")
        generator = torch.Generator(device=config.device).manual_seed(SEED)
        inputs = bench.spec.make_inputs(batch, config.device, generator)
        context = Context(
            record.name,
            batch,
            bench.model,
            outlined,
            bench.ep,
            inputs,
            config.device,
            config.timing,
        )
        rows += end_to_end_rows(context, inductor_reason=inductor_reason)
        del context, inputs
        _free(config.device)
    return rows


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# --- the whole suite -----------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class SuiteResults:
    models: list[ModelResult] = dataclasses.field(default_factory=list)
    regions: list[RegionSize] = dataclasses.field(default_factory=list)
    end_to_end: list[EndToEnd] = dataclasses.field(default_factory=list)


def _cuda_reason(device: torch.device) -> str | None:
    if device.type != "cuda":
        return "needs CUDA (--device cpu): JIT plugins and AOT kernels run on the GPU"
    return None


def run_model(
    spec: BenchModel,
    config: SuiteConfig,
    bandwidth: CopyBandwidth | None,
    l2_bytes: int,
    tick: Tick,
    advance: Callable[[int], None],
    results: SuiteResults,
) -> None:
    """Runs every stage for one model; a stage's failure is recorded and ends this model."""
    record = ModelResult(spec.name, spec.library, spec.description, declared_max=spec.declared_max)
    results.models.append(record)
    missing = missing_requirement(spec)
    if missing is not None:
        record.status, record.reason = "skipped", missing
        advance(STAGES_PER_MODEL)
        return
    stage = "export"
    try:
        tick("export")
        torch.manual_seed(SEED)
        model = spec.build().eval().to(config.device)
        ep, record.export_s = _export(model, spec, spec.declared_max, config.device)
        stage = "pass"
        tick("autoplugin")
        result, record.pass_samples_s = _timed_pass(ep, config.pass_repeats)
        _record_pass(record, result)
        bench = _prepare(spec, model, ep, result, record, config)
        advance(1)
        stage = "regions"
        reason = _cuda_reason(config.device)
        if reason is not None or bandwidth is None:
            results.regions += _region_rows_skipped(bench, record, reason or "no copy bandwidth")
        else:
            results.regions += _region_rows_cuda(bench, record, config, bandwidth, l2_bytes, tick)
        advance(1)
        stage = "end to end"
        results.end_to_end += _e2e_rows(bench, record, config, tick)
        advance(1)
    except Exception as e:  # noqa: BLE001 - one model's failure must not end the suite
        record.status = "failed"
        record.reason = f"{stage}: {type(e).__name__}: {' '.join(str(e).split())[:600]}"
        advance(0)
    finally:
        if config.inductor:
            torch._dynamo.reset()  # drop this model's compiled graphs and what they hold
        _free(config.device)


def _selected(config: SuiteConfig, catalog: Sequence[BenchModel] | None) -> list[BenchModel]:
    models = list(catalog if catalog is not None else bench_models())
    if config.models is None:
        return models
    known = {m.name for m in models}
    unknown = [n for n in config.models if n not in known]
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {sorted(known)}")
    return [m for m in models if m.name in config.models]


def _l2_bytes(device: torch.device) -> int:
    if device.type != "cuda":
        return DEFAULT_L2_BYTES
    properties = torch.cuda.get_device_properties(device)
    return int(getattr(properties, "L2_cache_size", 0) or DEFAULT_L2_BYTES)


def run_suite(
    config: SuiteConfig,
    out: Path,
    *,
    show_progress: bool = True,
    console: Console | None = None,
    catalog: Sequence[BenchModel] | None = None,
) -> dict[str, Any]:
    """Runs the suite and writes ``suite.json``, ``suite.md`` and ``suite.png`` into ``out``.

    Args:
        config: device, mode and sizes (`config_for`).
        out: the results folder (created if missing).
        show_progress: show a ``rich`` progress bar.
        console: where the progress bar goes.
        catalog: the models to choose from (default: `models.bench_models`).

    Returns:
        The JSON document as written.
    """
    console = console or Console()
    source = source_digest()
    models = _selected(config, catalog)
    results = SuiteResults()
    bandwidth = None
    if config.device.type == "cuda":
        console.print("measuring the device-to-device copy bandwidth (1 GiB)")
        bandwidth = copy_bandwidth(config.device, config.timing)
    l2_bytes = _l2_bytes(config.device)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
    columns += (MofNCompleteColumn(), TimeElapsedColumn())
    start = time.perf_counter()
    with Progress(*columns, console=console, disable=not show_progress) as progress:
        task = progress.add_task("starting", total=STAGES_PER_MODEL * len(models))
        for spec in models:
            done = progress.tasks[task].completed

            def tick(text: str, name: str = spec.name) -> None:
                progress.update(task, description=f"{name}: {text}")

            def advance(steps: int = 1, first: float = done) -> None:
                if steps == 0:  # a failed model: jump to its end
                    progress.update(task, completed=first + STAGES_PER_MODEL)
                else:
                    progress.update(task, advance=steps)

            run_model(spec, config, bandwidth, l2_bytes, tick, advance, results)
    data = results_document(config, results, bandwidth, l2_bytes, source)
    data["wall_s"] = time.perf_counter() - start
    suite_output.write_results(data, out)
    return data


# --- the JSON document ---------------------------------------------------------------------------

VERSIONED = ("torch", "triton", "torchvision", "timm", "tensorrt", "torch_tensorrt", "cupy")
DISTRIBUTIONS = {
    "tensorrt": ("tensorrt", "tensorrt-cu13", "tensorrt-cu12"),
    "torch_tensorrt": ("torch-tensorrt", "torch_tensorrt"),
    "cupy": ("cupy", "cupy-cuda13x", "cupy-cuda12x"),
    "cuda-python": ("cuda-python", "cuda-bindings"),
}


def versions() -> dict[str, str]:
    """Installed versions of the libraries the numbers depend on ('not installed' if absent)."""
    found = {}
    for name in (*VERSIONED, "cuda-python"):
        found[name] = "not installed"
        for distribution in DISTRIBUTIONS.get(name, (name,)):
            try:
                found[name] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    found["torch"] = torch.__version__
    found["torch_cuda"] = str(torch.version.cuda)
    found["trt_autoplugin"] = trt_autoplugin.__version__
    return found


def device_info(device: torch.device) -> dict[str, Any]:
    """The GPU's name, memory and driver (nvidia-smi where it runs), or the CPU's note."""
    if device.type != "cuda":
        name = f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
        return {"type": "cpu", "name": name, "driver": "n/a"}
    properties = torch.cuda.get_device_properties(device)
    driver = _nvidia_smi_driver() or f"unknown (no nvidia-smi); CUDA {torch.version.cuda}"
    return {
        "type": "cuda",
        "name": properties.name,
        "total_memory_bytes": properties.total_memory,
        "multiprocessors": properties.multi_processor_count,
        "l2_cache_bytes": int(getattr(properties, "L2_cache_size", 0)),
        "capability": f"{properties.major}.{properties.minor}",
        "driver": driver,
    }


def _nvidia_smi_driver() -> str | None:
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return None
    query = [executable, "--query-gpu=driver_version", "--format=csv,noheader"]
    try:
        done = subprocess.run(query, capture_output=True, text=True, timeout=20, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else None


def git_state() -> dict[str, Any]:
    """The commit the code comes from, and whether the work tree differs from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True
        ).stdout
    except (subprocess.SubprocessError, OSError) as e:
        return {"commit": "unknown", "dirty": None, "note": f"git unavailable: {e}"}
    return {"commit": commit, "dirty": bool(changes.strip())}


def results_document(
    config: SuiteConfig,
    results: SuiteResults,
    bandwidth: CopyBandwidth | None,
    l2_bytes: int,
    source: str,
) -> dict[str, Any]:
    """The JSON document: machine, versions, settings and every raw number."""
    data: dict[str, Any] = {
        "benchmark": "suite",
        "issue": 6,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "device": device_info(config.device),
        "versions": versions(),
        "git": git_state(),
        "trt_autoplugin_source_sha256": source,
        "settings": _settings(config, l2_bytes),
        "copy_bandwidth": bandwidth.to_dict()
        if bandwidth is not None
        else {"skipped": _cuda_reason(config.device)},
        "models": [m.to_dict() for m in results.models],
        "regions": [r.to_dict() for r in results.regions],
        "end_to_end": [row.to_dict() for row in results.end_to_end],
    }
    data["headline"] = suite_output.headline(data)
    return data


def _settings(config: SuiteConfig, l2_bytes: int) -> dict[str, Any]:
    return {
        "device": str(config.device),
        "quick": config.quick,
        "target_bytes": config.target_bytes,
        "pass_repeats": config.pass_repeats,
        "timing": dataclasses.asdict(config.timing),
        "inductor": config.inductor,
        "oracle": SnapshotSupport().description,
        "l2_bytes": l2_bytes,
        "seed": SEED,
        "export_batch": EXPORT_BATCH,
        "variants": [v.value for v in Variant],
        "notes": [
            "bytes = inputs + outputs of the region (what it must read and write at least)",
            "floor = bytes / copy bandwidth (1 GiB dst.copy_(src), bytes read + written)",
            "% of floor = achieved bandwidth / copy bandwidth",
            "JIT = plugin.jit_launch on CudaBuffers over preallocated contiguous tensors, "
            "buffers built once, not per call; its first call per set of buffers captures a "
            "CUDA graph that later calls replay (trt_autoplugin.jit_graphs), one graph per "
            "rotated copy",
            "eager runs on the default stream (where a graph break runs); JIT and AOT on a side "
            "stream, whose handle they get as TensorRT's: torch.cuda.ExternalStream(0) is not "
            "the legacy default stream, so handle 0 can't stand for it",
            "per call = back-to-back calls, host included (do_bench median of batched calls); "
            "GPU = device time with the host's issuing hidden behind a sleep kernel, the median "
            "of 5 rounds in which eager, JIT and AOT take turns (clock drift moves all alike); "
            "AOT's per call includes trt_autoplugin.aot.launch's Python, which TensorRT does in "
            "C++",
            "JIT overhead = JIT per call - eager per call; % of floor uses GPU time",
            "region inputs are the arguments captured from a run of the rewritten program on "
            "random model inputs (seed 0); copies are rotated up to twice the L2 cache",
            "each JIT/AOT configuration is checked against eager on poisoned outputs (NaN / "
            "0x7F bytes) twice (capture, then replay) before it is timed; AOT tolerances as "
            "the AOT check's own (trt_autoplugin.aot.TOLERANCES)",
        ],
    }


# --- command line --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (~2 min)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--device", choices=("cuda", "cpu"), default="cuda" if torch.cuda.is_available() else "cpu"
    )
    parser.add_argument("--models", nargs="+", help="run only these models")
    parser.add_argument("--target-gib", type=float, help="inputs + outputs of the largest region")
    inductor = parser.add_mutually_exclusive_group()
    inductor.add_argument("--inductor", dest="inductor", action="store_true", default=None)
    inductor.add_argument("--no-inductor", dest="inductor", action="store_false")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m benchmarks``."""
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here; use --device cpu")
    console = Console() if Console().is_terminal else Console(width=160)
    config = config_for(
        args.device,
        quick=args.quick,
        target_gib=args.target_gib,
        inductor=args.inductor,
        models=args.models,
    )
    data = run_suite(config, args.out, console=console)
    for renderable in suite_output.rich_tables(data):
        console.print(renderable)
    console.print(f"results written to {args.out}/suite.{{json,md,png}} in {data['wall_s']:.0f} s")
    return 0
