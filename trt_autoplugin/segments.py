"""Predicted Torch-TensorRT segments: its fast partitioner, run on the graph it would partition.

Pure analysis: a graph and verdicts in, ``Segments`` out; the graph is never changed (the
partitioner runs on a copy). Nothing here imports ``torch_tensorrt`` or ``tensorrt``.

Torch-TensorRT's default partitioner, ``TRTPartitioner`` in
``torch_tensorrt/dynamo/partitioning/_adjacency_partitioner.py``, is torch.fx's ``_SplitterBase``;
`_TensorRTSplitter` is the same subclass with our verdicts as its ``OperatorSupportBase``. torch.fx
does the work: ``FxNetAccNodesFinder`` (which nodes convert), ``FxNetAccFusionsFinder`` (groups of
converted nodes passing non-tensor values, which must move together), ``find_deps`` /
``update_deps_for_fusions`` and ``put_nodes_into_subgraphs`` (alternating converted and PyTorch
subgraphs, each as large as the dependencies allow). What TRTPartitioner overrides is mirrored,
each place citing it. Around the partitioner, ``compile_module`` (``dynamo/_compiler.py``):

* it counts supported ``call_function`` nodes first and partitions nothing when there are none;
* it skips fusion groups when every ``call_function`` node is supported;
* when the fast partitioner raises ``FxNetSplitterInternalError`` it retries with the global one
  (``_global_partitioner.py``, torch.fx's ``CapabilityBasedPartitioner``), which makes no PyTorch
  submodules.

The graph it partitions is not the decomposed ExportedProgram our analysis sees: `lowered_graph`
rebuilds it, applying what Torch-TensorRT's pre- and post-lowering passes
(``dynamo/lowering/passes/``) do to the nodes that reach the partitioner, and contracting each
outlined region to its op call. Passes that change no node the partitioner counts are left out,
as are the few that only fire on graphs our pass does not meet; see `lowered_graph`.

Counting as the dryrun harness does (``tests/dryrun/runner.py``): engines are the
``_run_on_acc`` submodules, PyTorch segments the ``_run_on_gpu`` ones. A dryrun partitions even
when fewer than ``min_block_size`` nodes convert (a real compile then returns the graph whole):
both run everything in PyTorch, which the dryrun counts as one PyTorch segment.

Releases 2.11-2.14 share TRTPartitioner, ``compile_module``'s counting and the torch.fx classes
it drives; their differences are in the operator support (complex tensors are rejected from 2.12
on, ``fallback_data_dependent_ops`` exists from 2.13 on: both reach us through the verdicts) and
in the lowering passes, noted at each mirrored pass.
"""

import dataclasses
import functools
import logging
import operator
import sys
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import torch
import torch.fx
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.operator_support import OperatorSupportBase
from torch.fx.passes.splitter_base import (
    FxNetAccNodesFinder,
    FxNetSplitterInternalError,
    Subgraph,
    _SplitterBase,
)
from torch.fx.passes.tools_common import (
    CALLABLE_NODE_OPS,
    FxNetAccFusionsFinder,
    NodeSet,
    stable_topological_sort,
)

from .errors import PartitionError
from .graph import describe_node

logger = logging.getLogger(__name__)

# Where a node of the lowered graph records whether Torch-TensorRT converts it: meta survives
# the node copies of ``stable_topological_sort``, names may not.
_CONVERTS = "trt_autoplugin_converts"

_MAX_POOL_WITHOUT_INDICES = {
    torch.ops.aten.max_pool1d_with_indices.default: torch.ops.aten.max_pool1d.default,
    torch.ops.aten.max_pool2d_with_indices.default: torch.ops.aten.max_pool2d.default,
    torch.ops.aten.max_pool3d_with_indices.default: torch.ops.aten.max_pool3d.default,
}

_INT64_MAX = 2**63 - 1


@dataclasses.dataclass(frozen=True, slots=True)
class Segments:
    """TensorRT engines and PyTorch segments (graph breaks) of a partitioned graph."""

    tensorrt: int
    pytorch: int


