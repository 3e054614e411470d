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

from trt_autoplugin import autoplugin, examples
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


class _Fold(torch.nn.Module):
    """``F.fold`` (timm's VOLO): ``new_zeros`` then ``_unsafe_index_put(accumulate=True)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.fold(x, (5, 6), kernel_size=2, padding=1, stride=1)


class _Overwrite(torch.nn.Module):
    def forward(self, x: torch.Tensor, rows: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return x.index_put((rows,), v)  # accumulate=False: the last write wins


def _region_arguments(program: torch.export.ExportedProgram, *inputs: torch.Tensor) -> list:
    """The arguments the program's one region op is called with on ``inputs``."""
    seen: list = []

    class Recorder(torch.fx.Interpreter):
        def call_function(self, target, args, kwargs):  # noqa: ANN001, ANN201
            if str(target).startswith("trt_autoplugin."):
                seen.append(list(args))
            return super().call_function(target, args, kwargs)

    Recorder(program.module()).run(*inputs)
    (arguments,) = seen
    return arguments


@pytest.fixture(scope="module")
def fold_result():
    batch = torch.export.Dim("batch", min=0, max=64)
    ep = torch.export.export(_Fold(), (torch.randn(2, 12, 42),), dynamic_shapes=({0: batch},))
    return autoplugin(ep)  # Torch-TensorRT's decompositions make col2im an _unsafe_index_put


@given(batch=batch_sizes(max_value=5), seed=st.integers(0, 2**31 - 1))
def test_fold_scatters_straight_into_the_destination(fold_result, batch: int, seed: int) -> None:
    (region,) = fold_result.regions
    assert region.targets == ("aten._unsafe_index_put.default",)
    (write,) = output_writes(region.body)
    assert str(write) == (
        "output 0: written in place by aten.copy_ + aten._index_put_impl_(unsafe=True)"
    )
    x = torch.randn(batch, 12, 42, generator=torch.Generator().manual_seed(seed))
    # The real indices, as the program computes them: random ones would scatter out of bounds.
    inputs = _region_arguments(fold_result.program, x)
    want = region.body.graph_module(*inputs)
    kept = [t.clone() for t in inputs]
    destination = _poisoned_like(want[0])
    (got,) = write_plan(region.body).graph_module(*inputs, destination)
    assert got is destination
    torch.testing.assert_close(destination, want[0])
    for before, after in zip(kept, inputs, strict=True):
        assert torch.equal(before, after)  # the region's inputs are read, never written


@pytest.fixture(scope="module")
def overwrite_region():
    n = torch.export.Dim("n", min=0, max=8)
    (region,) = regions_of(
        _Overwrite(),
        (torch.randn(4, 3), torch.tensor([0, 2]), torch.randn(2, 3)),
        ["aten.index_put"],
        dynamic=(None, {0: n}, {0: n}),
    )
    return region


@given(
    rows=st.lists(st.integers(0, 3), max_size=4, unique=True),
    negative=st.lists(st.booleans(), min_size=4, max_size=4),
    seed=st.integers(0, 2**31 - 1),
)
def test_index_put_without_accumulate_writes_in_place_as_eager(
    overwrite_region, rows: list[int], negative: list[bool], seed: int
) -> None:
    # Distinct rows (among duplicates eager's winner is unspecified), some counted from the end.
    rows = [r - 4 if flip else r for r, flip in zip(rows, negative, strict=False)]
    assert [w.in_place for w in output_writes(overwrite_region.body)] == [True]
    generator = torch.Generator().manual_seed(seed)
    x, v = torch.randn(4, 3, generator=generator), torch.randn(len(rows), 3, generator=generator)
    index = torch.tensor(rows, dtype=torch.int64)
    want = overwrite_region.body.graph_module(x, index, v)
    destination = _poisoned_like(want[0])
    write_plan(overwrite_region.body).graph_module(x, index, v, destination)
    torch.testing.assert_close(destination, want[0])


@pytest.mark.gpu
def test_out_overloads_without_a_cuda_kernel_are_not_used_on_a_cuda_build() -> None:
    # Found by the OpInfo sweep on CUDA: narrow_copy.out has a CPU kernel only.
    aten = torch.ops.aten
    assert out_overload(aten.narrow_copy.default) is None
    for target in (aten.lgamma.default, aten.cummax.default, aten._fft_c2r.default):
        assert out_overload(target) is not None, target
