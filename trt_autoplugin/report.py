"""The report: regions, nodes left in the graph with reasons, and predicted segments.

Renders as JSON, Markdown, and ``rich`` renderables (printing is the CLI's job).
"""

import dataclasses
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import torch.fx

from .graph import source_line, target_name
from .outline import OutlinedRegion
from .partition import Partition
from .pluggable import size_tensors
from .refusal import Implementation, Refusal
from .segments import Segments
from .support import SupportReport, Verdict


@dataclasses.dataclass(frozen=True, slots=True)
class SizeTensorEntry:
    """A data-dependent output extent of a region, declared to TensorRT as a size tensor."""

    extent: str  # the output dim, e.g. "u0"
    upper_bound: str  # in the input dims' symbols, e.g. "16*s77"
    source: str  # where the bound comes from


@dataclasses.dataclass(frozen=True, slots=True)
class RegionEntry:
    """One outlined region, as reported."""

    op: str
    nodes: tuple[str, ...]
    targets: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    size_tensors: tuple[SizeTensorEntry, ...] = ()

    @property
    def node_count(self) -> int:
        return len(self.nodes)


# The kind of a `Report.conditional` entry: a support note, not a refusal.
CONDITIONAL = "conditional"


@dataclasses.dataclass(frozen=True, slots=True)
class NodeEntry:
    """A node with a note: left in the graph (a graph break), or native only conditionally.

    Attributes:
        kind: the refusal's `refusal.RefusalKind` value, or `CONDITIONAL` for a support note.
        reason: the refusal's (or the note's) message.
    """

    node: str
    target: str
    kind: str
    reason: str
    source: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class ImplementationEntry:
    """How a region's plugin runs: an ahead-of-time kernel (AOT), or PyTorch called back from
    the engine (JIT), with the refusal that keeps it from AOT."""

    op: str
    implementation: Implementation
    kernel: str | None  # the AOT kernel's name and config
    reason: Refusal | None
    # JIT only: the outputs copied into TensorRT's buffers, and why (the others are written in
    # place by their op's out= form).
    copies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.implementation is Implementation.JIT) != (self.reason is not None):
            raise ValueError(
                f"{self.op}: a JIT plugin needs the refusal that keeps it from AOT, and an AOT "
                f"one has none (got {self.implementation}, {self.reason!r})"
            )

    @staticmethod
    def of(op: str, kernel_or_refusal: object, copies: Sequence[str] = ()) -> "ImplementationEntry":
        """The entry for `aot.aot_or_reason`'s answer: an `aot.AotKernel` or a `Refusal`; a JIT
        plugin's ``copies`` are its outputs that are copied (`output_writes`)."""
        if isinstance(kernel_or_refusal, Refusal):
            return ImplementationEntry(
                op, Implementation.JIT, None, kernel_or_refusal, tuple(copies)
            )
        name = getattr(kernel_or_refusal, "kernel_name", "?")
        config = getattr(kernel_or_refusal, "config", "")
        tactics = len(getattr(kernel_or_refusal, "alternatives", ())) + 1
        more = f"; {tactics} configs as TensorRT tactics" if tactics > 1 else ""
        return ImplementationEntry(op, Implementation.AOT, f"{name} ({config}{more})", None)

    @property
    def kind(self) -> str | None:
        """The refusal's `refusal.RefusalKind` value, as `NodeEntry.kind`; None for AOT."""
        return self.reason.kind.value if self.reason is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the implementation and the refusal's kind as their values, the refusal
        as its message (as `NodeEntry` reports ``kind`` and ``reason``)."""
        return {
            "op": self.op,
            "implementation": self.implementation.value,
            "kernel": self.kernel,
            "kind": self.kind,
            "reason": self.reason.message if self.reason is not None else None,
            "copies": list(self.copies),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class DryrunSegments:
    """What Torch-TensorRT's own dryrun partitioned, without the pass and with it.

    Attributes:
        version: the Torch-TensorRT release that ran.
        min_block_size: the setting it ran with.
        before: engines and PyTorch segments without the pass; None if Torch-TensorRT failed.
        after: with the pass registered; None if Torch-TensorRT failed.
        before_error: the first line of what Torch-TensorRT raised without the pass.
        after_error: the first line of what it raised with the pass.
    """

    version: str
    min_block_size: int
    before: Segments | None
    after: Segments | None
    before_error: str | None = None
    after_error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """Everything the pass decided, ready to render.

    ``before`` and ``after`` are predictions; ``torch_tensorrt_dryrun`` holds Torch-TensorRT's
    own numbers when it ran (``trt-autoplugin analyze`` runs it where ``torch_tensorrt``
    imports), and ``torch_tensorrt_dryrun_error`` why it could not run, if it was tried.
    """

    oracle: str
    regions: tuple[RegionEntry, ...]
    left_in_graph: tuple[NodeEntry, ...]
    conditional: tuple[NodeEntry, ...]
    before: Segments
    after: Segments
    implementations: tuple[ImplementationEntry, ...] = ()
    torch_tensorrt_dryrun: DryrunSegments | None = None
    torch_tensorrt_dryrun_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for region, entry in zip(data["regions"], self.regions, strict=True):
            region["node_count"] = entry.node_count
        data["implementations"] = [entry.to_dict() for entry in self.implementations]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        return "\n".join(_markdown_lines(self)) + "\n"


def _node_entry(node: torch.fx.Node, kind: str, reason: str) -> NodeEntry:
    return NodeEntry(node.name, target_name(node.target), kind, reason, source_line(node))


def build_report(
    gm: torch.fx.GraphModule,
    verdicts: SupportReport,
    partition: Partition,
    regions: Sequence[OutlinedRegion],
    *,
    before: Segments,
    after: Segments,
) -> Report:
    """The report of one pass over ``gm``, built after outlining (refused nodes remain)."""
    by_name: Mapping[str, torch.fx.Node] = {n.name: n for n in gm.graph.nodes}
    left = tuple(
        _node_entry(by_name[name], refusal.kind.value, refusal.message)
        for name, refusal in partition.refused.items()
        if name in by_name
    )
    conditional = tuple(
        _node_entry(by_name[name], CONDITIONAL, v.reason)
        for name, v in verdicts.verdicts.items()
        if v.conditional and v.verdict is Verdict.NATIVE and name in by_name
    )
    entries = tuple(
        RegionEntry(
            op=str(r.op),
            nodes=r.nodes,
            targets=r.targets,
            inputs=tuple(str(s) for s in r.input_specs),
            outputs=tuple(str(s) for s in r.output_specs),
            size_tensors=tuple(
                SizeTensorEntry(str(t.extent), str(t.upper_bound), t.source)
                for t in size_tensors(r.body)
            ),
        )
        for r in regions
    )
    return Report(verdicts.oracle, entries, left, conditional, before, after)


def _markdown_lines(report: Report) -> list[str]:
    lines = [
        "# trt_autoplugin report",
        "",
        f"Support answered by: {report.oracle}.",
        "",
        *_markdown_segments(report),
        "",
        f"## Regions ({len(report.regions)})",
        "",
        "| op | nodes | targets | inputs | outputs |",
        "|---|---|---|---|---|",
    ]
    for r in report.regions:
        targets = ", ".join(dict.fromkeys(r.targets))
        lines.append(
            f"| `{r.op}` | {r.node_count} | {targets} | {'; '.join(r.inputs)} | "
            f"{'; '.join(r.outputs)} |"
        )
    lines += _markdown_size_tensors(report.regions)
    if report.implementations:
        lines += ["", "## Plugin implementations", ""]
        lines += _markdown_table(
            _IMPLEMENTATION_COLUMNS, _implementation_rows(report.implementations), code=("op",)
        )
    lines += ["", f"## Left in the graph ({len(report.left_in_graph)})", ""]
    lines += _node_table(report.left_in_graph)
    if report.conditional:
        lines += ["", "## Native if Torch-TensorRT accepts them when compiling", ""]
        lines += _node_table(report.conditional)
    return lines


# Said wherever data-dependent outputs are reported: what they cost at run time.
OUTPUT_ALLOCATOR_NOTE = (
    "TensorRT reserves each data-dependent output for its upper bound and learns the real "
    "extent from the plugin's size tensor; Torch-TensorRT then runs the engine with its output "
    "allocator (a device-to-host read of the sizes after each inference where an engine output "
    "is data-dependent)."
)


_SIZE_TENSOR_COLUMNS = ("op", "extent", "at most", "bound from")
_NODE_COLUMNS = ("node", "op", "source", "kind", "reason")
_IMPLEMENTATION_COLUMNS = ("op", "runs as", "kernel", "kind", "why not AOT", "copied outputs")


def _size_tensor_rows(regions: Sequence[RegionEntry]) -> list[tuple[str, ...]]:
    return [(r.op, t.extent, t.upper_bound, t.source) for r in regions for t in r.size_tensors]


def _node_rows(entries: Sequence[NodeEntry]) -> list[tuple[str, ...]]:
    return [(e.node, e.target, e.source or "", e.kind, e.reason) for e in entries]


def _implementation_rows(entries: Sequence[ImplementationEntry]) -> list[tuple[str, ...]]:
    return [
        (
            e.op,
            e.implementation.value,
            e.kernel or "",
            e.kind or "",
            str(e.reason or ""),
            "; ".join(e.copies) if e.copies else ("none" if e.reason else ""),
        )
        for e in entries
    ]


def _markdown_table(
    columns: Sequence[str], rows: Sequence[Sequence[str]], *, code: Collection[str] = ()
) -> list[str]:
    """A Markdown table; cells of the ``code`` columns are set as code."""
    quoted = [column in code for column in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = (f"`{c}`" if q and c else c for c, q in zip(row, quoted, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _markdown_size_tensors(regions: Sequence[RegionEntry]) -> list[str]:
    rows = _size_tensor_rows(regions)
    if not rows:
        return []
    lines = ["", "## Data-dependent outputs (size tensors)", "", OUTPUT_ALLOCATOR_NOTE, ""]
    return lines + _markdown_table(_SIZE_TENSOR_COLUMNS, rows, code=("op",))


def _segment_rows(report: Report) -> list[tuple[str, str, str]]:
    """(label, engines, PyTorch segments) rows: the prediction, then Torch-TensorRT's dryrun
    where it ran (a run that failed shows its error in place of the counts)."""
    rows = [("before (predicted)", report.before), ("after (predicted)", report.after)]
    dryrun = report.torch_tensorrt_dryrun
    out = [(label, str(s.tensorrt), str(s.pytorch)) for label, s in rows]
    if dryrun is not None:
        label = f"Torch-TensorRT {dryrun.version} dryrun"
        for when, counts, error in (
            ("before", dryrun.before, dryrun.before_error),
            ("after", dryrun.after, dryrun.after_error),
        ):
            if counts is None:
                out.append((f"{when} ({label})", f"fails: {error}", ""))
            else:
                out.append((f"{when} ({label})", str(counts.tensorrt), str(counts.pytorch)))
    return out


def _markdown_segments(report: Report) -> list[str]:
    lines = ["| | TensorRT engines | PyTorch segments (graph breaks) |", "|---|---|---|"]
    for label, engines, pytorch in _segment_rows(report):
        lines.append(f"| {label} | {engines} | {pytorch} |")
    if report.torch_tensorrt_dryrun_error:
        lines += ["", f"Torch-TensorRT's dryrun did not run: {report.torch_tensorrt_dryrun_error}"]
    return lines


def _node_table(entries: Sequence[NodeEntry]) -> list[str]:
    if not entries:
        return ["none"]
    return _markdown_table(_NODE_COLUMNS, _node_rows(entries))


def rich_renderables(report: Report) -> list[Any]:
    """Tables for ``rich.console.Console.print``."""
    from rich.markup import escape
    from rich.table import Table

    segments = Table(
        title=escape(f"Segments, by the {report.oracle}"),
        caption=(
            escape(f"Torch-TensorRT's dryrun did not run: {report.torch_tensorrt_dryrun_error}")
            if report.torch_tensorrt_dryrun_error
            else None
        ),
    )
    segments.add_column("")
    segments.add_column("TensorRT engines", justify="right")
    segments.add_column("PyTorch segments (graph breaks)", justify="right")
    for label, engines, pytorch in _segment_rows(report):
        segments.add_row(escape(label), escape(engines), pytorch)

    if not report.regions:
        return [segments, _none_line("Regions outlined into plugins"), *_rich_left(report)]
    regions = Table(title=f"Regions outlined into plugins ({len(report.regions)})")
    for column in ("op", "nodes", "targets", "inputs", "outputs"):
        regions.add_column(column, overflow="fold")
    for r in report.regions:
        # Cells are escaped: shapes such as float32[s77, 3] are text, not rich markup.
        regions.add_row(
            escape(r.op),
            str(r.node_count),
            escape("\n".join(dict.fromkeys(r.targets))),
            escape("\n".join(r.inputs)),
            escape("\n".join(r.outputs)),
        )
    tables: list[Any] = [segments, regions]
    if _size_tensor_rows(report.regions):
        tables.append(_rich_size_tensors(report.regions))
    if report.implementations:
        tables.append(_rich_implementations(report.implementations))
    return tables + _rich_left(report)


def _rich_left(report: Report) -> list[Any]:
    """The nodes left in the graph and the conditional ones; an empty table is one line."""
    left = report.left_in_graph
    tables = [_rich_nodes("Left in the graph", left) if left else _none_line("Left in the graph")]
    if report.conditional:
        tables.append(
            _rich_nodes("Native if Torch-TensorRT accepts them when compiling", report.conditional)
        )
    return tables


def _none_line(title: str) -> Any:
    from rich.text import Text

    return Text(f"{title}: none", style="italic")


def _rich_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    caption: str | None = None,
) -> Any:
    """A ``rich`` table; cells are escaped (shapes such as float32[s77, 3] are not markup)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), caption=escape(caption) if caption else None)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def _rich_nodes(title: str, entries: Sequence[NodeEntry]) -> Any:
    return _rich_table(f"{title} ({len(entries)})", _NODE_COLUMNS, _node_rows(entries))


def _rich_implementations(entries: Sequence[ImplementationEntry]) -> Any:
    rows = _implementation_rows(entries)
    return _rich_table("Plugin implementations", _IMPLEMENTATION_COLUMNS, rows)


def _rich_size_tensors(regions: Sequence[RegionEntry]) -> Any:
    rows = _size_tensor_rows(regions)
    title = "Data-dependent outputs (size tensors)"
    return _rich_table(title, _SIZE_TENSOR_COLUMNS, rows, caption=OUTPUT_ALLOCATOR_NOTE)
