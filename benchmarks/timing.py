"""The suite's one timing helper, and the device-to-device copy bandwidth it compares against.

On CUDA, `measure` uses Triton's ``do_bench`` (median) where Triton imports, else CUDA events
with a median over repeats; on the CPU, ``time.perf_counter`` with a median. Each sample runs the
function ``inner`` times back to back and is divided by ``inner``: ``do_bench`` clears the L2
cache with a ~256 MB memset before each sample, and while the GPU runs that memset the host is
already issuing the next call, which would hide up to ~100 µs of Python overhead per sample.
Batching calls until a sample lasts `TimingSettings.sample_ms` keeps that hidden share small, so
per-call host overhead (what a JIT plugin costs) is measured, not flattered.

The other side, the device time of one call with the host's work hidden behind a
``torch.cuda._sleep`` kernel enqueued first, is the library's own measurement,
``trt_autoplugin.aot.device_seconds``, which its tuner ranks configs by. That is the time that
counts for an AOT kernel, which TensorRT launches from C++, while `measure` of
``trt_autoplugin.aot.launch.launch`` includes its Python launcher.
"""

import dataclasses
import importlib
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

MAX_INNER = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class TimingSettings:
    """How long and how often to time.

    Attributes:
        warmup_calls: untimed calls before anything else (lazy initialization, allocator).
        warmup_ms: ``do_bench``'s warmup.
        rep_ms: ``do_bench``'s rep.
        repeats: samples where ``do_bench`` is not used (CUDA events, CPU, device time).
        sample_ms: the least duration of one sample; calls are batched to reach it.
    """

    warmup_calls: int
    warmup_ms: float
    rep_ms: float
    repeats: int
    sample_ms: float


FULL = TimingSettings(warmup_calls=3, warmup_ms=25, rep_ms=100, repeats=20, sample_ms=2.0)
QUICK = TimingSettings(warmup_calls=2, warmup_ms=10, rep_ms=40, repeats=7, sample_ms=1.0)


@dataclasses.dataclass(frozen=True, slots=True)
class Timing:
    """A median time per call.

    Attributes:
        seconds: median seconds per call.
        method: 'triton.testing.do_bench', 'cuda events' or 'time.perf_counter'.
        inner: calls per sample.
    """

    seconds: float
    method: str
    inner: int

    @property
    def microseconds(self) -> float:
        return self.seconds * 1e6


def triton_import_error() -> str | None:
    """Why ``triton.testing`` does not import, or None."""
    try:
        importlib.import_module("triton.testing")
    except (ImportError, OSError, RuntimeError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _estimate_s(fn: Callable[[], object], device: torch.device, calls: int = 3) -> float:
    synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / calls


def _batched(fn: Callable[[], object], inner: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(inner):
            fn()

    return run


def measure(fn: Callable[[], object], device: torch.device, settings: TimingSettings) -> Timing:
    """The median time of one call of ``fn`` on ``device`` (see the module docstring).

    ``fn`` must enqueue its work on the current stream; it is called many times.
    """
    for _ in range(settings.warmup_calls):
        fn()
    estimate = max(_estimate_s(fn, device), 1e-7)
    inner = max(1, min(MAX_INNER, math.ceil(settings.sample_ms * 1e-3 / estimate)))
    batched = _batched(fn, inner)
    if device.type != "cuda":
        return Timing(_perf_counter_median(batched, settings) / inner, "time.perf_counter", inner)
    if triton_import_error() is None:
        from triton.testing import do_bench

        ms = do_bench(batched, warmup=settings.warmup_ms, rep=settings.rep_ms, return_mode="median")
        return Timing(ms * 1e-3 / inner, "triton.testing.do_bench", inner)
    return Timing(_event_median(batched, settings) / inner, "cuda events", inner)


def _perf_counter_median(run: Callable[[], None], settings: TimingSettings) -> float:
    samples = []
    for _ in range(settings.repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _event_median(run: Callable[[], None], settings: TimingSettings) -> float:
    samples = []
    for _ in range(settings.repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) * 1e-3)
    return statistics.median(samples)


@dataclasses.dataclass(frozen=True, slots=True)
class CopyBandwidth:
    """Device-to-device copy bandwidth, counting bytes read and written."""

    bytes_per_second: float
    tensor_bytes: int
    timing: Timing

    def floor_seconds(self, moved_bytes: int) -> float:
        """The least time to move ``moved_bytes`` (read or written) at copy speed."""
        return moved_bytes / self.bytes_per_second

    def to_dict(self) -> dict[str, Any]:
        return {
            "bytes_per_second": self.bytes_per_second,
            "tensor_bytes": self.tensor_bytes,
            "median_copy_s": self.timing.seconds,
            "method": self.timing.method,
            "inner": self.timing.inner,
        }


def _copy_timing(device: torch.device, settings: TimingSettings, tensor_bytes: int) -> Timing:
    generator = torch.Generator(device=device).manual_seed(0)
    source = torch.rand(tensor_bytes // 4, device=device, generator=generator)
    destination = torch.empty_like(source)

    def copy() -> None:
        destination.copy_(source)

    return measure(copy, device, settings)


def copy_bandwidth(
    device: torch.device, settings: TimingSettings, tensor_bytes: int = 1 << 30
) -> CopyBandwidth:
    """Times ``dst.copy_(src)`` of ``tensor_bytes`` (1 GiB): the bandwidth floor's speed."""
    timing = _copy_timing(device, settings, tensor_bytes)
    if device.type == "cuda":
        torch.cuda.empty_cache()  # the two buffers are gone with _copy_timing's frame
    return CopyBandwidth(2 * tensor_bytes / timing.seconds, tensor_bytes, timing)
