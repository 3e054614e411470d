"""Tests for `trt_autoplugin.jit_graphs`: JIT calls captured once per set of TensorRT's buffers
and replayed.

* CPU: which regions are never graphed, and why.
* ``gpu``: a replay computes on the buffers' new contents (inputs refilled in place, outputs
  poisoned before every call), ordered after TensorRT's stream; each new set of buffers gets a
  graph of its own, the oldest dropped past the limit; a call made while TensorRT's stream is
  being captured (the user's CUDA graph) runs into that capture; a failed capture leaves the
  region eager, with the reason; buffers past `GRAPH_MAX_BYTES` are never graphed.
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_jit import _poisoned
from test_plugin import region_inputs

from trt_autoplugin import jit_graphs
from trt_autoplugin.jit import CudaBuffer, foreign_ops, jit_launch
from trt_autoplugin.outline import OutlinedRegion, run_body

# --- which regions are graphed (CPU) -------------------------------------------------------------


def test_data_dependent_and_foreign_regions_are_never_graphed(example_regions) -> None:
    reasons = {
        region.targets: jit_graphs.graph_refusal(region.body, foreign_ops(region.body))
        for regions in example_regions.values()
        for region in regions
    }
    assert reasons[("aten.masked_select.default",)] == (
        "the region has data-dependent outputs, sized only after each run"
    )
    assert reasons[("aten.lgamma.default",)] is None
    (custom,) = [r for t, r in reasons.items() if t[0].startswith("trt_autoplugin_examples")]
    # A user's op could launch on any stream: it runs eagerly, on the legacy default stream.
    assert custom.endswith("quantize_rows.default may launch kernels outside the capturing stream")
    (region,) = example_regions["distribution"][:1]
    foreign = ("torchvision.deform_conv2d.default",)
    assert "may launch kernels outside the capturing stream" in jit_graphs.graph_refusal(
        region.body, foreign
    )


def test_graphs_can_be_turned_off(example_regions, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jit_graphs, "ENABLED", False)
    (region, *_) = example_regions["distribution"]
    assert "turned off" in jit_graphs.graph_refusal(region.body, ())


# --- capture and replay (gpu) --------------------------------------------------------------------


def _buffer(tensor: torch.Tensor) -> CudaBuffer:
    return CudaBuffer(tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)


def _graphed_regions(cuda_example_regions) -> list[OutlinedRegion]:
    return [
        region
        for regions in cuda_example_regions.values()
        for region in regions
        if jit_graphs.graph_refusal(region.body, foreign_ops(region.body)) is None
    ]


def _call(region: OutlinedRegion, inputs, outputs, stream: torch.cuda.Stream) -> None:
    jit_launch(
        region.body, [_buffer(x) for x in inputs], [_buffer(o) for o in outputs], stream.cuda_stream
    )


def _call_and_compare(region: OutlinedRegion, inputs, outputs, stream, *, refill: bool) -> None:
    """Refills the inputs in place where ``refill`` (TensorRT's next inference), poisons the
    outputs, calls the region on ``stream`` and compares every output with eager's."""
    if refill:
        for x in inputs:
            x.copy_(torch.randn(x.shape, device="cuda").to(x.dtype))
    expected = run_body(region.body, inputs)
    _poison(outputs)
    stream.wait_stream(torch.cuda.current_stream())
    _call(region, inputs, outputs, stream)
    stream.synchronize()
    for got, want in zip(outputs, expected, strict=True):
        torch.testing.assert_close(got, want, equal_nan=True)


def _poison(outputs) -> None:
    for output in outputs:
        output.copy_(_poisoned(output.shape, output.dtype))


@pytest.mark.gpu
@given(batch=st.integers(1, 300), seed=st.integers(0, 2**31 - 1))
def test_replays_compute_on_the_buffers_new_contents(cuda_example_regions, batch, seed) -> None:
    torch.manual_seed(seed)
    stream = torch.cuda.Stream()
    for region in _graphed_regions(cuda_example_regions):
        inputs = [x.cuda() for x in region_inputs(region, batch)]
        outputs = [_poisoned(e.shape, e.dtype) for e in run_body(region.body, inputs)]
        for call in range(3):
            # TensorRT refills the same buffers for the next inference.
            _call_and_compare(region, inputs, outputs, stream, refill=call > 0)
        # The first call captured (or replayed a graph of buffers freed and reallocated at the
        # same addresses, which reads and writes these); the next two replayed.
        assert jit_graphs.graph_count(region.body) >= 1


@pytest.mark.gpu
def test_a_replay_waits_for_tensorrts_stream(cuda_example_regions) -> None:
    (region,) = [r for r in cuda_example_regions["distribution"] if "lgamma" in str(r.targets)]
    inputs = [x.cuda() for x in region_inputs(region, 4096)]
    outputs = [_poisoned(e.shape, e.dtype) for e in run_body(region.body, inputs)]
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    _call(region, inputs, outputs, stream)  # captured
    fresh = [torch.rand_like(x) + 1 for x in inputs]
    expected = run_body(region.body, fresh)
    _poison(outputs)
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        torch.cuda._sleep(100_000_000)  # about 50 ms: TensorRT still writing the inputs
        for x, new in zip(inputs, fresh, strict=True):
            x.copy_(new)
    _call(region, inputs, outputs, stream)  # replayed behind the writes
    stream.synchronize()
    for got, want in zip(outputs, expected, strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.gpu
def test_each_set_of_buffers_gets_a_graph_and_the_oldest_goes(cuda_example_regions) -> None:
    (region,) = [r for r in cuda_example_regions["distribution"] if "digamma" in str(r.targets)]
    stream = torch.cuda.Stream()
    kept = []  # alive, so that each set has addresses of its own
    for index in range(jit_graphs.GRAPHS_PER_REGION + 2):
        inputs = [x.cuda() for x in region_inputs(region, 100 + index)]
        outputs = [_poisoned(e.shape, e.dtype) for e in run_body(region.body, inputs)]
        _call_and_compare(region, inputs, outputs, stream, refill=False)
        kept.append((inputs, outputs))
    assert jit_graphs.graph_count(region.body) == jit_graphs.GRAPHS_PER_REGION


@pytest.mark.gpu
def test_a_call_inside_the_users_capture_runs_into_it(cuda_example_regions) -> None:
    (region,) = [r for r in cuda_example_regions["cumulative"] if "cummax" in str(r.targets)]
    inputs = [x.cuda() for x in region_inputs(region, 64)]
    outputs = [_poisoned(e.shape, e.dtype) for e in run_body(region.body, inputs)]
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    _call(region, inputs, outputs, stream)  # warm-up, which also captures our own graph
    stream.synchronize()
    users = torch.cuda.CUDAGraph()
    with torch.cuda.graph(users, stream=stream):
        _call(region, inputs, outputs, stream)
    for x in inputs:
        x.copy_(torch.randn_like(x))
    expected = run_body(region.body, inputs)
    _poison(outputs)
    users.replay()
    torch.cuda.synchronize()
    for got, want in zip(outputs, expected, strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.gpu
def test_a_failed_capture_leaves_the_region_eager_with_the_reason(
    cuda_example_regions, monkeypatch: pytest.MonkeyPatch
) -> None:
    (region,) = [r for r in cuda_example_regions["cumulative"] if "logcumsumexp" in str(r.targets)]
    monkeypatch.setattr(jit_graphs, "_REFUSED", type(jit_graphs._REFUSED)())
    stream = torch.cuda.Stream()
    # A host synchronization is not allowed while a stream is being captured.
    jit_graphs.capture(region.body, ("key",), torch.cuda.synchronize, stream, lambda: 0)
    reason = jit_graphs.graph_refusal(region.body, ())
    assert reason is not None and reason.startswith("capture failed"), reason
    torch.randn(8, device="cuda")  # the generator the capture registered is free again
    inputs = [x.cuda() for x in region_inputs(region, 33)]
    expected = run_body(region.body, inputs)
    outputs = [_poisoned(e.shape, e.dtype) for e in expected]
    count = jit_graphs.graph_count(region.body)
    for _ in range(2):
        _poison(outputs)
        stream.wait_stream(torch.cuda.current_stream())
        _call(region, inputs, outputs, stream)
        stream.synchronize()
        for got, want in zip(outputs, expected, strict=True):
            torch.testing.assert_close(got, want)
    assert jit_graphs.graph_count(region.body) == count  # nothing captured since


@pytest.mark.gpu
def test_buffers_past_the_size_limit_run_eagerly_and_stay_correct(
    cuda_example_regions, monkeypatch: pytest.MonkeyPatch
) -> None:
    (region,) = [r for r in cuda_example_regions["distribution"] if "lgamma" in str(r.targets)]
    inputs = [x.cuda() for x in region_inputs(region, 77)]
    outputs = [_poisoned(e.shape, e.dtype) for e in run_body(region.body, inputs)]
    moved = sum(t.numel() * t.element_size() for t in (*inputs, *outputs))
    monkeypatch.setattr(jit_graphs, "GRAPH_MAX_BYTES", moved - 1)
    monkeypatch.setattr(jit_graphs, "_GRAPHS", type(jit_graphs._GRAPHS)())
    stream = torch.cuda.Stream()
    for _ in range(3):
        _call_and_compare(region, inputs, outputs, stream, refill=True)
    assert jit_graphs.graph_count(region.body) == 0
    monkeypatch.setattr(jit_graphs, "GRAPH_MAX_BYTES", moved)
    monkeypatch.setattr(jit_graphs, "_GRAPHS", type(jit_graphs._GRAPHS)())
    _call(region, inputs, outputs, stream)
    stream.synchronize()
    assert jit_graphs.graph_count(region.body) == 1