@dataclasses.dataclass(frozen=True, slots=True)
class Contraction:
    """Nodes our pass replaces by one op call, as Torch-TensorRT then sees them.

    Attributes:
        nodes: names of the replaced nodes (a region's), in graph order.
        inputs: names of the nodes the op call reads (the region body's inputs).
        outputs: names of the replaced nodes whose values the call returns; with more than
            one, each is read through a getitem of the call. With none, the call is dead code.
    """

    nodes: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.nodes:
            raise PartitionError("a contraction needs at least one node")


def predict_segments(
    gm: torch.fx.GraphModule,
    native: Mapping[str, bool],
    *,
    min_block_size: int = 5,
    contractions: Sequence[Contraction] = (),
    constants: Collection[str] = (),
) -> Segments:
    """How Torch-TensorRT's fast partitioner would split the graph.

    Args:
        gm: the graph (an ExportedProgram's or a post-lowering one); it is not changed.
        native: for each node Torch-TensorRT keeps, whether a converter takes it. Call nodes
            absent from it (runtime asserts and the size checks feeding only them) are removed
            by its lowering.
        min_block_size: Torch-TensorRT's setting: converted subgraphs with fewer nodes run in
            PyTorch.
        contractions: node sets replaced by one converted op call (the outlined regions).
        constants: placeholders holding parameters, buffers or constants, which Torch-TensorRT
            reads with get_attr (get_attr nodes are constants anyway).

    Returns:
        The predicted engines and PyTorch segments.

    Raises:
        PartitionError: a kept node reads a node absent from ``native``.
    """
    lowered = lowered_graph(gm, native, contractions=contractions, constants=constants)
    return partitioned_segments(lowered, min_block_size=min_block_size)


def partitioned_segments(lowered: torch.fx.GraphModule, *, min_block_size: int) -> Segments:
    """Torch-TensorRT's ``compile_module`` partitioning a lowered graph (see `lowered_graph`)."""
    calls = [n for n in lowered.graph.nodes if n.op == "call_function"]
    supported = sum(1 for n in calls if converts(n))
    # compile_module returns the graph unpartitioned when nothing converts: no submodule, the
    # whole graph in PyTorch, which we count as one PyTorch segment (as `lowering.segment_counts`
    # counts a module Torch-TensorRT returned unpartitioned).
    if supported == 0:
        return Segments(tensorrt=0, pytorch=1 if calls else 0)
    splitter = _TensorRTSplitter(
        lowered,
        min_block_size=min_block_size,
        skip_fusion=supported == len(calls),
    )
    try:
        subgraphs = splitter.remove_small_acc_subgraphs(splitter.put_nodes_into_subgraphs())
    except FxNetSplitterInternalError:
        logger.debug("the fast partitioner fails on this graph; Torch-TensorRT retries globally")
        return _global_segments(lowered, min_block_size=min_block_size)
    engines = sum(1 for s in subgraphs if s.is_acc)
    return Segments(tensorrt=engines, pytorch=len(subgraphs) - engines)


def converts(node: torch.fx.Node) -> bool:
    """Whether Torch-TensorRT converts a node of a lowered graph."""
    return bool(node.meta.get(_CONVERTS, False))


# --- the partitioner -----------------------------------------------------------------------------


class _VerdictSupport(OperatorSupportBase):
    """The verdicts recorded on a lowered graph, as the partitioner's operator support."""

    def is_node_supported(
        self, submodules: Mapping[str, torch.nn.Module], node: torch.fx.Node
    ) -> bool:
        return converts(node)


class _GlobalSupport(OperatorSupportBase):
    """As `_VerdictSupport`, and constants too: ``TorchTensorRTOperatorSupport`` supports
    get_attr nodes, which the global partitioner (unlike the fast one) puts in partitions."""

    def is_node_supported(
        self, submodules: Mapping[str, torch.nn.Module], node: torch.fx.Node
    ) -> bool:
        return converts(node) or _is_constant(node)


