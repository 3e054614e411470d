"""The partition: convex, connected regions covering exactly the outlinable unsupported nodes."""

import operator

import pytest
import torch
import torch.fx
from hypothesis import given
from hypothesis import strategies as st
from strategies import RandomGraph, random_graphs
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.operator_support import OperatorSupportBase

from trt_autoplugin import examples
from trt_autoplugin.errors import PartitionError
from trt_autoplugin.partition import (
    IndexGraph,
    Region,
    convex_groups,
    is_inert_randomness,
    propose_regions,
)
from trt_autoplugin.refusal import RefusalKind
from trt_autoplugin.support import (
    OpSetSupport,
    SnapshotSupport,
    Verdict,
    complex_chains,
    support_report,
)


def _oracle(graph: RandomGraph) -> OpSetSupport:
    return OpSetSupport(predicate=lambda node: node.name not in graph.unsupported)


def _reaches(
    start: set[torch.fx.Node], goal: set[torch.fx.Node], avoid: set[torch.fx.Node]
) -> bool:
    stack, seen = [u for n in start for u in n.users if u not in avoid], set()
    while stack:
        node = stack.pop()
        if node in goal:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(node.users)
    return False


def _is_convex(members: set[torch.fx.Node]) -> bool:
    return not _reaches(members, members, members)


def _is_connected(members: set[torch.fx.Node]) -> bool:
    first = next(iter(members))
    stack, seen = [first], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(n for n in (*node.all_input_nodes, *node.users) if n in members)
    return seen == members


def _quotient_is_acyclic(gm: torch.fx.GraphModule, regions: list[set[torch.fx.Node]]) -> bool:
    group = {n: i for i, members in enumerate(regions) for n in members}
    key = {n: ("region", group[n]) if n in group else ("node", n.name) for n in gm.graph.nodes}
    succs: dict[object, set[object]] = {}
    for node in gm.graph.nodes:
        for user in node.users:
            if key[user] != key[node]:
                succs.setdefault(key[node], set()).add(key[user])
    state: dict[object, int] = {}

    def has_cycle(v: object) -> bool:
        state[v] = 1
        for w in succs.get(v, ()):
            if state.get(w) == 1 or (w not in state and has_cycle(w)):
                return True
        state[v] = 2
        return False

    return not any(v not in state and has_cycle(v) for v in set(key.values()))


class _Labelled(OperatorSupportBase):
    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def is_node_supported(self, submodules: object, node: torch.fx.Node) -> bool:
        return node.name in self.names


def _capability_components(graph: RandomGraph) -> int:
    partitioner = CapabilityBasedPartitioner(
        graph.gm, _Labelled(graph.unsupported), allows_single_node_partition=True
    )
    return sum(sum(1 for _ in _components(set(p.nodes))) for p in partitioner.propose_partitions())


def _components(members: set[torch.fx.Node]) -> list[set[torch.fx.Node]]:
    left, found = set(members), []
    while left:
        stack, component = [left.pop()], set()
        while stack:
            node = stack.pop()
            component.add(node)
            for n in (*node.all_input_nodes, *node.users):
                if n in left:
                    left.discard(n)
                    stack.append(n)
        found.append(component)
    return found


@given(random_graphs())
def test_regions_are_convex_connected_and_cover_the_unsupported_nodes(graph: RandomGraph) -> None:
    report = support_report(graph.gm, _oracle(graph))
    partition = propose_regions(graph.gm, report)
    by_name = {n.name: n for n in graph.gm.graph.nodes}
    regions = [{by_name[name] for name in r.nodes} for r in partition.regions]
    covered = [name for r in partition.regions for name in r.nodes]
    assert len(covered) == len(set(covered)), "a node is in two regions"
    assert set(covered) | set(partition.refused) == set(graph.unsupported)
    assert not partition.refused, partition.refused  # every op here can be outlined
    for members in regions:
        assert _is_convex(members)
        assert _is_connected(members)
    assert _quotient_is_acyclic(graph.gm, regions)


