"""Per-region measurements: eager, the JIT plugin's launch, the AOT kernel, the bandwidth floor.

For one outlined region at one input size, on CUDA:

* **eager**: ``run_body(region.body, inputs)``, what a graph break falls back to;
* **JIT**: ``plugin.jit_launch(body, in_buffers, out_buffers, stream)`` on `CudaBuffer` views of
  preallocated contiguous tensors and the current stream, exactly what TensorRT invokes: its
  first call with a set of buffers captures a CUDA graph, later calls replay it (`jit_graphs`);
* **AOT**: ``aot.launch.launch(kernel, inputs, outputs, stream)`` of ``aot.aot_kernel(body)``
  where one exists, else the reason the region stays JIT;
* **floor**: the bytes the region must move (its inputs and outputs) at the copy bandwidth.

The region's inputs are the values it really receives: the rewritten program runs on random
model inputs (fixed seed) and the arguments of each region call are captured (`capture_calls`),
so index tensors are valid indices and boxes are boxes. Each output buffer is poisoned (NaN,
0x7F bytes) and compared with eager before anything is timed, twice (a JIT call's capture, then
its replay); a failed check is recorded with its
error and not timed. Where a region's inputs and outputs are smaller than twice the L2 cache,
several copies are rotated so caches don't flatter the numbers. Device times are taken in rounds
in which eager, JIT and AOT take turns, so their ratios survive a drift of the clocks.
"""

import dataclasses
import enum
import itertools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sympy
import torch
import torch.fx

from trt_autoplugin import jit_graphs
from trt_autoplugin.aot import TOLERANCES, device_seconds
from trt_autoplugin.aot.launch import launch
from trt_autoplugin.jit import CudaBuffer, jit_launch
from trt_autoplugin.outline import OutlinedRegion, run_body
from trt_autoplugin.output_writes import output_writes
from trt_autoplugin.pluggable import size_tensors

from .timing import CopyBandwidth, Timing, TimingSettings, measure

# Rotated copies stop here: tiny regions are dominated by launch overhead, not the cache.
MAX_COPIES = 256
INDEX_DTYPES = (torch.int32, torch.int64)


