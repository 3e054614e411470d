"""Tests for `trt_autoplugin.jit`: the buffers, and the JIT launch on buffers shaped as TensorRT
hands them.

* CPU: the buffers' ``__cuda_array_interface__``; what `jit_launch` refuses before it launches;
  `foreign_ops`.
* ``gpu``: `jit_launch` equals eager on every example region and every plugin dtype, with
  TensorRT's own interface or a `CudaBuffer`, on a stream of its own as TensorRT's; it orders
  kernels that ignore the current stream; and TensorRT's own ``enqueue`` reaches it (the QDP
  stand-in, ``tests/standin/qdp.py``; skipped without TensorRT's plugin sources).
* ``gpu``, data-dependent regions: TensorRT reserves a data-dependent output for its declared
  upper bound and passes its address with no shape; each size tensor is one int32. Buffers are
  poisoned first: the plugin must write the real extent into the size tensor, the data in front
  of the buffer, and nothing past it. Then whole models run with every region op replaced by
  `jit_launch` on such buffers and must equal eager: the masked_select example, a nonzero model
  and a boolean-mask model.
"""

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sympy
import torch
import torch.fx
from hypothesis import given, settings
from hypothesis import strategies as st
from standin.qdp import plugin_instance, tensor_desc, trt_dtype
from strategies import batch_sizes, masks
from test_plugin import PLUGIN_DTYPES, mixed_regions, region_inputs, regions_of
from torch.export import Dim

from trt_autoplugin import autoplugin, examples, pluggable
from trt_autoplugin.data_dependent import SizeTensor
from trt_autoplugin.errors import PluginError
from trt_autoplugin.jit import CudaBuffer, OutputAddress, as_cuda_tensor, foreign_ops, jit_launch
from trt_autoplugin.outline import OutlinedRegion, RegionBody, run_body
from trt_autoplugin.pluggable import size_tensors
from trt_autoplugin.plugin import register_plugin
from trt_autoplugin.shape_expr import IntArithmetic, translate_shapes
from trt_autoplugin.support import OpSetSupport, SnapshotSupport

sys.path.insert(0, str(Path(__file__).parent / "dryrun"))
import models  # noqa: E402

# --- buffers (CPU) -------------------------------------------------------------------------------


TYPESTRS = {
    torch.float32: "<f4",
    torch.float16: "<f2",
    torch.bfloat16: "<i2",  # numpy has no bfloat16: int16 of the same size, viewed back
    torch.int8: "|i1",
    torch.int32: "<i4",
    torch.int64: "<i8",
    torch.bool: "|b1",
}


@pytest.mark.parametrize("dtype", list(PLUGIN_DTYPES), ids=str)
def test_cuda_buffer_describes_the_memory_in_bytes(dtype: torch.dtype) -> None:
    itemsize = torch.empty((), dtype=dtype).element_size()
    buffer = CudaBuffer(ptr=4096, shape=(2, 3), strides=(3, 1), dtype=dtype)
    interface = buffer.__cuda_array_interface__
    assert interface["shape"] == (2, 3)
    assert interface["strides"] == (3 * itemsize, itemsize)
    assert interface["data"] == (4096, False)
    assert interface["version"] == 3
    assert interface["typestr"] == TYPESTRS[dtype]
    if dtype != torch.bfloat16:
        assert interface["typestr"] == _numpy_typestr(dtype)


def _numpy_typestr(dtype: torch.dtype) -> str:
    import numpy as np

    return np.dtype(torch.empty((), dtype=dtype).numpy().dtype).str


def test_cuda_buffer_refuses_other_dtypes_and_rank_mismatch() -> None:
    with pytest.raises(PluginError, match="float64"):
        CudaBuffer(ptr=0, shape=(1,), strides=(1,), dtype=torch.float64)
    with pytest.raises(PluginError, match="rank"):
        CudaBuffer(ptr=0, shape=(1, 2), strides=(1,), dtype=torch.float32)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", list(PLUGIN_DTYPES), ids=str)
