"""The JIT implementation: a region body run with PyTorch on TensorRT's buffers and stream.

What a plugin's ``trtp.impl`` does at each inference, without TensorRT: the buffers TensorRT
hands over are wrapped zero-copy (`CudaBuffer`, `as_cuda_tensor`), the body runs on TensorRT's
stream, and its results are written into TensorRT's output buffers. A data-dependent output
(`OutputAddress`) is written in its real extent, which goes into the plugin's size tensor.
"""

import collections
import dataclasses
import math
import weakref
from collections.abc import Sequence
from typing import Any

import sympy
import torch
import torch.fx

from . import jit_graphs
from .data_dependent import SizeTensor
from .errors import PluginError
from .outline import RegionBody
from .output_writes import write_plan
from .pluggable import size_tensors, supported_dtypes
from .shape_expr import IntArithmetic, translate_shapes

# ``__cuda_array_interface__`` typestr per dtype. numpy has no bfloat16, so bf16 buffers travel
# as int16 (same size) and are viewed back as bfloat16 (`as_cuda_tensor`).
_TYPESTRS: dict[torch.dtype, str] = {
    torch.float32: "<f4",
    torch.float16: "<f2",
    torch.bfloat16: "<i2",
    torch.int8: "|i1",
    torch.int32: "<i4",
    torch.int64: "<i8",
    torch.bool: "|b1",
}


@dataclasses.dataclass(frozen=True, slots=True)
class CudaBuffer:
    """A linear device buffer as TensorRT hands it to a plugin, for any plugin dtype.

    TensorRT 11.4's ``trtp.Tensor.__cuda_array_interface__`` raises for BF16 (numpy has no
    bfloat16). This buffer describes the same memory itself: bf16 is announced as int16 and
    `as_cuda_tensor` views it back as bfloat16, so every dtype takes the same zero-copy path.

    Attributes:
        ptr: device address of the first element (may be 0 for an empty tensor).
        shape: the concrete shape.
        strides: strides in elements, as TensorRT gives them.
        dtype: the torch dtype of the elements.
    """

    ptr: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: torch.dtype

    def __post_init__(self) -> None:
        if self.dtype not in _TYPESTRS:
            raise PluginError(f"no buffer for dtype {self.dtype} ({supported_dtypes()})")
        if len(self.shape) != len(self.strides):
            raise PluginError(
                f"buffer shape {self.shape} and strides {self.strides} differ in rank"
            )

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        itemsize = self.dtype.itemsize
        return {
            "shape": self.shape,
            "typestr": _TYPESTRS[self.dtype],
            "data": (self.ptr, False),
            "strides": tuple(s * itemsize for s in self.strides),
            # The plugin runs on the stream that owns these buffers: nothing to synchronize.
            "stream": None,
            "version": 3,
        }


# TensorRT hands a plugin the same buffers from one inference to the next, and wrapping one
# (parsing its __cuda_array_interface__) costs more host time than a small region's kernels: a
# `CudaBuffer`'s wrapper is kept, per exact (address, shape, strides, dtype, device). A wrapper
# owns no memory, so a reused address with the same layout is the same view.
_WRAPPERS: "collections.OrderedDict[tuple[CudaBuffer, int], torch.Tensor]" = (
    collections.OrderedDict()
)
_WRAPPERS_MAX = 1024


def as_cuda_tensor(buffer: object, device: int | None = None) -> torch.Tensor:
    """A torch tensor over a buffer exposing ``__cuda_array_interface__``, without copying.

    A `CudaBuffer` of bfloat16 comes in as int16 and is viewed as bfloat16 (same element size,
    so any strides work). A `CudaBuffer`'s tensor is cached (see `_WRAPPERS`); ``device`` is
    the current CUDA device, when the caller knows it already.
    """
    if not isinstance(buffer, CudaBuffer):
        return torch.as_tensor(buffer, device="cuda")
    key = (buffer, torch.cuda.current_device() if device is None else device)
    tensor = _WRAPPERS.get(key)
    if tensor is not None:
        _WRAPPERS.move_to_end(key)
        return tensor
    tensor = torch.as_tensor(buffer, device="cuda")
    if tensor.dtype != buffer.dtype:
        tensor = tensor.view(buffer.dtype)
    _WRAPPERS[key] = tensor
    if len(_WRAPPERS) > _WRAPPERS_MAX:
        _WRAPPERS.popitem(last=False)
    return tensor


