"""How the JIT implementation fills each region output: written in place, or copied.

PyTorch ops allocate their results, so a body run as traced ends with one device-to-device copy
per output into TensorRT's buffer. Most aten ops also have an ``out=`` overload
(``lgamma.out``, ``erfinv.out``, ``logcumsumexp.out``, ``_fft_c2r.out``...) that writes into a
given tensor: an output produced by such an op is rewritten to write straight into TensorRT's
buffer, and its copy disappears; an op with several results (``cummax.out`` writes ``values``
and ``indices``) is rewritten when every result is a region output. An output is still copied,
with the reason, when its op has no ``out=`` form (a custom op), when it is a view or an input
of the region, when it is another output too, when a sibling result of its op is not an output,
or when the region has data-dependent outputs (their buffers' shapes are known only after the
run).

Pure graph work: a rewritten copy of the body's graph, which `jit.jit_launch` calls with
TensorRT's buffers as extra arguments.
"""

import dataclasses
import operator
import weakref

import torch
import torch.fx

from .graph import target_name
from .outline import RegionBody
from .pluggable import size_tensors


@dataclasses.dataclass(frozen=True, slots=True)
class OutputWrite:
    """How one region output reaches TensorRT's buffer.

    Attributes:
        index: the output's position.
        in_place: written by ``via`` straight into the buffer; else copied.
        via: the ``out=`` overload that writes it, or None.
        reason: why it is copied ("" when written in place).
    """

    index: int
    in_place: bool
    via: str | None
    reason: str

    def __str__(self) -> str:
        if self.in_place:
            return f"output {self.index}: written in place by {self.via}"
        return f"output {self.index}: copied ({self.reason})"


@dataclasses.dataclass(frozen=True, slots=True)
class WritePlan:
    """A body rewritten to write some outputs in place.

    ``graph_module`` takes the region's inputs, then one destination per in-place output (in
    output order), and returns every output (the in-place ones are their destinations).
    """

    graph_module: torch.fx.GraphModule
    writes: tuple[OutputWrite, ...]

    @property
    def in_place(self) -> tuple[int, ...]:
        return tuple(w.index for w in self.writes if w.in_place)


def out_overload(target: object) -> tuple[torch._ops.OpOverload, tuple[str, ...]] | None:
    """The ``out=`` overload of an op and the names of its out arguments, one per result, if
    the overload takes the same arguments as ``target`` plus those."""
    if not isinstance(target, torch._ops.OpOverload) or not target._schema.returns:
        return None
    if any(r.alias_info is not None for r in target._schema.returns):
        return None  # a view: its result is memory it does not own
    packet = target.overloadpacket
    names = ["out"] if target._overloadname in ("default", "Tensor") else []
    names.insert(0, f"{target._overloadname}_out")
    for name in names:
        candidate = getattr(packet, name, None) if name in packet.overloads() else None
        if candidate is None:
            continue
        outs = [a for a in candidate._schema.arguments if a.alias_info and a.alias_info.is_write]
        ins = [a for a in candidate._schema.arguments if a not in outs]
        same = [(a.name, str(a.type)) for a in ins] == [
            (a.name, str(a.type)) for a in target._schema.arguments
        ]
        count = len(target._schema.returns)
        if len(outs) == count and all(a.kwarg_only for a in outs) and same:
            return candidate, tuple(a.name for a in outs)
    return None


# Per body graph: every JIT call asks, and a body's graph never changes.
_PLANS: "weakref.WeakKeyDictionary[torch.fx.GraphModule, WritePlan]" = weakref.WeakKeyDictionary()


def write_plan(body: RegionBody) -> WritePlan:
    """The body rewritten so that each output an ``out=`` overload can produce is written in
    place (see the module docstring for what stays a copy)."""
    plan = _PLANS.get(body.graph_module)
    if plan is None:
        plan = _PLANS[body.graph_module] = _planned(body)
    return plan


