"""Data-dependent outputs: every bound-table entry holds on real runs, regions declare their size
tensors, and what can't be bounded is refused with its reason.

Each op is exported once with dynamic dims (min 0) and forced into a region; hypothesis then
draws shapes (sizes 0 and 1 included) and masks (all true, all false, random) and runs the
region body eagerly: the real extent never exceeds the declared bound, evaluated through the
same translation TensorRT's plugin uses.
"""

import copy

import pytest
import sympy
import torch
from hypothesis import given, reject
from hypothesis import strategies as st
from strategies import masks
from torch.export import Dim

from trt_autoplugin import autoplugin
from trt_autoplugin.data_dependent import BOUNDS, SizeTensor, is_non_decreasing
from trt_autoplugin.outline import OutlinedRegion, run_body
from trt_autoplugin.pipeline import outline_graph_module
from trt_autoplugin.pluggable import plugin_refusal_reason, region_refusal_reason, size_tensors
from trt_autoplugin.refusal import RefusalKind
from trt_autoplugin.shape_expr import IntArithmetic, translate_shapes
from trt_autoplugin.support import OpSetSupport, SnapshotSupport

aten = torch.ops.aten

ROWS = Dim("rows", min=0, max=64)
COLS = Dim("cols", min=0, max=16)


class _Op(torch.nn.Module):
    def __init__(self, function) -> None:
        super().__init__()
        self.function = function

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        return self.function(x, mask)


# name -> (function of (x: float or int [rows, cols], mask: bool [rows, cols]), ops forced
# into regions, whether x holds small integers (so unique finds repeats)).
CASES = {
    "nonzero": (lambda x, m: torch.nonzero(m) + x.sum().long(), ["aten.nonzero"], False),
    "masked_select": (lambda x, m: torch.masked_select(x, m), ["aten.masked_select"], False),
    "masked_select_broadcast": (
        lambda x, m: torch.masked_select(x, m[:1]),  # a [1, cols] mask over [rows, cols]
        ["aten.masked_select", "aten.slice"],
        False,
    ),
    "mask_index": (lambda x, m: x[m], ["aten.index"], False),
    "unique": (lambda x, m: torch.unique(x), ["aten._unique2"], True),
    "unique_dim": (lambda x, m: torch.unique(x, dim=0), ["aten.unique_dim"], True),
    "unique_consecutive": (
        lambda x, m: torch.unique_consecutive(x),
        ["aten.unique_consecutive"],
        True,
    ),
    # Two data-dependent sizes in one region, the second bounded through the first.
    "unique_of_masked_select": (
        lambda x, m: torch.unique(torch.masked_select(x, m)),
        ["aten.masked_select", "aten._unique2"],
        True,
    ),
}


