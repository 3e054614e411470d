"""The support oracle: which nodes does Torch-TensorRT convert natively?

Three oracles answer the same question:

* :class:`TorchTensorRTSupport` asks Torch-TensorRT's own converter registry, as its partitioner
  does (live; needs ``torch_tensorrt`` and therefore TensorRT).
* :class:`SnapshotSupport` predicts the answer from a JSON snapshot of a Torch-TensorRT release's
  registry shipped in this package (offline; used when ``torch_tensorrt`` does not import).
* :class:`OpSetSupport` forces ops into plugins or keeps them native, alone or over another oracle.

Analysis is pure: :func:`support_report` takes a graph and returns verdicts, touching nothing.
"""

import dataclasses
import enum
import functools
import importlib.resources
import json
import operator
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import torch
import torch.fx
from torch.fx.experimental.symbolic_shapes import free_symbols

from .errors import SupportError, describe_node

SNAPSHOT_VERSION = "2.13.0"

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
    conditional: bool = False  # native only if a capability validator agrees (snapshot only)

    @property
    def is_native(self) -> bool:
        return self.verdict is Verdict.NATIVE


@runtime_checkable
class SupportOracle(Protocol):
    """Answers, node by node, whether Torch-TensorRT converts it natively."""

    @property
    def description(self) -> str:
        """Who answers, for the report (e.g. 'snapshot of Torch-TensorRT 2.13.0 (predicted)')."""
        ...

    def node_support(self, node: torch.fx.Node) -> NodeSupport:
        """The verdict for one call_function node."""
        ...

    def decompositions(self) -> Mapping[Any, Callable[..., Any]]:
        """The decomposition table Torch-TensorRT applies before conversion."""
        ...


def target_name(target: object) -> str:
    """Canonical name of a node target: 'aten.add.Tensor' or '_operator.getitem'."""
    if isinstance(target, torch._ops.OpOverload | torch._ops.OpOverloadPacket):
        return str(target)
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{getattr(target, '__name__', repr(target))}"


def _tensor_values(value: object) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [v for item in value for v in _tensor_values(item)]
    return []


def has_complex_values(node: torch.fx.Node) -> bool:
    """Whether the node or one of its inputs carries a complex tensor (TensorRT has none)."""
    values = _tensor_values(node.meta.get("val"))
    for arg in node.all_input_nodes:
        values.extend(_tensor_values(arg.meta.get("val")))
    return any(v.dtype.is_complex for v in values)


def has_dynamic_shapes(node: torch.fx.Node) -> bool:
    """Torch-TensorRT's ``node_has_dynamic_shapes``: symbolic sizes on the node or its inputs."""
    values = _tensor_values(node.meta.get("val"))
    for arg in node.all_input_nodes:
        values.extend(_tensor_values(arg.meta.get("val")))
    return any(free_symbols(v.shape) for v in values)


def is_ignored(node: torch.fx.Node) -> bool:
    """Placeholders, outputs and the assert nodes Torch-TensorRT removes before partitioning."""
    return node.op in ("placeholder", "output") or node.target in _IGNORED_TARGETS


# --- the snapshot -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ConverterEntry:
    """One registered converter for a target, as recorded in a snapshot."""

    validator: str | None
    supports_dynamic_shapes: bool
    requires_output_allocator: bool
    enabled: bool


@dataclasses.dataclass(frozen=True, slots=True)
class ConverterSnapshot:
    """A Torch-TensorRT release's converter registry and decomposition sets, read from JSON."""

    version: str
    converters: Mapping[str, tuple[ConverterEntry, ...]]
    torch_enabled_decompositions: frozenset[str]
    torch_disabled_decompositions: frozenset[str]
    torch_tensorrt_decompositions: frozenset[str]


def snapshot_versions() -> tuple[str, ...]:
    """Torch-TensorRT versions for which a snapshot ships in this package."""
    folder = importlib.resources.files("trt_autoplugin") / "snapshots"
    names = [p.name for p in folder.iterdir() if p.name.startswith("torch_tensorrt-")]
    return tuple(sorted(n.removeprefix("torch_tensorrt-").removesuffix(".json") for n in names))


