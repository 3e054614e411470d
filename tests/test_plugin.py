"""Tests for `trt_autoplugin.plugin`: refusals, dtypes, descriptors and registration.

Three tiers (the JIT launch and its buffers are tested in ``test_jit.py``):

* CPU: everything that needs neither TensorRT nor a GPU (refusals, dtype names, output shapes
  through the translation).
* QDP stand-in (CPU): TensorRT's own pure-Python ``tensorrt.plugin`` layer loaded over a stand-in
  for the compiled ``tensorrt`` module (the `standin_trt` fixture; ``tests/standin/qdp.py`` says
  what that proves and what it doesn't). Skipped when the layer's sources are not found.
* ``tensorrt``: the real thing.
"""

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sympy
import torch
from hypothesis import given
from hypothesis import strategies as st
from standin.qdp import IntBuilder, IntDim, SizeDim, plugin_instance, trt_dtype
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
    is_plugin_dtype,
    plugin_id,
    plugin_refusal_reason,
    register_plugin,
    tensorrt_plugin_import_error,
    trt_dtype_name,
)
from trt_autoplugin.refusal import RefusalKind
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


def regions_of(model: torch.nn.Module, inputs: tuple, ops: Sequence[str], dynamic=None):
    """The regions autoplugin outlines from ``model`` where ``ops`` are unsupported."""
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
    (region,) = regions_of(_Mixed(), (x,), ops, dims)
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
    refusal = plugin_refusal_reason(body)
    assert refusal is not None and refusal.kind is RefusalKind.DTYPE
    reason = refusal.message
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
    refusal = plugin_refusal_reason(body)
    assert refusal is not None and refusal.kind is RefusalKind.SHAPE
    reason = refusal.message
    assert plugin_id(body) in reason
    assert "output 0 dim 2" in reason and "integer-only" in reason


def test_a_rank_above_tensorrt_dims_is_refused() -> None:
    (body,) = _proposed_bodies(_Lgamma(), (torch.rand((2,) * 9),), ["aten.lgamma"])
    refusal = plugin_refusal_reason(body)
    assert refusal is not None and refusal.kind is RefusalKind.RANK
    assert "rank 9" in refusal.message


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


def region_inputs(region: OutlinedRegion, batch: int) -> list[torch.Tensor]:
    """Random inputs for a region: batch-sized where the spec is symbolic."""
    return [
        torch.randn([batch if not isinstance(d, int) else d for d in spec.shape]).to(spec.dtype)
        for spec in region.input_specs
    ]


@pytest.mark.parametrize("name", examples.example_names())
@given(batch=batch_sizes())
def test_descriptor_shapes_equal_real_shapes(example_regions, name: str, batch: int) -> None:
    """The expressions the descriptor emits, evaluated on ints, give the body's real shapes."""
    for region in example_regions[name]:
        inputs = region_inputs(region, batch)
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
    region = mixed_regions()[torch.float32]
    x = torch.randn(rows, cols)
    real = [tuple(out.shape) for out in run_body(region.body, [x])]
    assert region.infer_output_shapes([x.shape]) == real


# --- TensorRT's QDP layer over a stand-in (CPU) --------------------------------------------------


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
        plugin = plugin_instance(trt, region.name)
        input_types = [trt_dtype(trt, s.dtype) for s in region.input_specs]
        ranks = [len(s.shape) for s in region.input_specs]
        got = plugin.get_output_data_types(input_types, ranks)
        assert got == [trt_dtype(trt, s.dtype) for s in region.output_specs]


def test_descriptor_declares_mixed_dtypes(standin_trt) -> None:
    trt = standin_trt
    for dtype, region in mixed_regions().items():
        register_plugin(region.body)
        plugin = plugin_instance(trt, region.name)
        got = plugin.get_output_data_types([trt_dtype(trt, dtype)], [2])
        assert got == [trt_dtype(trt, s.dtype) for s in region.output_specs]


def test_descriptor_refuses_an_input_of_another_dtype(standin_trt, example_regions) -> None:
    trt = standin_trt
    region = example_regions["distribution"][0]
    register_plugin(region.body)
    plugin = plugin_instance(trt, region.name)
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
        plugin = plugin_instance(trt, region.name)
        inputs = region_inputs(region, batch)
        plugin.get_output_data_types(
            [trt_dtype(trt, x.dtype) for x in inputs], [x.dim() for x in inputs]
        )
        dims = [[IntDim(d) for d in x.shape] for x in inputs]
        exprs = plugin.get_output_shapes(dims, [], IntBuilder())
        real = _real_shapes(region.body, inputs)
        num_sizes = len(size_tensors(region.body))
        # Size tensors are scalars after the outputs; their dims are declared, not computed.
        assert [len(e) for e in exprs[len(real) :]] == [0] * num_sizes
        for out, shape in zip(exprs, real, strict=False):
            for expr, size in zip(out, shape, strict=True):
                if isinstance(expr, SizeDim):
                    assert size <= expr.upper and expr.opt == -(-expr.upper // 2)
                    assert expr.index >= len(real)
                else:
                    assert expr.get_constant_value() == size


@given(batch=st.integers(0, 64), fraction=st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 0.9, 1.0]))
def test_the_user_chooses_what_a_size_tensor_is_optimized_for(
    standin_trt, example_regions, batch: int, fraction: float
) -> None:
    """``size_tensor_opt``: TensorRT's ``opt`` is that fraction of the bound, rounded up."""
    from tensorrt.plugin import _lib

    (region,) = [r for r in example_regions["data_dependent"] if size_tensors(r.body)]
    handle = register_plugin(region.body, size_tensor_opt=fraction)
    try:
        plugin = plugin_instance(standin_trt, region.name)
        inputs = region_inputs(region, batch)
        plugin.get_output_data_types(
            [trt_dtype(standin_trt, x.dtype) for x in inputs], [x.dim() for x in inputs]
        )
        exprs = plugin.get_output_shapes(
            [[IntDim(d) for d in x.shape] for x in inputs], [], IntBuilder()
        )
        (declared,) = exprs[0]
        assert declared.upper == inputs[0].numel()
        assert declared.opt == math.ceil(declared.upper * fraction) <= declared.upper
    finally:
        handle.destroy()
    assert region.name not in _lib.QDP_REGISTRY


def test_a_size_tensor_opt_outside_its_range_is_refused_before_tensorrt(example_regions) -> None:
    (region,) = [r for r in example_regions["data_dependent"] if size_tensors(r.body)]
    with pytest.raises(PluginError, match="size_tensor_opt must be in"):
        register_plugin(region.body, size_tensor_opt=0)


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

    SymIntExpr._exprBuilder = IntBuilder()
    try:
        desc = trtp.TensorDesc()
        desc.shape_expr = trtp.ShapeExprs.from_tuple(
            tuple(trtp.ShapeExpr(IntDim(d)) for d in (batch, 10, 16))
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


def mixed_regions() -> dict[torch.dtype, OutlinedRegion]:
    """`mixed_region` for every plugin dtype, built once per session (exporting takes time)."""
    if not _MIXED:
        _MIXED.update({dtype: mixed_region(dtype) for dtype in PLUGIN_DTYPES})
    return _MIXED


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
    refusal = plugin_refusal_reason(body)
    assert refusal is not None and refusal.kind is RefusalKind.NO_TENSOR_INPUT
    assert plugin_id(body) in refusal.message and "no tensor inputs" in refusal.message
    with pytest.raises(PluginError, match="no tensor inputs"):
        register_plugin(body)