class _TensorRTSplitter(_SplitterBase):
    """``TRTPartitioner`` of ``_adjacency_partitioner.py``, up to its subgraph list.

    Its ``__init__`` is mirrored rather than inherited, as TRTPartitioner's is: ``_SplitterBase``
    runs ShapeProp on sample inputs, reads its settings from ``sys.argv`` and lets the fusion
    finder shrink the converted set. TRTPartitioner hands the fusion finder a copy of that set,
    so a fusion group holding a PyTorch node is dropped while its converted nodes still convert.
    """

    def __init__(self, gm: torch.fx.GraphModule, *, min_block_size: int, skip_fusion: bool) -> None:
        self.module = gm
        self.operator_support = _VerdictSupport()
        self.min_block_size = min_block_size
        # allow_non_tensor=True, as TRTPartitioner's settings: non-tensor values may cross.
        self.acc_nodes = FxNetAccNodesFinder(gm, self.operator_support, True)()
        self.fusions = {} if skip_fusion else FxNetAccFusionsFinder(gm, set(self.acc_nodes))()
        self.deps = self.find_deps()
        self.update_deps_for_fusions()

    def starter_nodes(self) -> tuple[NodeSet, NodeSet]:
        # TRTPartitioner.starter_nodes: every call node starts in its side's queue, where
        # _SplitterBase starts from the users of placeholders and get_attrs only.
        calls = [n for n in self.module.graph.nodes if n.op in CALLABLE_NODE_OPS]
        return {n for n in calls if n not in self.acc_nodes}, {
            n for n in calls if n in self.acc_nodes
        }

    def remove_small_acc_subgraphs(self, subgraphs: list[Subgraph]) -> list[Subgraph]:
        # TRTPartitioner.remove_small_acc_subgraphs: _SplitterBase's (which prints), plus
        # require_full_compilation and allowed_single_node_partition_ops, both off in
        # fast_partition. Subgraphs alternate, so a converted one too small for an engine joins
        # the PyTorch subgraph before it, or becomes PyTorch when it comes first.
        result: list[Subgraph] = []
        for subgraph in subgraphs:
            if subgraph.is_acc and len(subgraph.nodes) >= self.min_block_size:
                result.append(subgraph)
            elif result and (subgraph.is_acc or not result[-1].is_acc):
                result[-1].nodes.extend(subgraph.nodes)
            else:
                result.append(Subgraph(is_acc=False, nodes=list(subgraph.nodes)))
        return result


def _global_segments(lowered: torch.fx.GraphModule, *, min_block_size: int) -> Segments:
    """``_global_partitioner.partition``: its TRTPartitioner over CapabilityBasedPartitioner."""
    partitioner = CapabilityBasedPartitioner(
        lowered, _GlobalSupport(), allows_single_node_partition=True
    )
    partitions = partitioner.propose_partitions()
    # Its propose_partitions drops partitions of fewer than min_block_size nodes, not counting
    # getitems (it also exempts "torch.ops.aten.view", a name no OpOverload has).
    engines = sum(
        1
        for p in partitions
        if sum(1 for n in p.nodes if n.op == "call_function" and n.target is not operator.getitem)
        >= min_block_size
    )
    # fuse_partitions makes only "_run_on_acc" submodules; PyTorch nodes stay in the top graph,
    # which counts as one PyTorch segment only when there is no engine at all (as above).
    return Segments(tensorrt=engines, pytorch=0 if engines else 1)


# --- the graph Torch-TensorRT partitions ---------------------------------------------------------

# Placeholders standing for what Torch-TensorRT reads with get_attr: parameters, buffers,
# constants, and what its constant folding made constant.
_CONSTANT = "trt_autoplugin_constant"


