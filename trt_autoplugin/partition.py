"""The partition: group the unsupported nodes into convex regions, each to become one plugin.

Pure analysis, like ``CapabilityBasedPartitioner.propose_partitions``: graph and verdicts in,
``Partition`` out; the graph is never changed.

Regions grow in one pass over the graph in topological order: a node joins the regions of its
unsupported inputs only if no path leaves the merged region and comes back into it (a forward
search over the nodes placed so far, where reaching one member of another region reaches all of
it, since outlining contracts it). That search only walks what lies between the region and the
new node, so on real graphs the pass is near-linear, where ``CapabilityBasedPartitioner`` tries
every pair of partitions. Growth is greedy, so the pass runs again on the reversed graph (convex
sets are the same) and keeps whichever gives fewer regions.
"""

import dataclasses
import operator
from collections.abc import Collection, Mapping, Sequence

import torch
import torch.fx
from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols

from .data_dependent import unbounded_reason
from .errors import PartitionError, describe_node
from .support import SupportReport, Verdict, target_name

_BAKEABLE_LEAVES = (
    int,
    float,
    bool,
    str,
    type(None),
    torch.dtype,
    torch.device,
    torch.layout,
    torch.memory_format,
    type(Ellipsis),
)

# Size arithmetic that a region may recompute from its tensor inputs' sizes. ``sym_float`` and
# true division make SymFloats: decomposed ``var_mean`` and batch norm divide a sum by
# ``sym_float(s0 * k)`` under a dynamic batch.
_SYMBOLIC_TARGETS: frozenset[object] = frozenset(
    {
        torch.sym_float,
        operator.truediv,
        torch.ops.aten.sym_size.int,
        torch.ops.aten.sym_numel.default,
        torch.ops.aten.sym_stride.int,
        operator.add,
        operator.sub,
        operator.mul,
        operator.floordiv,
        operator.mod,
        operator.neg,
        torch.sym_max,
        torch.sym_min,
        torch.sym_sum,
    }
)


# Ops whose only effect is to raise on bad values (export wraps them in with_effects, which
# `pipeline.without_check_tokens` unwraps): a region may run one, like eager, on its own values.
CHECK_TARGETS: frozenset[object] = frozenset({torch.ops.aten._linalg_check_errors.default})


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
    refused: Mapping[str, str]
    recomputed: tuple[str, ...] = ()


# --- what can be outlined -----------------------------------------------------------------------