def _example(integer: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randint(0, 3, (4, 3)) if integer else torch.randn(4, 3)
    return x, torch.rand(4, 3) > 0.5


def _regions(function, ops: list[str], integer: bool) -> tuple[OutlinedRegion, ...]:
    ep = torch.export.export(
        _Op(function), _example(integer), dynamic_shapes=({0: ROWS, 1: COLS}, {0: ROWS, 1: COLS})
    )
    oracle = OpSetSupport(unsupported=ops, base=SnapshotSupport())
    return autoplugin(ep, support=oracle, min_block_size=1).regions


@pytest.fixture(scope="module")
def case_regions() -> dict[str, OutlinedRegion]:
    """The one region with size tensors of each case, exported once."""
    found = {}
    for name, (function, ops, integer) in CASES.items():
        with_sizes = [r for r in _regions(function, ops, integer) if size_tensors(r.body)]
        assert len(with_sizes) == 1, name
        found[name] = with_sizes[0]
    return found


def _inputs(region: OutlinedRegion, x: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    by_name = {"x": x, "mask": mask}
    return [by_name[name] for name in region.body.inputs]


def _bounds(region: OutlinedRegion, inputs: list[torch.Tensor]) -> dict[sympy.Expr, int]:
    sizes = size_tensors(region.body)
    (values,) = translate_shapes(
        [[s.upper_bound for s in sizes]],
        [s.shape for s in region.input_specs],
        [list(x.shape) for x in inputs],
        IntArithmetic(),
    )
    return {s.extent: v for s, v in zip(sizes, values, strict=True)}


def _extents(region: OutlinedRegion, outputs: tuple[torch.Tensor, ...]) -> dict[sympy.Expr, int]:
    found: dict[sympy.Expr, int] = {}
    for spec, out in zip(region.output_specs, outputs, strict=True):
        for dim, size in zip(spec.shape, out.shape, strict=True):
            found.setdefault(sympy.sympify(dim), size)
    return found


@pytest.mark.parametrize("name", list(CASES))
@given(data=st.data())
def test_the_real_extent_never_exceeds_the_declared_bound(case_regions, name, data) -> None:
    region = case_regions[name]
    rows, cols = data.draw(st.integers(0, 9)), data.draw(st.integers(0, 5))
    mask = data.draw(masks(rows, cols))
    integer = CASES[name][2]
    x = torch.randint(0, 3, (rows, cols)) if integer else torch.randn(rows, cols)
    inputs = _inputs(region, x, mask)
    try:
        outputs = run_body(region.body, inputs)
    except RuntimeError:  # eager refuses it (unique(dim=0) of a [0, 0] tensor), as the plugin does
        reject()
    bounds = _bounds(region, inputs)
    extents = _extents(region, outputs)
    for extent, bound in bounds.items():
        assert 0 <= extents[extent] <= bound, (extent, extents[extent], bound)
        if name.startswith("masked_select") and mask.all() and mask.numel():
            assert extents[extent] == bound  # the bound is tight: every element kept


def test_every_bound_table_entry_is_exercised(case_regions) -> None:
    exercised = {t for r in case_regions.values() for t in r.targets}
    assert {str(t).replace(".default", "").replace(".Tensor", "") for t in BOUNDS} <= {
        t.rsplit(".", 1)[0] for t in exercised
    } | {"aten.unique_dim_consecutive"}  # torch has no Python entry point that exports it


def test_each_region_is_a_plugin_with_one_size_tensor_per_extent(case_regions) -> None:
    for name, region in case_regions.items():
        assert plugin_refusal_reason(region.body) is None, name
        sizes = size_tensors(region.body)
        assert all(isinstance(s, SizeTensor) and s.source for s in sizes)
        extents = [s.extent for s in sizes]
        assert len(set(extents)) == len(extents)


def test_two_sizes_in_one_region_compose_their_bounds(case_regions) -> None:
    region = case_regions["unique_of_masked_select"]
    # masked_select's output leaves the region too (export's size checks read it): two size
    # tensors, unique's bounded through masked_select's.
    selected, uniques = size_tensors(region.body)
    rows, cols = region.input_specs[0].shape
    assert "masked_select" in selected.source and "unique" in uniques.source
    for size in (selected, uniques):
        assert sympy.simplify(size.upper_bound - rows * cols) == 0


def test_a_data_dependent_value_reduced_inside_the_region_is_no_longer_data_dependent() -> None:
    # As Torch-TensorRT's lowering leaves the graph: its pre-lowering pass drops export's
    # runtime asserts on u0, so nothing outside reads masked_select's output.
    ep = torch.export.export(
        _Op(lambda x, m: torch.masked_select(x, m).sum()),
        _example(False),
        dynamic_shapes=({0: ROWS, 1: COLS}, {0: ROWS, 1: COLS}),
    )
    gm = copy.deepcopy(ep.graph_module)
    for node in [n for n in gm.graph.nodes if n.target is aten._assert_scalar.default]:
        gm.graph.erase_node(node)
    gm.graph.eliminate_dead_code()
    oracle = OpSetSupport(unsupported=["aten.masked_select", "aten.sum"], base=SnapshotSupport())
    (region,) = outline_graph_module(gm, oracle, min_block_size=1).regions
    assert [s.shape for s in region.output_specs] == [()]
    assert size_tensors(region.body) == ()
    assert plugin_refusal_reason(region.body) is None
    x, m = _example(False)
    torch.testing.assert_close(run_body(region.body, _inputs(region, x, m))[0], x[m].sum())


class _Repeat(torch.nn.Module):
    def forward(self, x: torch.Tensor, repeats: torch.Tensor) -> torch.Tensor:
        return torch.repeat_interleave(x, repeats, dim=0)


def test_an_extent_without_a_bound_is_refused_with_the_reason() -> None:
    # The output length is the sum of the repeats' values: no input size bounds it.
    ep = torch.export.export(
        _Repeat(),
        (torch.randn(4, 3), torch.tensor([1, 2, 0, 3])),
        dynamic_shapes=({0: Dim("n", min=2, max=64)}, {0: Dim("n", min=2, max=64)}),
    )
    oracle = OpSetSupport(unsupported=["aten.repeat_interleave"], base=SnapshotSupport())
    report = autoplugin(ep, support=oracle, min_block_size=1).report
    (left,) = [e for e in report.left_in_graph if e.target == "aten.repeat_interleave.Tensor"]
    assert "no upper bound" in left.reason and "repeat_interleave" in left.reason
    assert left.kind == "unbounded-data-dependent"


def test_fallback_data_dependent_ops_refuses_a_region_with_size_tensors(case_regions) -> None:
    region = case_regions["masked_select"]
    refusal = region_refusal_reason(region.body, fallback_data_dependent_ops=True)
    assert refusal is not None and "fallback_data_dependent_ops" in refusal.message
    assert refusal.kind is RefusalKind.FALLBACK_DATA_DEPENDENT
    assert region_refusal_reason(region.body) is None


def test_fallback_data_dependent_ops_leaves_masked_select_in_the_graph() -> None:
    from trt_autoplugin import examples

    ep = examples.export_example("data_dependent")
    # 2.13 added the setting: chosen explicitly, whatever torch this machine has.
    oracle = SnapshotSupport("2.13.0", fallback_data_dependent_ops=True)
    report = autoplugin(ep, support=oracle).report
    (left,) = report.left_in_graph
    assert left.target == "aten.masked_select.default"
    assert "fallback_data_dependent_ops" in left.reason
    assert left.kind == "fallback-data-dependent"
    assert all(not r.size_tensors for r in report.regions)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("u0", True),
        ("2*u0 + s0", True),
        ("Max(u0, s0)*3", True),
        ("u0 - 1", False),
        ("-u0", False),
        ("s0 - u0", False),
    ],
)
def test_only_non_decreasing_extents_take_a_bound_by_substitution(expression, expected) -> None:
    assert is_non_decreasing(sympy.sympify(expression)) is expected