def lowered_graph(
    gm: torch.fx.GraphModule,
    native: Mapping[str, bool],
    *,
    contractions: Sequence[Contraction] = (),
    constants: Collection[str] = (),
) -> torch.fx.GraphModule:
    """A copy of the graph as Torch-TensorRT's partitioner would get it; `converts` tells each
    node's verdict. Arguments as for `predict_segments`.

    Mirrors, in Torch-TensorRT's order (2.13's ``_aten_lowering_pass.py``; our pass runs after
    ``remove_num_users_is_0_nodes``, but outlining first changes nothing below):

    * ``remove_detach`` (pre-lowering): a detach is its input;
    * ``remove_assert_nodes``: nodes absent from ``native`` are gone;
    * our pass: a contraction is one converted call, read through a getitem per output when it
      has several (``outline._replace_region``);
    * ``remove_input_alias_fixing_clones``, ``constant_fold``, ``replace_max_pool_with_indices``,
      ``remove_num_users_is_0_nodes``, ``eliminate_sym_min_int64_max`` (2.13 on), and the
      partitioner's own ``eliminate_dead_code``.

    Not mirrored: ``repair_input_as_output`` (its ``get_tensor_placeholders`` wants a
    ``node.type``, which an exported graph's placeholders lack, so it never fires there);
    ``replace_fused_rms_norm`` (the decompositions leave no ``_fused_rms_norm``);
    ``fuse_prims_broadcast`` (``prims.sum`` read only by ``prims.broadcast_in_dim`` becomes one
    ``aten.sum``: one node fewer); the complex rewrite (``complex_graph_detection``, 2.14's
    ``complex_lowering_pass``), whose nodes the verdicts already judge; the attention and
    distributed passes, which change arguments, not nodes. 2.14 adds
    ``fuse_pad_into_convolution`` and ``decompose_dynamic_slice_scatter``, not mirrored either;
    2.11 and 2.12 lack ``eliminate_sym_min_int64_max``.

    Raises:
        PartitionError: a kept node reads a node absent from ``native``.
    """
    lowered = _copied_graph(gm, native, contractions, frozenset(constants))
    graph = lowered.graph
    _remove_input_alias_fixing_clones(graph)
    _fold_constants(lowered)
    _replace_max_pool_with_indices(graph)
    _remove_unused(graph)
    _eliminate_sym_min_int64_max(graph)
    graph.eliminate_dead_code()
    return lowered


def _copied_graph(
    gm: torch.fx.GraphModule,
    native: Mapping[str, bool],
    contractions: Sequence[Contraction],
    constants: frozenset[str],
) -> torch.fx.GraphModule:
    """The kept nodes, each contraction as one call at its last node, in a stable topological
    order (a call may come after a reader of an earlier region output)."""
    graph = torch.fx.Graph()
    copy = _Copy(graph, {n.name: n for n in gm.graph.nodes})
    last = {c.nodes[-1]: c for c in contractions}
    inside = {name for c in contractions for name in c.nodes}
    for node in gm.graph.nodes:
        if node.name in last:
            copy.contract(last[node.name])
        elif node.name not in inside:
            copy.add(node, native, constants)
    copy.connect()
    # gm as the root: the copy's call_module nodes (``_guards_fn``) need their modules.
    lowered = torch.fx.GraphModule(gm, graph)
    if not _is_topological(graph):
        stable_topological_sort(lowered)
    return lowered