@given(random_graphs())
def test_no_more_regions_than_capability_based_partitioner(graph: RandomGraph) -> None:
    """CapabilityBasedPartitioner merges unconnected siblings; our regions must be connected, so
    the fair reference is its partitions split into connected components. Both are greedy: over
    3,000 random graphs ours had more regions twice, by one, so one region of slack is allowed."""
    report = support_report(graph.gm, _oracle(graph))
    ours = len(propose_regions(graph.gm, report).regions)
    assert ours <= _capability_components(graph) + 1


def test_a_path_through_a_supported_node_splits_the_region() -> None:
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    a = graph.call_function(torch.ops.aten.sin.default, (x,))
    b = graph.call_function(torch.ops.aten.relu.default, (a,))
    c = graph.call_function(torch.ops.aten.add.Tensor, (a, b))
    graph.output((c,))
    gm = torch.fx.GraphModule(torch.nn.Module(), graph)
    for node in gm.graph.nodes:
        node.meta["val"] = torch.empty(2)
    oracle = OpSetSupport(unsupported=[torch.ops.aten.sin, torch.ops.aten.add])
    partition = propose_regions(gm, support_report(gm, oracle))
    assert [r.nodes for r in partition.regions] == [("sin_default",), ("add_tensor",)]


def test_getitem_stays_with_its_tuple_producer() -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        values, indices = torch.cummax(x, 0)
        return torch.relu(values) + indices

    gm = torch.export.export(_Wrap(f), (torch.randn(4, 3),)).graph_module
    oracle = OpSetSupport(unsupported=[torch.ops.aten.cummax])
    partition = propose_regions(gm, support_report(gm, oracle))
    (region,) = partition.regions
    targets = {n.target for n in gm.graph.nodes if n.name in region.nodes}
    assert targets == {torch.ops.aten.cummax.default, operator.getitem}
    assert len(region.outputs) == 2


class _Wrap(torch.nn.Module):
    def __init__(self, fn: object) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.fn(*args)  # type: ignore[operator]


def test_tied_nodes_that_would_form_a_cycle_are_rejected() -> None:
    # 0 -> 1 -> 2 and 0 -> 2 with 1 unlabelled: tying 0 and 2 forces a cycle through 1.
    graph = IndexGraph.from_edges(3, [(0, 1), (1, 2), (0, 2)])
    with pytest.raises(PartitionError, match="cycle"):
        convex_groups(graph, [0, None, 0], tied=[(0, 2)])


def test_region_needs_nodes() -> None:
    with pytest.raises(PartitionError):
        Region((), (), ())


# --- complex chains are outlined whole, whatever the oracle says about their parts ---------------

_FFTS = {"aten._fft_r2c", "aten._fft_c2r"}
_COMPLEX_PARTS = ["aten.slice", "aten.mul", "aten.constant_pad_nd"]


@pytest.fixture(scope="module")
def spectral_gm() -> torch.fx.GraphModule:
    ep = examples.export_example("spectral")
    return ep.run_decompositions(SnapshotSupport().decompositions()).graph_module


def _chain(gm: torch.fx.GraphModule) -> list[torch.fx.Node]:
    (chain,) = complex_chains(gm)
    return chain


@given(
    native=st.sets(st.sampled_from(sorted(_FFTS) + _COMPLEX_PARTS)),
    forced=st.sets(st.sampled_from(_COMPLEX_PARTS)),
)
def test_a_complex_chain_is_outlined_whole_or_left_to_the_rewrite(
    spectral_gm: torch.fx.GraphModule, native: set[str], forced: set[str]
) -> None:
    oracle = OpSetSupport(supported=native, unsupported=forced, base=SnapshotSupport())
    report = support_report(spectral_gm, oracle)
    partition = propose_regions(spectral_gm, report)
    chain = {n.name for n in _chain(spectral_gm)}
    verdicts = [report.verdicts[name] for name in chain]
    if _FFTS <= native and not forced:
        # Every part converts on real tensors: Torch-TensorRT's complex rewrite takes the chain.
        assert partition.regions == ()
        assert all(v.is_native for v in verdicts)
        assert all(v.conditional for n, v in report.verdicts.items() if "complex:" in v.reason)
        return
    (region,) = partition.regions
    assert chain <= set(region.nodes)
    assert all(v.verdict is Verdict.UNSUPPORTED for v in verdicts)
    assert not partition.refused