def output_writes(body: RegionBody) -> tuple[OutputWrite, ...]:
    """Per output, whether the JIT implementation writes it in place or copies it, and why."""
    return write_plan(body).writes


def _planned(body: RegionBody) -> WritePlan:
    graph = body.graph_module.graph
    (output,) = [n for n in graph.nodes if n.op == "output"]
    results = list(output.args[0])
    writes = [_write(body, index, node, results) for index, node in enumerate(results)]
    if not any(w.in_place for w in writes):
        return WritePlan(body.graph_module, tuple(writes))
    return WritePlan(_rewritten(body.graph_module, writes), tuple(writes))


def _write(body: RegionBody, index: int, node: object, results: list[object]) -> OutputWrite:
    def copied(reason: str) -> OutputWrite:
        return OutputWrite(index, False, None, reason)

    if size_tensors(body):
        return copied("the region has data-dependent outputs, sized only after the run")
    if not isinstance(node, torch.fx.Node) or node.op != "call_function":
        return copied("the output is an input of the region")
    if results.count(node) > 1:
        return copied("the same value is several outputs")
    producer = _producer(node)
    found = out_overload(producer.target)
    if found is None:
        return copied(f"{target_name(producer.target)} has no out= form")
    if producer is not node and len(_result_outputs(producer, results)) != len(found[1]):
        return copied(f"not every result of {target_name(producer.target)} is an output")
    return OutputWrite(index, True, target_name(found[0]), "")


def _producer(node: torch.fx.Node) -> torch.fx.Node:
    """The op a result comes from: the node, or the multi-result op a getitem reads."""
    if node.target is operator.getitem and isinstance(node.args[0], torch.fx.Node):
        return node.args[0]
    return node


def _result_outputs(producer: torch.fx.Node, results: list[object]) -> dict[int, torch.fx.Node]:
    """The getitems of a multi-result op that are outputs, by result index (each once)."""
    found: dict[int, torch.fx.Node] = {}
    for user in producer.users:
        if user.target is operator.getitem and results.count(user) == 1:
            found.setdefault(int(user.args[1]), user)
    return found


def _rewritten(gm: torch.fx.GraphModule, writes: list[OutputWrite]) -> torch.fx.GraphModule:
    graph = torch.fx.Graph()
    env: dict[torch.fx.Node, torch.fx.Node] = {}
    old_nodes = list(gm.graph.nodes)
    placeholders = [n for n in old_nodes if n.op == "placeholder"]
    for node in placeholders:
        env[node] = graph.node_copy(node, env.__getitem__)
    (output,) = [n for n in old_nodes if n.op == "output"]
    results = list(output.args[0])
    destinations = {
        results[w.index]: graph.placeholder(f"destination_{w.index}") for w in writes if w.in_place
    }
    # Each rewritten op and, per out argument, the destination it writes.
    written: dict[torch.fx.Node, dict[str, torch.fx.Node]] = {}
    for result, destination in destinations.items():
        producer = _producer(result)
        _, names = out_overload(producer.target)  # type: ignore[misc]
        position = 0 if producer is result else int(result.args[1])
        written.setdefault(producer, {})[names[position]] = destination
    for node in old_nodes:
        if node.op in ("placeholder", "output"):
            continue
        if node in written:
            overload, _ = out_overload(node.target)  # type: ignore[misc]
            args = torch.fx.node.map_arg(node.args, env.__getitem__)
            kwargs = torch.fx.node.map_arg(node.kwargs, env.__getitem__)
            env[node] = graph.call_function(overload, args, {**kwargs, **written[node]})
            env[node].meta = dict(node.meta)
        else:
            env[node] = graph.node_copy(node, env.__getitem__)
    graph.output(tuple(env[r] if isinstance(r, torch.fx.Node) else r for r in results))
    graph.lint()
    return torch.fx.GraphModule(gm, graph, class_name="WritingRegionBody")
