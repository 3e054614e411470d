"""Hypothesis strategies shared by the tests (random FX graphs, shapes, dtypes)."""

import dataclasses
import operator

import torch
import torch.fx
from hypothesis import strategies as st
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.passes.fake_tensor_prop import FakeTensorProp
from torch.fx.passes.shape_prop import _extract_tensor_metadata

SHAPE = (3, 4)

# (op, arity). cummax yields a tuple unpacked by getitem: it exercises tuple values that must
# stay inside one region.
_OPS: tuple[tuple[object, int], ...] = (
    (torch.ops.aten.neg.default, 1),
    (torch.ops.aten.sin.default, 1),
    (torch.ops.aten.tanh.default, 1),
    (torch.ops.aten.add.Tensor, 2),
    (torch.ops.aten.mul.Tensor, 2),
    (torch.ops.aten.maximum.default, 2),
    (torch.ops.aten.addcmul.default, 3),
    (torch.ops.aten.cummax.default, 1),
)


@dataclasses.dataclass(frozen=True)
class RandomGraph:
    """A real FX graph over (3, 4) float tensors, with fake-tensor metadata and labels."""

    gm: torch.fx.GraphModule
    unsupported: frozenset[str]
    num_inputs: int

    def inputs(self, seed: int = 0) -> tuple[torch.Tensor, ...]:
        generator = torch.Generator().manual_seed(seed)
        return tuple(torch.randn(SHAPE, generator=generator) for _ in range(self.num_inputs))


def _build(num_inputs: int, specs: list[tuple[int, list[int], bool]]) -> RandomGraph:
    graph = torch.fx.Graph()
    values = [graph.placeholder(f"x{i}") for i in range(num_inputs)]
    unsupported: set[str] = set()
    for op_index, arg_picks, is_unsupported in specs:
        op, arity = _OPS[op_index]
        args = [values[pick % len(values)] for pick in arg_picks[:arity]]
        if op is torch.ops.aten.cummax.default:
            node = graph.call_function(op, (args[0], 0))
            value = graph.call_function(operator.getitem, (node, 0))
            if is_unsupported:
                unsupported.add(node.name)
        else:
            node = graph.call_function(op, tuple(args))
            value = node
        if is_unsupported:
            unsupported.add(value.name)
        values.append(value)
    graph.output(tuple(values[num_inputs:][-3:]) or (values[0],))
    gm = torch.fx.GraphModule(torch.nn.Module(), graph)
    with FakeTensorMode() as mode:
        fakes = [torch.empty(SHAPE) for _ in range(num_inputs)]
    FakeTensorProp(gm, mode).propagate(*fakes)
    return RandomGraph(gm, frozenset(unsupported), num_inputs)


@st.composite
def random_graphs(draw: st.DrawFn, max_nodes: int = 40) -> RandomGraph:
    """Random DAGs of elementwise ops (and cummax), each node labelled unsupported or not."""
    num_inputs = draw(st.integers(1, 3))
    count = draw(st.integers(1, max_nodes))
    specs = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(_OPS) - 1),
                st.lists(st.integers(0, 10_000), min_size=3, max_size=3),
                st.booleans(),
            ),
            min_size=count,
            max_size=count,
        )
    )
    # Bias picks towards recent values, as real graphs mostly read what was just computed.
    local = draw(st.booleans())
    if local:
        specs = [(op, [len(specs) + p % 4 for p in picks], u) for op, picks, u in specs]
        specs = [
            (op, [max(0, num_inputs + i - 1 - (p % 4)) for p in picks], u)
            for i, (op, picks, u) in enumerate(specs)
        ]
    return _build(num_inputs, specs)


def batch_sizes() -> st.SearchStrategy[int]:
    """Batch sizes for dynamic-batch examples, 0 and 1 included."""
    return st.one_of(st.sampled_from([0, 1]), st.integers(2, 9))


@st.composite
def size_expressions(draw: st.DrawFn, depth: int = 3) -> str:
    """Integer size expressions as Inductor prints them, over names ``a``, ``b``, ``c``:
    ``+ - * // %``, unary minus, ``max``/``min`` and the ceil-division idiom ``-((x) // -(k))``.
    Divisors are positive constants, so every drawn expression is defined."""
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(["a", "b", "c"]) | st.integers(0, 100).map(str))
    left = draw(size_expressions(depth - 1))
    right = draw(size_expressions(depth - 1))
    divisor = draw(st.integers(1, 64))
    return draw(
        st.sampled_from(
            [
                f"({left} + {right})",
                f"({left} - {right})",
                f"({left} * {right})",
                f"({left} // {divisor})",
                f"({left} % {divisor})",
                f"-({left})",
                f"max({left}, {right})",
                f"min({left}, {right})",
                f"-(({left}) // -({divisor}))",
            ]
        )
    )


# Suffixes torch and torch_tensorrt versions carry in the wild: local builds, NGC containers'
# pre-releases, nightlies.
_VERSION_SUFFIXES = ("", "+cpu", "+cu130", "a0+git1a2b3c4", ".dev20260101", "rc1")


@st.composite
def release_versions(draw: st.DrawFn) -> str:
    """Plain ``2.<minor>.<micro>`` release versions, as snapshots are named."""
    return f"2.{draw(st.integers(0, 20))}.{draw(st.integers(0, 3))}"


@st.composite
def installed_versions(draw: st.DrawFn) -> str:
    """A package's ``__version__`` as installed: a release, maybe with a local/dev suffix."""
    return draw(release_versions()) + draw(st.sampled_from(_VERSION_SUFFIXES))


@st.composite
def graphs_with_tensor_meta(draw: st.DrawFn, max_nodes: int = 40) -> RandomGraph:
    """`random_graphs` whose tensor nodes carry ``tensor_meta``, as an exported graph's do, each
    kept or left out at random: Torch-TensorRT's partitioner fuses nodes that lack it."""
    graph = draw(random_graphs(max_nodes))
    for node in graph.gm.graph.nodes:
        value = node.meta.get("val")
        if isinstance(value, torch.Tensor) and draw(st.booleans()):
            node.meta["tensor_meta"] = _extract_tensor_metadata(value)
    return graph