class _Copy:
    """Builds the copy in two steps, nodes in graph order and then their arguments: a
    contraction's call goes where its last node was, after nodes that may read its earlier
    outputs (the caller then sorts the copy)."""

    def __init__(self, graph: torch.fx.Graph, by_name: Mapping[str, torch.fx.Node]) -> None:
        self.graph = graph
        self.by_name = by_name
        self.env: dict[str, torch.fx.Node] = {}  # original name -> copy
        self.aliases: dict[str, str] = {}  # a removed detach -> its input
        self.dropped: set[str] = set()
        self.arguments: list[tuple[torch.fx.Node, tuple[Any, ...], dict[str, Any]]] = []

    def add(
        self, node: torch.fx.Node, native: Mapping[str, bool], constants: frozenset[str]
    ) -> None:
        if node.op in ("placeholder", "get_attr"):
            copied = self.graph.placeholder(node.name)
            copied.meta = {**node.meta, _CONSTANT: node.op == "get_attr" or node.name in constants}
        elif node.op == "output":
            copied = self.graph.output(())
            self.arguments.append((copied, node.args, node.kwargs))
        elif node.target is torch.ops.aten.detach.default:
            self.aliases[node.name] = node.all_input_nodes[0].name
            return
        elif node.name not in native:
            self.dropped.add(node.name)
            return
        else:
            copied = self.graph.create_node(node.op, node.target, name=node.name)
            copied.meta = {**node.meta, _CONVERTS: native[node.name]}
            self.arguments.append((copied, node.args, node.kwargs))
        self.env[node.name] = copied

    def contract(self, contraction: Contraction) -> None:
        outputs = [self.by_name[name] for name in contraction.outputs]
        values = [o.meta.get("val") for o in outputs]
        call = self.graph.call_function(_outlined_region)
        # outline._merged_meta: the call carries no tensor_meta, so the fusion finder takes it
        # for a node with non-tensor output; each getitem copies its output's meta.
        call.meta = {"val": values[0] if len(values) == 1 else tuple(values), _CONVERTS: True}
        inputs = tuple(self.by_name[name] for name in contraction.inputs)
        self.arguments.append((call, inputs, {}))
        if len(outputs) == 1:
            self.env[outputs[0].name] = call
            return
        for i, output in enumerate(outputs):
            item = self.graph.call_function(operator.getitem, (call, i))
            item.meta = {**output.meta, _CONVERTS: True}
            self.env[output.name] = item

    def connect(self) -> None:
        for copied, args, kwargs in self.arguments:
            copied.args = torch.fx.map_arg(args, self.copy_of)
            copied.kwargs = torch.fx.map_arg(kwargs, self.copy_of)

    def copy_of(self, node: torch.fx.Node) -> torch.fx.Node:
        name = node.name
        while name in self.aliases:
            name = self.aliases[name]
        if name in self.dropped:
            raise PartitionError(
                f"{describe_node(self.by_name[name])} has no verdict (as a node Torch-TensorRT "
                "removes), yet a node it keeps reads it"
            )
        return self.env[name]


def _outlined_region(*args: object) -> object:
    """Stands for a region's op in the lowered graph; never called."""
    raise PartitionError("the lowered graph is for partitioning only; it does not run")


def _is_topological(graph: torch.fx.Graph) -> bool:
    seen: set[torch.fx.Node] = set()
    for node in graph.nodes:
        if any(arg not in seen for arg in node.all_input_nodes):
            return False
        seen.add(node)
    return True


def _is_constant(node: torch.fx.Node) -> bool:
    return node.op == "placeholder" and bool(node.meta.get(_CONSTANT, False))


def _remove_input_alias_fixing_clones(graph: torch.fx.Graph) -> None:
    # remove_input_alias_fixing_clones: a clone that is an input's only user goes. Torch-TensorRT
    # reads constants with get_attr, so only inputs count (a constant's clone folds anyway).
    for node in list(graph.nodes):
        if node.op != "placeholder" or _is_constant(node) or len(node.users) != 1:
            continue
        (clone,) = node.users
        if clone.target is torch.ops.aten.clone.default:
            clone.replace_all_uses_with(node)
            graph.erase_node(clone)


def _fold_constants(lowered: torch.fx.GraphModule) -> None:
    """``constant_fold``: Inductor's ConstantFolder, constructors included, without values.

    Torch-TensorRT runs it on the real parameters; here ConstantFolder's own
    ``lifted_constant_names`` mode marks what would fold. A folded node becomes a constant.
    """
    graph = lowered.graph
    names = [n.name for n in graph.nodes if _is_constant(n)]
    folder = _constant_folder_class()(lowered, skip_constructors=False, lifted_constant_names=names)
    folder.run()
    first = next(iter(graph.nodes))
    for node in list(folder.node_replacements):
        with graph.inserting_before(first):
            constant = graph.placeholder(f"{node.name}_folded")
        constant.meta = {**node.meta, _CONSTANT: True}
        node.replace_all_uses_with(constant)
        graph.erase_node(node)


# A constant that is no tensor (a tuple, an int): what reads it may fold, it stays a node.
_NOT_A_TENSOR = object()


