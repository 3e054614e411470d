"""The support oracle: which nodes does Torch-TensorRT convert natively?

Three oracles answer the same question:

* :class:`TorchTensorRTSupport` asks Torch-TensorRT's own converter registry, as its partitioner
  does (live; needs ``torch_tensorrt`` and therefore TensorRT).
* :class:`SnapshotSupport` predicts the answer from a JSON snapshot of a Torch-TensorRT release's
  registry shipped in this package (offline; used when ``torch_tensorrt`` does not import). One
  ships per supported release; ``trt_autoplugin.snapshot`` chooses it by what is installed.
* :class:`OpSetSupport` forces ops into plugins or keeps them native, alone or over another oracle.

Analysis is pure: :func:`support_report` takes a graph and returns verdicts, touching nothing.
"""

import ast
import dataclasses
import enum
import operator
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import torch
import torch.fx
from torch.fx.experimental.symbolic_shapes import free_symbols

from .errors import SupportError
from .graph import (
    REGION_NAMESPACE,
    describe_node,
    has_complex_values,
    target_name,
    tensor_values,
)
from .probes import is_torch_tensorrt_available
from .snapshot import (
    SnapshotChoice,
    SnapshotRule,
    default_snapshot_choice,
    load_snapshot,
    snapshot_decompositions,
    snapshot_versions,
)
from .torch_tensorrt_registry import CompilationSettingsLike, LiveRegistry

# Nodes Torch-TensorRT's lowering removes before partitioning (remove_assert_nodes) or that carry
# no computation; they never split an engine, so they count as neither side.
_IGNORED_TARGETS: frozenset[object] = frozenset(
    {
        torch.ops.aten._assert_scalar.default,
        torch.ops.aten._assert_tensor_metadata.default,
        torch.ops.aten.sym_constrain_range_for_size.default,
        torch.ops.aten.sym_constrain_range.default,
    }
)


class Verdict(enum.Enum):
    """How a node will be handled by Torch-TensorRT."""

    NATIVE = "native"  # a converter accepts it
    UNSUPPORTED = "unsupported"  # no converter: a graph break unless outlined
    IGNORED = "ignored"  # removed by Torch-TensorRT's lowering or not an op (placeholder, output)


@dataclasses.dataclass(frozen=True, slots=True)
class NodeSupport:
    """One node's verdict and why."""

    verdict: Verdict
    reason: str
    # Native only if Torch-TensorRT agrees when compiling: a capability validator (snapshot) or
    # its complex rewrite (complex chains).
    conditional: bool = False

    @property
    def is_native(self) -> bool:
        return self.verdict is Verdict.NATIVE


@runtime_checkable
class SupportOracle(Protocol):
    """Answers, node by node, whether Torch-TensorRT converts it natively."""

    @property
    def description(self) -> str:
        """Who answers, for the report.

        E.g. 'snapshot of Torch-TensorRT 2.13.0 (chosen by torch 2.13.0; predicted)'.
        """
        ...

    def node_support(self, node: torch.fx.Node) -> NodeSupport:
        """The verdict for one call_function node."""
        ...

    def decompositions(self) -> Mapping[Any, Callable[..., Any]]:
        """The decomposition table Torch-TensorRT applies before conversion."""
        ...


def has_dynamic_shapes(node: torch.fx.Node) -> bool:
    """Torch-TensorRT's ``node_has_dynamic_shapes``: symbolic sizes on the node or its inputs."""
    values = tensor_values(node.meta.get("val"))
    for arg in node.all_input_nodes:
        values.extend(tensor_values(arg.meta.get("val")))
    return any(free_symbols(v.shape) for v in values)


def is_ignored(node: torch.fx.Node) -> bool:
    """Placeholders, outputs and the assert nodes Torch-TensorRT removes before partitioning."""
    return node.op in ("placeholder", "output") or node.target in _IGNORED_TARGETS


