"""Tests for the region converters in `trt_autoplugin.converter`.

On CPU: the argument mapping from a region node to the plugin's inputs, the deterministic names,
the dynamic-shape flag, and that refusals and missing dependencies raise clearly. The
``tensorrt`` tests register converters in Torch-TensorRT's real registry and remove them.
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.export import Dim

from trt_autoplugin import examples
from trt_autoplugin.converter import (
    has_symbolic_dims,
    input_tensor_names,
    plugin_inputs,
    plugin_layer_name,
    register_converter,
    register_region,
)
from trt_autoplugin.errors import MissingDependencyError, PluginError
from trt_autoplugin.outline import OutlinedRegion, region_body
from trt_autoplugin.partition import propose_regions
from trt_autoplugin.pipeline import autoplugin
from trt_autoplugin.probes import is_torch_tensorrt_available
from trt_autoplugin.support import OpSetSupport, SnapshotSupport, support_report

OP = "trt_autoplugin::region_0123456789abcdef"


@pytest.fixture(scope="module")
def example_regions() -> dict[str, tuple[OutlinedRegion, ...]]:
    return {
        name: autoplugin(examples.export_example(name), support=SnapshotSupport()).regions
        for name in ("distribution", "custom_op", "spectral")
    }


class _Lgamma(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.lgamma(x) + 1


def _lgamma_region(x: torch.Tensor, dynamic: bool) -> OutlinedRegion:
    dims = ({0: Dim("batch", min=2, max=64)},) if dynamic else None
    ep = torch.export.export(_Lgamma(), (x,), dynamic_shapes=dims)
    (region,) = autoplugin(ep, support=OpSetSupport(unsupported=["aten.lgamma"])).regions
    return region


# --- argument mapping ----------------------------------------------------------------------------


@given(count=st.integers(0, 6), split=st.integers(0, 6))
def test_inputs_come_back_in_schema_order_from_args_and_kwargs(count: int, split: int) -> None:
    split = min(split, count)
    values = [object() for _ in range(count)]
    kwargs = {f"in_{i}": values[i] for i in range(split, count)}
    assert plugin_inputs(values[:split], kwargs, count, OP) == values


def test_too_many_missing_or_unknown_arguments_name_the_op() -> None:
    with pytest.raises(PluginError, match=f"{OP} takes 1 tensors; the node passes 2"):
        plugin_inputs([1, 2], {}, 1, OP)
    with pytest.raises(PluginError, match=f"{OP} is missing its argument in_1"):
        plugin_inputs([1], {}, 2, OP)
    with pytest.raises(PluginError, match=r"unexpected or duplicated arguments \['alpha'\]"):
        plugin_inputs([1], {"alpha": 2}, 1, OP)
    with pytest.raises(PluginError, match=r"duplicated arguments \['in_0'\]"):
        plugin_inputs([1], {"in_0": 2}, 1, OP)


def test_names_are_deterministic() -> None:
    assert input_tensor_names("region_call", 2) == ["region_call_in_0", "region_call_in_1"]
    assert input_tensor_names("region_call", 2) == input_tensor_names("region_call", 2)
    target = torch.ops.aten.lgamma.default
    assert plugin_layer_name(target, "n") == "[aten.lgamma.default]-[n]"


def test_dynamic_shape_support_follows_the_regions_symbolic_dims() -> None:
    assert has_symbolic_dims(_lgamma_region(torch.rand(4, 3), dynamic=True).body)
    assert not has_symbolic_dims(_lgamma_region(torch.rand(4, 3), dynamic=False).body)


def test_every_example_region_is_dynamic(example_regions) -> None:
    for regions in example_regions.values():
        assert all(has_symbolic_dims(r.body) for r in regions)


# --- refusals and missing dependencies -----------------------------------------------------------


def test_a_refused_region_raises_before_any_dependency_is_needed() -> None:
    # autoplugin leaves a float64 region in the graph, so the body is proposed by hand here.
    ep = torch.export.export(_Lgamma(), (torch.rand(4, 3, dtype=torch.float64),))
    gm = ep.graph_module
    oracle = OpSetSupport(unsupported=["aten.lgamma"])
    (region,) = propose_regions(gm, support_report(gm, oracle)).regions
    with pytest.raises(PluginError, match="float64"):
        register_region(region_body(gm, region))


def test_without_torch_tensorrt_registration_says_what_is_missing(example_regions) -> None:
    if is_torch_tensorrt_available():
        pytest.skip("torch_tensorrt imports here")
    body = example_regions["distribution"][0].body
    with pytest.raises(MissingDependencyError, match="torch_tensorrt"):
        register_converter(body)
    with pytest.raises(MissingDependencyError):
        register_region(body)


# --- real Torch-TensorRT (tensorrt) --------------------------------------------------------------


@pytest.mark.tensorrt
def test_converter_registers_with_dynamic_support_and_destroy_removes_it(example_regions) -> None:
    from torch_tensorrt.dynamo.conversion._ConverterRegistry import (
        DYNAMO_ATEN_CONVERTERS,
        DYNAMO_CONVERTERS,
    )

    region = example_regions["custom_op"][0]
    handle = register_region(region.body)
    try:
        assert register_converter(region.body) is handle.converter
        (entry,) = DYNAMO_ATEN_CONVERTERS[region.op]
        assert entry.supports_dynamic_shapes
        assert region.op in DYNAMO_CONVERTERS
    finally:
        handle.destroy()
    assert region.op not in DYNAMO_ATEN_CONVERTERS
    assert handle.converter.is_destroyed and handle.plugin.is_destroyed
    handle.destroy()  # idempotent


@pytest.mark.tensorrt
def test_destroy_keeps_other_converters_of_the_same_op(example_regions) -> None:
    from torch_tensorrt.dynamo.conversion._ConverterRegistry import (
        DYNAMO_ATEN_CONVERTERS,
        dynamo_tensorrt_converter,
    )

    region = example_regions["distribution"][0]
    handle = register_converter(region.body)

    def other(ctx: object, target: object, args: object, kwargs: object, name: str) -> object:
        raise NotImplementedError

    dynamo_tensorrt_converter(region.op)(other)
    handle.destroy()
    (entry,) = DYNAMO_ATEN_CONVERTERS[region.op]
    assert entry.converter_implementation is other
    del DYNAMO_ATEN_CONVERTERS[region.op]
