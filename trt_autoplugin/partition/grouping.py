"""The generic leveled grouping: convex, connected groups of a DAG's labeled nodes.

No FX here: a DAG on indices (`IndexGraph`) whose order is topological, a label per node, and
pairs of nodes that must share a group. `regions.propose_regions` runs it over an FX graph.
"""

import dataclasses
from collections.abc import Sequence

from ..errors import PartitionError


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