def test_as_cuda_tensor_views_the_buffer_without_copying(dtype: torch.dtype) -> None:
    """Every dtype, bfloat16 included (announced as int16), comes back as itself, strided."""
    base = (torch.arange(12, device="cuda") % 5).to(dtype).view(3, 4)
    column = base[:, 1:3]  # not contiguous: the strides must come through
    tensor = as_cuda_tensor(_cuda_buffer(column))
    assert tensor.dtype == dtype and tensor.data_ptr() == column.data_ptr()
    assert tensor.stride() == column.stride()
    torch.testing.assert_close(tensor, column)


@pytest.mark.gpu
def test_a_buffers_wrapper_is_reused_only_for_that_exact_buffer() -> None:
    """TensorRT hands the same buffers every call: their wrappers are kept, and a different
    address or layout gets its own view."""
    a, b = torch.randn(4, 3, device="cuda"), torch.randn(4, 3, device="cuda")
    wrapped = as_cuda_tensor(_cuda_buffer(a))
    assert as_cuda_tensor(_cuda_buffer(a)) is wrapped
    other = as_cuda_tensor(_cuda_buffer(b))
    assert other is not wrapped and other.data_ptr() == b.data_ptr()
    transposed = as_cuda_tensor(CudaBuffer(a.data_ptr(), (3, 4), (1, 3), a.dtype))
    torch.testing.assert_close(transposed, a.t())


def test_jit_launch_checks_buffer_counts_first(example_regions) -> None:
    body = example_regions["custom_op"][0].body
    buffer = CudaBuffer(ptr=0, shape=(0, 32), strides=(32, 1), dtype=torch.float32)
    with pytest.raises(PluginError, match="2 outputs; got 1 and 1"):
        jit_launch(body, [buffer], [buffer], 0)


def test_foreign_ops_are_the_ops_outside_pytorchs_core(example_regions) -> None:
    (custom,) = example_regions["custom_op"]
    assert foreign_ops(custom.body) == ("trt_autoplugin_examples.quantize_rows.default",)
    for name in ("cumulative", "distribution", "spectral"):
        for region in example_regions[name]:
            assert foreign_ops(region.body) == (), region.targets


# --- launching as TensorRT does ------------------------------------------------------------------

# An int32 of `_poisoned`'s bytes.
POISON_INT32 = 0x7F7F7F7F


