"""Host time of one JIT plugin call against eager, at a size where the kernels are negligible.

A JIT plugin runs its region with PyTorch at every inference, so its host time is paid on each
call of the engine. This measures, per region of the examples at 65,536 elements (about 2 µs
of GPU work on an H200), the wall time per call of

* eager: the region body called on torch tensors;
* JIT, cold wrappers: `jit.jit_launch` with CUDA graphs off and its buffer-wrapper and stream
  caches emptied before every call (what each call cost before they existed);
* JIT, no graphs: `jit.jit_launch` with CUDA graphs off (`jit_graphs.ENABLED`): the body's
  Python and one launch per kernel on every call;
* JIT: `jit.jit_launch` as TensorRT calls it, same buffers and stream every call: the first
  call captures a CUDA graph, every later one replays it (`jit_graphs`).

Each is ``calls`` back-to-back calls between two synchronizations, median of ``repeats``.
The JIT call is checked against eager on poisoned output buffers twice: the call that captures
its graph, and a replay.

    python -m benchmarks.jit_overhead --out benchmarks/results
"""

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from trt_autoplugin import autoplugin, examples, jit, jit_graphs
from trt_autoplugin.outline import OutlinedRegion, run_body
from trt_autoplugin.output_writes import output_writes
from trt_autoplugin.pluggable import size_tensors

ELEMENTS = 65_536
REGION_EXAMPLES = ("distribution", "data_dependent", "cumulative")


def _buffer(tensor: torch.Tensor) -> jit.CudaBuffer:
    return jit.CudaBuffer(
        tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype
    )


def _regions() -> list[tuple[str, OutlinedRegion]]:
    found = []
    for name in REGION_EXAMPLES:
        model, inputs, dynamic_shapes = examples.load_example(name)
        model = model.cuda()
        sample = tuple(x.cuda() for x in inputs)
        ep = torch.export.export(model, sample, dynamic_shapes=dynamic_shapes)
        for region in autoplugin(ep).regions:
            if not size_tensors(region.body):  # data-dependent outputs: other buffers
                found.append((name, region))
    return found


def _inputs(region: OutlinedRegion) -> list[torch.Tensor]:
    """Inputs of about ELEMENTS elements: the batch dim scaled, the others as traced."""
    out = []
    for spec in region.input_specs:
        static = math.prod(d for d in spec.shape if isinstance(d, int)) or 1
        batch = max(1, ELEMENTS // static)
        shape = [d if isinstance(d, int) else batch for d in spec.shape]
        out.append(torch.randn(shape, device="cuda").to(spec.dtype))
    return out


def _per_call_us(call: Callable[[], object], calls: int, repeats: int) -> float:
    for _ in range(10):
        call()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def _ungraphed_us(call: Callable[[], object], calls: int, repeats: int) -> float:
    jit_graphs.ENABLED = False
    try:
        return _per_call_us(call, calls, repeats)
    finally:
        jit_graphs.ENABLED = True


def _cold(call: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        jit._WRAPPERS.clear()
        jit._STREAMS.clear()
        return call()

    return run


def measure(calls: int = 2000, repeats: int = 5) -> list[dict]:
    rows = []
    stream = torch.cuda.Stream()
    for name, region in _regions():
        inputs = _inputs(region)
        with torch.no_grad():
            expected = run_body(region.body, inputs)
        outputs = [torch.full_like(e, math.nan) if e.is_floating_point() else
                   torch.full_like(e, 7) for e in expected]  # fmt: skip
        in_buffers = [_buffer(x) for x in inputs]
        out_buffers = [_buffer(o) for o in outputs]
        handle = stream.cuda_stream

        def launch(body=region.body, ins=in_buffers, outs=out_buffers, h=handle) -> None:
            jit.jit_launch(body, ins, outs, h)

        for _ in ("capture", "replay"):
            for output in outputs:
                output.fill_(math.nan if output.is_floating_point() else 7)
            torch.cuda.current_stream().wait_stream(stream)
            stream.wait_stream(torch.cuda.current_stream())
            launch()
            torch.cuda.synchronize()
            for got, want in zip(outputs, expected, strict=True):
                torch.testing.assert_close(got, want, equal_nan=True)

        def eager(body=region.body, args=inputs) -> object:
            with torch.no_grad():
                return body.graph_module(*args)

        rows.append(
            {
                "example": name,
                "region": region.body.op_name,
                "targets": sorted(set(region.targets)),
                "elements": sum(x.numel() for x in inputs),
                "eager_us": _per_call_us(eager, calls, repeats),
                "jit_cold_us": _ungraphed_us(_cold(launch), calls, repeats),
                "jit_ungraphed_us": _ungraphed_us(launch, calls, repeats),
                "jit_us": _per_call_us(launch, calls, repeats),
                "graph": jit_graphs.graph_refusal(region.body, jit.foreign_ops(region.body))
                or "replayed",
                "copied_outputs": [str(w) for w in output_writes(region.body) if not w.in_place],
            }
        )
    return rows


def markdown(rows: list[dict], device: str) -> str:
    lines = [
        "# JIT plugin host time per call",
        "",
        f"{device}, torch {torch.__version__}; {ELEMENTS:,} elements per region input, so the",
        "kernels take a few µs and the wall time per call is host time. Median of repeats of",
        "back-to-back calls between two synchronizations (`benchmarks/jit_overhead.py`).",
        "",
        "| example | region ops | eager µs | JIT, cold wrappers µs | JIT, no graphs µs "
        "| JIT µs | JIT − eager µs | CUDA graph | outputs copied |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['example']} | {', '.join(t.split('.')[1] for t in r['targets'])} "
            f"| {r['eager_us']:.1f} | {r['jit_cold_us']:.1f} | {r['jit_ungraphed_us']:.1f} "
            f"| {r['jit_us']:.1f} | {r['jit_us'] - r['eager_us']:.1f} | {r['graph']} "
            f"| {len(r['copied_outputs'])} |"
        )
    overheads = [r["jit_us"] - r["eager_us"] for r in rows]
    ungraphed = [r["jit_ungraphed_us"] - r["eager_us"] for r in rows]
    cold = [r["jit_cold_us"] - r["eager_us"] for r in rows]
    lines += [
        "",
        f"Median JIT overhead over eager: {statistics.median(overheads):.1f} µs "
        f"({statistics.median(ungraphed):.1f} µs without CUDA graphs, "
        f"{statistics.median(cold):.1f} µs with cold wrappers too).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("jit_overhead needs a CUDA GPU")
        return 2
    device = torch.cuda.get_device_name()
    rows = measure(args.calls)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "jit_overhead.json").write_text(
        json.dumps({"device": device, "torch": torch.__version__, "rows": rows}, indent=1)
    )
    text = markdown(rows, device)
    (args.out / "jit_overhead.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