@dataclasses.dataclass(frozen=True, slots=True)
class OutputAddress:
    """Where TensorRT wants a data-dependent output, or a size tensor, written.

    TensorRT knows neither's shape before the plugin runs: it reserved room for the output's
    upper bound, and a size tensor is one int32. `jit_launch` writes the output contiguous in
    its real shape, after checking that shape against the bound.
    """

    ptr: int
    dtype: torch.dtype


def jit_launch(
    body: RegionBody, inputs: Sequence[object], outputs: Sequence[object], stream: int
) -> None:
    """Runs a region on TensorRT's buffers: what the plugin's JIT implementation does.

    Inputs and outputs are wrapped zero-copy (`as_cuda_tensor`); the body runs with PyTorch on
    ``torch.cuda.ExternalStream(stream)``, so its kernels are ordered after TensorRT's work on
    that stream. A body with ops from outside PyTorch (`foreign_ops`) runs on the legacy
    default stream instead, ordered after and before TensorRT's stream by events: such ops may
    launch kernels there whatever the current stream. Each result then reaches its output
    buffer: an output an ``out=`` op can produce is written there in place (`output_writes`),
    any other is copied. No host round trip, except the one a data-dependent op makes itself to
    learn its output size. Once a call has run with a set of buffers, the same work is captured
    into a CUDA graph, which later calls with those buffers replay (`jit_graphs`).

    A region with data-dependent outputs (`pluggable.size_tensors`) gets an `OutputAddress` for
    each such output and, after its outputs, one per size tensor: the output is written
    contiguous in its real shape and the size tensor receives the real extent, after both are
    checked against the declared upper bound, so nothing is written past TensorRT's buffer.

    Args:
        body: the region body.
        inputs: one buffer per region input, exposing ``__cuda_array_interface__``.
        outputs: one buffer per region output, shaped as the descriptor declared (an
            `OutputAddress` for a data-dependent one), then one `OutputAddress` per size tensor.
        stream: the raw ``cudaStream_t`` handle TensorRT passes.

    Raises:
        PluginError: the buffer counts, or a result's shape, don't match the region, or a
            data-dependent extent exceeds its declared bound.
    """
    sizes = size_tensors(body)
    _check_counts(body, inputs, outputs, len(sizes))
    tensorrt_stream = _torch_stream(stream)
    foreign = foreign_ops(body)
    key = _graph_key(body, inputs, outputs, foreign)
    if key is not None and jit_graphs.replayed(body, key, tensorrt_stream):
        return
    # Kernels of ops from outside PyTorch may ignore the current stream and launch on the
    # legacy default stream (torchvision's deform_conv2d does); such a body runs there, after
    # TensorRT's work and before TensorRT's next, so all of its kernels are ordered.
    run_stream = torch.cuda.default_stream(tensorrt_stream.device) if foreign else tensorrt_stream
    if run_stream != tensorrt_stream:
        run_stream.wait_stream(tensorrt_stream)

    def run() -> None:
        _run(body, inputs, outputs, sizes)

    with torch.cuda.stream(run_stream):
        run()
    if run_stream != tensorrt_stream:
        tensorrt_stream.wait_stream(run_stream)
    if key is not None:
        jit_graphs.capture(
            body, key, run, tensorrt_stream, lambda: _buffer_bytes((*inputs, *outputs))
        )


def _graph_key(
    body: RegionBody, inputs: Sequence[object], outputs: Sequence[object], foreign: tuple[str, ...]
) -> tuple[object, ...] | None:
    """The key of this call's CUDA graph (`jit_graphs`): the exact buffers and the device; None
    where the region is never graphed or a buffer is not a `CudaBuffer` (whose description is
    its identity)."""
    if jit_graphs.graph_refusal(body, foreign) is not None:
        return None
    buffers = (*inputs, *outputs)
    if not all(type(b) is CudaBuffer for b in buffers):
        return None
    if any(0 in b.shape for b in buffers):  # type: ignore[attr-defined]
        return None  # no kernels to replay: CUDA would refuse the empty graph
    return (torch.cuda.current_device(), *buffers)


