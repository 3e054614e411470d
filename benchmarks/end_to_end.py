"""End-to-end rows: the whole model, eager, compiled by Inductor, and through Torch-TensorRT.

Variants, each timed on the same random inputs:

* ``eager``: the original model;
* ``eager_outlined``: the program after the pass, in eager: decomposed with Torch-TensorRT's
  table (more, smaller kernels than the original), each region one custom-op call;
* ``inductor``: ``torch.compile(model)`` (static shapes, one compile per size);
* ``torch_tensorrt``: ``torch_tensorrt.dynamo.compile`` with its default partitioning;
* ``trt_autoplugin_jit`` / ``trt_autoplugin_aot``: ``trt_autoplugin.compile`` (our pass as a
  lowering pass) with JIT plugins only, and with AOT kernels where a region has one.

Rows that can't run here (no CUDA, no ``torch_tensorrt``) are recorded as skipped with the
reason, never estimated.
"""

import dataclasses
import enum
import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from trt_autoplugin.probes import torch_tensorrt_import_error

from .region_bench import Measurement, Status
from .timing import TimingSettings, measure, synchronize


class Variant(enum.Enum):
    EAGER = "eager"
    EAGER_OUTLINED = "eager_outlined"
    INDUCTOR = "inductor"
    TORCH_TENSORRT = "torch_tensorrt"
    TRT_AUTOPLUGIN_JIT = "trt_autoplugin_jit"
    TRT_AUTOPLUGIN_AOT = "trt_autoplugin_aot"


LABELS = {
    Variant.EAGER: "eager",
    Variant.EAGER_OUTLINED: "eager, the program after the pass (decomposed, region ops)",
    Variant.INDUCTOR: "torch.compile (Inductor)",
    Variant.TORCH_TENSORRT: "Torch-TensorRT, default partitioning",
    Variant.TRT_AUTOPLUGIN_JIT: "Torch-TensorRT + trt_autoplugin (JIT plugins)",
    Variant.TRT_AUTOPLUGIN_AOT: "Torch-TensorRT + trt_autoplugin (AOT kernels)",
}


@dataclasses.dataclass(frozen=True, slots=True)
class EndToEnd:
    """One variant of one model at one batch size."""

    model: str
    batch: int
    variant: Variant
    measurement: Measurement
    compile_s: float | None = None
    engines: int | None = None
    graph_breaks: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "batch": self.batch,
            "variant": self.variant.value,
            "label": LABELS[self.variant],
            "measurement": self.measurement.to_dict(),
            "compile_s": self.compile_s,
            "engines": self.engines,
            "graph_breaks": self.graph_breaks,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled callable, its compile time and, for TensorRT, its engines and breaks."""

    run: Callable[[], object]
    compile_s: float
    engines: int | None = None
    graph_breaks: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """What every variant of one model at one size needs."""

    model: str
    batch: int
    module: torch.nn.Module
    outlined: torch.nn.Module
    program: torch.export.ExportedProgram
    inputs: tuple[torch.Tensor, ...]
    device: torch.device
    settings: TimingSettings


def tensorrt_reason(device: torch.device) -> str | None:
    """Why the Torch-TensorRT rows can't run here, or None."""
    missing = torch_tensorrt_import_error()
    if missing is not None:
        return missing
    if device.type != "cuda":
        return "TensorRT needs a CUDA device (--device cpu)"
    return None


def _timed_first_call(build: Callable[[], Callable[[], object]], device: torch.device) -> Compiled:
    start = time.perf_counter()
    run = build()
    run()  # torch.compile compiles on the first call
    synchronize(device)
    return Compiled(run, time.perf_counter() - start)


def _inductor(context: Context) -> Compiled:
    compiled = torch.compile(context.module, dynamic=False)
    return _timed_first_call(lambda: lambda: compiled(*context.inputs), context.device)


