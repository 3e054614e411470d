"""The JIT implementation on data-dependent regions, with buffers shaped as TensorRT hands them.

TensorRT reserves a data-dependent output for its declared upper bound and passes its address
with no shape; each size tensor is one int32. Buffers are poisoned first: the plugin must write
the real extent into the size tensor, the data in front of the buffer, and nothing past it.
Then whole models run with every region op replaced by `jit.jit_launch` on such buffers and
must equal eager: the masked_select example, a nonzero model and a boolean-mask model.
"""

import math
import sys
from pathlib import Path

import pytest
import sympy
import torch
import torch.fx
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import masks
from torch.export import Dim

from trt_autoplugin import autoplugin, examples, pluggable
from trt_autoplugin.data_dependent import SizeTensor
from trt_autoplugin.errors import PluginError
from trt_autoplugin.jit import CudaBuffer, OutputAddress, jit_launch
from trt_autoplugin.outline import OutlinedRegion, RegionBody, run_body
from trt_autoplugin.pluggable import size_tensors
from trt_autoplugin.shape_expr import IntArithmetic, translate_shapes
from trt_autoplugin.support import OpSetSupport, SnapshotSupport

sys.path.insert(0, str(Path(__file__).parent / "dryrun"))
import models  # noqa: E402

POISON_INT = -7


def _buffer(tensor: torch.Tensor) -> CudaBuffer:
    return CudaBuffer(tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)


def _poisoned(count: int, dtype: torch.dtype) -> torch.Tensor:
    if dtype.is_floating_point:
        return torch.full((count,), math.nan, dtype=dtype, device="cuda")
    return torch.full((count,), POISON_INT, dtype=dtype, device="cuda")


class TrtOutputs:
    """A region's output buffers as TensorRT allocates them: each data-dependent output flat and
    sized for its upper bound, the others in their declared shape, then one int32 per size
    tensor; all poisoned."""

    def __init__(self, body: RegionBody, inputs: list[torch.Tensor]) -> None:
        self.body = body
        self.sizes = size_tensors(body)
        input_shapes = [s.shape for s in body.input_specs]
        concrete = [list(x.shape) for x in inputs]
        arith = IntArithmetic()
        bounds = [[s.upper_bound for s in self.sizes]] if self.sizes else []
        self.bounds = translate_shapes(bounds, input_shapes, concrete, arith)[0] if bounds else ()
        at_bound = {s.extent: b for s, b in zip(self.sizes, self.bounds, strict=True)}
        self.capacity_shapes = translate_shapes(
            [s.shape for s in body.output_specs], input_shapes, concrete, arith, extents=at_bound
        )
        self.data_dependent = [
            any(sympy.sympify(d) in at_bound for d in spec.shape) for spec in body.output_specs
        ]
        self.data = [
            _poisoned(math.prod(shape), spec.dtype)
            for shape, spec in zip(self.capacity_shapes, body.output_specs, strict=True)
        ]
        self.extents = [_poisoned(1, torch.int32) for _ in self.sizes]

    def buffers(self) -> list[object]:
        out: list[object] = []
        for tensor, shape, dynamic in zip(
            self.data, self.capacity_shapes, self.data_dependent, strict=True
        ):
            if dynamic:
                out.append(OutputAddress(tensor.data_ptr(), tensor.dtype))
            else:
                out.append(_buffer(tensor.view(tuple(shape))))
        return out + [OutputAddress(e.data_ptr(), torch.int32) for e in self.extents]

    def results(self) -> list[torch.Tensor]:
        """The outputs as TensorRT reads them: each data-dependent one in its written extent."""
        values = {s.extent: int(e.item()) for s, e in zip(self.sizes, self.extents, strict=True)}
        input_free = [list(shape) for shape in self.capacity_shapes]
        out = []
        for index, (tensor, spec) in enumerate(zip(self.data, self.body.output_specs, strict=True)):
            shape = [
                values.get(sympy.sympify(d), input_free[index][i]) for i, d in enumerate(spec.shape)
            ]
            out.append(tensor[: math.prod(shape)].view(shape))
        return out


def _launch(body: RegionBody, inputs: list[torch.Tensor]) -> TrtOutputs:
    outputs = TrtOutputs(body, inputs)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    jit_launch(body, [_buffer(x) for x in inputs], outputs.buffers(), stream.cuda_stream)
    stream.synchronize()
    return outputs


# --- one data-dependent region -------------------------------------------------------------------


@pytest.fixture(scope="module")
def masked_select_region(cuda_example_results) -> OutlinedRegion:
    _, result = cuda_example_results["data_dependent"]
    (region,) = [r for r in result.regions if size_tensors(r.body)]
    return region