def _buffer_bytes(buffers: Sequence[CudaBuffer]) -> int:
    """The bytes a call reads and writes (its buffers are `CudaBuffer`s: it has a graph key)."""
    return sum(math.prod(b.shape) * b.dtype.itemsize for b in buffers)


def _run(
    body: RegionBody, inputs: Sequence[object], outputs: Sequence[object], sizes: Sequence[object]
) -> None:
    """The body on the current stream, its results written into TensorRT's buffers."""
    with torch.no_grad():
        device = torch.cuda.current_device()
        args = [as_cuda_tensor(b, device) for b in inputs]
        plan = write_plan(body)
        buffers = {i: as_cuda_tensor(outputs[i], device) for i in plan.in_place}
        # A fresh alias per call: an out= op that resized its destination would change the
        # alias, never the cached wrapper.
        written = {i: buffer.detach() for i, buffer in buffers.items()}
        results = tuple(plan.graph_module(*args, *written.values()))
        num_outputs = len(body.output_specs)
        if sizes:
            extents = _checked_extents(body, sizes, args, results)
            _write_extents(outputs[num_outputs:], extents)
        for index, (buffer, result) in enumerate(zip(outputs, results, strict=False)):
            if index in written:
                _check_written(body, index, written[index], result, buffers[index])
                continue
            destination = _destination(buffer, result)
            _check_result(body, index, destination, result)
            destination.copy_(result)


def _check_written(
    body: RegionBody,
    index: int,
    alias: torch.Tensor,
    result: torch.Tensor,
    buffer: torch.Tensor,
) -> None:
    # The out= op must have written TensorRT's memory as laid out: a resize (the descriptor and
    # the body disagree on the shape) would have moved or reshaped the alias.
    if result is not alias or alias.data_ptr() != buffer.data_ptr() or alias.shape != buffer.shape:
        raise PluginError(
            f"region {body.qualified_name}: output {index} was not written in place into "
            f"TensorRT's {buffer.dtype}{list(buffer.shape)} buffer (the op returned "
            f"{result.dtype}{list(result.shape)}); the descriptor disagrees with the region"
        )


def _destination(buffer: object, result: torch.Tensor) -> torch.Tensor:
    if not isinstance(buffer, OutputAddress):
        return as_cuda_tensor(buffer)
    # A data-dependent output: TensorRT reads it contiguous in the extent the size tensor gives.
    shape = tuple(result.shape)
    strides = tuple(math.prod(shape[i + 1 :]) for i in range(len(shape)))
    return as_cuda_tensor(CudaBuffer(buffer.ptr, shape, strides, buffer.dtype))


def _checked_extents(
    body: RegionBody,
    sizes: Sequence[SizeTensor],
    args: Sequence[torch.Tensor],
    results: Sequence[torch.Tensor],
) -> list[int]:
    """Each size tensor's real value, read off the results, checked against its bound and the
    results' shapes against the region's (the extents substituted)."""
    input_shapes = [s.shape for s in body.input_specs]
    concrete = [tuple(a.shape) for a in args]
    arith = IntArithmetic()
    (bounds,) = translate_shapes([[s.upper_bound for s in sizes]], input_shapes, concrete, arith)
    extents = []
    for size, bound in zip(sizes, bounds, strict=True):
        output, dim = _extent_position(body, size)
        extent = int(results[output].shape[dim])
        if extent > bound:
            raise PluginError(
                f"region {body.qualified_name}: output {output} dim {dim} ({size.extent}) is "
                f"{extent}, above its declared upper bound {size.upper_bound} = {bound}; "
                "TensorRT reserved room for the bound only, so nothing is written"
            )
        extents.append(extent)
    expected = translate_shapes(
        [s.shape for s in body.output_specs],
        input_shapes,
        concrete,
        arith,
        extents={s.extent: e for s, e in zip(sizes, extents, strict=True)},
    )
    for index, (shape, result) in enumerate(zip(expected, results, strict=True)):
        if tuple(shape) != tuple(result.shape):
            raise PluginError(
                f"region {body.qualified_name}: output {index} is {list(result.shape)}, but "
                f"its declared shape evaluates to {list(shape)}"
            )
    return extents