def test_a_registry_that_converts_complex_parts_still_outlines_the_whole_chain(
    spectral_gm: torch.fx.GraphModule,
) -> None:
    # Torch-TensorRT 2.11 has no complex-dtype check: only the two FFTs lack a converter there.
    oracle = OpSetSupport(predicate=lambda node: "_fft_" not in str(node.target))
    report = support_report(spectral_gm, oracle)
    (region,) = propose_regions(spectral_gm, report).regions
    assert {n.name for n in _chain(spectral_gm)} <= set(region.nodes)
    mul = next(n for n in _chain(spectral_gm) if n.target is torch.ops.aten.mul.Tensor)
    assert "in a complex chain with _fft_r2c" in report.verdicts[mul.name].reason


def test_an_unsupported_real_neighbour_joins_the_chain_region(
    spectral_gm: torch.fx.GraphModule,
) -> None:
    oracle = OpSetSupport(unsupported=[torch.ops.aten.relu], base=SnapshotSupport())
    (region,) = propose_regions(spectral_gm, support_report(spectral_gm, oracle)).regions
    targets = {n.target for n in spectral_gm.graph.nodes if n.name in region.nodes}
    assert torch.ops.aten.relu.default in targets
    assert {n.name for n in _chain(spectral_gm)} <= set(region.nodes)


def test_a_complex_program_input_is_refused_and_named() -> None:
    def f(spectrum: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft(spectrum * 2, n=8)

    gm = torch.export.export(_Wrap(f), (torch.randn(3, 5, dtype=torch.cfloat),)).graph_module
    oracle = OpSetSupport(predicate=lambda node: False)
    partition = propose_regions(gm, support_report(gm, oracle))
    assert partition.regions == ()
    (mul,) = [n.name for n in gm.graph.nodes if n.target is torch.ops.aten.mul.Tensor]
    assert partition.refused[mul].message.startswith("reads args_0, a complex program input")
    assert partition.refused[mul].kind is RefusalKind.COMPLEX_CROSSING
    assert partition.refused[mul].node == mul


def _attention(dropout_p: float) -> object:
    def f(x: torch.Tensor) -> torch.Tensor:
        q = x[None]
        return torch.nn.functional.scaled_dot_product_attention(q, q, q, dropout_p=dropout_p)

    return f


def _flash_attention_for_cpu(dropout_p: float) -> object:
    def f(x: torch.Tensor) -> torch.Tensor:
        q = x[None, None]
        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, q, q, dropout_p)[0]

    return f


def _dropout(p: float, train: bool) -> object:
    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten.dropout(x, p, train)

    return f


def _native_dropout(p: float, train: bool) -> object:
    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten.native_dropout(x, p, train)[0]

    return f


_RANDOM_TARGETS = {
    torch.ops.aten.scaled_dot_product_attention.default,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default,
    torch.ops.aten.dropout.default,
    torch.ops.aten.native_dropout.default,
}