def _torch_tensorrt(context: Context) -> Compiled:
    import torch_tensorrt

    from trt_autoplugin.lowering import segment_counts

    start = time.perf_counter()
    module = torch_tensorrt.dynamo.compile(context.program, inputs=list(context.inputs))
    engines, breaks = segment_counts(module)
    return Compiled(lambda: module(*context.inputs), time.perf_counter() - start, engines, breaks)


def aot_switch_reason() -> str | None:
    """Why ``trt_autoplugin.compile`` can't be asked for AOT kernels, or None."""
    import trt_autoplugin

    if "aot" not in inspect.signature(trt_autoplugin.compile).parameters:
        return "trt_autoplugin.compile has no 'aot' option in this version"
    return None


def _trt_autoplugin(context: Context, *, aot: bool) -> Compiled:
    import trt_autoplugin

    options = {"aot": aot} if aot_switch_reason() is None else {}
    start = time.perf_counter()
    result = trt_autoplugin.compile(context.program, list(context.inputs), **options)
    report = result.report
    return Compiled(
        lambda: result.module(*context.inputs),
        time.perf_counter() - start,
        report.engines,
        report.graph_breaks,
    )


def _row(context: Context, variant: Variant, build: Callable[[], Compiled]) -> EndToEnd:
    try:
        compiled = build()
        with torch.no_grad():
            timing = measure(compiled.run, context.device, context.settings)
    except Exception as e:  # noqa: BLE001 - a compiler's failure is this row's result
        failed = Measurement.failed(f"{type(e).__name__}: {' '.join(str(e).split())[:400]}")
        return EndToEnd(context.model, context.batch, variant, failed)
    return EndToEnd(
        context.model,
        context.batch,
        variant,
        Measurement.of(timing),
        compiled.compile_s,
        compiled.engines,
        compiled.graph_breaks,
    )


def _skipped(context: Context, variant: Variant, reason: str) -> EndToEnd:
    return EndToEnd(context.model, context.batch, variant, Measurement.skipped(reason))


def end_to_end_rows(context: Context, *, inductor_reason: str | None) -> list[EndToEnd]:
    """Every variant of one model at one size: timed, failed or skipped with the reason."""

    def eager() -> Compiled:
        return Compiled(lambda: context.module(*context.inputs), 0.0)

    def outlined() -> Compiled:
        return Compiled(lambda: context.outlined(*context.inputs), 0.0)

    with torch.no_grad():
        rows = [
            _row(context, Variant.EAGER, eager),
            _row(context, Variant.EAGER_OUTLINED, outlined),
        ]
        if inductor_reason is None:
            rows.append(_row(context, Variant.INDUCTOR, lambda: _inductor(context)))
        else:
            rows.append(_skipped(context, Variant.INDUCTOR, inductor_reason))
        rows += _tensorrt_rows(context)
    return rows


def _tensorrt_rows(context: Context) -> list[EndToEnd]:
    reason = tensorrt_reason(context.device)
    variants = (Variant.TORCH_TENSORRT, Variant.TRT_AUTOPLUGIN_JIT, Variant.TRT_AUTOPLUGIN_AOT)
    if reason is not None:
        return [_skipped(context, v, reason) for v in variants]
    rows = [
        _row(context, Variant.TORCH_TENSORRT, lambda: _torch_tensorrt(context)),
        _row(context, Variant.TRT_AUTOPLUGIN_JIT, lambda: _trt_autoplugin(context, aot=False)),
    ]
    aot_reason = aot_switch_reason()
    if aot_reason is not None:
        rows.append(_skipped(context, Variant.TRT_AUTOPLUGIN_AOT, aot_reason))
    else:
        aot = _row(context, Variant.TRT_AUTOPLUGIN_AOT, lambda: _trt_autoplugin(context, aot=True))
        rows.append(aot)
    return rows


def statuses(rows: Sequence[EndToEnd]) -> dict[str, int]:
    """How many rows are ok, failed and skipped."""
    counts = {s.value: 0 for s in Status}
    for row in rows:
        counts[row.measurement.status.value] += 1
    return counts
