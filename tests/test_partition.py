"""The partition: convex, connected regions covering exactly the outlinable unsupported nodes."""

import operator

import pytest
import torch
import torch.fx
from hypothesis import given
from strategies import RandomGraph, random_graphs
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.operator_support import OperatorSupportBase

from trt_autoplugin.errors import PartitionError
from trt_autoplugin.partition import IndexGraph, Region, convex_groups, propose_regions
from trt_autoplugin.support import OpSetSupport, support_report


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