@pytest.mark.parametrize(
    ("fn", "inert"),
    [
        (_attention(0.0), True),
        (_attention(0.1), False),
        (_flash_attention_for_cpu(0.0), True),
        (_flash_attention_for_cpu(0.1), False),
        (_dropout(0.0, True), True),
        (_dropout(0.5, False), True),
        (_dropout(0.5, True), False),
        (_native_dropout(0.0, True), True),
        (_native_dropout(0.5, False), True),
        (_native_dropout(0.5, True), False),
    ],
)
def test_randomness_that_cannot_happen_is_outlined(fn: object, inert: bool) -> None:
    gm = torch.export.export(_Wrap(fn), (torch.randn(4, 8),)).graph_module
    (node,) = [n for n in gm.graph.nodes if n.target in _RANDOM_TARGETS]
    oracle = OpSetSupport(unsupported=[node.target])
    partition = propose_regions(gm, support_report(gm, oracle))
    if inert:
        assert not partition.refused
        assert any(node.name in region.nodes for region in partition.regions)
    else:
        assert partition.refused[node.name].message.startswith("draws random numbers")
        assert partition.refused[node.name].kind is RefusalKind.RANDOMNESS


@given(st.floats(min_value=0.0, max_value=1.0), st.booleans())
def test_dropout_is_inert_exactly_when_it_cannot_draw(p: float, train: bool) -> None:
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    node = graph.call_function(
        torch.ops.aten.native_dropout.default, (x,), {"p": p, "train": train}
    )
    assert is_inert_randomness(node) == (p == 0 or not train)


def _var_mean_graph() -> torch.fx.GraphModule:
    def standardize(x: torch.Tensor) -> torch.Tensor:
        variance, mean = torch.var_mean(x, dim=(0, 2), keepdim=True)
        return (x - mean) / variance

    batch = torch.export.Dim("batch", min=1, max=64)
    ep = torch.export.export(
        _Wrap(standardize), (torch.randn(4, 8, 5),), dynamic_shapes=(({0: batch},),)
    )
    return ep.run_decompositions(SnapshotSupport().decompositions()).graph_module


def test_sym_float_read_only_by_regions_is_recomputed() -> None:
    gm = _var_mean_graph()
    (sym_float,) = [n for n in gm.graph.nodes if n.target is torch.sym_float]
    (div,) = [n for n in gm.graph.nodes if n.target is torch.ops.prims.div.default]
    # The snapshot has no converter for torch.sym_float: with div forced out too, div's region
    # recomputes it from its input's size.
    oracle = OpSetSupport(unsupported=[torch.ops.prims.div.default], base=SnapshotSupport())
    partition = propose_regions(gm, support_report(gm, oracle))
    assert partition.refused == {}
    assert partition.recomputed == (sym_float.name,)
    assert [region.nodes for region in partition.regions] == [(div.name,)]


def test_sym_float_read_outside_the_regions_is_refused() -> None:
    gm = _var_mean_graph()
    (sym_float,) = [n for n in gm.graph.nodes if n.target is torch.sym_float]
    partition = propose_regions(gm, support_report(gm, SnapshotSupport()))
    assert partition.recomputed == ()
    refusal = partition.refused[sym_float.name]
    assert refusal.message.startswith("returns a non-tensor value (SymFloat)")
    assert refusal.kind is RefusalKind.NON_TENSOR_OUTPUT


def test_an_effect_token_call_is_refused_as_what_it_is() -> None:
    batch = torch.export.Dim("batch", min=1, max=64)
    ep = torch.export.export(
        _Wrap(torch.linalg.inv), (torch.randn(4, 3, 3),), dynamic_shapes=(({0: batch},),)
    )
    gm = ep.run_decompositions(SnapshotSupport().decompositions()).graph_module
    effects = [n for n in gm.graph.nodes if n.target is torch.ops.higher_order.with_effects]
    if not effects:
        pytest.skip(f"torch {torch.__version__}'s decomposition drops the linalg error check")
    (effect,) = effects
    partition = propose_regions(gm, support_report(gm, SnapshotSupport()))
    refusal = partition.refused[effect.name]
    assert refusal.message.startswith(
        "an effect-token call (with_effects) of aten._linalg_check_errors.default"
    )
    assert refusal.kind is RefusalKind.EFFECT_TOKEN