@functools.cache
def load_snapshot(version: str = SNAPSHOT_VERSION) -> ConverterSnapshot:
    """The shipped snapshot for a Torch-TensorRT version.

    Raises:
        SupportError: no snapshot for that version, or the file is malformed.
    """
    resource = importlib.resources.files("trt_autoplugin") / "snapshots"
    path = resource / f"torch_tensorrt-{version}.json"
    if not path.is_file():
        raise SupportError(
            f"no converter snapshot for Torch-TensorRT {version}; shipped: "
            f"{', '.join(snapshot_versions()) or 'none'}. Regenerate one with "
            "`python -m trt_autoplugin.snapshot_build --wheel torch_tensorrt-<version>.whl`."
        )
    return snapshot_from_json(json.loads(path.read_text()))


def snapshot_from_json(data: Mapping[str, Any]) -> ConverterSnapshot:
    """Parses the snapshot format written by ``trt_autoplugin.snapshot_build``."""
    try:
        converters = {
            target: tuple(
                ConverterEntry(
                    validator=entry.get("validator"),
                    supports_dynamic_shapes=bool(entry.get("supports_dynamic_shapes", False)),
                    requires_output_allocator=bool(entry.get("requires_output_allocator", False)),
                    enabled=entry.get("enabled", True) is not False,
                )
                for entry in entries
            )
            for target, entries in data["converters"].items()
        }
        decompositions = data["decompositions"]
        return ConverterSnapshot(
            version=str(data["torch_tensorrt_version"]),
            converters=converters,
            torch_enabled_decompositions=frozenset(decompositions["torch_enabled"]),
            torch_disabled_decompositions=frozenset(decompositions["torch_disabled"]),
            torch_tensorrt_decompositions=frozenset(decompositions["torch_tensorrt"]),
        )
    except (KeyError, TypeError, AttributeError) as e:
        raise SupportError(f"malformed converter snapshot: missing or bad field {e}") from e


def _overloads_named(names: Iterable[str]) -> list[torch._ops.OpOverload]:
    found = []
    for name in names:
        parts = name.split(".")
        if len(parts) != 3:
            continue
        namespace, op_name, overload = parts
        packet = getattr(getattr(torch.ops, namespace, None), op_name, None)
        op = getattr(packet, overload, None) if packet is not None else None
        if isinstance(op, torch._ops.OpOverload):
            found.append(op)
    return found


def snapshot_decompositions(snapshot: ConverterSnapshot) -> dict[Any, Callable[..., Any]]:
    """Torch-TensorRT's default decomposition table, rebuilt offline from a snapshot.

    Torch's own decompositions for the enabled set, plus every CompositeImplicitAutograd op of
    the aten namespace minus the disabled set, as ``get_decompositions`` builds it. Torch-TensorRT's
    own decompositions need TensorRT to import, so their ops are not decomposed offline; the
    oracle counts them as native instead (they lower to converted ops).
    """
    from torch._export.utils import (
        _collect_all_valid_cia_ops_for_aten_namespace,
        _get_decomp_for_cia,
    )

    skipped = snapshot.torch_disabled_decompositions | snapshot.torch_tensorrt_decompositions
    enabled = [
        op
        for op in _overloads_named(snapshot.torch_enabled_decompositions)
        if str(op) not in skipped
    ]
    table: dict[Any, Callable[..., Any]] = dict(torch._decomp.get_decompositions(enabled))
    for op in _collect_all_valid_cia_ops_for_aten_namespace():
        if str(op) not in skipped and "scaled_dot_product" not in str(op):
            table[op] = _get_decomp_for_cia(op)
    return table