class Status(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclasses.dataclass(frozen=True, slots=True)
class Measurement:
    """One implementation of a region at one size: timed, failed (error) or skipped (reason)."""

    status: Status
    microseconds: float | None = None
    method: str | None = None
    inner: int | None = None
    reason: str | None = None
    gpu_microseconds: float | None = None

    @staticmethod
    def of(timing: Timing, gpu_s: float | None = None) -> "Measurement":
        gpu_us = None if gpu_s is None else gpu_s * 1e6
        return Measurement(
            Status.OK, timing.microseconds, timing.method, timing.inner, None, gpu_us
        )

    @staticmethod
    def skipped(reason: str) -> "Measurement":
        return Measurement(Status.SKIPPED, reason=reason)

    @staticmethod
    def failed(reason: str) -> "Measurement":
        return Measurement(Status.FAILED, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "status": self.status.value}


@dataclasses.dataclass(frozen=True, slots=True)
class DistinctRegion:
    """A region op and how many of the model's regions share its body (same op name)."""

    region: OutlinedRegion
    count: int

    @property
    def short_name(self) -> str:
        return self.region.name.split("::")[-1]

    @property
    def targets(self) -> tuple[str, ...]:
        """Its distinct unsupported-or-merged ops, in graph order, without the namespace noise."""
        return tuple(dict.fromkeys(self.region.targets))


def distinct_regions(regions: Sequence[OutlinedRegion]) -> list[DistinctRegion]:
    """One entry per region op, in first-seen order (repeated blocks give the same op).

    Regions with data-dependent outputs are left out: their output sizes are the data's, and
    sizing their buffers by the declared bound would time a different call than TensorRT's.
    """
    counts: dict[str, int] = {}
    first: dict[str, OutlinedRegion] = {}
    for region in regions:
        if size_tensors(region.body):
            continue
        counts[region.name] = counts.get(region.name, 0) + 1
        first.setdefault(region.name, region)
    return [DistinctRegion(first[name], counts[name]) for name in counts]


@dataclasses.dataclass(frozen=True, slots=True)
class AotOutcome:
    """`aot.aot_kernel` for one region: the kernel, or why the region stays JIT (or failed)."""

    kernel: Any | None
    status: Status
    reason: str | None
    compile_s: float | None


@dataclasses.dataclass(frozen=True, slots=True)
class RegionSize:
    """Everything measured for one region at one batch size."""

    model: str
    region: str
    targets: tuple[str, ...]
    nodes: int
    copies_in_model: int
    batch: int
    input_shapes: tuple[tuple[int, ...], ...]
    output_shapes: tuple[tuple[int, ...], ...]
    bytes: int
    rotated_sets: int
    eager: Measurement
    jit: Measurement
    aot: Measurement
    floor_us: float | None
    # Device time of each of the AOT kernel's TensorRT tactics (tactic 1 first): what TensorRT
    # would pick from if this batch were its optimization profile's shape.
    aot_tactics_gpu_us: tuple[float, ...] = ()
    # Why the JIT plugin copies an output into TensorRT's buffer instead of writing it in place
    # ("output 0: torchvision.roi_align.default has no out= form"); empty when it copies none.
    jit_copies: tuple[str, ...] = ()

    @property
    def jit_overhead_us(self) -> float | None:
        if self.eager.microseconds is None or self.jit.microseconds is None:
            return None
        return self.jit.microseconds - self.eager.microseconds

    def percent_of_floor(self, measurement: Measurement) -> float | None:
        """Achieved bandwidth (device time) as a percentage of the copy bandwidth."""
        if self.floor_us is None or measurement.gpu_microseconds is None:
            return None
        return 100.0 * self.floor_us / measurement.gpu_microseconds

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in ("eager", "jit", "aot"):
            data[key] = getattr(self, key).to_dict()
            data[key]["percent_of_floor"] = self.percent_of_floor(getattr(self, key))
        data["jit_overhead_us"] = self.jit_overhead_us
        return data


# --- sizes (pure) --------------------------------------------------------------------------------


def tensor_bytes(shape: Sequence[int], dtype: torch.dtype) -> int:
    return math.prod(shape) * torch.empty((), dtype=dtype).element_size()


def concrete(shape: Sequence[Any], values: Mapping[sympy.Symbol, int]) -> tuple[int, ...]:
    """A spec's shape with its symbols replaced by their values."""
    return tuple(
        int(d) if isinstance(d, int) else int(sympy.sympify(d).subs(values)) for d in shape
    )


def region_bytes(region: OutlinedRegion, values: Mapping[sympy.Symbol, int]) -> int:
    """Bytes of the region's inputs and outputs for the given symbol values."""
    specs = (*region.input_specs, *region.output_specs)
    return sum(tensor_bytes(concrete(s.shape, values), s.dtype) for s in specs)


# --- capturing the region calls of a real run ----------------------------------------------------


class _CallCapture(torch.fx.Interpreter):
    """Runs a GraphModule and keeps the arguments of the first call of each region op."""

    def __init__(self, gm: torch.fx.GraphModule, ops: Sequence[torch._ops.OpOverload]) -> None:
        super().__init__(gm)
        self.ops = set(ops)
        self.calls: dict[torch._ops.OpOverload, tuple[torch.Tensor, ...]] = {}

    def call_function(self, target: Any, args: Any, kwargs: Any) -> Any:
        if target in self.ops and target not in self.calls:
            self.calls[target] = tuple(a.detach().contiguous() for a in args)
        return super().call_function(target, args, kwargs)


def capture_calls(
    module: torch.fx.GraphModule,
    inputs: Sequence[torch.Tensor],
    ops: Sequence[torch._ops.OpOverload],
) -> dict[torch._ops.OpOverload, tuple[torch.Tensor, ...]]:
    """The contiguous arguments each region op receives when ``module`` runs on ``inputs``."""
    capture = _CallCapture(module, ops)
    with torch.no_grad():
        capture.run(*inputs)
    return capture.calls


# --- buffers and checks --------------------------------------------------------------------------


def cuda_buffer(tensor: torch.Tensor) -> CudaBuffer:
    """The buffer TensorRT would hand the plugin for a contiguous CUDA tensor."""
    return CudaBuffer(tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)


def poison(tensor: torch.Tensor) -> None:
    """NaN in float buffers, 0x7F bytes in the others: values no kernel writes by accident."""
    if tensor.is_floating_point():
        tensor.fill_(float("nan"))
    else:
        tensor.view(torch.uint8).fill_(0x7F)


def mismatch(
    got: Sequence[torch.Tensor],
    want: Sequence[torch.Tensor],
    tolerances: Mapping[torch.dtype, tuple[float, float]] | None = None,
) -> str | None:
    """Why ``got`` differs from ``want`` (poison left unwritten, values), or None."""
    for index, (out, ref) in enumerate(zip(got, want, strict=True)):
        if out.is_floating_point() and out.shape == ref.shape:
            unwritten = int((torch.isnan(out) & ~torch.isnan(ref)).sum())
            if unwritten:
                return f"output {index}: {unwritten} elements kept the NaN poison (never written)"
        rtol, atol = (tolerances or {}).get(ref.dtype, (None, None))
        try:
            torch.testing.assert_close(out, ref, rtol=rtol, atol=atol, equal_nan=True)
        except AssertionError as e:
            return f"output {index}: " + " ".join(str(e).split())[:400]
    return None


def _allocated_outputs(
    region: OutlinedRegion, shapes: Sequence[tuple[int, ...]], device: torch.device
) -> list[torch.Tensor]:
    return [
        torch.empty(shape, dtype=spec.dtype, device=device)
        for shape, spec in zip(shapes, region.output_specs, strict=True)
    ]


def _cycling(calls: Sequence[Callable[[], object]]) -> Callable[[], object]:
    rotation = itertools.cycle(calls)
    return lambda: next(rotation)()


def rotated_count(moved_bytes: int, l2_bytes: int) -> int:
    """How many copies of a region's tensors exceed twice the L2 cache (at most MAX_COPIES)."""
    if moved_bytes <= 0:
        return 1
    return max(1, min(MAX_COPIES, math.ceil(2 * l2_bytes / moved_bytes)))


# --- one region at one size ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Setup:
    """A region's rotated input copies, output buffers and the eager reference of copy 0."""

    inputs: list[tuple[torch.Tensor, ...]]
    outputs: list[list[torch.Tensor]]
    output_shapes: tuple[tuple[int, ...], ...]
    reference: tuple[torch.Tensor, ...]


def _setup(
    region: OutlinedRegion, args: tuple[torch.Tensor, ...], copies: int, device: torch.device
) -> _Setup:
    shapes = tuple(tuple(s) for s in region.infer_output_shapes([tuple(a.shape) for a in args]))
    inputs = [args] + [tuple(a.clone() for a in args) for _ in range(copies - 1)]
    outputs = [_allocated_outputs(region, shapes, device) for _ in range(copies)]
    with torch.no_grad():
        reference = run_body(region.body, args)
    return _Setup(inputs, outputs, shapes, reference)


@dataclasses.dataclass(frozen=True, slots=True)
class _Timed:
    """A configuration checked against eager and timed per call (host included); its GPU time
    is taken afterwards, in rounds interleaved with the others' (`_interleaved_gpu_us`)."""

    measurement: Measurement
    run: Callable[[], object] | None = None
    stream: torch.cuda.Stream | None = None


def _checked_then_timed(
    launch_one: Callable[[int], object],
    setup: _Setup,
    device: torch.device,
    settings: TimingSettings,
    tolerances: Mapping[torch.dtype, tuple[float, float]] | None = None,
) -> _Timed:
    """Runs copy 0 on poisoned outputs twice (a JIT call captures its CUDA graph, then replays
    it), compares each with eager, runs every copy once (capturing theirs), then times all
    copies in turn."""
    for attempt in ("first call", "second call"):
        for out in setup.outputs[0]:
            poison(out)
        try:
            launch_one(0)
            torch.cuda.synchronize(device)
        except Exception as e:  # noqa: BLE001 - any launch failure is this configuration's result
            return _Timed(Measurement.failed(f"{attempt}: {type(e).__name__}: {e}"))
        error = mismatch(setup.outputs[0], setup.reference, tolerances)
        if error is not None:
            return _Timed(Measurement.failed(f"{attempt} differs from eager: {error}"))
    calls = [lambda i=i: launch_one(i) for i in range(len(setup.inputs))]
    for call in calls:
        call()
    torch.cuda.synchronize(device)
    return _timed(_cycling(calls), device, settings)


def _timed(fn: Callable[[], object], device: torch.device, settings: TimingSettings) -> _Timed:
    """Per call: back to back, host included."""
    return _Timed(Measurement.of(measure(fn, device, settings)), fn, torch.cuda.current_stream())


# GPU times are taken in this many rounds, each configuration once per round in turn, so a
# drift of the clocks over the measurement (seen: eager lgamma 332 µs in one run, 367 in
# another) moves all of them alike and their ratios hold.
GPU_ROUNDS = 5


def _interleaved_gpu_us(timed: Sequence[_Timed], settings: TimingSettings) -> list[Measurement]:
    """Each timed configuration's measurement with its device time: the median over
    `GPU_ROUNDS` rounds of `device_seconds`, the configurations taking turns in each round."""
    live = [t for t in timed if t.run is not None]
    rounds: dict[int, list[float]] = {id(t): [] for t in live}
    repeats = max(1, settings.repeats // GPU_ROUNDS)
    for _ in range(GPU_ROUNDS):
        for t in live:
            with torch.cuda.stream(t.stream):
                rounds[id(t)].append(device_seconds(t.run, repeats=repeats) * 1e6)
    return [
        dataclasses.replace(t.measurement, gpu_microseconds=statistics.median(rounds[id(t)]))
        if t.run is not None
        else t.measurement
        for t in timed
    ]


def _jit(
    region: OutlinedRegion, setup: _Setup, device: torch.device, settings: TimingSettings
) -> _Timed:
    try:
        check_stream_mapping(device)
    except RuntimeError as e:
        return _Timed(Measurement.failed(str(e)))
    stream = torch.cuda.current_stream(device).cuda_stream
    in_buffers = [[cuda_buffer(t) for t in inputs] for inputs in setup.inputs]
    out_buffers = [[cuda_buffer(t) for t in outputs] for outputs in setup.outputs]

    def launch_one(i: int) -> None:
        jit_launch(region.body, in_buffers[i], out_buffers[i], stream)

    # TensorRT hands a plugin one set of buffers per execution context; the suite rotates
    # copies past the L2, so it keeps a CUDA graph per copy (`jit_graphs`).
    kept = jit_graphs.GRAPHS_PER_REGION
    jit_graphs.GRAPHS_PER_REGION = max(kept, len(setup.inputs))
    try:
        return _checked_then_timed(launch_one, setup, device, settings)
    finally:
        jit_graphs.GRAPHS_PER_REGION = kept


def _aot(aot: AotOutcome, setup: _Setup, device: torch.device, settings: TimingSettings) -> _Timed:
    if aot.kernel is None:
        reason = f"JIT: {aot.reason}" if aot.status is Status.SKIPPED else aot.reason
        return _Timed(Measurement(aot.status, reason=reason))
    stream = torch.cuda.current_stream(device).cuda_stream

    def launch_one(i: int) -> None:
        launch(aot.kernel, setup.inputs[i], setup.outputs[i], stream)

    # The AOT check's own tolerances: Inductor fuses and reorders float math.
    return _checked_then_timed(launch_one, setup, device, settings, TOLERANCES)


def _eager(
    region: OutlinedRegion, setup: _Setup, device: torch.device, settings: TimingSettings
) -> _Timed:
    calls = [lambda inputs=inputs: run_body(region.body, inputs) for inputs in setup.inputs]
    with torch.no_grad():
        return _timed(_cycling(calls), device, settings)


def check_stream_mapping(device: torch.device) -> None:
    """Raises if the current stream's handle does not come back as the same stream.

    ``jit_launch`` wraps TensorRT's handle in ``torch.cuda.ExternalStream``; for the legacy
    default stream (handle 0) that gives another stream, whose work the events on the current
    stream don't bracket. JIT and AOT are measured on a side stream.
    """
    current = torch.cuda.current_stream(device)
    mapped = torch.cuda.ExternalStream(current.cuda_stream, device=device)
    if mapped.cuda_stream != current.cuda_stream:
        raise RuntimeError(
            f"torch.cuda.ExternalStream({current.cuda_stream:#x}) is stream "
            f"{mapped.cuda_stream:#x}: jit_launch would not run on the caller's stream"
        )


def measure_region(
    model: str,
    distinct: DistinctRegion,
    batch: int,
    args: tuple[torch.Tensor, ...],
    *,
    aot: AotOutcome,
    side_stream: torch.cuda.Stream,
    bandwidth: CopyBandwidth,
    l2_bytes: int,
    settings: TimingSettings,
) -> RegionSize:
    """Checks and times eager, JIT and AOT for one region on its captured arguments.

    Eager runs on the current stream; JIT and AOT on ``side_stream``, whose handle they are
    given as TensorRT gives its own (see `check_stream_mapping`).
    """
    region = distinct.region
    device = args[0].device
    in_bytes = sum(tensor_bytes(a.shape, a.dtype) for a in args)
    try:
        out_shapes = [tuple(s) for s in region.infer_output_shapes([tuple(a.shape) for a in args])]
    except Exception as e:  # noqa: BLE001 - the descriptor's failure is the result
        failed = Measurement.failed(f"output shapes: {type(e).__name__}: {e}")
        return _result(model, distinct, batch, args, (), in_bytes, 1, failed, failed, failed, None)
    moved = in_bytes + sum(
        tensor_bytes(s, spec.dtype) for s, spec in zip(out_shapes, region.output_specs, strict=True)
    )
    copies = rotated_count(moved, l2_bytes)
    setup = _setup(region, args, copies, device)
    eager = _eager(region, setup, device, settings)
    torch.cuda.synchronize(device)  # the side stream reads what the default stream wrote
    with torch.cuda.stream(side_stream):
        jit_timed = _jit(region, setup, device, settings)
        aot_timed = _aot(aot, setup, device, settings)
    torch.cuda.synchronize(device)
    eager, jit, aot_measurement = _interleaved_gpu_us((eager, jit_timed, aot_timed), settings)
    with torch.cuda.stream(side_stream):
        tactics = _tactic_times(aot, aot_measurement, setup, device, settings)
    torch.cuda.synchronize(device)
    floor = bandwidth.floor_seconds(moved) * 1e6
    del setup
    result = _result(
        model, distinct, batch, args, out_shapes, moved, copies, eager, jit, aot_measurement, floor
    )
    return dataclasses.replace(result, aot_tactics_gpu_us=tactics)


def _tactic_times(
    aot: AotOutcome,
    measured: Measurement,
    setup: _Setup,
    device: torch.device,
    settings: TimingSettings,
) -> tuple[float, ...]:
    """GPU µs of every tactic of a checked AOT kernel (each was checked by `aot.aot_kernel`)."""
    if aot.kernel is None or measured.status is not Status.OK:
        return ()
    stream = torch.cuda.current_stream(device).cuda_stream
    times = []
    for tactic in aot.kernel.tactics():
        calls = [
            lambda i=i, t=tactic: launch(t, setup.inputs[i], setup.outputs[i], stream)
            for i in range(len(setup.inputs))
        ]
        times.append(device_seconds(_cycling(calls), repeats=settings.repeats) * 1e6)
    return tuple(times)


def _result(
    model: str,
    distinct: DistinctRegion,
    batch: int,
    args: Sequence[torch.Tensor],
    out_shapes: Sequence[tuple[int, ...]],
    moved: int,
    copies: int,
    eager: Measurement,
    jit: Measurement,
    aot: Measurement,
    floor_us: float | None,
) -> RegionSize:
    writes = output_writes(distinct.region.body)
    return RegionSize(
        jit_copies=tuple(f"output {w.index}: {w.reason}" for w in writes if not w.in_place),
        model=model,
        region=distinct.short_name,
        targets=distinct.targets,
        nodes=len(distinct.region.nodes),
        copies_in_model=distinct.count,
        batch=batch,
        input_shapes=tuple(tuple(a.shape) for a in args),
        output_shapes=tuple(out_shapes),
        bytes=moved,
        rotated_sets=copies,
        eager=eager,
        jit=jit,
        aot=aot,
        floor_us=floor_us,
    )


def skipped_region(
    model: str, distinct: DistinctRegion, batch: int, moved: int, reason: str
) -> RegionSize:
    """A row for a region that could not be measured here (no CUDA), with the reason."""
    skipped = Measurement.skipped(reason)
    return _result(model, distinct, batch, (), (), moved, 0, skipped, skipped, skipped, None)


# --- AOT kernels ---------------------------------------------------------------------------------


def aot_outcome(region: OutlinedRegion) -> AotOutcome:
    """Builds the region's AOT kernel where the lead's API exists, else the reason it can't."""
    import time

    integer_inputs = [i for i, s in enumerate(region.input_specs) if s.dtype in INDEX_DTYPES]
    if integer_inputs:
        # aot_kernel compiles and checks candidates on random integers; for index inputs these
        # can index out of bounds, and a device-side fault leaves the CUDA context unusable for
        # the rest of the run.
        return AotOutcome(
            None,
            Status.SKIPPED,
            f"not attempted: inputs {integer_inputs} are integer tensors (indices), and "
            "aot_kernel checks on random integers, which can fault the CUDA context",
            None,
        )
    try:
        from trt_autoplugin.aot import aot_kernel
        from trt_autoplugin.errors import AotError
    except (ImportError, AttributeError) as e:
        return AotOutcome(None, Status.SKIPPED, f"no AOT API here: {type(e).__name__}: {e}", None)
    start = time.perf_counter()
    try:
        kernel = aot_kernel(region.body)
    except AotError as e:
        return AotOutcome(None, Status.SKIPPED, str(e), time.perf_counter() - start)
    except Exception as e:  # noqa: BLE001 - a crash of the AOT build is reported, not hidden
        reason = f"aot_kernel raised {type(e).__name__}: {e}"
        return AotOutcome(None, Status.FAILED, reason, time.perf_counter() - start)
    return AotOutcome(kernel, Status.OK, None, time.perf_counter() - start)
