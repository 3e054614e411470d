"""The predicted segments: Torch-TensorRT's fast partitioner, run on the graph it would see."""

import operator

import pytest
import torch
import torch.fx
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import RandomGraph, graphs_with_tensor_meta, random_graphs
from torch import nn
from torch.export import Dim
from torch.fx.passes.splitter_base import FxNetSplitterInternalError

from trt_autoplugin import autoplugin
from trt_autoplugin.errors import PartitionError
from trt_autoplugin.partition import propose_regions
from trt_autoplugin.segments import (
    Contraction,
    Segments,
    _TensorRTSplitter,
    converts,
    lowered_graph,
    predict_segments,
)
from trt_autoplugin.support import OpSetSupport, SnapshotSupport, support_report

# --- Torch-TensorRT's own numbers ----------------------------------------------------------------


class Start(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.special.erfinv(torch.tanh(x) * 0.9)
        return self.linear(torch.relu(self.linear(h))) * 2 + 1


class End(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logcumsumexp(torch.relu(self.linear(x)) * 3, dim=1)


class Parallel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(16, 16)
        self.b = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.a(x)
        p = torch.lgamma(h.abs() + 1)
        q = torch.special.erfinv(torch.tanh(h) * 0.5)
        return self.b(p + q + torch.sin(h) * 2)


class MultiOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = self.linear(x)
        g = torch.lgamma(h.abs() + 1)
        d = torch.digamma(g + 1)
        return g, d * 2, h.relu(), torch.logcumsumexp(h, 1)


class OnConstants(nn.Module):
    """Work on parameters and buffers alone, and constructors: Torch-TensorRT folds it."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(16, 16))
        self.register_buffer("shift", torch.rand(16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.t().exp() * 0.01
        k = torch.lgamma(self.shift + 1)  # unsupported, yet folded away
        h = x @ w + k + torch.arange(16, dtype=torch.float32)
        return torch.special.erfinv(torch.tanh(h) * 0.5) + torch.ones(16)


class Pool(nn.Module):
    """max_pool2d decomposes to max_pool2d_with_indices, which Torch-TensorRT turns back."""

    def __init__(self, **pool: object) -> None:
        super().__init__()
        self.pool = pool
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.project = nn.Conv2d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.max_pool2d(torch.relu(self.conv(x)), 2, **self.pool)
        return self.project(torch.lgamma(h.abs() + 1))


class Cummax(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, indices = torch.cummax(torch.sin(x), dim=1)
        return values * 2 + indices.float(), torch.lgamma(values.abs() + 1)


class OnlyUnsupported(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.digamma(torch.lgamma(x))


class InputAsOutput(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, torch.lgamma(x) + 1


class SplitReader(nn.Module):
    """One region (lgamma, digamma) whose first output is read between its two nodes."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = torch.lgamma(x)
        b = torch.sin(a)
        c = torch.digamma(a)
        return b * 2, c + 1


class DynamicView(nn.Module):
    """Symbolic sizes (sym_size nodes, non-tensor values) next to an unsupported op."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(64, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.lgamma(x.abs() + 1).reshape(x.shape[0], -1)
        return self.linear(h)


class Chain(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sin(x)
        for _ in range(6):
            h = h * 2 + 1
        h = torch.cos(torch.cos(torch.lgamma(h.abs() + 1)))
        h = torch.digamma(h + 2)
        for _ in range(6):
            h = h - 1
        return h


# (module, input shape) -> {min_block_size: (before, after)}, each (engines, PyTorch segments).
# Every number below came from Torch-TensorRT 2.13's dryrun (tests/dryrun/runner.py's run_model
# over these modules, batch dimension dynamic): its lowering, converter registry and partitioner.
# A graph it leaves unpartitioned (only_unsupported, before) has no submodule: one PyTorch segment.
TORCH_TENSORRT_2_13 = {
    "start": (Start, (4, 16), {1: ((2, 1), (1, 0)), 5: ((1, 1), (1, 0))}),
    "end": (End, (4, 16), {1: ((1, 1), (1, 0)), 5: ((0, 1), (0, 1))}),
    "parallel": (Parallel, (4, 16), {1: ((2, 1), (1, 0)), 5: ((1, 1), (1, 0))}),
    "multi_output": (MultiOutput, (4, 16), {1: ((3, 2), (1, 0)), 5: ((0, 1), (1, 0))}),
    "on_constants": (OnConstants, (4, 16), {1: ((2, 1), (1, 0)), 5: ((1, 1), (1, 0))}),
    "pool": (Pool, (2, 3, 8, 8), {1: ((2, 1), (1, 0)), 5: ((1, 1), (1, 0))}),
    "pool_ceil_mode": (
        lambda: Pool(ceil_mode=True),
        (2, 3, 8, 8),
        {1: ((3, 2), (1, 0)), 5: ((0, 1), (1, 0))},
    ),
    "cummax": (Cummax, (4, 16), {1: ((2, 2), (1, 0)), 5: ((1, 2), (1, 0))}),
    "only_unsupported": (OnlyUnsupported, (4, 16), {1: ((0, 1), (1, 0)), 5: ((0, 1), (0, 1))}),
    "input_as_output": (InputAsOutput, (4, 16), {1: ((1, 1), (1, 0)), 5: ((0, 1), (0, 1))}),
    "split_reader": (SplitReader, (4, 16), {1: ((1, 1), (1, 0)), 5: ((0, 1), (1, 0))}),
    "dynamic_view": (DynamicView, (4, 4, 16), {1: ((2, 1), (1, 0)), 5: ((0, 1), (1, 0))}),
    "chain": (Chain, (4, 16), {1: ((3, 2), (1, 0)), 5: ((2, 1), (1, 0))}),
}


@pytest.fixture(scope="module")
def exported() -> dict[str, torch.export.ExportedProgram]:
    programs = {}
    for name, (factory, shape, _) in TORCH_TENSORRT_2_13.items():
        batch = Dim("batch", min=1, max=4096)
        model = factory()
        programs[name] = torch.export.export(
            model, (torch.randn(shape),), dynamic_shapes=({0: batch},)
        )
    return programs


@pytest.mark.parametrize("size", [1, 5])
@pytest.mark.parametrize("name", list(TORCH_TENSORRT_2_13))
def test_predictions_equal_torch_tensorrt_2_13(
    exported: dict[str, torch.export.ExportedProgram], name: str, size: int
) -> None:
    before, after = TORCH_TENSORRT_2_13[name][2][size]
    report = autoplugin(exported[name], support=SnapshotSupport("2.13.0"), min_block_size=size)
    assert (report.report.before.tensorrt, report.report.before.pytorch) == before
    assert (report.report.after.tensorrt, report.report.after.pytorch) == after


# --- properties over random graphs ----------------------------------------------------------------


def _native(graph: RandomGraph) -> dict[str, bool]:
    return {
        n.name: n.name not in graph.unsupported
        for n in graph.gm.graph.nodes
        if n.op == "call_function"
    }


def _shape(gm: torch.fx.GraphModule) -> list[tuple[object, ...]]:
    return [
        (n.name, n.op, n.target, str(n.args), str(n.kwargs), sorted(n.meta)) for n in gm.graph.nodes
    ]


@given(graph=graphs_with_tensor_meta(), size=st.integers(1, 6))
def test_prediction_leaves_the_graph_as_it_was(graph: RandomGraph, size: int) -> None:
    before = _shape(graph.gm)
    predict_segments(graph.gm, _native(graph), min_block_size=size)
    assert _shape(graph.gm) == before


@given(graph=graphs_with_tensor_meta(), size=st.integers(1, 6))
def test_engines_and_pytorch_segments_alternate(graph: RandomGraph, size: int) -> None:
    segments = predict_segments(graph.gm, _native(graph), min_block_size=size)
    assert abs(segments.tensorrt - segments.pytorch) <= 1
    # Subgraphs too small for an engine merge into their PyTorch neighbours.
    assert segments.tensorrt > 0 or segments.pytorch <= 1


@given(graph=graphs_with_tensor_meta())
def test_a_larger_min_block_size_never_makes_more_engines(graph: RandomGraph) -> None:
    native = _native(graph)
    engines = [predict_segments(graph.gm, native, min_block_size=k).tensorrt for k in range(1, 8)]
    assert engines == sorted(engines, reverse=True)


@given(graph=graphs_with_tensor_meta())
def test_a_block_larger_than_the_graph_leaves_no_engine(graph: RandomGraph) -> None:
    calls = sum(1 for n in graph.gm.graph.nodes if n.op == "call_function")
    segments = predict_segments(graph.gm, _native(graph), min_block_size=calls + 1)
    assert segments.tensorrt == 0 and segments.pytorch <= 1


@given(graph=random_graphs())
def test_a_graph_that_converts_whole_is_one_engine(graph: RandomGraph) -> None:
    native = dict.fromkeys(_native(graph), True)
    assert predict_segments(graph.gm, native, min_block_size=1) == Segments(1, 0)


@given(graph=random_graphs())
def test_nothing_converting_is_left_unpartitioned(graph: RandomGraph) -> None:
    # compile_module returns the graph as it is: no submodule at all, one PyTorch segment.
    native = dict.fromkeys(_native(graph), False)
    assert predict_segments(graph.gm, native, min_block_size=1) == Segments(0, 1)


@given(graph=graphs_with_tensor_meta(), data=st.data())
def test_constant_folding_only_removes_nodes(graph: RandomGraph, data: st.DataObject) -> None:
    placeholders = [n.name for n in graph.gm.graph.nodes if n.op == "placeholder"]
    constants = data.draw(st.sets(st.sampled_from(placeholders)))
    native = _native(graph)

    def calls(lowered: torch.fx.GraphModule) -> set[str]:
        return {n.name for n in lowered.graph.nodes if n.op == "call_function"}

    folded = calls(lowered_graph(graph.gm, native, constants=constants))
    assert folded <= calls(lowered_graph(graph.gm, native))


def test_a_constant_read_twice_by_a_folded_node_and_by_the_output_stays() -> None:
    # Inductor's ConstantFolder, which Torch-TensorRT runs, keeps a node whose every use it
    # counts as folded; it counts uses per argument, so `doubled` counts twice and the output's
    # read of `shifted` is missed. Torch-TensorRT 2.13's constant_fold, run on real buffers,
    # leaves `shifted` in this graph too: one engine of one node.
    graph = torch.fx.Graph()
    a, b = graph.placeholder("a"), graph.placeholder("b")
    shifted = graph.create_node("call_function", torch.ops.aten.add.Tensor, (a, b), name="shifted")
    doubled = graph.create_node(
        "call_function", torch.ops.aten.add.Tensor, (shifted, shifted), name="doubled"
    )
    graph.output((shifted, doubled))
    for node in graph.nodes:
        node.meta["val"] = torch.empty(3)
    gm = torch.fx.GraphModule(torch.nn.Module(), graph)
    native = {"shifted": True, "doubled": True}
    assert predict_segments(gm, native, min_block_size=1, constants=["a", "b"]) == Segments(1, 0)
    assert predict_segments(gm, native, min_block_size=1, constants=["a"]) == Segments(1, 0)
    assert predict_segments(gm, native, min_block_size=2, constants=["a"]) == Segments(1, 0)
    assert predict_segments(gm, native, min_block_size=2, constants=["a", "b"]) == Segments(0, 1)


@given(graph=graphs_with_tensor_meta())
def test_the_lowered_graph_keeps_live_nodes_and_their_verdicts(graph: RandomGraph) -> None:
    native = _native(graph)
    lowered = lowered_graph(graph.gm, native)
    calls = [n for n in lowered.graph.nodes if n.op == "call_function"]
    assert all(converts(n) == native[n.name] for n in calls)
    live = {next(iter(reversed(lowered.graph.nodes)))}
    for node in reversed(lowered.graph.nodes):
        if node in live:
            live.update(node.all_input_nodes)
    assert all(n in live for n in calls)


@given(graph=graphs_with_tensor_meta())
def test_outlining_every_unsupported_node_leaves_one_engine(graph: RandomGraph) -> None:
    oracle = OpSetSupport(predicate=lambda node: node.name not in graph.unsupported)
    partition = propose_regions(graph.gm, support_report(graph.gm, oracle))
    assume(not partition.refused)
    # These graphs have no symbolic sizes: a region's op call reads the region's inputs.
    contractions = [Contraction(r.nodes, r.inputs, r.outputs) for r in partition.regions]
    segments = predict_segments(
        graph.gm, _native(graph), min_block_size=1, contractions=contractions
    )
    assert segments == Segments(1, 0)


@given(graph=graphs_with_tensor_meta(), size=st.integers(1, 4))
def test_prediction_does_not_depend_on_node_identity(graph: RandomGraph, size: int) -> None:
    # The splitter keeps nodes in sets; each prediction partitions a fresh copy.
    native = _native(graph)
    first = predict_segments(graph.gm, native, min_block_size=size)
    assert predict_segments(graph.gm, native, min_block_size=size) == first


# --- the mirrored passes and edges, on small graphs -----------------------------------------------


def _chain(*targets: torch._ops.OpOverload) -> torch.fx.GraphModule:
    """x -> targets[0] -> targets[1] -> ... -> output, each node named after its op."""
    graph = torch.fx.Graph()
    value = graph.placeholder("x")
    value.meta["val"] = torch.empty(3, 4)
    for target in targets:
        value = graph.create_node("call_function", target, (value,), name=target._opname)
        value.meta["val"] = torch.empty(3, 4)
    graph.output((value,))
    return torch.fx.GraphModule(torch.nn.Module(), graph)


def test_a_detach_is_its_input() -> None:
    aten = torch.ops.aten
    gm = _chain(aten.sin.default, aten.detach.default, aten.lgamma.default, aten.cos.default)
    native = {"sin": True, "detach": True, "lgamma": False, "cos": True}
    assert predict_segments(gm, native, min_block_size=1) == Segments(2, 1)
    # Were the detach kept, sin and detach would make an engine of two nodes.
    assert predict_segments(gm, native, min_block_size=2) == Segments(0, 1)


def test_a_region_read_between_its_nodes_is_placed_after_them() -> None:
    aten = torch.ops.aten
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    a = graph.create_node("call_function", aten.lgamma.default, (x,), name="lgamma")
    b = graph.create_node("call_function", aten.sin.default, (a,), name="sin")
    c = graph.create_node("call_function", aten.digamma.default, (a,), name="digamma")
    graph.output((b, c))
    for node in graph.nodes:
        node.meta["val"] = torch.empty(3, 4)
    gm = torch.fx.GraphModule(torch.nn.Module(), graph)
    native = {"lgamma": False, "sin": True, "digamma": False}
    region = Contraction(nodes=("lgamma", "digamma"), inputs=("x",), outputs=("lgamma", "digamma"))
    segments = predict_segments(gm, native, min_block_size=1, contractions=[region])
    assert segments == Segments(1, 0)
    assert [n.name for n in gm.graph.nodes] == ["x", "lgamma", "sin", "digamma", "output"]


def test_a_kept_node_reading_a_removed_one_is_an_error() -> None:
    gm = _chain(torch.ops.aten.sin.default, torch.ops.aten.cos.default)
    with pytest.raises(PartitionError, match="sin"):
        predict_segments(gm, {"cos": True}, min_block_size=1)


def test_a_contraction_needs_a_node() -> None:
    with pytest.raises(PartitionError):
        Contraction(nodes=(), inputs=("x",), outputs=())


def test_a_failing_fast_partitioner_falls_back_to_the_global_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Torch-TensorRT's compile_module retries with the global partitioner, whose engines are
    # its partitions with min_block_size nodes (getitems not counted) and which makes no
    # PyTorch submodule.
    def fail(self: _TensorRTSplitter) -> list[object]:
        raise FxNetSplitterInternalError("Subgraph can't be empty")

    monkeypatch.setattr(_TensorRTSplitter, "put_nodes_into_subgraphs", fail)
    aten = torch.ops.aten
    gm = _chain(aten.sin.default, aten.lgamma.default, aten.cos.default, aten.tanh.default)
    native = {"sin": True, "lgamma": False, "cos": True, "tanh": True}
    assert predict_segments(gm, native, min_block_size=1) == Segments(2, 0)
    assert predict_segments(gm, native, min_block_size=2) == Segments(1, 0)
    assert predict_segments(gm, native, min_block_size=3) == Segments(0, 1)


def test_getitems_count_towards_min_block_size() -> None:
    # Torch-TensorRT counts every call node of a subgraph, getitems included.
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    cummax = graph.create_node(
        "call_function", torch.ops.aten.cummax.default, (x, 0), name="cummax"
    )
    values = graph.create_node("call_function", operator.getitem, (cummax, 0), name="getitem")
    graph.output((values,))
    for node in graph.nodes:
        node.meta["val"] = torch.empty(3, 4)
    cummax.meta["val"] = (torch.empty(3, 4), torch.empty(3, 4, dtype=torch.long))
    gm = torch.fx.GraphModule(torch.nn.Module(), graph)
    native = {"cummax": True, "getitem": True}
    assert predict_segments(gm, native, min_block_size=2) == Segments(1, 0)
    assert predict_segments(gm, native, min_block_size=3) == Segments(0, 1)