def _flat_values(value: object) -> list[object]:
    if isinstance(value, list | tuple):
        return [v for item in value for v in _flat_values(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _flat_values(item)]
    if isinstance(value, slice):
        return [value.start, value.stop, value.step]
    return [value]


def is_tensor_node(node: torch.fx.Node) -> bool:
    """Whether the node's value is a single tensor."""
    return isinstance(node.meta.get("val"), torch.Tensor)


def _output_reason(node: torch.fx.Node) -> str | None:
    if node.target in CHECK_TARGETS and not node.users:
        return None  # returns nothing; it raises inside the plugin
    value = node.meta.get("val")
    if value is None and "val" not in node.meta:
        return (
            "no fake/meta value: the op has no fake kernel, so its output shapes are unknown "
            "(register one with torch.library.register_fake)"
        )
    leaves = _flat_values(value) if isinstance(value, list | tuple) else [value]
    if not leaves or not all(isinstance(v, torch.Tensor) for v in leaves):
        kind = type(value).__name__
        if any(user.op == "output" for user in node.users):
            return (
                f"a program output that is a non-tensor value ({kind}, a scalar such as "
                "x.item()); a plugin can only return tensors, so it stays in PyTorch"
            )
        return f"returns a non-tensor value ({kind}); a plugin's outputs are tensors"
    # A data-dependent size becomes a size tensor of the plugin if it has an upper bound.
    return unbounded_reason(node)


def _schema_reason(node: torch.fx.Node) -> str | None:
    target = node.target
    if node.op != "call_function":
        return f"a {node.op} node, not an operator call"
    if target is torch.ops.higher_order.with_effects:
        return _effect_reason(node)
    if isinstance(target, torch._ops.HigherOrderOperator):
        return f"higher-order operator {target.name()} (control flow) can't be one plugin"
    if isinstance(target, torch._ops.OpOverload):
        if target._schema.is_mutable:
            return "mutates an input in place; a plugin's inputs are read-only"
        if torch.Tag.nondeterministic_seeded in target.tags and not is_inert_randomness(node):
            return "draws random numbers; a plugin would not reproduce PyTorch's random stream"
    return None


def _effect_reason(node: torch.fx.Node) -> str:
    # with_effects(token, op, *args): export threads a token through an op with a side effect
    # (a checked linalg op's _linalg_check_errors raises) to keep it in order.
    effect = node.args[1] if len(node.args) > 1 else None
    name = target_name(effect) if isinstance(effect, torch._ops.OpOverload) else str(effect)
    return (
        f"an effect-token call (with_effects) of {name}: export orders its side effect with a "
        "token threaded through the program's inputs and outputs, which a plugin can't carry"
    )


def _schema_arguments(node: torch.fx.Node) -> dict[str, object]:
    """The node's arguments by schema name, defaults filled in."""
    schema = node.target._schema  # type: ignore[union-attr]
    values: dict[str, object] = {}
    for i, argument in enumerate(schema.arguments):
        if i < len(node.args) and not argument.kwarg_only:
            values[argument.name] = node.args[i]
        elif argument.name in node.kwargs:
            values[argument.name] = node.kwargs[argument.name]
        elif argument.has_default_value():
            values[argument.name] = argument.default_value
    return values


def is_inert_randomness(node: torch.fx.Node) -> bool:
    """Whether a random op's call can draw nothing: dropout with probability 0 or train False.

    ``scaled_dot_product_attention`` and its decomposed forms are tagged
    ``nondeterministic_seeded`` for their ``dropout_p``, and ``dropout``/``native_dropout`` for
    ``p``; a call whose probability is 0, or with ``train=False``, is deterministic, so it may
    go into a plugin. Arguments are read by schema name; a symbolic probability is not inert.
    """
    if not isinstance(node.target, torch._ops.OpOverload):
        return False
    arguments = _schema_arguments(node)
    if "dropout_p" in arguments:
        return _is_literal(arguments["dropout_p"], 0)
    if "dropout" not in node.target.name():
        return False
    return _is_literal(arguments.get("train"), False) or _is_literal(arguments.get("p"), 0)


def _is_literal(value: object, expected: float | bool) -> bool:
    # bool is an int, so compare types too: train=0 is not train=False, p=False is not p=0.
    if isinstance(expected, bool):
        return value is expected
    return isinstance(value, int | float) and not isinstance(value, bool) and value == expected


def _argument_reason(node: torch.fx.Node) -> str | None:
    for value in _flat_values((node.args, node.kwargs)):
        if isinstance(value, torch.fx.Node):
            reason = _input_node_reason(value)
            if reason is not None:
                return reason
        elif not isinstance(value, _BAKEABLE_LEAVES):
            return f"argument of type {type(value).__name__} can't be baked into a plugin"
    return None


def _input_node_reason(arg: torch.fx.Node) -> str | None:
    value = arg.meta.get("val")
    if isinstance(value, torch.Tensor | tuple | list) or arg.target is operator.getitem:
        return None
    if isinstance(value, torch.SymInt | torch.SymFloat | torch.SymBool | int | float | bool):
        if is_recomputable_symbol(arg):
            return None  # the region reads it off a tensor's size, data-dependent or not
        if free_unbacked_symbols(value):
            return f"reads the data-dependent value {arg.name} ({value})"
        return f"reads the symbolic value {arg.name}, which the plugin can't recompute"
    return f"reads {arg.name}, whose value ({type(value).__name__}) is not a tensor"


def is_recomputable_symbol(node: torch.fx.Node) -> bool:
    """Whether a SymInt or SymFloat node is size arithmetic over tensors, so a region can
    recompute it."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if current in seen or is_tensor_node(current):
            continue
        seen.add(current)
        if current.op != "call_function" or current.target not in _SYMBOLIC_TARGETS:
            return False
        stack.extend(current.all_input_nodes)
    return True


def refusal_reason(node: torch.fx.Node) -> str | None:
    """Why an unsupported node can't go into a plugin, or None when it can."""
    return _schema_reason(node) or _output_reason(node) or _argument_reason(node)


# --- the generic leveled grouping ----------------------------------------------------------------


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclasses.dataclass(frozen=True, slots=True)
class IndexGraph:
    """A DAG on 0..n-1 whose index order is a topological order (FX graph order is one)."""

    preds: tuple[tuple[int, ...], ...]
    succs: tuple[tuple[int, ...], ...]

    @staticmethod
    def from_edges(size: int, edges: Sequence[tuple[int, int]]) -> "IndexGraph":
        preds: list[set[int]] = [set() for _ in range(size)]
        succs: list[set[int]] = [set() for _ in range(size)]
        for a, b in edges:
            if a == b:
                continue
            if a > b:
                raise PartitionError(f"edge {a}->{b} goes against the topological order")
            preds[b].add(a)
            succs[a].add(b)
        return IndexGraph(
            tuple(tuple(sorted(p)) for p in preds), tuple(tuple(sorted(s)) for s in succs)
        )


def _cluster_graph(
    graph: IndexGraph, tied: Sequence[tuple[int, int]]
) -> tuple[list[int], list[list[int]], list[list[int]], list[int]]:
    """Contracts tied nodes. Returns (cluster of node, cluster preds, cluster succs, topo order)."""
    size = len(graph.preds)
    union_find = _UnionFind(size)
    for a, b in tied:
        union_find.union(a, b)
    cluster_of = [union_find.find(i) for i in range(size)]
    preds: list[set[int]] = [set() for _ in range(size)]
    succs: list[set[int]] = [set() for _ in range(size)]
    for b in range(size):
        cb = cluster_of[b]
        for a in graph.preds[b]:
            ca = cluster_of[a]
            if ca != cb:
                preds[cb].add(ca)
                succs[ca].add(cb)
    roots = [i for i in range(size) if cluster_of[i] == i]
    order = _topological_order(roots, preds, succs)
    return cluster_of, [sorted(p) for p in preds], [sorted(s) for s in succs], order


def _topological_order(
    roots: Sequence[int], preds: Sequence[set[int]], succs: Sequence[set[int]]
) -> list[int]:
    # Kahn's algorithm over a min-heap-free FIFO: clusters are contracted from a DAG, so only
    # tied sets can create cycles, and a short result tells the caller exactly that.
    indegree = {r: len(preds[r]) for r in roots}
    ready = [r for r in roots if indegree[r] == 0]
    order: list[int] = []
    while ready:
        current = ready.pop()
        order.append(current)
        for s in succs[current]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    return order


def cyclic_clusters(graph: IndexGraph, tied: Sequence[tuple[int, int]]) -> set[int]:
    """Nodes of tied clusters whose contraction would create a cycle (empty when none)."""
    cluster_of, _, _, order = _cluster_graph(graph, tied)
    placed = set(order)
    sizes: dict[int, int] = {}
    for c in cluster_of:
        sizes[c] = sizes.get(c, 0) + 1
    return {i for i, c in enumerate(cluster_of) if c not in placed and sizes[c] > 1}


class _Regions:
    """Regions grown over a DAG processed in topological order, merged only without cycles."""

    def __init__(self, preds: Sequence[Sequence[int]], succs: Sequence[Sequence[int]]) -> None:
        self.preds = preds
        self.succs = succs
        self.position: dict[int, int] = {}
        self.region_of: dict[int, int] = {}  # vertex -> region id (an id is a member vertex)
        self.members: dict[int, list[int]] = {}

    def add(self, vertex: int, joinable: set[int]) -> None:
        """Places a new vertex, the last in topological order, merging it into what it can."""
        self.position[vertex] = len(self.position)
        self.region_of[vertex] = vertex
        self.members[vertex] = [vertex]
        if self.is_acyclic_merge(joinable | {vertex}):
            chosen = set(joinable)
        else:
            chosen = set()
            # Largest first: the region most worth keeping whole.
            for region in sorted(joinable, key=lambda r: (-len(self.members[r]), r)):
                if self.is_acyclic_merge(chosen | {region, vertex}):
                    chosen.add(region)
        self.merge(chosen | {vertex})

    def merge(self, regions: set[int]) -> int:
        """Merges regions into one; returns its id (the smallest)."""
        target = min(regions)
        for region in regions - {target}:
            for m in self.members[region]:
                self.region_of[m] = target
            self.members[target].extend(self.members.pop(region))
        return target

    def is_acyclic_merge(self, regions: set[int]) -> bool:
        """Whether merging the regions keeps the graph of regions acyclic."""
        if len(regions) < 2:
            return True
        inside = {m for r in regions for m in self.members[r]}
        # A path that leaves the merged set and comes back is a cycle. Only processed vertices
        # matter (a vertex being added has no processed successors); another region counts as
        # one vertex: reaching one member reaches all of them.
        stack = [s for m in inside for s in self.succs[m] if s not in inside]
        seen: set[int] = set()
        teleported: set[int] = set()
        while stack:
            current = stack.pop()
            if current in inside:
                return False
            if current in seen or current not in self.position:
                continue
            seen.add(current)
            stack.extend(self.succs[current])
            region = self.region_of.get(current)
            if region is not None and region not in teleported:
                teleported.add(region)
                stack.extend(self.members[region])
        return True


def convex_groups(
    graph: IndexGraph,
    labels: Sequence[int | None],
    tied: Sequence[tuple[int, int]] = (),
) -> list[list[int]]:
    """Groups nodes of equal non-None label into connected, convex groups with an acyclic quotient.

    Args:
        graph: the DAG, indices in topological order.
        labels: each node's kind; None marks nodes that belong to no group.
        tied: pairs of same-label nodes that must share a group.

    Returns:
        Groups as sorted index lists, ordered by their first index.

    Raises:
        PartitionError: tied nodes can't share a group without a cycle (see ``cyclic_clusters``).
    """
    cluster_of, preds, succs, order = _cluster_graph(graph, tied)
    if len(order) != len(set(cluster_of)):
        raise PartitionError("tied nodes can't share one group without creating a cycle")
    # Greedy growth depends on the direction: grow from the inputs and from the outputs (the
    # reversed DAG has the same convex sets) and keep whichever gives fewer groups.
    forward = _grown_groups(labels, cluster_of, preds, succs, order)
    backward = _grown_groups(labels, cluster_of, succs, preds, order[::-1])
    return forward if len(forward) <= len(backward) else backward


def _merge_neighbours(
    regions: _Regions, labels: Sequence[int | None], order: Sequence[int]
) -> None:
    # Growing in one direction commits early; a last sweep merges neighbouring regions that
    # the final graph lets merge.
    for vertex in order:
        label = labels[vertex]
        if label is None:
            continue
        for neighbour in regions.succs[vertex]:
            if labels[neighbour] != label:
                continue
            pair = {regions.region_of[vertex], regions.region_of[neighbour]}
            if len(pair) == 2 and regions.is_acyclic_merge(pair):
                regions.merge(pair)


def _grown_groups(
    labels: Sequence[int | None],
    cluster_of: Sequence[int],
    preds: Sequence[Sequence[int]],
    succs: Sequence[Sequence[int]],
    order: Sequence[int],
) -> list[list[int]]:
    regions = _Regions(preds, succs)
    for vertex in order:
        label = labels[vertex]
        if label is None:
            regions.position[vertex] = len(regions.position)
            continue
        joinable = {regions.region_of[p] for p in preds[vertex] if labels[p] == label}
        regions.add(vertex, joinable)
    _merge_neighbours(regions, labels, order)
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        if label is not None:
            groups.setdefault(regions.region_of[cluster_of[i]], []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


# --- regions of an FX graph ----------------------------------------------------------------------


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
) -> str | None:
    """Why a candidate can't be outlined given the other candidates: a value that must stay
    inside one plugin would cross its boundary."""
    for arg in node.all_input_nodes:
        if arg in candidates or not _must_stay_together(arg, node):
            continue
        if is_complex_constant(arg, constants):
            continue
        if arg.op == "placeholder":
            return (
                f"reads {arg.name}, a complex program input: a plugin takes real tensors and a "
                f"program's inputs can't be rewritten; pass torch.view_as_real({arg.name}) and "
                "call torch.view_as_complex inside the model"
            )
        return f"reads {arg.name}, a complex or tuple value that stays in PyTorch"
    for user in node.users:
        if user not in candidates and _must_stay_together(node, user):
            return f"its complex or tuple value is used by {user.name}, which stays in PyTorch"
    return None


def _candidates(
    nodes: Sequence[torch.fx.Node], report: SupportReport, constants: Collection[str]
) -> tuple[dict[torch.fx.Node, None], dict[str, str]]:
    unsupported = [n for n in nodes if report.verdicts[n.name].verdict is Verdict.UNSUPPORTED]
    refused: dict[str, str] = {}
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
    candidates: dict[torch.fx.Node, None], refused: dict[str, str], constants: Collection[str]
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
            refused[nodes[i].name] = (
                "keeping its complex or tuple values inside one plugin would create a cycle"
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
    regions: tuple[Region, ...], refused: dict[str, str], by_name: Mapping[str, torch.fx.Node]
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
            refused[name] = (
                "a check that only raises, on a value computed outside any plugin: a plugin "
                "with no outputs would be dropped, and the check with it"
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
            refused[name] = refusal_reason(node) or "read outside the regions"
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