@functools.cache
def _constant_folder_class() -> type:
    # Imported on first use: torch._inductor takes seconds to import, and `import
    # trt_autoplugin` must stay quick.
    from torch._inductor.constant_folding import ConstantFolder

    class TensorRTConstantFolder(ConstantFolder):
        """``_TorchTensorRTConstantFolder`` of ``constant_folding.py``, run without values."""

        def is_impure(self, node: torch.fx.Node) -> bool:
            # Torch-TensorRT's override: everything folds (Inductor keeps some quantization
            # patterns) but modelopt's quantize ops. In 2.14 nodes marked by constant-fold
            # exclusion rules stay too; it registers none itself.
            return node.target in _modelopt_quantize_ops()

        def _deduce_value(self, node: torch.fx.Node) -> object:
            # The base marks every node reading only constants foldable. Torch-TensorRT runs
            # real values, and ConstantFolder replaces (and counts the uses of) tensor results
            # only: a tuple or int result stays a node, though what reads it may fold.
            args = torch.utils._pytree.arg_tree_leaves(*node.args, **node.kwargs)
            for arg in args:
                if not isinstance(arg, torch.fx.Node) or arg.name in self.lifted_constant_names:
                    continue
                value = self.env[arg]
                if value is not self.deferred_value and value is not _NOT_A_TENSOR:
                    return self.unknown_value
            if isinstance(node.meta.get("val"), torch.Tensor):
                return self.deferred_value
            return _NOT_A_TENSOR

    return TensorRTConstantFolder


def _modelopt_quantize_ops() -> frozenset[object]:
    # Registered only once modelopt is imported, which is how Torch-TensorRT finds them too.
    namespace = torch.ops.tensorrt
    packets = [getattr(namespace, n, None) for n in ("quantize_op", "dynamic_block_quantize_op")]
    return frozenset(p.default for p in packets if p is not None)


def _replace_max_pool_with_indices(graph: torch.fx.Graph) -> None:
    # replace_max_pool_with_indices: a max_pool*_with_indices read only through getitem 0
    # becomes the plain max_pool, which takes the node's meta (so no tensor_meta either). The
    # verdicts know the node before: whether the plain op converts is decided here.
    for node in list(graph.nodes):
        plain = _MAX_POOL_WITHOUT_INDICES.get(node.target)
        if plain is None or len(node.users) != 1:
            continue
        (item,) = node.users
        if item.target is not operator.getitem or item.args[1] != 0:
            continue
        with graph.inserting_after(item):
            fused = graph.call_function(plain, node.args, node.kwargs)
        fused.meta = {**node.meta, "val": node.meta["val"][0], _CONVERTS: _max_pool_converts(fused)}
        item.replace_all_uses_with(fused)
        graph.erase_node(item)
        graph.erase_node(node)


def _max_pool_converts(node: torch.fx.Node) -> bool:
    # max_pool_param_validator (aten_ops_converters.py, the same in 2.11-2.14) refuses an
    # explicit dilation, compared with the int 1 (so even [1, 1] is refused), and ceil_mode.
    args = node.args
    dilation = args[4] if len(args) > 4 and args[4] is not None else 1
    ceil_mode = args[5] if len(args) > 5 and args[5] is not None else False
    return dilation == 1 and ceil_mode is False


def _remove_unused(graph: torch.fx.Graph) -> None:
    # remove_num_users_is_0_nodes: one backward sweep, impure nodes included, but not nodes
    # without inputs.
    for node in reversed(list(graph.nodes)):
        if node.op != "output" and not node.users and node.all_input_nodes:
            graph.erase_node(node)


def _eliminate_sym_min_int64_max(graph: torch.fx.Graph) -> None:
    # eliminate_sym_min_int64_max (2.13 on): sym_min(s, INT64_MAX) is s.
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target is not torch.sym_min or len(node.args) < 2:
            continue
        left, right = node.args[:2]
        if _is_int64_max(right) and isinstance(left, torch.fx.Node):
            node.replace_all_uses_with(left)
            graph.erase_node(node)
        elif _is_int64_max(left) and isinstance(right, torch.fx.Node):
            node.replace_all_uses_with(right)
            graph.erase_node(node)


def _is_int64_max(value: object) -> bool:
    return isinstance(value, int) and value in (sys.maxsize, _INT64_MAX)