def _extent_position(body: RegionBody, size: SizeTensor) -> tuple[int, int]:
    for index, spec in enumerate(body.output_specs):
        for dim, value in enumerate(spec.shape):
            if sympy.sympify(value) == size.extent:
                return index, dim
    raise PluginError(f"region {body.qualified_name}: no output has the extent {size.extent}")


def _write_extents(buffers: Sequence[object], extents: Sequence[int]) -> None:
    for buffer, extent in zip(buffers, extents, strict=True):
        if not isinstance(buffer, OutputAddress):
            raise PluginError(f"a size tensor's buffer must be an OutputAddress, got {buffer!r}")
        as_cuda_tensor(CudaBuffer(buffer.ptr, (), (), torch.int32)).fill_(extent)


# Ops of these namespaces run their CUDA kernels on PyTorch's current stream.
_CORE_NAMESPACES = frozenset({"aten", "prims"})


# Per body graph: jit_launch asks on every inference, and a body's graph never changes.
_FOREIGN_OPS: "weakref.WeakKeyDictionary[torch.fx.GraphModule, tuple[str, ...]]" = (
    weakref.WeakKeyDictionary()
)


def foreign_ops(body: RegionBody) -> tuple[str, ...]:
    """The body's ops from outside PyTorch's core (``torchvision::``, a user's library...),
    whose CUDA kernels may not run on the current stream."""
    known = _FOREIGN_OPS.get(body.graph_module)
    if known is None:
        known = tuple(
            dict.fromkeys(
                str(node.target)
                for node in body.graph_module.graph.nodes
                if node.op == "call_function"
                and isinstance(node.target, torch._ops.OpOverload)
                and node.target.namespace not in _CORE_NAMESPACES
            )
        )
        _FOREIGN_OPS[body.graph_module] = known
    return known


def _torch_stream(stream: int) -> torch.cuda.Stream:
    """The torch stream for a raw handle; 0 is the legacy default stream.

    ``ExternalStream(0)`` is not the default stream on torch 2.11 (it comes back as another
    handle), so work on it would be unordered with the caller's.
    """
    if stream == 0:
        return torch.cuda.default_stream()
    # One object per handle: building an ExternalStream costs microseconds on every inference.
    key = (stream, torch.cuda.current_device())
    known = _STREAMS.get(key)
    if known is None:
        if len(_STREAMS) >= _STREAMS_MAX:
            _STREAMS.clear()
        known = _STREAMS[key] = torch.cuda.ExternalStream(stream)
    return known


_STREAMS: dict[tuple[int, int], torch.cuda.Stream] = {}
_STREAMS_MAX = 64


def _check_result(
    body: RegionBody, index: int, destination: torch.Tensor, result: torch.Tensor
) -> None:
    # copy_ would broadcast or cast silently: a mismatch means the descriptor and the body
    # disagree, which must not pass unnoticed.
    if destination.shape != result.shape or destination.dtype != result.dtype:
        raise PluginError(
            f"region {body.qualified_name}: output {index} is {result.dtype}{list(result.shape)} "
            f"but TensorRT allocated {destination.dtype}{list(destination.shape)}; the "
            "plugin's descriptor disagrees with the region"
        )


def _check_counts(
    body: RegionBody, inputs: Sequence[object], outputs: Sequence[object], num_sizes: int
) -> None:
    num_outputs = len(body.output_specs) + num_sizes
    if len(inputs) != len(body.input_specs) or len(outputs) != num_outputs:
        sizes = f" and {num_sizes} size tensors" if num_sizes else ""
        raise PluginError(
            f"region {body.qualified_name} takes {len(body.input_specs)} inputs and gives "
            f"{len(body.output_specs)} outputs{sizes}; got {len(inputs)} and {len(outputs)} "
            "buffers"
        )
