"""Outlining: each region becomes one ``torch.library`` custom op with a fake kernel.

The first stage that changes the graph. A region's nodes are copied into a standalone graph (its
*body*), registered as ``trt_autoplugin::region_<hash>`` whose real kernel runs the body on the
inputs' device and whose fake kernel runs it under fake tensors, so symbolic shapes flow through
unchanged. The region's nodes are then replaced by one call of that op.
"""

import dataclasses
import hashlib
import logging
import operator
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.fx
from torch.fx.passes.tools_common import stable_topological_sort

from .errors import OutlineError
from .graph import (
    REGION_NAMESPACE,
    SymbolicDim,
    describe_node,
    is_tensor_node,
    symbolic_shape,
    target_name,
)
from .handles import RegistrationHandle
from .partition import Region

logger = logging.getLogger(__name__)

NAMESPACE = REGION_NAMESPACE


@dataclasses.dataclass(frozen=True, slots=True)
class TensorSpec:
    """Shape and dtype of a region input or output; symbolic dims are sympy expressions."""

    shape: tuple[SymbolicDim, ...]
    dtype: torch.dtype

    @staticmethod
    def of(value: torch.Tensor) -> "TensorSpec":
        return TensorSpec(symbolic_shape(value), value.dtype)

    def is_dynamic(self) -> bool:
        return any(not isinstance(d, int) for d in self.shape)

    def __str__(self) -> str:
        dims = ", ".join(str(d) for d in self.shape)
        return f"{str(self.dtype).removeprefix('torch.')}[{dims}]"


@dataclasses.dataclass(frozen=True, slots=True)
class RegionBody:
    """A region's computation as a standalone graph: tensors in, a tuple of tensors out."""

    graph_module: torch.fx.GraphModule
    inputs: tuple[str, ...]  # names of the outer nodes feeding each placeholder
    outputs: tuple[str, ...]  # names of the outer nodes each output replaces
    input_specs: tuple[TensorSpec, ...]
    output_specs: tuple[TensorSpec, ...]

    def digest(self) -> str:
        """A content hash: equal for the same computation in any process, else different."""
        text = _canonical_text(self.graph_module.graph, self.input_specs)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def op_name(self) -> str:
        """The region op's name without namespace, ``region_<digest>``: also its plugin's name."""
        return f"region_{self.digest()}"

    @property
    def qualified_name(self) -> str:
        """``trt_autoplugin::region_<digest>``: the custom op's and the QDP plugin's id."""
        return f"{NAMESPACE}::{self.op_name}"


