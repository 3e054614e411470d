"""output_writes.py: outputs an ``out=`` op can produce are written straight into the given
buffers (no copy); every other output is copied, with the reason. Checked on real example
regions and small real modules, on poisoned destinations, against the body as traced."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import batch_sizes
from test_plugin import region_inputs, regions_of

from trt_autoplugin import examples
from trt_autoplugin.output_writes import out_overload, output_writes, write_plan


def _poisoned_like(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.is_floating_point():
        return torch.full_like(tensor, math.nan)
    return torch.full_like(tensor, 7)


@pytest.mark.parametrize("name", examples.example_names())
@given(batch=batch_sizes(max_value=9))
def test_in_place_outputs_land_in_the_given_buffers(example_regions, name: str, batch: int) -> None:
    for region in example_regions[name]:
        plan = write_plan(region.body)
        if not plan.in_place:
            continue
        inputs = region_inputs(region, batch)
        try:
            want = region.body.graph_module(*inputs)
        except RuntimeError:  # eager refuses this size (a CPU FFT of an empty batch)
            continue
        destinations = [_poisoned_like(want[i]) for i in plan.in_place]
        got = plan.graph_module(*inputs, *destinations)
        assert len(got) == len(want)
        for index, destination in zip(plan.in_place, destinations, strict=True):
            assert got[index] is destination  # written there, not elsewhere and copied
            torch.testing.assert_close(destination, want[index], equal_nan=True)


def test_what_the_examples_write_in_place_and_why_the_rest_is_copied(example_regions) -> None:
    writes = {
        region.targets[0]: [str(w) for w in output_writes(region.body)]
        for regions in example_regions.values()
        for region in regions
    }
    assert writes["aten.lgamma.default"] == ["output 0: written in place by aten.lgamma.out"]
    assert writes["aten.cummax.default"] == [
        "output 0: written in place by aten.cummax.out",
        "output 1: written in place by aten.cummax.out",
    ]
    (custom,) = [w for t, w in writes.items() if t.startswith("trt_autoplugin_examples")]
    assert all("quantize_rows.default has no out= form" in w for w in custom)
    assert writes["aten.masked_select.default"] == [
        "output 0: copied (the region has data-dependent outputs, sized only after the run)"
    ]


class _RunningPeak(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values = torch.cummax(x, dim=1)[0]  # its indices are no output
        return values, torch.lgamma(values)


def test_a_result_whose_sibling_is_not_an_output_is_copied() -> None:
    (region,) = regions_of(_RunningPeak(), (torch.randn(3, 5),), ["aten.cummax", "aten.lgamma"])
    writes = [str(w) for w in output_writes(region.body)]
    assert writes == [
        "output 0: copied (not every result of aten.cummax.default is an output)",
        "output 1: written in place by aten.lgamma.out",
    ]
    x = torch.randn(4, 5)
    plan = write_plan(region.body)
    want = region.body.graph_module(x)
    destinations = [_poisoned_like(want[i]) for i in plan.in_place]
    got = plan.graph_module(x, *destinations)
    assert got[1] is destinations[0]
    for index in range(len(want)):
        torch.testing.assert_close(got[index], want[index])


@given(overload=st.sampled_from(["lgamma.default", "mul.Tensor", "mul.Scalar", "cummax.default"]))
def test_out_overloads_take_the_same_arguments_plus_the_outputs(overload: str) -> None:
    packet, name = overload.split(".")
    target = getattr(getattr(torch.ops.aten, packet), name)
    found = out_overload(target)
    assert found is not None
    out, names = found
    assert len(names) == len(target._schema.returns)
    arguments = [a.name for a in out._schema.arguments if a.name not in names]
    assert arguments == [a.name for a in target._schema.arguments]


def test_views_and_custom_ops_have_no_out_overload() -> None:
    assert out_overload(torch.ops.aten.view.default) is None
    assert out_overload(torch.ops.aten.transpose.int) is None
    assert out_overload(examples.quantize_rows_op()) is None
