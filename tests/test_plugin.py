"""Tests for `trt_autoplugin.plugin`: refusals, dtypes, buffers, descriptors and the JIT launch.

Three tiers:

* CPU: everything that needs neither TensorRT nor a GPU (refusals, dtype names, the buffers'
  ``__cuda_array_interface__``, output shapes through the translation).
* QDP stand-in (CPU, or GPU for the launch): TensorRT's own pure-Python ``tensorrt.plugin`` layer
  loaded over a stand-in for the compiled ``tensorrt`` module. See `standin_trt`'s docstring for
  what that proves and what it doesn't. Skipped when the layer's sources are not found.
* ``gpu``: `jit_launch` on CUDA buffers shaped as TensorRT passes them; ``tensorrt``: the real
  thing.
"""

import dataclasses
import enum
import importlib.util
import math
import os
import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sympy
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import batch_sizes
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.export import Dim

from trt_autoplugin import examples
from trt_autoplugin.errors import AotError, MissingDependencyError, PluginError
from trt_autoplugin.outline import OutlinedRegion, RegionBody, region_body, run_body
from trt_autoplugin.partition import propose_regions
from trt_autoplugin.pipeline import autoplugin
from trt_autoplugin.pluggable import size_tensors
from trt_autoplugin.plugin import (
    CudaBuffer,
    foreign_ops,
    is_plugin_dtype,
    jit_launch,
    plugin_id,
    plugin_refusal_reason,
    register_plugin,
    tensorrt_plugin_import_error,
    trt_dtype_name,
)
from trt_autoplugin.shape_expr import IntArithmetic, translate_shapes
from trt_autoplugin.support import OpSetSupport, support_report

PLUGIN_DTYPES = {
    torch.float32: "FLOAT",
    torch.float16: "HALF",
    torch.bfloat16: "BF16",
    torch.int8: "INT8",
    torch.int32: "INT32",
    torch.int64: "INT64",
    torch.bool: "BOOL",
}


# --- regions used throughout ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_regions(example_results) -> dict[str, tuple[OutlinedRegion, ...]]:
    """Every built-in example's regions, outlined with the shipped snapshot."""
    return {name: result.regions for name, (_, result) in example_results.items()}


def _regions_of(model: torch.nn.Module, inputs: tuple, ops: Sequence[str], dynamic=None):
    ep = torch.export.export(model, inputs, dynamic_shapes=dynamic)
    return autoplugin(ep, support=OpSetSupport(unsupported=ops)).regions


def _proposed_bodies(
    model: torch.nn.Module, inputs: tuple, ops: Sequence[str], dynamic=None
) -> list[RegionBody]:
    """The bodies of the regions proposed for ``ops``, before any refusal (autoplugin would
    leave refused ones in the graph)."""
    gm = torch.export.export(model, inputs, dynamic_shapes=dynamic).graph_module
    partition = propose_regions(gm, support_report(gm, OpSetSupport(unsupported=ops)))
    return [region_body(gm, region) for region in partition.regions]