@dataclasses.dataclass(frozen=True, slots=True)
class OutlinedRegion:
    """A region turned into a custom op.

    Attributes:
        op: the ``trt_autoplugin::region_<hash>`` OpOverload.
        nodes: names of the original nodes it replaced, in graph order.
        targets: the op of each replaced node.
        input_specs: the op's inputs (tensors the region read, parameters included).
        output_specs: the op's outputs.
        body: the captured computation.
    """

    op: torch._ops.OpOverload
    nodes: tuple[str, ...]
    targets: tuple[str, ...]
    input_specs: tuple[TensorSpec, ...]
    output_specs: tuple[TensorSpec, ...]
    body: RegionBody

    @property
    def name(self) -> str:
        return self.op._schema.name

    def infer_output_shapes(self, input_shapes: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
        """Concrete output shapes for concrete input shapes, through the TensorRT translation."""
        from .shape_expr import infer_output_shapes

        return infer_output_shapes(
            [s.shape for s in self.output_specs],
            [s.shape for s in self.input_specs],
            input_shapes,
        )


# --- extracting a region's body ------------------------------------------------------------------


def region_body(
    gm: torch.fx.GraphModule,
    region: Region,
    *,
    by_name: Mapping[str, torch.fx.Node] | None = None,
    order: Mapping[torch.fx.Node, int] | None = None,
) -> RegionBody:
    """Copies a region's nodes into a standalone GraphModule.

    Symbolic sizes the region reads from outside (``sym_size`` and arithmetic on it) are copied
    in and recomputed from the tensors they come from, so the op's schema has tensors only. A
    complex input (a parameter, buffer or constant: the partition lets no other complex value
    in) enters as its real view, ``torch.view_as_real(value)``, and the body views it back with
    ``view_as_complex``: TensorRT has no complex type, so a plugin's inputs are real.

    Raises:
        OutlineError: a node the region reads is neither a tensor nor recomputable size math.
    """
    # by_name and order may be shared across regions: rebuilding them per region is quadratic.
    by_name = by_name if by_name is not None else {n.name: n for n in gm.graph.nodes}
    order = order if order is not None else {n: i for i, n in enumerate(gm.graph.nodes)}
    members = [by_name[name] for name in region.nodes]
    inside = dict.fromkeys(members)
    symbolic = _symbolic_closure(members, inside, order)
    inputs = [by_name[name] for name in region.inputs]
    inputs += [leaf for leaf in _tensor_leaves(symbolic) if leaf not in inputs]
    graph = torch.fx.Graph()
    placeholders = [graph.placeholder(f"in_{i}") for i in range(len(inputs))]
    env = {node: _body_input(graph, p, node) for node, p in zip(inputs, placeholders, strict=True)}
    for node in [*symbolic, *members]:
        env[node] = graph.node_copy(node, lambda a, user=node: _mapped(a, env, user))
    outputs = [by_name[name] for name in region.outputs]
    graph.output(tuple(env[o] for o in outputs))
    graph.lint()
    return RegionBody(
        graph_module=torch.fx.GraphModule(torch.nn.Module(), graph, class_name="RegionBody"),
        inputs=tuple(n.name for n in inputs),
        outputs=region.outputs,
        input_specs=tuple(TensorSpec.of(p.meta["val"]) for p in placeholders),
        output_specs=tuple(TensorSpec.of(n.meta["val"]) for n in outputs),
    )


def _is_complex_tensor(value: object) -> bool:
    """Whether a value (a node's ``meta['val']``) is a complex tensor."""
    return isinstance(value, torch.Tensor) and value.dtype.is_complex


def _body_input(
    graph: torch.fx.Graph, placeholder: torch.fx.Node, node: torch.fx.Node
) -> torch.fx.Node:
    """The body's stand-in for an outer input: its placeholder, or the complex view of it when
    the input is complex and so enters as a real view."""
    value = node.meta.get("val")
    if not _is_complex_tensor(value):
        placeholder.meta = {"val": value}
        return placeholder
    placeholder.meta = {"val": torch.view_as_real(value)}
    complex_view = graph.call_function(torch.ops.aten.view_as_complex.default, (placeholder,))
    complex_view.meta = {"val": value}
    return complex_view


def _mapped(
    arg: torch.fx.Node, env: Mapping[torch.fx.Node, torch.fx.Node], user: torch.fx.Node
) -> torch.fx.Node:
    if arg not in env:
        raise OutlineError(
            f"{describe_node(user)} reads {arg.name}, which is neither a region input nor "
            "recomputable size arithmetic; it can't become part of a plugin"
        )
    return env[arg]


def _symbolic_closure(
    members: Sequence[torch.fx.Node],
    inside: Mapping[torch.fx.Node, None],
    order: Mapping[torch.fx.Node, int],
) -> list[torch.fx.Node]:
    """The outside size-arithmetic nodes the region reads, in graph order."""
    found: dict[torch.fx.Node, None] = {}
    stack = [a for m in members for a in m.all_input_nodes if a not in inside]
    while stack:
        node = stack.pop()
        if node in found or node in inside or is_tensor_node(node) or _is_tensor_tuple(node):
            continue
        found[node] = None
        stack.extend(node.all_input_nodes)
    return sorted(found, key=order.__getitem__)


def _is_tensor_tuple(node: torch.fx.Node) -> bool:
    value = node.meta.get("val")
    return isinstance(value, tuple | list) and all(isinstance(v, torch.Tensor) for v in value)


def _tensor_leaves(symbolic: Sequence[torch.fx.Node]) -> list[torch.fx.Node]:
    inner = dict.fromkeys(symbolic)
    leaves: dict[torch.fx.Node, None] = {}
    for node in symbolic:
        for arg in node.all_input_nodes:
            if arg not in inner:
                leaves[arg] = None
    return list(leaves)


def _canonical_text(graph: torch.fx.Graph, input_specs: Sequence[TensorSpec]) -> str:
    # Names are positional, so the text depends only on the computation and the input dtypes
    # and ranks (the dtypes fix the output dtypes the plugin declares).
    index = {node: i for i, node in enumerate(graph.nodes)}

    def fmt(value: object) -> str:
        if isinstance(value, torch.fx.Node):
            return f"%{index[value]}"
        if isinstance(value, list | tuple):
            inner = ",".join(fmt(v) for v in value)
            return f"[{inner}]" if isinstance(value, list) else f"({inner})"
        if isinstance(value, dict):
            return "{" + ",".join(f"{k}:{fmt(v)}" for k, v in sorted(value.items())) + "}"
        return f"{type(value).__name__}:{value!r}"

    lines = [f"in:{s.dtype}:{len(s.shape)}" for s in input_specs]
    for node in graph.nodes:
        target = node.target if isinstance(node.target, str) else target_name(node.target)
        if node.op == "placeholder":
            target = "placeholder"
        lines.append(f"{node.op}|{target}|{fmt(node.args)}|{fmt(node.kwargs)}")
    return "\n".join(lines)


# --- registering the custom op -------------------------------------------------------------------


_LOCK = threading.RLock()


class RegionOpHandle(RegistrationHandle):
    """A registered region op; `destroy` removes its schema and kernels from torch.library."""

    __slots__ = ("op", "body", "_library")
    _lock = _LOCK

    def __init__(
        self, op: torch._ops.OpOverload, body: RegionBody, library: torch.library.Library
    ) -> None:
        super().__init__()
        self.op = op
        self.body = body
        self._library = library

    def _unregister(self) -> None:
        self._library._destroy()
        _REGISTERED.pop(self.body.op_name, None)

    def _name(self) -> str:
        return self.body.qualified_name


_REGISTERED: dict[str, RegionOpHandle] = {}


def region_schema(name: str, num_inputs: int, num_outputs: int) -> str:
    """The custom op's schema: tensors in, tensors out."""
    params = ", ".join(f"Tensor in_{i}" for i in range(num_inputs))
    returns = "Tensor" if num_outputs == 1 else "(" + ", ".join(["Tensor"] * num_outputs) + ")"
    return f"{name}({params}) -> {returns}"


def run_body(body: RegionBody, args: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Runs a region body; outputs never alias the inputs or each other (a custom op's rule)."""
    outputs = tuple(body.graph_module(*args))
    fresh: list[torch.Tensor] = []
    for out in outputs:
        aliased = any(_shares_memory(out, x) for x in (*args, *fresh))
        fresh.append(out.clone() if aliased else out)
    return tuple(fresh)


def _shares_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a is b or torch._C._is_alias_of(a, b)


def _kernel(body: RegionBody) -> Callable[..., Any]:
    def kernel(*args: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        outputs = run_body(body, args)
        return outputs[0] if len(outputs) == 1 else outputs

    return kernel


def register_region_op(body: RegionBody) -> torch._ops.OpOverload:
    """The custom op for a region body, registered on first use (idempotent per content).

    Raises:
        OutlineError: the schema or kernels could not be registered.
    """
    name = body.op_name
    with _LOCK:
        if name in _REGISTERED:
            return _REGISTERED[name].op
        library = torch.library.Library(NAMESPACE, "FRAGMENT")
        try:
            library.define(region_schema(name, len(body.input_specs), len(body.output_specs)))
            # One kernel for every backend: the body dispatches its own aten ops per device.
            library.impl(name, _kernel(body), "CompositeExplicitAutograd")
            torch.library.register_fake(f"{NAMESPACE}::{name}", _kernel(body), lib=library)
        except (RuntimeError, ValueError) as e:
            library._destroy()
            raise OutlineError(f"could not register {NAMESPACE}::{name}: {e}") from e
        op = getattr(getattr(torch.ops, NAMESPACE), name).default
        _REGISTERED[name] = RegionOpHandle(op, body, library)
        return op


def unregister_region_ops() -> None:
    """Removes every region op this process registered (tests and long-lived servers)."""
    with _LOCK:
        for handle in list(_REGISTERED.values()):
            handle.destroy()


# --- complex constants as real views -------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _RealViews:
    """The complex inputs of the regions, made real.

    Attributes:
        nodes: by complex input name, the node the region ops read instead.
        values: by placeholder name, the new value of each placeholder made real.
        complex_nodes: the nodes still holding the complex values (a get_attr, a placeholder's
            complex view), erased once no node outside the regions reads them.
    """

    nodes: dict[str, torch.fx.Node]
    values: dict[str, torch.Tensor]
    complex_nodes: list[torch.fx.Node]


def _real_views(
    gm: torch.fx.GraphModule,
    bodies: Sequence[RegionBody],
    by_name: Mapping[str, torch.fx.Node],
    constants: Mapping[str, torch.Tensor],
) -> _RealViews:
    """A real node for each complex input of the bodies (see `outline_regions`).

    Raises:
        OutlineError: a complex input is not a parameter, buffer or constant (checked before
            anything changes).
    """
    names = [n for b in bodies for n in b.inputs if _is_complex_tensor(by_name[n].meta.get("val"))]
    nodes = [by_name[name] for name in dict.fromkeys(names)]
    for node in nodes:
        if node.op != "get_attr" and not (node.op == "placeholder" and node.name in constants):
            raise OutlineError(
                f"a region reads {describe_node(node)}, a complex value that is not a parameter, "
                "buffer or constant; TensorRT has no complex type, so it can't enter a plugin"
            )
    views = _RealViews({}, {}, [])
    for node in nodes:
        if node.op == "get_attr":
            views.nodes[node.name] = _real_attribute(gm, node)
            views.complex_nodes.append(node)
        else:
            value, complex_view = _real_placeholder(gm, node, constants[node.name])
            views.nodes[node.name] = node
            views.values[node.name] = value
            views.complex_nodes.append(complex_view)
    return views


def real_view(value: torch.Tensor) -> torch.Tensor:
    """``torch.view_as_real(value)`` with the same bits, kept a Parameter if ``value`` is one."""
    real = torch.view_as_real(value.detach().resolve_conj())
    if isinstance(value, torch.nn.Parameter):
        return torch.nn.Parameter(real, requires_grad=value.requires_grad)
    return real


def _real_attribute(gm: torch.fx.GraphModule, node: torch.fx.Node) -> torch.fx.Node:
    """A new get_attr of the real view of a complex attribute, next to the complex one."""
    owner_path, _, attribute = str(node.target).rpartition(".")
    try:
        owner = gm.get_submodule(owner_path)
        value = getattr(owner, attribute)
    except AttributeError as e:
        raise OutlineError(f"{describe_node(node)} reads no attribute of the graph module") from e
    if not _is_complex_tensor(value):
        raise OutlineError(f"{describe_node(node)} is not a complex tensor attribute")
    name = _free_attribute_name(owner, f"{attribute}_as_real")
    real = real_view(value)
    if isinstance(real, torch.nn.Parameter):
        owner.register_parameter(name, real)
    elif attribute in owner._buffers:
        persistent = attribute not in owner._non_persistent_buffers_set
        owner.register_buffer(name, real, persistent=persistent)
    else:
        setattr(owner, name, real)
    with gm.graph.inserting_after(node):
        real_node = gm.graph.get_attr(f"{owner_path}.{name}" if owner_path else name)
    real_node.meta = {"val": torch.view_as_real(node.meta["val"])}
    return real_node


def _free_attribute_name(owner: torch.nn.Module, base: str) -> str:
    name, suffix = base, 0
    while hasattr(owner, name):
        suffix += 1
        name = f"{base}_{suffix}"
    return name


def _real_placeholder(
    gm: torch.fx.GraphModule, node: torch.fx.Node, value: torch.Tensor
) -> tuple[torch.Tensor, torch.fx.Node]:
    """Makes a complex placeholder real in place; its current users read its complex view.

    Returns:
        The placeholder's new value, for the caller's state (an ExportedProgram's state_dict),
        and the complex view.
    """
    graph = gm.graph
    first_op = next(n for n in graph.nodes if n.op != "placeholder")
    # Placeholders come first in an ExportedProgram's graph: the view goes after all of them.
    with graph.inserting_before(first_op):
        complex_view = graph.call_function(torch.ops.aten.view_as_complex.default, (node,))
    complex_view.meta = {"val": node.meta["val"]}
    node.replace_all_uses_with(complex_view, delete_user_cb=lambda user: user is not complex_view)
    node.meta["val"] = torch.view_as_real(node.meta["val"])
    node.meta.pop("tensor_meta", None)  # described the complex value; nothing reads it here
    return real_view(value), complex_view


# --- rewriting the graph -------------------------------------------------------------------------


def outline_regions(
    gm: torch.fx.GraphModule,
    regions: Sequence[Region],
    *,
    constants: Mapping[str, torch.Tensor] | None = None,
    recomputed: Sequence[str] = (),
) -> tuple[tuple[OutlinedRegion, ...], dict[str, str], dict[str, torch.Tensor]]:
    """Replaces each region of ``gm`` by one call of its custom op, in place.

    A complex parameter, buffer or constant a region reads is passed to its op as a real view
    (see `region_body`) holding the same bits: a get_attr gets a new real attribute next to the
    complex one (a parameter stays a parameter, a buffer a buffer); a placeholder named in
    ``constants`` (an ExportedProgram's state) becomes real itself, and its other users read
    ``view_as_complex`` of it. The caller stores the new real values of those placeholders.

    Args:
        gm: the graph, changed in place.
        regions: the regions to outline.
        constants: the values of the placeholders that hold parameters, buffers or constants.
        recomputed: size-arithmetic nodes only the regions read (`Partition.recomputed`): each
            region recomputes them inside, so they are erased once nothing reads them.

    Returns:
        The outlined regions in the order given; the new name of each replaced region output
        (an ExportedProgram's signature names its outputs' nodes); and the real value of each
        placeholder made real, by placeholder name.

    Raises:
        OutlineError: a region could not be extracted or registered, or reads a complex value
            that is not a parameter, buffer or constant (names the node).
    """
    by_name = {n.name: n for n in gm.graph.nodes}
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    bodies = [region_body(gm, region, by_name=by_name, order=order) for region in regions]
    targets = _targets_by_name(gm)
    views = _real_views(gm, bodies, by_name, constants or {})
    outlined = []
    renamed: dict[str, str] = {}
    for region, body in zip(regions, bodies, strict=True):
        op = register_region_op(body)
        inputs = [views.nodes.get(name) or by_name[name] for name in body.inputs]
        new_nodes = _replace_region(gm, region, inputs, op, by_name)
        renamed.update({old: new.name for old, new in new_nodes.items()})
        # A later region may read this one's outputs: find them under their new nodes.
        by_name.update(new_nodes)
        region_targets = tuple(targets[name] for name in region.nodes)
        outlined.append(
            OutlinedRegion(
                op, region.nodes, region_targets, body.input_specs, body.output_specs, body
            )
        )
    for node in views.complex_nodes:
        if not node.users:  # only outlined regions read it
            gm.graph.erase_node(node)
    # Reverse graph order: a recomputed node read by another one dies after its reader.
    for name in reversed(recomputed):
        if not by_name[name].users:
            gm.graph.erase_node(by_name[name])
    _sorted_keeping_names(gm)
    gm.graph.lint()
    gm.recompile()
    return tuple(outlined), renamed, views.values


_NAME_KEY = "trt_autoplugin_name"


def _sorted_keeping_names(gm: torch.fx.GraphModule) -> None:
    """``stable_topological_sort``, then every node gets its name back.

    The sort copies nodes into a new graph, whose namespace renames names that shadow Python
    builtins: a placeholder ``input`` (every ``nn.Sequential``) became ``input_1``, and the
    ExportedProgram's signature, which names placeholders, no longer matched. The original
    names were unique in the graph, so restoring all of them keeps them unique.
    """
    for node in gm.graph.nodes:
        node.meta[_NAME_KEY] = node.name
    stable_topological_sort(gm)
    for node in gm.graph.nodes:
        node.name = node.meta.pop(_NAME_KEY, node.name)


def _targets_by_name(gm: torch.fx.GraphModule) -> dict[str, str]:
    return {
        n.name: n.target if isinstance(n.target, str) else target_name(n.target)
        for n in gm.graph.nodes
    }


def _replace_region(
    gm: torch.fx.GraphModule,
    region: Region,
    inputs: Sequence[torch.fx.Node],
    op: torch._ops.OpOverload,
    by_name: Mapping[str, torch.fx.Node],
) -> dict[str, torch.fx.Node]:
    graph = gm.graph
    members = [by_name[name] for name in region.nodes]
    outputs = [by_name[name] for name in region.outputs]
    with graph.inserting_after(members[-1]):
        call = graph.call_function(op, tuple(inputs))
    call.meta.update(_merged_meta(members, outputs))
    renamed: dict[str, torch.fx.Node] = {}
    if len(outputs) == 1:
        outputs[0].replace_all_uses_with(call)
        renamed[outputs[0].name] = call
    else:
        anchor = call
        for i, out in enumerate(outputs):
            with graph.inserting_after(anchor):
                item = graph.call_function(operator.getitem, (call, i))
            item.meta = {**out.meta, "val": out.meta["val"]}
            out.replace_all_uses_with(item)
            renamed[out.name] = item
            anchor = item
    for node in reversed(members):
        if node.users:
            raise OutlineError(f"{describe_node(node)} is still used after outlining its region")
        graph.erase_node(node)
    return renamed


def _merged_meta(members: Sequence[torch.fx.Node], outputs: Sequence[torch.fx.Node]) -> dict:
    vals = [o.meta["val"] for o in outputs]
    meta: dict[str, Any] = {"val": vals[0] if len(vals) == 1 else tuple(vals)}
    traces = [m.meta["stack_trace"] for m in members if m.meta.get("stack_trace")]
    if traces:
        meta["stack_trace"] = traces[-1]
    for key in ("nn_module_stack", "source_fn_stack", "from_node"):
        if key in members[-1].meta:
            meta[key] = members[-1].meta[key]
    return meta