class SnapshotSupport:
    """Predicts Torch-TensorRT's answers from a shipped snapshot of its converter registry.

    Mirrors ``DYNAMO_CONVERTERS.__getitem__`` and ``TorchTensorRTOperatorSupport``: complex
    tensors never convert; ``torch_executed_ops`` forces Torch; a converter without dynamic-shape
    support is skipped for a node with symbolic sizes. A converter gated by a capability validator
    can't be evaluated offline: its nodes are predicted native and flagged ``conditional``.

    Args:
        version: Torch-TensorRT version of the snapshot.
        torch_executed_ops: ops (or their names) to keep in Torch, as in ``CompilationSettings``.
        assume_dynamic_shape_support: as in ``CompilationSettings``.
    """

    def __init__(
        self,
        version: str = SNAPSHOT_VERSION,
        *,
        torch_executed_ops: Collection[object] = (),
        assume_dynamic_shape_support: bool = False,
    ) -> None:
        self.snapshot = load_snapshot(version)
        self.torch_executed_ops = frozenset(
            op if isinstance(op, str) else target_name(op) for op in torch_executed_ops
        )
        self.assume_dynamic_shape_support = assume_dynamic_shape_support

    @property
    def description(self) -> str:
        return f"snapshot of Torch-TensorRT {self.snapshot.version} (predicted)"

    def decompositions(self) -> Mapping[Any, Callable[..., Any]]:
        return snapshot_decompositions(self.snapshot)

    def node_support(self, node: torch.fx.Node) -> NodeSupport:
        if node.op == "get_attr":
            return NodeSupport(Verdict.NATIVE, "get_attr")
        name = target_name(node.target)
        if has_complex_values(node):
            return NodeSupport(
                Verdict.UNSUPPORTED, "complex tensors (TensorRT has no complex type)"
            )
        if name in self.torch_executed_ops:
            return NodeSupport(Verdict.UNSUPPORTED, "listed in torch_executed_ops")
        if name in self.snapshot.torch_tensorrt_decompositions:
            return NodeSupport(Verdict.NATIVE, "decomposed by Torch-TensorRT before conversion")
        return self._converter_support(node, name)

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
        unconditional = [e for e in usable if e.validator is None]
        if unconditional:
            return NodeSupport(Verdict.NATIVE, "converter")
        validators = ", ".join(sorted({e.validator or "" for e in usable}))
        return NodeSupport(Verdict.NATIVE, f"converter if {validators} accepts it", True)


class TorchTensorRTSupport:
    """Asks Torch-TensorRT's live converter registry, exactly as its partitioner does.

    Args:
        settings: a ``torch_tensorrt.dynamo.CompilationSettings``; default settings when None.

    Raises:
        MissingDependencyError: ``torch_tensorrt`` does not import (no TensorRT).
    """

    def __init__(self, settings: object | None = None) -> None:
        from . import converter

        self._backend = converter.LiveRegistry(settings)

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
    """The live registry when ``torch_tensorrt`` imports, else the shipped snapshot."""
    from . import converter

    if converter.is_torch_tensorrt_available():
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


def support_report(gm: torch.fx.GraphModule, oracle: SupportOracle) -> SupportReport:
    """Asks the oracle about every node of the graph. Pure: the graph is not changed.

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
        else:
            try:
                verdicts[node.name] = oracle.node_support(node)
            except (RuntimeError, TypeError, ValueError, KeyError) as e:
                raise SupportError(f"{oracle.description} failed on {describe_node(node)}") from e
    _ignore_assert_inputs(gm, verdicts)
    return SupportReport(oracle.description, verdicts)


def _ignore_assert_inputs(gm: torch.fx.GraphModule, verdicts: dict[str, NodeSupport]) -> None:
    # Size checks (sym_size -> ge -> _assert_scalar) vanish with the asserts Torch-TensorRT
    # removes; walking backwards catches whole chains in one pass.
    for node in reversed(gm.graph.nodes):
        if node.op != "call_function" or isinstance(node.meta.get("val"), torch.Tensor):
            continue
        users = list(node.users)
        if users and all(verdicts[u.name].verdict is Verdict.IGNORED for u in users):
            verdicts[node.name] = NodeSupport(Verdict.IGNORED, "only feeds removed runtime asserts")


def _getitem_support(node: torch.fx.Node, verdicts: Mapping[str, NodeSupport]) -> NodeSupport:
    # A getitem follows its producer: it unpacks a multi-output op and must stay with it.
    producer = node.args[0]
    if isinstance(producer, torch.fx.Node) and producer.name in verdicts:
        parent = verdicts[producer.name]
        return NodeSupport(parent.verdict, f"unpacks {producer.name}", parent.conditional)
    return NodeSupport(Verdict.NATIVE, "getitem")
