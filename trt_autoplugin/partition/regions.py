"""Regions of an FX graph: the unsupported nodes `outlinable` accepts, grouped by
`grouping.convex_groups`, with the refusals of the nodes left out."""

import dataclasses
import operator
from collections.abc import Collection, Mapping, Sequence

import torch
import torch.fx
from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols

from ..errors import PartitionError
from ..graph import describe_node
from ..refusal import Refusal, RefusalKind
from ..support import SupportReport, Verdict
from .grouping import IndexGraph, convex_groups, cyclic_clusters
from .outlinable import CHECK_TARGETS, is_recomputable_symbol, refusal_reason


@dataclasses.dataclass(frozen=True, slots=True)
class Region:
    """A convex, connected set of unsupported nodes that becomes one plugin.

    Attributes:
        nodes: names of the region's nodes, in graph order.
        inputs: names of the outside nodes whose tensors the region reads, in first-use order.
        outputs: names of the region's nodes whose values are used outside it, in graph order.
    """

    nodes: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.nodes:
            raise PartitionError("a region needs at least one node")


@dataclasses.dataclass(frozen=True, slots=True)
class Partition:
    """The regions of a graph and the unsupported nodes left out of them, with reasons.

    Attributes:
        regions: the regions to outline.
        refused: the unsupported nodes left in the graph, each with its reason.
        recomputed: unsupported size-arithmetic nodes (a ``sym_float``) read only by regions:
            each region reading one recomputes it from its inputs' sizes, so the node itself
            dies with the regions (`outline.outline_regions` erases it).
    """

    regions: tuple[Region, ...]
    refused: Mapping[str, Refusal]
    recomputed: tuple[str, ...] = ()


def index_graph(nodes: Sequence[torch.fx.Node]) -> IndexGraph:
    """The FX graph as an IndexGraph over ``nodes`` (which must be in graph order)."""
    index = {node: i for i, node in enumerate(nodes)}
    edges = [(index[a], index[b]) for b in nodes for a in b.all_input_nodes if a in index]
    return IndexGraph.from_edges(len(nodes), edges)


def _must_stay_together(producer: torch.fx.Node, consumer: torch.fx.Node) -> bool:
    # Values TensorRT can't carry between a plugin and the rest of the network.
    if consumer.target is operator.getitem:
        return True
    value = producer.meta.get("val")
    return isinstance(value, torch.Tensor) and value.dtype.is_complex


def is_complex_constant(node: torch.fx.Node, constants: Collection[str]) -> bool:
    """Whether a node holds a complex parameter, buffer or constant, which enters a region as
    a real view (``constants``: names of the placeholders that hold them; get_attr always does).
    """
    value = node.meta.get("val")
    if not isinstance(value, torch.Tensor) or not value.dtype.is_complex:
        return False
    return node.op == "get_attr" or (node.op == "placeholder" and node.name in constants)


def _crossing_reason(
    node: torch.fx.Node, candidates: Mapping[torch.fx.Node, None], constants: Collection[str]
) -> Refusal | None:
    """Why a candidate can't be outlined given the other candidates: a value that must stay
    inside one plugin would cross its boundary."""
    for arg in node.all_input_nodes:
        if arg in candidates or not _must_stay_together(arg, node):
            continue
        if is_complex_constant(arg, constants):
            continue
        message = f"reads {arg.name}, a complex or tuple value that stays in PyTorch"
        if arg.op == "placeholder":
            message = (
                f"reads {arg.name}, a complex program input: a plugin takes real tensors and a "
                f"program's inputs can't be rewritten; pass torch.view_as_real({arg.name}) and "
                "call torch.view_as_complex inside the model"
            )
        return Refusal(RefusalKind.COMPLEX_CROSSING, message, node.name)
    for user in node.users:
        if user not in candidates and _must_stay_together(node, user):
            message = f"its complex or tuple value is used by {user.name}, which stays in PyTorch"
            return Refusal(RefusalKind.COMPLEX_CROSSING, message, node.name)
    return None


def _candidates(
    nodes: Sequence[torch.fx.Node], report: SupportReport, constants: Collection[str]
) -> tuple[dict[torch.fx.Node, None], dict[str, Refusal]]:
    unsupported = [n for n in nodes if report.verdicts[n.name].verdict is Verdict.UNSUPPORTED]
    refused: dict[str, Refusal] = {}
    candidates: dict[torch.fx.Node, None] = {}
    for node in unsupported:
        if _is_pure_symbol(node):
            continue  # decided once the regions are known (`settled_symbols`)
        reason = refusal_reason(node)
        if reason is None:
            candidates[node] = None
        else:
            refused[node.name] = reason
    _refuse_crossings(candidates, refused, constants)
    return candidates, refused


def _refuse_crossings(
    candidates: dict[torch.fx.Node, None], refused: dict[str, Refusal], constants: Collection[str]
) -> None:
    # A worklist, so refusals propagate along chains of complex values in linear time.
    work = list(candidates)
    while work:
        node = work.pop()
        if node not in candidates:
            continue
        reason = _crossing_reason(node, candidates, constants)
        if reason is None:
            continue
        del candidates[node]
        refused[node.name] = reason
        work.extend(n for n in (*node.all_input_nodes, *node.users) if n in candidates)


