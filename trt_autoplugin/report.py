"""The report: regions, nodes left in the graph with reasons, and predicted segments.

Renders as JSON, Markdown, and ``rich`` renderables (printing is the CLI's job).
"""

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

import torch.fx

from .errors import source_line
from .outline import OutlinedRegion
from .partition import Partition
from .pluggable import size_tensors
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


@dataclasses.dataclass(frozen=True, slots=True)
class NodeEntry:
    """A node with a note: left in the graph (a graph break), or native only conditionally."""

    node: str
    target: str
    reason: str
    source: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class ImplementationEntry:
    """How a region's plugin runs: an ahead-of-time kernel (AOT), or PyTorch called back from
    the engine (JIT), with the reason it isn't AOT."""

    op: str
    implementation: str  # "AOT" or "JIT"
    kernel: str | None  # the AOT kernel's name and config
    reason: str | None

    @staticmethod
    def of(op: str, kernel_or_reason: object) -> "ImplementationEntry":
        """The entry for `aot.aot_or_reason`'s answer."""
        if isinstance(kernel_or_reason, str):
            return ImplementationEntry(op, "JIT", None, kernel_or_reason)
        name = getattr(kernel_or_reason, "kernel_name", "?")
        config = getattr(kernel_or_reason, "config", "")
        tactics = len(getattr(kernel_or_reason, "alternatives", ())) + 1
        more = f"; {tactics} configs as TensorRT tactics" if tactics > 1 else ""
        return ImplementationEntry(op, "AOT", f"{name} ({config}{more})", None)


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
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        return "\n".join(_markdown_lines(self)) + "\n"


def _node_entry(node: torch.fx.Node, reason: str) -> NodeEntry:
    target = node.target if isinstance(node.target, str) else _target(node)
    return NodeEntry(node.name, target, reason, source_line(node))


def _target(node: torch.fx.Node) -> str:
    from .support import target_name

    return target_name(node.target)


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
        _node_entry(by_name[name], reason)
        for name, reason in partition.refused.items()
        if name in by_name
    )
    conditional = tuple(
        _node_entry(by_name[name], v.reason)
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
        lines += ["", "## Plugin implementations", "", "| op | runs as | kernel | why not AOT |"]
        lines.append("|---|---|---|---|")
        for i in report.implementations:
            lines.append(f"| `{i.op}` | {i.implementation} | {i.kernel or ''} | {i.reason or ''} |")
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


def _size_tensor_rows(regions: Sequence[RegionEntry]) -> list[tuple[str, str, str, str]]:
    return [(r.op, t.extent, t.upper_bound, t.source) for r in regions for t in r.size_tensors]


def _markdown_size_tensors(regions: Sequence[RegionEntry]) -> list[str]:
    rows = _size_tensor_rows(regions)
    if not rows:
        return []
    lines = ["", "## Data-dependent outputs (size tensors)", "", OUTPUT_ALLOCATOR_NOTE, ""]
    lines += ["| op | extent | at most | bound from |", "|---|---|---|---|"]
    lines += [f"| `{op}` | {extent} | {bound} | {source} |" for op, extent, bound, source in rows]
    return lines


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
    rows = ["| node | op | source | reason |", "|---|---|---|---|"]
    for e in entries:
        rows.append(f"| {e.node} | {e.target} | {e.source or ''} | {e.reason} |")
    return rows


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


def _rich_nodes(title: str, entries: Sequence[NodeEntry]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{title} ({len(entries)})")
    for column in ("node", "op", "source", "reason"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(escape(e.node), escape(e.target), escape(e.source or ""), escape(e.reason))
    return table


def _rich_implementations(entries: Sequence[ImplementationEntry]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Plugin implementations")
    for column in ("op", "runs as", "kernel", "why not AOT"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(
            escape(e.op), escape(e.implementation), escape(e.kernel or ""), escape(e.reason or "")
        )
    return table


def _rich_size_tensors(regions: Sequence[RegionEntry]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title="Data-dependent outputs (size tensors)", caption=escape(OUTPUT_ALLOCATOR_NOTE)
    )
    for column in ("op", "extent", "at most", "bound from"):
        table.add_column(column, overflow="fold")
    for row in _size_tensor_rows(regions):
        table.add_row(*(escape(cell) for cell in row))
    return table