def _poisoned(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """An output buffer full of garbage: NaN for floats, 0x7F bytes otherwise."""
    if dtype.is_floating_point:
        return torch.full(tuple(shape), math.nan, dtype=dtype, device="cuda")
    count = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    raw = torch.full((count,), 0x7F, dtype=torch.uint8, device="cuda")
    return raw.view(dtype).reshape(tuple(shape))


class _TrtLikeBuffer:
    """Exactly the ``__cuda_array_interface__`` that ``trtp.Tensor`` gives (11.4, non-BF16)."""

    def __init__(self, tensor: torch.Tensor, stream: int) -> None:
        self._interface = {
            "shape": tuple(tensor.shape),
            "typestr": _numpy_typestr(tensor.dtype),
            "stream": stream,
            "version": 3,
            "data": (tensor.data_ptr(), False),
            "strides": tuple(s * tensor.element_size() for s in tensor.stride()),
        }

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return self._interface


def _cuda_buffer(tensor: torch.Tensor) -> CudaBuffer:
    return CudaBuffer(tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)


def _buffer(tensor: torch.Tensor, stream: int, raw: bool) -> object:
    """What the plugin's impl hands `jit_launch` for a tensor: TensorRT's own interface, or a
    `CudaBuffer` where ``raw``."""
    if raw or tensor.dtype == torch.bfloat16:
        # TensorRT's own interface refuses BF16; this is what the plugin's impl builds instead.
        return _cuda_buffer(tensor)
    return _TrtLikeBuffer(tensor, stream)


def _launch(
    body: RegionBody,
    inputs: list[torch.Tensor],
    outputs: Sequence[object],
    raw: bool,
    stream: torch.cuda.Stream | None = None,
) -> None:
    """`jit_launch` as TensorRT calls it: on its own stream (``stream``, else a new one), ordered
    after the inputs' producer. Tensors go in as `_buffer` wraps them, `OutputAddress`es as they
    are."""
    stream = torch.cuda.Stream() if stream is None else stream
    stream.wait_stream(torch.cuda.current_stream())  # TensorRT orders its inputs before enqueue
    handle = stream.cuda_stream

    def handed(value: object) -> object:
        return _buffer(value, handle, raw) if isinstance(value, torch.Tensor) else value

    jit_launch(body, [handed(x) for x in inputs], [handed(o) for o in outputs], handle)
    stream.synchronize()


def _launch_and_compare(body: RegionBody, inputs: list[torch.Tensor], raw: bool) -> None:
    expected = run_body(body, inputs)
    outputs = [_poisoned(e.shape, e.dtype) for e in expected]
    _launch(body, inputs, outputs, raw)
    for got, want in zip(outputs, expected, strict=True):
        torch.testing.assert_close(got, want, equal_nan=True)


# --- the JIT launch on CUDA (gpu) ----------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("name", examples.example_names())
@given(batch=batch_sizes(), raw=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_jit_launch_matches_eager_on_example_regions(
    cuda_example_regions, name: str, batch: int, raw: bool, seed: int
) -> None:
    torch.manual_seed(seed)
    for region in cuda_example_regions[name]:
        if size_tensors(region.body):
            continue  # data-dependent outputs take TensorRT's bound-sized buffers: below
        inputs = [x.cuda() for x in region_inputs(region, batch)]
        try:
            run_body(region.body, inputs)
        except RuntimeError:
            # Eager refuses this size (e.g. an FFT of an empty batch): so must the plugin.
            shapes = region.infer_output_shapes([x.shape for x in inputs])
            specs = region.output_specs
            outputs = [_poisoned(s, spec.dtype) for s, spec in zip(shapes, specs, strict=True)]
            with pytest.raises(RuntimeError):
                _launch(region.body, inputs, outputs, raw)
            continue
        _launch_and_compare(region.body, inputs, raw)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", list(PLUGIN_DTYPES), ids=str)
@given(rows=st.integers(0, 9), cols=st.integers(0, 9), raw=st.booleans())
def test_jit_launch_matches_eager_for_every_dtype(
    dtype: torch.dtype, rows: int, cols: int, raw: bool
) -> None:
    region = mixed_regions()[dtype]
    x = (torch.randn(rows, cols, device="cuda") * 4).to(dtype)
    _launch_and_compare(region.body, [x], raw)


class _DeformConv(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(8, 4, 3, 3))

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        from torchvision.ops import deform_conv2d

        return deform_conv2d(x, offset, self.weight, padding=1)


@pytest.mark.gpu
def test_jit_launch_orders_kernels_that_ignore_the_current_stream() -> None:
    """torchvision's deform_conv2d launches its im2col kernel on the legacy default stream.
    TensorRT's stream is still writing the inputs (behind a sleep) when it enqueues the plugin:
    the whole body must wait for it, or it reads the poisoned inputs."""
    pytest.importorskip("torchvision")
    inputs = (torch.randn(4, 4, 16, 16, device="cuda"), torch.randn(4, 18, 16, 16, device="cuda"))
    batch = Dim("batch", max=64)
    (region,) = regions_of(
        _DeformConv().cuda(),
        inputs,
        ["torchvision.deform_conv2d.default"],
        ({0: batch}, {0: batch}),
    )
    assert foreign_ops(region.body) == ("torchvision.deform_conv2d.default",)
    args = [x.cuda() for x in region_inputs(region, 4)]
    expected = run_body(region.body, args)
    staged = [torch.full_like(x, math.nan) for x in args]
    outputs = [_poisoned(e.shape, e.dtype) for e in expected]
    stream = torch.cuda.Stream()  # non-blocking, like TensorRT's
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        torch.cuda._sleep(100_000_000)  # about 50 ms: TensorRT still producing the inputs
        for destination, source in zip(staged, args, strict=True):
            destination.copy_(source)
    _launch(region.body, staged, outputs, raw=True, stream=stream)
    for got, want in zip(outputs, expected, strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.gpu
def test_jit_launch_through_tensorrts_enqueue(standin_trt, cuda_example_regions) -> None:
    """TensorRT's own ``_TemplateJITPlugin.enqueue`` (stand-in descs) calls our impl on CUDA."""
    trt = standin_trt
    for region in cuda_example_regions["cumulative"]:
        register_plugin(region.body)
        plugin = plugin_instance(trt, region.name)
        inputs = [x.cuda() for x in region_inputs(region, 3)]
        expected = run_body(region.body, inputs)
        outputs = [_poisoned(e.shape, e.dtype) for e in expected]
        plugin.get_output_data_types([trt_dtype(trt, x.dtype) for x in inputs], [3])
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        plugin.enqueue(
            [tensor_desc(trt, x) for x in inputs],
            [tensor_desc(trt, o) for o in outputs],
            [x.data_ptr() for x in inputs],
            [o.data_ptr() for o in outputs],
            [x.stride() for x in inputs],
            [o.stride() for o in outputs],
            stream.cuda_stream,
        )
        stream.synchronize()
        for got, want in zip(outputs, expected, strict=True):
            torch.testing.assert_close(got, want)


# --- data-dependent outputs, in buffers sized for their bound (gpu) ------------------------------


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
            _poisoned((math.prod(shape),), spec.dtype)
            for shape, spec in zip(self.capacity_shapes, body.output_specs, strict=True)
        ]
        self.extents = [_poisoned((1,), torch.int32) for _ in self.sizes]

    def buffers(self) -> list[object]:
        """What the plugin is handed: an `OutputAddress` for each data-dependent output and size
        tensor, the others as tensors of their declared shape."""
        out: list[object] = []
        for tensor, shape, dynamic in zip(
            self.data, self.capacity_shapes, self.data_dependent, strict=True
        ):
            if dynamic:
                out.append(OutputAddress(tensor.data_ptr(), tensor.dtype))
            else:
                out.append(tensor.view(tuple(shape)))
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


def _launch_at_bound(body: RegionBody, inputs: list[torch.Tensor]) -> TrtOutputs:
    """`_launch` into outputs as TensorRT allocates them for a data-dependent region."""
    outputs = TrtOutputs(body, inputs)
    _launch(body, inputs, outputs.buffers(), raw=True)
    return outputs


@pytest.fixture(scope="module")
def masked_select_region(cuda_example_regions) -> OutlinedRegion:
    (region,) = [r for r in cuda_example_regions["data_dependent"] if size_tensors(r.body)]
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
    outputs = _launch_at_bound(region.body, inputs)
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
    wrong = SizeTensor(size.extent, sympy.Integer(3), "a wrong bound")
    monkeypatch.setitem(pluggable._SIZE_TENSORS, region.body.graph_module, (wrong,))
    x = torch.randn(4, 16, device="cuda")
    mask = torch.ones(4, 16, dtype=torch.bool, device="cuda")
    inputs = [x, mask] if region.body.input_specs[1].dtype == torch.bool else [mask, x]
    outputs = TrtOutputs(region.body, inputs)
    with pytest.raises(PluginError, match="above its declared upper bound"):
        _launch(region.body, inputs, outputs.buffers(), raw=True)
    torch.cuda.synchronize()
    assert outputs.extents[0].item() == POISON_INT32 and torch.isnan(outputs.data[0]).all()


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
    outputs = _launch_at_bound(region.body, [x, mask])
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
        results = _launch_at_bound(body, inputs).results()
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
