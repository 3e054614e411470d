"""Hypothesis strategies shared by the tests (random FX graphs, shapes, dtypes)."""

import dataclasses
import io
import json
import operator
import pathlib
import pickle
import re
import zipfile

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


def batch_sizes(*, max_value: int = 4096) -> st.SearchStrategy[int]:
    """Batch sizes for dynamic-batch examples, from 0 to ``max_value`` (the built-in examples
    export their batch Dim with max 4096; pass the Dim's max where a test exports its own).

    A quarter of draws are 0 or 1, which FFTs and kernels special-case; the rest are small
    sizes, powers of two and their neighbours (where block-sized grids round), or anything in
    range. Shrinking still heads for 0.
    """
    boundaries = sorted(
        {
            size
            for exponent in range(1, max_value.bit_length())
            for size in (2**exponent - 1, 2**exponent, 2**exponent + 1)
            if 2 <= size <= max_value
        }
    )
    return st.one_of(
        st.sampled_from([0, 1]),
        st.integers(2, min(9, max_value)),
        st.sampled_from(boundaries),
        st.integers(2, max_value),
    )


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


# --- untrusted files: .pt2 archives and saved region sets -----------------------------------------


class MarkerPayload:
    """Pickles to a call of ``pathlib.Path.touch(marker)``: unpickling it creates the file.

    No ``os.system``: the marker proves code ran, and touching a temp file is all it does.
    """

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def pickle_payload(kind: str, marker: str) -> bytes:
    """Bytes that create ``marker`` when unpickled: ``torch`` (a ``torch.save`` zip),
    ``pickle`` (a bare pickle, as torch's legacy format and ``opaque_obj_*`` read), or
    ``nested`` (the payload inside a tuple of real tensors, as sample inputs look)."""
    payload = MarkerPayload(marker)
    if kind == "pickle":
        return pickle.dumps(payload, protocol=2)
    buffer = io.BytesIO()
    if kind == "nested":
        torch.save(((torch.ones(2), payload), {}), buffer)
    else:
        torch.save(payload, buffer)
    return buffer.getvalue()


PAYLOAD_KINDS = ("torch", "pickle", "nested")


def zip_bytes(entries: dict[str, bytes], *, root: str = "archive") -> bytes:
    """A stored (uncompressed) zip of ``entries`` under ``root/``, as torch.export.save writes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(f"{root}/{name}" if root else name, data)
    return buffer.getvalue()


def archive_entries(data: bytes) -> dict[str, bytes]:
    """An archive's entries by name below its root folder."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {i.filename.split("/", 1)[1]: archive.read(i) for i in archive.infolist()}


def _deep_json(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


def _with_huge_int(text: bytes, digits: int) -> bytes:
    return re.sub(rb'"as_int": [0-9]+', b'"as_int": ' + b"9" * digits, text, count=1)


@st.composite
def tampered_archives(draw: st.DrawFn, entries: dict[str, bytes], marker: str) -> bytes:
    """Bytes of a ``.pt2`` archive (given as ``entries``) after one or two attacks: a pickle
    payload in an entry torch unpickles, a flipped ``use_pickle``, swapped or dropped entries,
    deep JSON, huge integers, a code-running ``expr_str``, bad paths, truncation, flipped bytes."""
    entries = dict(entries)
    names = sorted(entries)
    for _ in range(draw(st.integers(1, 2))):
        attack = draw(
            st.sampled_from(
                (
                    "payload",
                    "use_pickle",
                    "swap",
                    "drop",
                    "deep",
                    "huge",
                    "expr",
                    "path",
                    "junk",
                )
            )
        )
        name = draw(st.sampled_from(names))
        if attack == "payload":
            kind = draw(st.sampled_from(PAYLOAD_KINDS))
            target = draw(
                st.sampled_from(
                    (name, "data/sample_inputs/model.pt", "data/constants/opaque_obj_0")
                )
            )
            entries[target] = pickle_payload(kind, marker)
        elif attack == "use_pickle":
            config = "data/weights/model_weights_config.json"
            entries[config] = entries.get(config, b"").replace(
                b'"use_pickle": false', b'"use_pickle": true'
            )
            entries["data/weights/weight_0"] = pickle_payload("torch", marker)
        elif attack == "swap":
            other = draw(st.sampled_from(names))
            entries[name], entries[other] = entries.get(other, b""), entries.get(name, b"")
        elif attack == "drop":
            entries.pop(name, None)
        elif attack == "deep":
            entries[name] = _deep_json(draw(st.integers(100, 50_000)))
        elif attack == "huge":
            entries[name] = _with_huge_int(entries.get(name, b""), draw(st.integers(18, 5000)))
        elif attack == "expr":
            code = f"__import__('pathlib').Path({marker!r}).touch()"
            entries[name] = re.sub(
                rb'"expr_str": "[^"]*"',
                json.dumps({"expr_str": code})[1:-1].encode(),
                entries.get(name, b""),
            )
        elif attack == "path":
            bad = draw(st.sampled_from(("../evil", "/abs", "a/../../b", "data//x", "C:/x")))
            entries[bad] = b"x"
        else:
            entries[name] = draw(st.binary(max_size=64))
    data = zip_bytes(entries)
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    flips = draw(st.lists(st.integers(0, max(len(data) - 1, 0)), max_size=3))
    mutable = bytearray(data)
    for at in flips:
        if mutable:
            mutable[at] ^= 0xFF
    return bytes(mutable)


_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**60),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(("../x.pt2", "/etc/passwd", "region_00.pt2", "regions.json", "")),
)
json_values = st.recursive(
    _json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def tampered_indexes(draw: st.DrawFn, index: dict[str, object]) -> str:
    """The text of a saved set's ``regions.json`` after an attack: a field replaced by a random
    JSON value, a region entry replaced, deep nesting, a huge number, or not JSON at all."""
    index = json.loads(json.dumps(index))
    attack = draw(st.sampled_from(("top", "entry", "field", "deep", "huge", "text")))
    if attack == "top":
        index[draw(st.sampled_from(("format", "regions", "namespace")))] = draw(json_values)
    elif attack == "entry" and index["regions"]:
        index["regions"][0] = draw(json_values)
    elif attack == "field" and index["regions"]:
        field = draw(st.sampled_from(("name", "file", "sha256", "inputs", "outputs")))
        index["regions"][0][field] = draw(json_values)
    elif attack == "deep":
        depth = draw(st.integers(100, 50_000))
        return '{"format": 2, "regions": ' + "[" * depth + "]" * depth + "}"
    elif attack == "huge":
        return '{"format": ' + "9" * draw(st.integers(20, 10_000)) + ', "regions": []}'
    elif attack == "text":
        return draw(st.text(max_size=40))
    return json.dumps(index)


@st.composite
def masks(draw: st.DrawFn, rows: int, cols: int) -> torch.Tensor:
    """A boolean mask of the given shape: all true, all false, or random (the extremes of a
    data-dependent count are where a bound is tight or the output is empty)."""
    kind = draw(st.sampled_from(["all", "none", "random"]))
    if kind != "random":
        return torch.full((rows, cols), kind == "all", dtype=torch.bool)
    bits = draw(st.lists(st.booleans(), min_size=rows * cols, max_size=rows * cols))
    return torch.tensor(bits, dtype=torch.bool).reshape(rows, cols)