class SnapshotSupport:
    """Predicts Torch-TensorRT's answers from a shipped snapshot of its converter registry.

    Mirrors ``DYNAMO_CONVERTERS.__getitem__`` and the release's ``TorchTensorRTOperatorSupport``:
    ``torch_executed_ops`` forces Torch; a converter without dynamic-shape support is skipped for
    a node with symbolic sizes; complex tensors and ``fallback_data_dependent_ops`` are handled
    as the snapshot records that release doing (``snapshot.OperatorSupportChecks``). A converter
    gated by a capability validator can't be evaluated offline: its nodes are predicted native
    and flagged ``conditional``.

    Args:
        version: Torch-TensorRT version of the snapshot; None chooses by what is installed
            (``snapshot.choose_snapshot``), and :attr:`description` says which and why.
        torch_executed_ops: ops (or their names) to keep in Torch, as in ``CompilationSettings``.
        assume_dynamic_shape_support: as in ``CompilationSettings``.
        fallback_data_dependent_ops: as in ``CompilationSettings`` (Torch-TensorRT 2.13 on).

    Raises:
        SupportError: no snapshot ships for ``version`` (the message lists those that do), or
            ``fallback_data_dependent_ops`` is set for a release without that setting.
    """

    def __init__(
        self,
        version: str | None = None,
        *,
        torch_executed_ops: Collection[object] = (),
        assume_dynamic_shape_support: bool = False,
        fallback_data_dependent_ops: bool = False,
    ) -> None:
        self.choice = (
            default_snapshot_choice()
            if version is None
            else SnapshotChoice(version, SnapshotRule.REQUESTED, "chosen explicitly")
        )
        self.snapshot = load_snapshot(self.choice.version)
        if fallback_data_dependent_ops and not (
            self.snapshot.operator_support.honors_fallback_data_dependent_ops
        ):
            honoring = [
                v
                for v in snapshot_versions()
                if load_snapshot(v).operator_support.honors_fallback_data_dependent_ops
            ]
            raise SupportError(
                f"Torch-TensorRT {self.snapshot.version} has no fallback_data_dependent_ops "
                "setting (2.13 added it); drop the option or choose a snapshot that has it: "
                f"{', '.join(honoring) or 'none ships'}"
            )
        self.torch_executed_ops = frozenset(
            op if isinstance(op, str) else target_name(op) for op in torch_executed_ops
        )
        self.assume_dynamic_shape_support = assume_dynamic_shape_support
        self.fallback_data_dependent_ops = fallback_data_dependent_ops

    @property
    def description(self) -> str:
        return (
            f"snapshot of Torch-TensorRT {self.snapshot.version} ({self.choice.because}; predicted)"
        )

    def decompositions(self) -> Mapping[Any, Callable[..., Any]]:
        return snapshot_decompositions(self.snapshot)

    def node_support(self, node: torch.fx.Node) -> NodeSupport:
        if node.op == "get_attr":
            return NodeSupport(Verdict.NATIVE, "get_attr")
        name = target_name(node.target)
        is_complex = has_complex_values(node)
        # Per release, from the snapshot: 2.12 on reject complex nodes before the registry
        # lookup; 2.11 hands them to their converter like any other node.
        if is_complex and self.snapshot.operator_support.rejects_complex_dtypes:
            return NodeSupport(
                Verdict.UNSUPPORTED, "complex tensors (TensorRT has no complex type)"
            )
        if name in self.torch_executed_ops:
            return NodeSupport(Verdict.UNSUPPORTED, "listed in torch_executed_ops")
        if name in self.snapshot.default_torch_tensorrt_decompositions:
            return NodeSupport(Verdict.NATIVE, "decomposed by Torch-TensorRT before conversion")
        support = self._converter_support(node, name)
        if is_complex and support.is_native:
            note = f"Torch-TensorRT {self.snapshot.version} does not reject complex tensors"
            return dataclasses.replace(support, reason=f"{support.reason}; {note}")
        return support

    def _converter_support(self, node: torch.fx.Node, name: str) -> NodeSupport:
        entries = [e for e in self.snapshot.converters.get(name, ()) if e.enabled]
        if not entries:
            return NodeSupport(Verdict.UNSUPPORTED, f"no converter for {name}")
        dynamic = has_dynamic_shapes(node) and not self.assume_dynamic_shape_support
        usable = [e for e in entries if not dynamic or e.supports_dynamic_shapes]
        if not usable:
            return NodeSupport(
                Verdict.UNSUPPORTED,
                f"the converter for {name} does not support dynamic shapes",
            )
        # Validators that read only the node's metadata are evaluated here; an entry whose
        # validator rejects the node is not the one DYNAMO_CONVERTERS selects.
        verdicts = [(e, offline_validator_verdict(e.validator, node)) for e in usable]
        usable = [e for e, verdict in verdicts if verdict is not False]
        if not usable:
            return NodeSupport(Verdict.UNSUPPORTED, f"every converter's validator rejects {name}")
        # The partitioner asks whether the converter DYNAMO_CONVERTERS selects needs an output
        # allocator: the first usable entry, unless its validator (unknown here) rejects the node.
        if self.fallback_data_dependent_ops and usable[0].requires_output_allocator:
            return NodeSupport(
                Verdict.UNSUPPORTED,
                f"the converter for {name} needs an output allocator and "
                "fallback_data_dependent_ops runs such nodes in PyTorch",
            )
        if any(e.validator is None or verdict for e, verdict in verdicts):
            return NodeSupport(Verdict.NATIVE, "converter")
        validators = ", ".join(sorted({e.validator or "" for e in usable}))
        return NodeSupport(Verdict.NATIVE, f"converter if {validators} accepts it", True)