class _Lgamma(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.lgamma(x) * 2


class _Interpolate(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.lgamma(torch.nn.functional.interpolate(x, scale_factor=1.5))


class _Mixed(torch.nn.Module):
    """One connected region, three outputs of three dtypes, from an input of any dtype."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        total = torch.cumsum(x, dim=-1)  # int64 for integer and bool inputs
        flipped = torch.flip(x, [0])
        return total, flipped, (total != 0) & (flipped != 0)


def mixed_region(dtype: torch.dtype) -> OutlinedRegion:
    """`_Mixed` outlined whole, with two dynamic dims (0 and 1 allowed)."""
    x = torch.ones(3, 4, dtype=dtype)
    dims = ({0: Dim("rows", min=0, max=64), 1: Dim("cols", min=0, max=64)},)
    ops = ["aten.cumsum", "aten.flip", "aten.ne", "aten.__and__"]
    (region,) = _regions_of(_Mixed(), (x,), ops, dims)
    return region


# --- dtypes and refusals (CPU) -------------------------------------------------------------------


def test_every_plugin_dtype_maps_to_its_tensorrt_name() -> None:
    for dtype, name in PLUGIN_DTYPES.items():
        assert is_plugin_dtype(dtype)
        assert trt_dtype_name(dtype) == name


@pytest.mark.parametrize(
    "dtype", [torch.float64, torch.complex64, torch.uint8, torch.int16], ids=str
)
def test_other_dtypes_are_refused_with_the_supported_list(dtype: torch.dtype) -> None:
    assert not is_plugin_dtype(dtype)
    with pytest.raises(PluginError, match="bfloat16"):
        trt_dtype_name(dtype)


def test_a_float64_boundary_is_refused_naming_region_and_tensor() -> None:
    (body,) = _proposed_bodies(_Lgamma(), (torch.rand(4, 3, dtype=torch.float64),), ["aten.lgamma"])
    reason = plugin_refusal_reason(body)
    assert reason is not None
    assert plugin_id(body) in reason and "input 0" in reason and "float64" in reason


def test_refusals_raise_before_tensorrt_is_needed() -> None:
    """A refused region raises PluginError even where TensorRT is missing."""
    (body,) = _proposed_bodies(_Lgamma(), (torch.rand(4, 3, dtype=torch.float64),), ["aten.lgamma"])
    with pytest.raises(PluginError, match="float64"):
        register_plugin(body)


def test_a_float_size_is_refused_with_the_translation_reason() -> None:
    dims = ({2: Dim("length", min=2, max=64)},)
    ops = ["aten.lgamma", "aten.upsample_nearest1d"]
    (body,) = _proposed_bodies(_Interpolate(), (torch.rand(2, 3, 8),), ops, dims)
    reason = plugin_refusal_reason(body)
    assert reason is not None and plugin_id(body) in reason
    assert "output 0 dim 2" in reason and "integer-only" in reason


def test_a_rank_above_tensorrt_dims_is_refused() -> None:
    (body,) = _proposed_bodies(_Lgamma(), (torch.rand((2,) * 9),), ["aten.lgamma"])
    reason = plugin_refusal_reason(body)
    assert reason is not None and "rank 9" in reason


def test_every_example_region_can_be_a_plugin(example_regions) -> None:
    for regions in example_regions.values():
        for region in regions:
            assert plugin_refusal_reason(region.body) is None
            assert plugin_id(region.body) == region.name


def test_register_without_tensorrt_says_what_is_missing(example_regions) -> None:
    if tensorrt_plugin_import_error() is None:
        pytest.skip("tensorrt.plugin imports here")
    region = example_regions["distribution"][0]
    with pytest.raises(MissingDependencyError, match="tensorrt.plugin"):
        register_plugin(region.body)


# --- output shapes through the translation (CPU) -------------------------------------------------


def _example_inputs(name: str, batch: int, region: OutlinedRegion) -> list[torch.Tensor]:
    """Inputs for a region of an example: batch-sized where the spec is symbolic."""
    return [
        torch.randn([batch if not isinstance(d, int) else d for d in spec.shape]).to(spec.dtype)
        for spec in region.input_specs
    ]


@pytest.mark.parametrize("name", examples.example_names())
@given(batch=batch_sizes())
def test_descriptor_shapes_equal_real_shapes(example_regions, name: str, batch: int) -> None:
    """The expressions the descriptor emits, evaluated on ints, give the body's real shapes."""
    for region in example_regions[name]:
        inputs = _example_inputs(name, batch, region)
        real = _real_shapes(region.body, inputs)
        input_shapes = [s.shape for s in region.input_specs]
        output_shapes = [s.shape for s in region.output_specs]
        concrete = [list(x.shape) for x in inputs]
        sizes = size_tensors(region.body)
        if sizes:  # data-dependent: the extents come from the run, below their bounds
            extents = _real_extents(region, sizes, real)
            bounds = translate_shapes(
                [[s.upper_bound for s in sizes]], input_shapes, concrete, IntArithmetic()
            )[0]
            assert all(e <= b for e, b in zip(extents.values(), bounds, strict=True))
            translated = translate_shapes(
                output_shapes, input_shapes, concrete, IntArithmetic(), extents=extents
            )
            assert [tuple(s) for s in translated] == real
            continue
        translated = translate_shapes(output_shapes, input_shapes, concrete, IntArithmetic())
        assert [tuple(s) for s in translated] == real
        assert region.infer_output_shapes(concrete) == real


def _real_extents(region, sizes, real: list[tuple[int, ...]]) -> dict:
    """Each data-dependent extent's value in a real run, read off the output it sizes."""
    extents = {}
    for size in sizes:
        for spec, shape in zip(region.output_specs, real, strict=True):
            for dim, value in zip(spec.shape, shape, strict=True):
                if sympy.sympify(dim) == size.extent:
                    extents.setdefault(size.extent, value)
    return extents


def _real_shapes(body: RegionBody, inputs: list[torch.Tensor]) -> list[tuple[int, ...]]:
    """The body's output shapes on these inputs: from running it, or, where eager refuses the
    size (CPU FFTs of an empty batch), from its kernels' meta functions at those exact sizes."""
    try:
        return [tuple(out.shape) for out in run_body(body, inputs)]
    except RuntimeError:
        with FakeTensorMode() as mode:
            fakes = [mode.from_tensor(x) for x in inputs]
            return [tuple(out.shape) for out in body.graph_module(*fakes)]


@given(rows=st.integers(0, 9), cols=st.integers(0, 9))
def test_descriptor_shapes_of_a_two_symbol_region(rows: int, cols: int) -> None:
    region = _mixed_regions()[torch.float32]
    x = torch.randn(rows, cols)
    real = [tuple(out.shape) for out in run_body(region.body, [x])]
    assert region.infer_output_shapes([x.shape]) == real


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


def test_jit_launch_checks_buffer_counts_first(example_regions) -> None:
    body = example_regions["custom_op"][0].body
    buffer = CudaBuffer(ptr=0, shape=(0, 32), strides=(32, 1), dtype=torch.float32)
    with pytest.raises(PluginError, match="2 outputs; got 1 and 1"):
        jit_launch(body, [buffer], [buffer], 0)


# --- TensorRT's QDP layer over a stand-in (CPU) --------------------------------------------------


def _qdp_source() -> Path | None:
    """Where TensorRT's pure-Python ``tensorrt.plugin`` sources are, if anywhere here."""
    candidates = [os.environ.get("TRT_AUTOPLUGIN_QDP_SOURCE")]
    spec = importlib.util.find_spec("tensorrt_bindings")
    if spec is not None and spec.submodule_search_locations:
        candidates += [str(Path(p) / "plugin") for p in spec.submodule_search_locations]
    candidates.append("/tmp/wheels/trtb/tensorrt_bindings/plugin")
    for candidate in candidates:
        if candidate and (Path(candidate) / "_validate.py").is_file():
            return Path(candidate)
    return None


class _IntDim:
    """``trt.IDimensionExpr`` stand-in: a known integer (the stand-in builder folds everything)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def is_constant(self) -> bool:
        return True

    def get_constant_value(self) -> int:
        return self.value


_OPERATIONS = {
    "SUM": lambda a, b: a + b,
    "SUB": lambda a, b: a - b,
    "PROD": lambda a, b: a * b,
    "FLOOR_DIV": lambda a, b: a // b,
    "CEIL_DIV": lambda a, b: -(-a // b),
    "MAX": max,
    "MIN": min,
    "EQUAL": lambda a, b: int(a == b),
    "LESS": lambda a, b: int(a < b),
}


@dataclasses.dataclass
class _SizeDim:
    """What ``IExprBuilder.declare_size_tensor`` gives: a dim known only at run time."""

    index: int
    opt: int
    upper: int

    def is_constant(self) -> bool:
        return False


class _IntBuilder:
    """``trt.IExprBuilder`` stand-in evaluating every operation on ints."""

    def constant(self, value: int) -> _IntDim:
        return _IntDim(value)

    def declare_size_tensor(self, index: int, opt: _IntDim, upper: _IntDim) -> _SizeDim:
        return _SizeDim(index, opt.value, upper.value)

    def operation(self, operation: enum.Enum, left: _IntDim, right: _IntDim) -> _IntDim:
        return _IntDim(_OPERATIONS[operation.name](left.value, right.value))


class _Registry:
    """``trt.IPluginRegistry`` stand-in: creators by (name, namespace)."""

    def __init__(self) -> None:
        self.creators: dict[tuple[str, str], Any] = {}

    def register_creator(self, creator: Any, namespace: str) -> bool:
        self.creators[(creator.name, namespace)] = creator
        return True

    def get_creator(self, name: str, version: str, namespace: str) -> Any:
        return self.creators.get((name, namespace))

    def deregister_creator(self, creator: Any) -> bool:
        keys = [k for k, v in self.creators.items() if v is creator]
        for key in keys:
            del self.creators[key]
        return bool(keys)


class _Base:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


def _standin_tensorrt() -> types.ModuleType:
    import numpy as np

    trt = types.ModuleType("tensorrt")
    trt.__path__ = []  # a package, so that tensorrt.plugin can load under it
    names = ["FLOAT", "HALF", "BF16", "INT8", "INT32", "INT64", "BOOL", "UINT8", "FP8", "INT4"]
    trt.DataType = enum.Enum("DataType", names)
    trt.float32, trt.float16, trt.int32 = trt.DataType.FLOAT, trt.DataType.HALF, trt.DataType.INT32
    numpy_types = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32}
    numpy_types |= {"INT64": np.int64, "BOOL": np.bool_, "UINT8": np.uint8}
    trt.nptype = lambda dtype: numpy_types[dtype.name]
    trt.DimensionOperation = enum.Enum("DimensionOperation", list(_OPERATIONS))
    trt.PluginFieldType = enum.Enum(
        "PluginFieldType",
        ["FLOAT16", "FLOAT32", "FLOAT64", "INT8", "INT16", "INT32", "INT64", "CHAR", "UNKNOWN"],
    )
    trt.TensorRTPhase = enum.Enum("TensorRTPhase", ["BUILD", "RUNTIME"])
    trt.TensorFormat = enum.Enum("TensorFormat", ["LINEAR"])
    trt.PluginArgType = enum.Enum("PluginArgType", ["INT"])
    trt.PluginArgDataType = enum.Enum("PluginArgDataType", ["INT8", "INT16", "INT32"])
    # Its presence turns on tensorrt.plugin's AOT half (aot_impl, KernelLaunchParams).
    trt.QuickPluginCreationRequest = enum.Enum(
        "QuickPluginCreationRequest",
        ["UNKNOWN", "PREFER_AOT", "PREFER_JIT", "STRICT_AOT", "STRICT_JIT"],
    )
    trt.Logger = type("Logger", (_Base,), {"WARNING": 2, "log": lambda self, s, m: None})
    trt.Dims = type("Dims", (tuple,), {"MAX_DIMS": 8})
    trt.DimsExprs = lambda n: [None] * n
    trt.IDimensionExpr = _IntDim
    trt.PluginField = lambda name, data=None, type=None: types.SimpleNamespace(name=name, data=data)
    trt.PluginFieldCollection = list
    for name in [
        "IPluginV3",
        "IPluginV3QuickCore",
        "IPluginV3QuickBuild",
        "IPluginV3QuickRuntime",
        "IPluginV3QuickAOTBuild",
        "IPluginCreatorV3Quick",
        "ITensor",
        "ISymExpr",
        "DynamicPluginTensorDesc",
        "PluginTensorDesc",
        "IExprBuilder",
    ]:
        setattr(trt, name, type(name, (_Base,), {}))
    registry = _Registry()
    trt.get_plugin_registry = lambda: registry
    return trt


@pytest.fixture
def standin_trt(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """TensorRT 11.4's pure-Python ``tensorrt.plugin`` over a stand-in ``tensorrt`` module.

    The stand-in replaces the compiled ``tensorrt`` module: enums (DataType, DimensionOperation,
    PluginFieldType, ...), empty base classes for the plugin interfaces, a dict-backed plugin
    registry, and an ``IExprBuilder`` that folds every shape operation into an integer.
    Everything in ``tensorrt.plugin`` itself is TensorRT's own code: ``register``/``impl`` and
    their validators (``_validate.py``), ``PluginDef``, the plugin creator, and the JIT plugin
    class whose ``get_output_data_types``/``get_output_shapes`` call our descriptor as TensorRT's
    builder would.

    This proves: the generated declarations pass TensorRT's validators; the descriptor gives the
    right number of outputs with the right dtypes; its shape expressions use only operations
    ``tensorrt.plugin`` offers and evaluate to the real shapes. It does not prove: that
    TensorRT's C++ builder accepts the plugin, that ``add_plugin`` works, or anything about
    engines. It is not a TensorRT test.
    """
    source = _qdp_source()
    if source is None:
        pytest.skip("TensorRT's tensorrt.plugin sources not found (set TRT_AUTOPLUGIN_QDP_SOURCE)")
    saved = {k: v for k, v in sys.modules.items() if k == "tensorrt" or k.startswith("tensorrt.")}
    for key in saved:
        monkeypatch.delitem(sys.modules, key)
    trt = _standin_tensorrt()
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    spec = importlib.util.spec_from_file_location(
        "tensorrt.plugin", source / "__init__.py", submodule_search_locations=[str(source)]
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "tensorrt.plugin", module)
    spec.loader.exec_module(module)
    trt.plugin = module
    try:
        yield trt
    finally:
        from trt_autoplugin import plugin as plugin_module

        for handle in list(plugin_module._PLUGINS.values()):
            handle.destroy()
        # The package imported its submodules itself; monkeypatch restores only what it set.
        for key in [k for k in sys.modules if k.startswith("tensorrt.plugin.")]:
            del sys.modules[key]


def _plugin_instance(trt: types.ModuleType, qdp_id: str) -> Any:
    """The JIT plugin TensorRT's creator makes for a registered id (as ``add_plugin`` would)."""
    from tensorrt.plugin._lib import QDP_CREATORS

    namespace, name = qdp_id.split("::")
    return QDP_CREATORS[qdp_id].create_plugin(name, namespace, [], trt.TensorRTPhase.BUILD)


def _trt_dtype(trt: types.ModuleType, dtype: torch.dtype) -> Any:
    return getattr(trt.DataType, PLUGIN_DTYPES[dtype])


def test_declarations_pass_tensorrts_validators(standin_trt, example_regions) -> None:
    from tensorrt.plugin._lib import QDP_CREATORS, QDP_REGISTRY

    for regions in example_regions.values():
        for region in regions:
            handle = register_plugin(region.body)
            definition = QDP_REGISTRY[region.name]
            count = len(region.input_specs)
            assert definition.input_tensor_names == [f"in_{i}" for i in range(count)]
            assert definition.input_attrs == {}
            sizes = size_tensors(region.body)
            assert definition.num_outputs == len(region.output_specs) + len(sizes)
            assert definition.impl_attr_names == [] and definition.expects_tactic is False
            assert definition.aot_impl_func is None
            assert region.name in QDP_CREATORS
            assert handle.plugin_id == region.name


def test_descriptor_declares_each_outputs_own_dtype(standin_trt, example_regions) -> None:
    trt = standin_trt
    for region in (*example_regions["custom_op"], *example_regions["cumulative"]):
        register_plugin(region.body)
        plugin = _plugin_instance(trt, region.name)
        input_types = [_trt_dtype(trt, s.dtype) for s in region.input_specs]
        ranks = [len(s.shape) for s in region.input_specs]
        got = plugin.get_output_data_types(input_types, ranks)
        assert got == [_trt_dtype(trt, s.dtype) for s in region.output_specs]


def test_descriptor_declares_mixed_dtypes(standin_trt) -> None:
    trt = standin_trt
    for dtype, region in _mixed_regions().items():
        register_plugin(region.body)
        plugin = _plugin_instance(trt, region.name)
        got = plugin.get_output_data_types([_trt_dtype(trt, dtype)], [2])
        assert got == [_trt_dtype(trt, s.dtype) for s in region.output_specs]


def test_descriptor_refuses_an_input_of_another_dtype(standin_trt, example_regions) -> None:
    trt = standin_trt
    region = example_regions["distribution"][0]
    register_plugin(region.body)
    plugin = _plugin_instance(trt, region.name)
    with pytest.raises(PluginError, match="traced with"):
        plugin.get_output_data_types([trt.DataType.HALF], [2])


@pytest.mark.parametrize("name", examples.example_names())
@given(batch=batch_sizes())
def test_tensorrt_shape_callback_gives_real_shapes(
    standin_trt, example_regions, name: str, batch: int
) -> None:
    """``get_output_shapes`` (TensorRT's code) on our descriptor, with integer expressions."""
    trt = standin_trt
    for region in example_regions[name]:
        register_plugin(region.body)
        plugin = _plugin_instance(trt, region.name)
        inputs = _example_inputs(name, batch, region)
        plugin.get_output_data_types(
            [_trt_dtype(trt, x.dtype) for x in inputs], [x.dim() for x in inputs]
        )
        dims = [[_IntDim(d) for d in x.shape] for x in inputs]
        exprs = plugin.get_output_shapes(dims, [], _IntBuilder())
        real = _real_shapes(region.body, inputs)
        num_sizes = len(size_tensors(region.body))
        # Size tensors are scalars after the outputs; their dims are declared, not computed.
        assert [len(e) for e in exprs[len(real) :]] == [0] * num_sizes
        for out, shape in zip(exprs, real, strict=False):
            for expr, size in zip(out, shape, strict=True):
                if isinstance(expr, _SizeDim):
                    assert size <= expr.upper and expr.opt == -(-expr.upper // 2)
                    assert expr.index >= len(real)
                else:
                    assert expr.get_constant_value() == size


def test_registering_again_is_a_no_op_and_destroy_undoes_it(standin_trt, example_regions) -> None:
    from tensorrt.plugin import _lib

    region = example_regions["custom_op"][0]
    handle = register_plugin(region.body)
    assert register_plugin(region.body) is handle
    creator = _lib.QDP_CREATORS[region.name]
    handle.destroy()
    handle.destroy()
    assert handle.is_destroyed
    assert region.name not in _lib.QDP_REGISTRY and region.name not in _lib.QDP_CREATORS
    assert not hasattr(_lib.op.trt_autoplugin, region.name.split("::")[1])
    assert creator not in standin_trt.get_plugin_registry().creators.values()
    again = register_plugin(region.body)
    assert again is not handle and region.name in _lib.QDP_REGISTRY


def test_a_foreign_plugin_of_the_same_id_is_not_overwritten(standin_trt, example_regions) -> None:
    import tensorrt.plugin as trtp

    region = example_regions["distribution"][0]

    @trtp.register(region.name)
    def foreign(in_0: trtp.TensorDesc) -> trtp.TensorDesc:
        return in_0.like()

    with pytest.raises(PluginError, match="not by trt_autoplugin"):
        register_plugin(region.body)


# --- the JIT launch on CUDA (gpu) ----------------------------------------------------------------


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


def _poisoned(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """An output buffer full of garbage: NaN for floats, 0x7F bytes otherwise."""
    if dtype.is_floating_point:
        return torch.full(tuple(shape), math.nan, dtype=dtype, device="cuda")
    count = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    raw = torch.full((count,), 0x7F, dtype=torch.uint8, device="cuda")
    return raw.view(dtype).reshape(tuple(shape))


def _buffer(tensor: torch.Tensor, stream: int, raw: bool) -> object:
    if raw or tensor.dtype == torch.bfloat16:
        # TensorRT's own interface refuses BF16; this is what the plugin's impl builds instead.
        return CudaBuffer(
            tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype
        )
    return _TrtLikeBuffer(tensor, stream)


def _launch(
    body: RegionBody, inputs: list[torch.Tensor], outputs: list[torch.Tensor], raw: bool
) -> None:
    """`jit_launch` as TensorRT calls it: its own stream, ordered after the inputs' producer."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())  # TensorRT orders its inputs before enqueue
    handle = stream.cuda_stream
    jit_launch(
        body,
        [_buffer(x, handle, raw) for x in inputs],
        [_buffer(o, handle, raw) for o in outputs],
        handle,
    )
    stream.synchronize()


def _launch_and_compare(body: RegionBody, inputs: list[torch.Tensor], raw: bool) -> None:
    expected = run_body(body, inputs)
    outputs = [_poisoned(e.shape, e.dtype) for e in expected]
    _launch(body, inputs, outputs, raw)
    for got, want in zip(outputs, expected, strict=True):
        torch.testing.assert_close(got, want, equal_nan=True)


@pytest.fixture(scope="module")
def cuda_example_regions(cuda_example_results) -> dict[str, tuple[OutlinedRegion, ...]]:
    """Example regions exported from the model on CUDA (bodies then bake no CPU device)."""
    return {name: result.regions for name, (_, result) in cuda_example_results.items()}


@pytest.mark.gpu
@pytest.mark.parametrize("name", examples.example_names())
@given(batch=batch_sizes(), raw=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_jit_launch_matches_eager_on_example_regions(
    cuda_example_regions, name: str, batch: int, raw: bool, seed: int
) -> None:
    torch.manual_seed(seed)
    for region in cuda_example_regions[name]:
        if size_tensors(region.body):
            continue  # data-dependent outputs take TensorRT's bound-sized buffers: test_jit.py
        inputs = [x.cuda() for x in _example_inputs(name, batch, region)]
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


def test_foreign_ops_are_the_ops_outside_pytorchs_core(example_regions) -> None:
    (custom,) = example_regions["custom_op"]
    assert foreign_ops(custom.body) == ("trt_autoplugin_examples.quantize_rows.default",)
    for name in ("cumulative", "distribution", "spectral"):
        for region in example_regions[name]:
            assert foreign_ops(region.body) == (), region.targets


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
    (region,) = _regions_of(
        _DeformConv().cuda(),
        inputs,
        ["torchvision.deform_conv2d.default"],
        ({0: batch}, {0: batch}),
    )
    assert foreign_ops(region.body) == ("torchvision.deform_conv2d.default",)
    args = [x.cuda() for x in _example_inputs("deform_conv", 4, region)]
    expected = run_body(region.body, args)
    staged = [torch.full_like(x, math.nan) for x in args]
    outputs = [_poisoned(e.shape, e.dtype) for e in expected]
    stream = torch.cuda.Stream()  # non-blocking, like TensorRT's
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        torch.cuda._sleep(100_000_000)  # about 50 ms: TensorRT still producing the inputs
        for destination, source in zip(staged, args, strict=True):
            destination.copy_(source)
    handle = stream.cuda_stream
    jit_launch(
        region.body,
        [_buffer(x, handle, True) for x in staged],
        [_buffer(o, handle, True) for o in outputs],
        handle,
    )
    stream.synchronize()
    for got, want in zip(outputs, expected, strict=True):
        torch.testing.assert_close(got, want)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", list(PLUGIN_DTYPES), ids=str)
@given(rows=st.integers(0, 9), cols=st.integers(0, 9), raw=st.booleans())
def test_jit_launch_matches_eager_for_every_dtype(
    dtype: torch.dtype, rows: int, cols: int, raw: bool
) -> None:
    region = _mixed_regions()[dtype]
    x = (torch.randn(rows, cols, device="cuda") * 4).to(dtype)
    _launch_and_compare(region.body, [x], raw)


@pytest.mark.gpu
def test_jit_launch_through_tensorrts_enqueue(standin_trt, cuda_example_regions) -> None:
    """TensorRT's own ``_TemplateJITPlugin.enqueue`` (stand-in descs) calls our impl on CUDA."""
    trt = standin_trt
    for region in cuda_example_regions["cumulative"]:
        register_plugin(region.body)
        plugin = _plugin_instance(trt, region.name)
        inputs = [x.cuda() for x in _example_inputs("cumulative", 3, region)]
        expected = run_body(region.body, inputs)
        outputs = [_poisoned(e.shape, e.dtype) for e in expected]
        plugin.get_output_data_types([_trt_dtype(trt, x.dtype) for x in inputs], [3])
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        plugin.enqueue(
            [_desc(trt, x) for x in inputs],
            [_desc(trt, o) for o in outputs],
            [x.data_ptr() for x in inputs],
            [o.data_ptr() for o in outputs],
            [x.stride() for x in inputs],
            [o.stride() for o in outputs],
            stream.cuda_stream,
        )
        stream.synchronize()
        for got, want in zip(outputs, expected, strict=True):
            torch.testing.assert_close(got, want)


@given(batch=batch_sizes())
def test_aot_impl_passes_tensorrts_validator_and_gives_the_launch(
    standin_trt, example_regions, batch: int
) -> None:
    """``trtp.aot_impl`` (TensorRT's validator) accepts our AOT function, and what it returns,
    evaluated by the stand-in builder, is the kernel's launch for the input dims."""
    import tensorrt.plugin as trtp
    from tensorrt.plugin._lib import QDP_REGISTRY

    region = example_regions["cumulative"][0]  # logcumsumexp
    kernel = _recorded_aot_kernel(region)
    handle = register_plugin(region.body, aot_kernel=kernel)
    definition = QDP_REGISTRY[region.name]
    assert definition.aot_impl_func is not None
    assert definition.autotune_func is None  # one config: no tactics to declare
    # Tactic 0 is TensorRT's default where the plugin declares none.
    _assert_aot_launch(trtp, definition.aot_impl_func, kernel, batch, tactic=0)
    handle.destroy()


@given(batch=batch_sizes(), tactic=st.integers(1, 3))
def test_aot_configs_are_tensorrt_tactics(
    standin_trt, example_regions, batch: int, tactic: int
) -> None:
    """With several configs, TensorRT's autotune (its own combination code) declares the
    region's dtypes and one tactic per config, and ``aot_impl`` returns that config's launch."""
    import tensorrt.plugin as trtp
    from tensorrt.plugin._lib import QDP_REGISTRY

    region = example_regions["cumulative"][0]
    kernel = _recorded_aot_kernel(region, alternatives=((32, 128), (128, 256)))
    handle = register_plugin(region.body, aot_kernel=kernel)
    definition = QDP_REGISTRY[region.name]
    (combination,) = definition.autotune_func(trtp.TensorDesc(), (trtp.TensorDesc(),))
    (expanded,) = combination._get_combinations()
    trt = standin_trt
    assert expanded.types == [trt.DataType.FLOAT, trt.DataType.FLOAT]
    assert expanded.layouts == [trt.TensorFormat.LINEAR] * 2
    assert list(expanded.tactics) == [1, 2, 3]
    _assert_aot_launch(trtp, definition.aot_impl_func, kernel.tactics()[tactic - 1], batch, tactic)
    with pytest.raises(AotError, match="tactic 4"):
        _assert_aot_launch(trtp, definition.aot_impl_func, kernel, batch, tactic=4)
    handle.destroy()


def _assert_aot_launch(trtp: Any, aot_function: Any, kernel: Any, batch: int, tactic: int) -> None:
    """``aot_function`` for tactic ``tactic``, evaluated by the stand-in builder on a
    ``(batch, 10, 16)`` input, returns ``kernel``'s PTX and launch."""
    from tensorrt.plugin._tensor import SymIntExpr

    SymIntExpr._exprBuilder = _IntBuilder()
    try:
        desc = trtp.TensorDesc()
        desc.shape_expr = trtp.ShapeExprs.from_tuple(
            tuple(trtp.ShapeExpr(_IntDim(d)) for d in (batch, 10, 16))
        )
        name, ptx, launch, extra = aot_function(desc, (trtp.TensorDesc(),), tactic)
    finally:
        SymIntExpr._exprBuilder = None
    assert (name, ptx) == (kernel.kernel_name, kernel.ptx)
    grid, scalars = kernel.concrete_launch([(batch, 10, 16)])
    got_grid = tuple(
        g._expr.get_constant_value() for g in (launch.grid_x, launch.grid_y, launch.grid_z)
    )
    assert got_grid == grid
    assert launch.block_x._expr.get_constant_value() == kernel.block
    assert launch.shared_mem._expr.get_constant_value() == kernel.shared_mem
    assert all(isinstance(e, trtp.SymInt32) for e in extra)
    assert tuple(e._expr.get_constant_value() for e in extra) == scalars


def _recorded_aot_kernel(
    region: OutlinedRegion, alternatives: Sequence[tuple[int, int]] = ()
) -> Any:
    """An `AotKernel` for the cumulative example's logcumsumexp region whose expressions come
    from Inductor's recorded wrapper (tests/data); its PTX is a placeholder (never launched).
    ``alternatives``: (XBLOCK, threads) of further configs, as tactics."""
    import sympy

    from trt_autoplugin import aot

    code = (Path(__file__).parent / "data" / "inductor_2_11" / "cumulative_0_0.txt").read_text()
    plan = aot.kernel_plan(code, region.input_specs, region.output_specs)
    numels = {n: sympy.sympify(v) for n, v in plan.scalars}

    def kernel(xblock: int, threads: int) -> aot.AotKernel:
        return aot.AotKernel(
            plugin_id=region.name,
            kernel_name=plan.kernel_name,
            ptx=f"// placeholder for XBLOCK={xblock}",
            input_shapes=tuple(s.shape for s in region.input_specs),
            scalars=tuple(v for _, v in plan.scalars),
            grid=aot.launch_grid("Grid1D", {"XBLOCK": xblock}, numels),
            block=threads,
            shared_mem=threads,
            config=f"XBLOCK={xblock}",
            arch=90,
        )

    others = tuple(kernel(*a) for a in alternatives)
    return dataclasses.replace(kernel(8, 64), alternatives=others)


def _desc(trt: types.ModuleType, tensor: torch.Tensor) -> Any:
    desc = trt.PluginTensorDesc()
    desc.dims = trt.Dims(tensor.shape)
    desc.type = _trt_dtype(trt, tensor.dtype)
    desc.format = trt.TensorFormat.LINEAR
    desc.scale = 1.0
    return desc


# --- real TensorRT (tensorrt) --------------------------------------------------------------------


@pytest.mark.tensorrt
def test_real_tensorrt_registers_and_destroys_every_example_plugin(example_regions) -> None:
    from tensorrt.plugin._lib import QDP_CREATORS, QDP_REGISTRY

    for regions in example_regions.values():
        for region in regions:
            handle = register_plugin(region.body)
            assert QDP_REGISTRY[region.name].num_outputs == len(region.output_specs)
            assert region.name in QDP_CREATORS
            handle.destroy()
            assert region.name not in QDP_REGISTRY


# --- shared regions ------------------------------------------------------------------------------

_MIXED: dict[torch.dtype, OutlinedRegion] = {}


def _mixed_regions() -> dict[torch.dtype, OutlinedRegion]:
    """`mixed_region` for every plugin dtype, built once per session (exporting takes time)."""
    if not _MIXED:
        _MIXED.update({dtype: mixed_region(dtype) for dtype in PLUGIN_DTYPES})
    return _MIXED


def test_registration_handles_unregister_once_across_threads() -> None:
    import threading

    from trt_autoplugin.plugin import RegistrationHandle

    calls = []

    class Counting(RegistrationHandle):
        __slots__ = ()
        _lock = threading.RLock()

        def _unregister(self) -> None:
            calls.append(1)

        def _name(self) -> str:
            return "counting"

    handle = Counting()
    assert repr(handle) == "Counting('counting', registered)"
    threads = [threading.Thread(target=handle.destroy) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1] and handle.is_destroyed
    assert repr(handle) == "Counting('counting', destroyed)"


class _Window(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.hann_window(8)


def test_tensorrt_plugin_refuses_a_plugin_without_inputs(standin_trt) -> None:
    """Why zero-input regions are refused: QDP's impl validator expects '(, outputs, stream)'."""
    import tensorrt.plugin as trtp

    def describe() -> trtp.TensorDesc:
        return trtp.from_shape_expr((8,), dtype=standin_trt.DataType.FLOAT)

    trtp.register("zero_input_probe::constant")(describe)

    def launch(outputs, stream) -> None:
        return None

    with pytest.raises(ValueError, match=r"\(, outputs, stream\)"):
        trtp.impl("zero_input_probe::constant")(launch)


def test_a_region_without_inputs_is_refused_before_tensorrt() -> None:
    (body,) = _proposed_bodies(_Window(), (torch.rand(8),), ["aten.hann_window"])
    assert body.input_specs == ()
    reason = plugin_refusal_reason(body)
    assert reason is not None and plugin_id(body) in reason and "no tensor inputs" in reason
    with pytest.raises(PluginError, match="no tensor inputs"):
        register_plugin(body)