@pytest.mark.gpu
@given(rows=st.integers(0, 9), data=st.data())
def test_the_plugin_writes_the_data_the_extent_and_nothing_past_it(
    masked_select_region, rows: int, data
) -> None:
    region = masked_select_region
    mask = data.draw(masks(rows, 16)).cuda()
    x = torch.randn(rows, 16, device="cuda")
    inputs = [x, mask] if region.body.input_specs[1].dtype == torch.bool else [mask, x]
    outputs = _launch(region.body, inputs)
    count = int(mask.sum())
    assert outputs.extents[0].item() == count
    (data_out,) = outputs.data
    torch.testing.assert_close(data_out[:count], torch.masked_select(x, mask))
    assert torch.isnan(data_out[count:]).all()  # past the extent: untouched
    assert data_out.numel() == rows * 16  # reserved for the bound, exactly


@pytest.mark.gpu
def test_an_extent_above_the_bound_is_refused_before_anything_is_written(
    masked_select_region, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = masked_select_region
    (size,) = size_tensors(region.body)
    # A bound that is wrong (3 where 64 are selected) stands for any bound the data outgrows.
    wrong = SizeTensor(size.extent, sympy.Integer(3), sympy.Integer(2), "a wrong bound")
    monkeypatch.setitem(pluggable._SIZE_TENSORS, region.body.graph_module, (wrong,))
    x = torch.randn(4, 16, device="cuda")
    mask = torch.ones(4, 16, dtype=torch.bool, device="cuda")
    inputs = [x, mask] if region.body.input_specs[1].dtype == torch.bool else [mask, x]
    outputs = TrtOutputs(region.body, inputs)
    stream = torch.cuda.current_stream().cuda_stream
    with pytest.raises(PluginError, match="above its declared upper bound"):
        jit_launch(region.body, [_buffer(t) for t in inputs], outputs.buffers(), stream)
    torch.cuda.synchronize()
    assert outputs.extents[0].item() == POISON_INT and torch.isnan(outputs.data[0]).all()


class _UniqueOfSelected(torch.nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.unique(torch.masked_select(x, mask))


@pytest.mark.gpu
@settings(max_examples=20)
@given(rows=st.integers(0, 9), data=st.data())
def test_two_extents_in_one_region(rows: int, data) -> None:
    dims = ({0: Dim("rows", min=0, max=64)}, {0: Dim("rows", min=0, max=64)})
    sample = (torch.randint(0, 4, (4, 3), device="cuda"), torch.rand(4, 3, device="cuda") > 0.5)
    ep = torch.export.export(_UniqueOfSelected(), sample, dynamic_shapes=dims)
    oracle = OpSetSupport(
        unsupported=["aten.masked_select", "aten._unique2"], base=SnapshotSupport()
    )
    (region,) = autoplugin(ep, support=oracle, min_block_size=1).regions
    assert len(size_tensors(region.body)) == 2
    x = torch.randint(0, 4, (rows, 3), device="cuda")
    mask = data.draw(masks(rows, 3)).cuda()
    outputs = _launch(region.body, [x, mask])
    for got, want in zip(outputs.results(), run_body(region.body, [x, mask]), strict=True):
        torch.testing.assert_close(got, want)


# --- whole models, every region through the JIT implementation -----------------------------------


class _JitInterpreter(torch.fx.Interpreter):
    """Runs a rewritten program with each region op replaced by `jit_launch` on TensorRT-shaped
    buffers (poisoned, data-dependent outputs sized for their bound)."""

    def __init__(self, gm: torch.fx.GraphModule, regions: list[OutlinedRegion]) -> None:
        super().__init__(gm)
        self.bodies = {r.op: r.body for r in regions}
        self.launched = 0

    def call_function(self, target, args, kwargs):
        if target not in self.bodies:
            return super().call_function(target, args, kwargs)
        body = self.bodies[target]
        inputs = [a.contiguous() for a in args]
        results = _launch(body, inputs).results()
        self.launched += 1
        return results[0] if len(results) == 1 else tuple(results)


MODELS = {
    "data_dependent": lambda: examples.load_example("data_dependent"),
    "sparse_keypoints": models.sparse_keypoints,
    "masked_tokens": models.masked_tokens,
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(MODELS))
@settings(max_examples=10, deadline=None)
@given(batch=st.integers(1, 6), seed=st.integers(0, 2**31 - 1))
def test_models_through_the_jit_implementation_equal_eager(
    name: str, batch: int, seed: int
) -> None:
    model, inputs, dynamic_shapes = MODELS[name]()
    model = model.cuda()
    sample = tuple(x.cuda() for x in inputs)
    result = autoplugin(torch.export.export(model, sample, dynamic_shapes=dynamic_shapes))
    assert result.report.after.pytorch == 0
    torch.manual_seed(seed)
    fresh = tuple(torch.randn(batch, *x.shape[1:], device="cuda") for x in sample)
    interpreter = _JitInterpreter(result.program.module(), list(result.regions))
    got = interpreter.run(*fresh)
    assert interpreter.launched == len(result.regions) > 0
    want = model(*fresh)
    got = got if isinstance(got, tuple | list) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)