def _index_tensors(node: torch.fx.Node) -> list[torch.Tensor]:
    indices = node.args[1] if len(node.args) > 1 and isinstance(node.args[1], list | tuple) else []
    values = [i.meta.get("val") for i in indices if isinstance(i, torch.fx.Node)]
    return [v for v in values if isinstance(v, torch.Tensor)]


# Torch-TensorRT's capability validators that read only node metadata, as it writes them
# (aten_ops_converters.py): a snapshot evaluates these instead of calling the entry conditional.
_OFFLINE_VALIDATORS: Mapping[str, Callable[[torch.fx.Node], bool]] = {
    "index_dtype_validator": lambda node: all(
        v.dtype in (torch.int32, torch.int64, torch.bool) for v in _index_tensors(node)
    ),
    "index_has_bool_indices": lambda node: any(v.dtype == torch.bool for v in _index_tensors(node)),
    # Refuses boolean indices on TensorRT-RTX only, which a snapshot does not model.
    "index_nonbool_validator": lambda node: True,
}


def offline_validator_verdict(validator: str | None, node: torch.fx.Node) -> bool | None:
    """A snapshot converter entry's validator evaluated on the node, when it is a boolean
    combination of `_OFFLINE_VALIDATORS` (``lambda node, settings: a(node, settings) and not
    b(node, settings)``); None when it reads anything else (or is absent)."""
    if validator is None:
        return None
    try:
        expression = ast.parse(validator, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(expression, ast.Lambda):
        expression = expression.body
    return _evaluated(expression, node)


def _evaluated(expression: ast.expr, node: torch.fx.Node) -> bool | None:
    if isinstance(expression, ast.BoolOp):
        values = [_evaluated(v, node) for v in expression.values]
        if any(v is None for v in values):
            return None
        return all(values) if isinstance(expression.op, ast.And) else any(values)
    if isinstance(expression, ast.UnaryOp) and isinstance(expression.op, ast.Not):
        value = _evaluated(expression.operand, node)
        return None if value is None else not value
    if isinstance(expression, ast.Call) and isinstance(expression.func, ast.Name):
        check = _OFFLINE_VALIDATORS.get(expression.func.id)
        return None if check is None else bool(check(node))
    return None


class TorchTensorRTSupport:
    """Asks Torch-TensorRT's live converter registry, exactly as its partitioner does.

    Args:
        settings: a ``torch_tensorrt.dynamo.CompilationSettings``; default settings when None.

    Raises:
        MissingDependencyError: ``torch_tensorrt`` does not import (no TensorRT).
    """

    def __init__(self, settings: CompilationSettingsLike | None = None) -> None:
        self._backend = LiveRegistry(settings)

    @property
    def fallback_data_dependent_ops(self) -> bool:
        """The setting (2.13 on; False before), which also refuses data-dependent regions."""
        return bool(getattr(self._backend.settings, "fallback_data_dependent_ops", False))

    @property
    def description(self) -> str:
        return f"Torch-TensorRT {self._backend.version} converter registry (live)"

    def decompositions(self) -> Mapping[Any, Callable[..., Any]]:
        return self._backend.decompositions()

    def node_support(self, node: torch.fx.Node) -> NodeSupport:
        if self._backend.is_node_supported(node):
            return NodeSupport(Verdict.NATIVE, "converter")
        return NodeSupport(Verdict.UNSUPPORTED, self._backend.unsupported_reason(node))


OpLike = torch._ops.OpOverload | torch._ops.OpOverloadPacket | str | Callable[..., Any]


def _op_names(ops: Iterable[OpLike]) -> frozenset[str]:
    return frozenset(op if isinstance(op, str) else target_name(op) for op in ops)


class OpSetSupport:
    """Explicit answers: ops forced into plugins, ops kept native, or any ``node -> bool``.

    Overrides ``base`` where it has an answer. Ops are OpOverloads, packets (matching every
    overload) or their names ('aten.lgamma.default', 'aten.lgamma').

    Args:
        supported: ops kept native.
        unsupported: ops forced into plugins.
        predicate: called for nodes not listed; True means native.
        base: the oracle for everything else; without one, unlisted nodes are native.

    Examples:
        >>> OpSetSupport(unsupported=[torch.ops.aten.erf], base=SnapshotSupport())
    """

    def __init__(
        self,
        *,
        supported: Iterable[OpLike] = (),
        unsupported: Iterable[OpLike] = (),
        predicate: Callable[[torch.fx.Node], bool] | None = None,
        base: SupportOracle | None = None,
    ) -> None:
        self.supported = _op_names(supported)
        self.unsupported = _op_names(unsupported)
        self.predicate = predicate
        self.base = base

    @property
    def description(self) -> str:
        base = f" over {self.base.description}" if self.base is not None else ""
        return f"explicit op sets{base}"

    def decompositions(self) -> Mapping[Any, Callable[..., Any]]:
        return self.base.decompositions() if self.base is not None else {}

    def node_support(self, node: torch.fx.Node) -> NodeSupport:
        names = {target_name(node.target)}
        overload_packet = getattr(node.target, "overloadpacket", None)
        if overload_packet is not None:
            names.add(target_name(overload_packet))
        if names & self.unsupported:
            return NodeSupport(Verdict.UNSUPPORTED, "forced into a plugin (OpSetSupport)")
        if names & self.supported:
            return NodeSupport(Verdict.NATIVE, "kept native (OpSetSupport)")
        if self.predicate is not None:
            if self.predicate(node):
                return NodeSupport(Verdict.NATIVE, "predicate says native")
            return NodeSupport(Verdict.UNSUPPORTED, "predicate says unsupported")
        if self.base is not None:
            return self.base.node_support(node)
        return NodeSupport(Verdict.NATIVE, "not listed (OpSetSupport)")


def default_support() -> SupportOracle:
    """The live registry when ``torch_tensorrt`` imports, else a shipped snapshot.

    The snapshot is the installed torch_tensorrt's release if one ships, else torch's
    (:func:`trt_autoplugin.snapshot.choose_snapshot`); the oracle's description says which.
    """
    if is_torch_tensorrt_available():
        return TorchTensorRTSupport()
    return SnapshotSupport()


def as_oracle(support: SupportOracle | Callable[[torch.fx.Node], bool] | None) -> SupportOracle:
    """Normalizes the ``support=`` argument of the public API."""
    if support is None:
        return default_support()
    if isinstance(support, SupportOracle):
        return support
    if callable(support):
        return OpSetSupport(predicate=support)
    raise SupportError(
        f"support must be a SupportOracle or a node -> bool callable, not {support!r}"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class SupportReport:
    """Every node's verdict, by node name, in graph order."""

    oracle: str
    verdicts: Mapping[str, NodeSupport]

    def unsupported(self) -> tuple[str, ...]:
        return tuple(n for n, v in self.verdicts.items() if v.verdict is Verdict.UNSUPPORTED)


# The namespace of the region ops outlining creates (``trt_autoplugin::region_<hash>``).
def is_region_op(target: object) -> bool:
    """Whether a node target is a region op of an already rewritten program.

    Such an op becomes a plugin when compiled (the lowering pass registers its converter; a
    saved set's `load_plugins` does too), so analysing a rewritten program again counts it as
    native instead of outlining it a second time.
    """
    return isinstance(target, torch._ops.OpOverload) and target.namespace == REGION_NAMESPACE


def support_report(gm: torch.fx.GraphModule, oracle: SupportOracle) -> SupportReport:
    """Asks the oracle about every node of the graph. Pure: the graph is not changed.

    Complex chains are then decided whole, whatever the oracle said about their nodes (see
    `complex_chains`): a chain holding a node no converter takes even on real tensors (an FFT)
    is UNSUPPORTED throughout, so it is outlined into one plugin; any other chain is NATIVE
    (``conditional``), left to Torch-TensorRT's ``complex_graph_detection`` rewrite.

    Raises:
        SupportError: the oracle failed on a node (the message names it).
    """
    verdicts: dict[str, NodeSupport] = {}
    for node in gm.graph.nodes:
        if is_ignored(node):
            verdicts[node.name] = NodeSupport(Verdict.IGNORED, "not an op Torch-TensorRT converts")
        elif node.op == "get_attr":
            verdicts[node.name] = NodeSupport(Verdict.NATIVE, "get_attr")
        elif node.op == "call_function" and node.target is operator.getitem:
            verdicts[node.name] = _getitem_support(node, verdicts)
        elif is_region_op(node.target):
            verdicts[node.name] = NodeSupport(
                Verdict.NATIVE, "a trt_autoplugin region op: its converter adds the plugin"
            )
        else:
            try:
                verdicts[node.name] = oracle.node_support(node)
            except (RuntimeError, TypeError, ValueError, KeyError) as e:
                raise SupportError(f"{oracle.description} failed on {describe_node(node)}") from e
    _decide_complex_chains(gm, verdicts, oracle)
    _ignore_assert_inputs(gm, verdicts)
    return SupportReport(oracle.description, verdicts)


def _ignore_assert_inputs(gm: torch.fx.GraphModule, verdicts: dict[str, NodeSupport]) -> None:
    # Size checks (sym_size -> ge -> _assert_scalar) vanish with the asserts Torch-TensorRT
    # removes; walking backwards catches whole chains in one pass. The output node is ignored
    # too, but a value the program returns survives the asserts' removal: it keeps its verdict.
    for node in reversed(gm.graph.nodes):
        if node.op != "call_function" or isinstance(node.meta.get("val"), torch.Tensor):
            continue
        users = list(node.users)
        if users and all(
            u.op != "output" and verdicts[u.name].verdict is Verdict.IGNORED for u in users
        ):
            verdicts[node.name] = NodeSupport(Verdict.IGNORED, "only feeds removed runtime asserts")


def _getitem_support(node: torch.fx.Node, verdicts: Mapping[str, NodeSupport]) -> NodeSupport:
    # A getitem follows its producer: it unpacks a multi-output op and must stay with it.
    producer = node.args[0]
    if isinstance(producer, torch.fx.Node) and producer.name in verdicts:
        parent = verdicts[producer.name]
        return NodeSupport(parent.verdict, f"unpacks {producer.name}", parent.conditional)
    return NodeSupport(Verdict.NATIVE, "getitem")


# --- complex chains -----------------------------------------------------------------------------
#
# TensorRT has no complex type. Torch-TensorRT's ``complex_graph_detection`` lowering pass rewrites
# complex arithmetic into real arithmetic on a [..., 2] layout, but it can't rewrite an op that
# has no converter even on real tensors (an FFT), and a complex tensor can cross neither an engine
# boundary nor a plugin's. Releases also disagree node by node (2.13 rejects every complex node,
# 2.11 accepts a complex ``slice`` or ``mul``). So complex nodes are decided per chain, whatever
# the oracle says about each: a chain with a node no converter takes even ignoring complexity is
# outlined whole (every node UNSUPPORTED); any other chain is left to Torch-TensorRT's complex
# rewrite, and its nodes are predicted NATIVE, flagged ``conditional`` since the rewrite needs a
# rule for each op (2.13 sends an op without one to PyTorch).

# Ops that only move between a complex tensor and its real [..., 2] layout: every release's
# complex_graph_detection (2.11 on) erases them, so on real tensors they need no converter. A
# getitem follows its producer.
_COMPLEX_LAYOUT_TARGETS: frozenset[object] = frozenset(
    {
        torch.ops.aten.view_as_complex.default,
        torch.ops.aten.view_as_real.default,
        operator.getitem,
    }
)

_REWRITTEN = (
    "complex: Torch-TensorRT's complex_graph_detection rewrites its chain into real arithmetic"
)


def carries_complex(node: torch.fx.Node) -> bool:
    """Whether the node's own value is (or holds) a complex tensor."""
    return any(v.dtype.is_complex for v in tensor_values(node.meta.get("val")))


def complex_chains(gm: torch.fx.GraphModule) -> list[list[torch.fx.Node]]:
    """The graph's complex chains, each in graph order, ordered by their first node.

    A chain is a connected set of call_function nodes that read or produce complex tensors,
    joined where one hands a complex tensor to the other. Parameters and constants join nothing:
    they enter each chain's plugin as real views (`outline.region_body`).
    """
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    members = {
        n: None
        for n in gm.graph.nodes
        if n.op == "call_function" and not is_ignored(n) and has_complex_values(n)
    }
    chains: list[list[torch.fx.Node]] = []
    seen: set[torch.fx.Node] = set()
    for start in members:
        if start in seen:
            continue
        seen.add(start)
        chain, stack = [], [start]
        while stack:
            node = stack.pop()
            chain.append(node)
            for other in _complex_neighbours(node, members):
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        chains.append(sorted(chain, key=order.__getitem__))
    return chains


def _complex_neighbours(
    node: torch.fx.Node, members: Mapping[torch.fx.Node, None]
) -> list[torch.fx.Node]:
    inputs = [a for a in node.all_input_nodes if a in members and carries_complex(a)]
    users = [u for u in node.users if u in members] if carries_complex(node) else []
    return inputs + users


def real_twin(node: torch.fx.Node) -> torch.fx.Node:
    """The node as an oracle would see it if its complex tensors were real.

    A copy of the node in a scratch graph, its inputs placeholders, where every complex value
    (its own and its inputs') is a real tensor of the same shape and device. The node's own
    graph is not touched.
    """
    graph = torch.fx.Graph()
    env: dict[torch.fx.Node, torch.fx.Node] = {}
    for arg in node.all_input_nodes:
        env[arg] = graph.placeholder(arg.name)
        env[arg].meta = _real_meta(arg.meta)
    twin = graph.node_copy(node, env.__getitem__)
    twin.meta = _real_meta(node.meta)
    graph.output(twin)
    # The live registry reads the node's owning module, as Torch-TensorRT's partitioner does.
    torch.fx.GraphModule(torch.nn.Module(), graph)
    return twin


def _real_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    real = {**meta, "val": _real_value(meta.get("val"))}
    tensor_meta = meta.get("tensor_meta")
    if hasattr(tensor_meta, "_replace") and getattr(tensor_meta, "dtype", None) is not None:
        real["tensor_meta"] = tensor_meta._replace(dtype=tensor_meta.dtype.to_real())
    return real


def _real_value(value: object) -> object:
    if isinstance(value, torch.Tensor) and value.dtype.is_complex:
        return torch.empty_like(value, dtype=value.dtype.to_real())
    if isinstance(value, list | tuple):
        return type(value)(_real_value(v) for v in value)
    return value


def _support_ignoring_complex(
    node: torch.fx.Node, verdict: NodeSupport, oracle: SupportOracle
) -> NodeSupport:
    if verdict.is_native or node.target in _COMPLEX_LAYOUT_TARGETS:
        return NodeSupport(Verdict.NATIVE, verdict.reason)
    try:
        return oracle.node_support(real_twin(node))
    except (RuntimeError, TypeError, ValueError, KeyError) as e:
        raise SupportError(
            f"{oracle.description} failed on {describe_node(node)} with its complex tensors "
            "taken as real"
        ) from e


def _chain_verdicts(
    chain: list[torch.fx.Node], verdicts: Mapping[str, NodeSupport], oracle: SupportOracle
) -> dict[str, NodeSupport]:
    """The verdicts of one complex chain's nodes: all outlined, or all left to the rewrite."""
    for node in chain:
        support = _support_ignoring_complex(node, verdicts[node.name], oracle)
        if not support.is_native:
            return _outlined_chain(chain, node, support)
    return {
        n.name: verdicts[n.name]
        if verdicts[n.name].is_native
        else NodeSupport(Verdict.NATIVE, _REWRITTEN, conditional=True)
        for n in chain
    }


def _outlined_chain(
    chain: list[torch.fx.Node], blocker: torch.fx.Node, support: NodeSupport
) -> dict[str, NodeSupport]:
    reason = (
        f"in a complex chain with {blocker.name} ({target_name(blocker.target)}: "
        f"{support.reason}); TensorRT has no complex type, so the chain becomes one plugin"
    )
    verdicts = {n.name: NodeSupport(Verdict.UNSUPPORTED, reason) for n in chain}
    verdicts[blocker.name] = NodeSupport(Verdict.UNSUPPORTED, support.reason)
    return verdicts


def _decide_complex_chains(
    gm: torch.fx.GraphModule, verdicts: dict[str, NodeSupport], oracle: SupportOracle
) -> None:
    for chain in complex_chains(gm):
        decided = [n for n in chain if verdicts[n.name].verdict is not Verdict.IGNORED]
        if decided:
            verdicts.update(_chain_verdicts(decided, verdicts, oracle))
