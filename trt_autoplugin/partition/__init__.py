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

Its modules: `outlinable` refuses single nodes (`refusal_reason`), `grouping` groups a DAG's
nodes into convex sets (`convex_groups`), `regions` runs both over an FX graph
(`propose_regions`).
"""

from .grouping import IndexGraph, convex_groups, cyclic_clusters
from .outlinable import (
    CHECK_TARGETS,
    is_inert_randomness,
    is_recomputable_symbol,
    refusal_reason,
)
from .regions import (
    Partition,
    Region,
    index_graph,
    is_complex_constant,
    propose_regions,
    settled_symbols,
)

__all__ = [
    "CHECK_TARGETS",
    "IndexGraph",
    "Partition",
    "Region",
    "convex_groups",
    "cyclic_clusters",
    "index_graph",
    "is_complex_constant",
    "is_inert_randomness",
    "is_recomputable_symbol",
    "propose_regions",
    "refusal_reason",
    "settled_symbols",
]