def propose_regions(
    gm: torch.fx.GraphModule, report: SupportReport, *, constants: Collection[str] = ()
) -> Partition:
    """The regions to outline: connected, convex, and as large as the levels allow.

    Complex tensors never cross a region boundary, except complex parameters, buffers and
    constants, which enter as real views (`outline.region_body`); a region that would read a
    complex program input is refused.

    Args:
        gm: the graph; every node must have a verdict in ``report``.
        report: the support oracle's verdicts.
        constants: names of the placeholders holding parameters, buffers or constants (an
            ExportedProgram's); get_attr nodes always hold constants.

    Returns:
        The regions, and the unsupported nodes left in the graph with the reason for each.
    """
    nodes = list(gm.graph.nodes)
    missing = [n for n in nodes if n.name not in report.verdicts]
    if missing:
        raise PartitionError(f"no support verdict for {describe_node(missing[0])}")
    candidates, refused = _candidates(nodes, report, constants)
    graph = index_graph(nodes)
    while True:
        labels = [0 if n in candidates else None for n in nodes]
        tied = _tied_pairs(nodes, candidates)
        cyclic = cyclic_clusters(graph, tied)
        if not cyclic:
            break
        for i in cyclic:
            candidates.pop(nodes[i], None)
            refused[nodes[i].name] = Refusal(
                RefusalKind.CYCLE,
                "keeping its complex or tuple values inside one plugin would create a cycle",
                nodes[i].name,
            )
        _refuse_crossings(candidates, refused, constants)
    groups = convex_groups(graph, labels, tied)
    regions = tuple(_region([nodes[i] for i in group]) for group in groups)
    regions = _without_idle_checks(regions, refused, {n.name: n for n in nodes})
    recomputed = tuple(
        n.name
        for n in nodes
        if report.verdicts[n.name].verdict is Verdict.UNSUPPORTED and _is_pure_symbol(n)
    )
    return settled_symbols(gm, Partition(regions, refused, recomputed))


def _without_idle_checks(
    regions: tuple[Region, ...], refused: dict[str, Refusal], by_name: Mapping[str, torch.fx.Node]
) -> tuple[Region, ...]:
    # A region with a check and no outputs (the check reads a value TensorRT computes, or
    # nothing else in it is used) would be a plugin call nobody reads, which TensorRT drops
    # with the check: it stays in PyTorch.
    kept = []
    for region in regions:
        if region.outputs or not any(by_name[n].target in CHECK_TARGETS for n in region.nodes):
            kept.append(region)
            continue
        for name in region.nodes:
            refused[name] = Refusal(
                RefusalKind.IDLE_CHECK,
                "a check that only raises, on a value computed outside any plugin: a plugin "
                "with no outputs would be dropped, and the check with it",
                name,
            )
    return tuple(kept)


def _is_pure_symbol(node: torch.fx.Node) -> bool:
    value = node.meta.get("val")
    return (
        isinstance(value, torch.SymInt | torch.SymFloat)
        and not free_unbacked_symbols(value)
        and is_recomputable_symbol(node)
    )


def settled_symbols(gm: torch.fx.GraphModule, partition: Partition) -> Partition:
    """The partition with its ``recomputed`` nodes decided against its regions.

    An unsupported size-arithmetic node (a ``sym_float`` Torch-TensorRT has no converter for)
    read only by regions, directly or through other such nodes, stays recomputed: every region
    reading it recomputes it inside (`outline.region_body`), so no PyTorch node is left. One
    read by anything else stays in the graph, refused with its reason. Call it again after
    dropping regions (`pipeline`'s plugin refusals).
    """
    pending = set(partition.recomputed)
    inside = {name for region in partition.regions for name in region.nodes}
    refused = dict(partition.refused)
    kept: set[str] = set()
    # Reverse graph order: a node's users are decided before it.
    for node in reversed(gm.graph.nodes):
        name = node.name
        if name not in pending:
            continue
        users = node.users
        if users and all(u.name in inside or u.name in kept for u in users):
            kept.add(name)
        else:
            outside = Refusal(RefusalKind.SIZE_ARITHMETIC, "read outside the regions", name)
            refused[name] = refusal_reason(node) or outside
    recomputed = tuple(n.name for n in gm.graph.nodes if n.name in kept)
    return Partition(partition.regions, refused, recomputed)


def _tied_pairs(
    nodes: Sequence[torch.fx.Node], candidates: Mapping[torch.fx.Node, None]
) -> list[tuple[int, int]]:
    index = {node: i for i, node in enumerate(nodes)}
    return [
        (index[arg], index[node])
        for node in candidates
        for arg in node.all_input_nodes
        if arg in candidates and _must_stay_together(arg, node)
    ]


def _region(members: Sequence[torch.fx.Node]) -> Region:
    inside = dict.fromkeys(members)
    inputs: dict[str, None] = {}
    for node in members:
        for arg in node.all_input_nodes:
            if arg not in inside and not _is_symbolic(arg):
                inputs[arg.name] = None
    outputs = tuple(n.name for n in members if any(u not in inside for u in n.users))
    return Region(tuple(n.name for n in members), tuple(inputs), outputs)


def _is_symbolic(node: torch.fx.Node) -> bool:
    return isinstance(node.meta.get("val"), torch.SymInt | torch.SymFloat | torch.SymBool)
