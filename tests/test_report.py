"""Tests for `trt_autoplugin.report`: what a report holds, and its JSON, Markdown and ``rich``
renderings.

Reports come from `autoplugin` on small real programs. A report with every table has a region
with a size tensor, a region refused for its float64 boundary (left in the graph), converters
native only conditionally, each plugin's implementation, and Torch-TensorRT's dryrun, one run of
which failed; an empty one has no region at all.
"""

import dataclasses
import json

import pytest
import torch
from torch.export import Dim

from trt_autoplugin import autoplugin, examples
from trt_autoplugin.lowering import implementations
from trt_autoplugin.refusal import Implementation, Refusal, RefusalKind
from trt_autoplugin.report import DryrunSegments, ImplementationEntry, Report, rich_renderables
from trt_autoplugin.segments import Segments
from trt_autoplugin.support import OpSetSupport, SnapshotSupport

# What the failed dryrun run raised: brackets, as in shapes, that rich must not read as markup.
DRYRUN_FAILURE = "RuntimeError: complex input [float32[s77, 3]] in complex_graph_detection"


class _AllTables(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        selected = torch.masked_select(self.conv(x), mask)  # a size tensor
        wide = torch.lgamma(x.double())  # a float64 boundary: refused
        return selected, wide


@pytest.fixture(scope="module")
def full_report() -> Report:
    """A report with every table (the module docstring says which)."""
    batch = Dim("batch", min=1, max=64)
    inputs = (torch.randn(2, 3, 4, 4), torch.rand(2, 3, 4, 4) > 0.5)
    ep = torch.export.export(_AllTables(), inputs, dynamic_shapes=({0: batch}, {0: batch}))
    # 2.13's convolution and _to_copy converters have capability validators: conditional.
    result = autoplugin(ep, support=SnapshotSupport("2.13.0"))
    _, entries = implementations(result.regions, aot=False)
    dryrun = DryrunSegments(
        version="2.13.0",
        min_block_size=5,
        before=None,
        after=Segments(1, 0),
        before_error=DRYRUN_FAILURE,
    )
    return dataclasses.replace(result.report, implementations=entries, torch_tensorrt_dryrun=dryrun)


@pytest.fixture(scope="module")
def empty_report() -> Report:
    """A report of a program where every op is native: no region, nothing left behind."""
    return autoplugin(examples.export_example("cumulative"), support=OpSetSupport()).report


def _rich_text(report: Report) -> str:
    """The report's ``rich`` renderables as a terminal 200 columns wide shows them."""
    from rich.console import Console

    console = Console(record=True, width=200)
    for renderable in rich_renderables(report):
        console.print(renderable)
    return console.export_text()


def _section(markdown: str, title: str) -> str:
    """The Markdown from the ``## {title}`` heading to the next heading."""
    start = markdown.index(f"\n## {title}")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else len(markdown)]


# --- what the report holds -----------------------------------------------------------------------


def test_the_full_report_has_an_entry_for_every_table(full_report: Report) -> None:
    (region,) = full_report.regions
    assert "aten.masked_select.default" in region.targets
    (size,) = region.size_tensors
    assert size.upper_bound.startswith("48*") and "masked_select" in size.source
    (left,) = full_report.left_in_graph
    assert left.target == "aten.lgamma.default" and "float64" in left.reason
    assert len(full_report.implementations) == len(full_report.regions)


def test_conditional_converters_are_reported() -> None:
    # From Torch-TensorRT 2.12 on, the convolution converter has a capability validator (2.11's
    # has none, so the snapshot is named rather than chosen by the installed torch).
    ep = examples.export_example("spectral")
    report = autoplugin(ep, support=SnapshotSupport("2.13.0")).report
    convolutions = [e for e in report.conditional if e.target == "aten.convolution.default"]
    assert convolutions and all("capability_validator" in e.reason for e in convolutions)
    section = _section(report.to_markdown(), "Native if Torch-TensorRT accepts them when compiling")
    assert all(e.reason in section for e in convolutions)


# --- JSON ----------------------------------------------------------------------------------------


def test_json_round_trips_every_entry(full_report: Report) -> None:
    data = json.loads(full_report.to_json())
    assert data["oracle"] == full_report.oracle
    (region,) = data["regions"]
    entry = full_report.regions[0]
    assert (region["op"], region["node_count"]) == (entry.op, entry.node_count)
    assert region["targets"] == list(entry.targets) and region["inputs"] == list(entry.inputs)
    assert [(s["extent"], s["upper_bound"], s["source"]) for s in region["size_tensors"]] == [
        (s.extent, s.upper_bound, s.source) for s in entry.size_tensors
    ]
    for key in ("left_in_graph", "conditional"):
        entries = getattr(full_report, key)
        assert [(e["node"], e["target"], e["reason"]) for e in data[key]] == [
            (e.node, e.target, e.reason) for e in entries
        ]
    (implementation,) = data["implementations"]
    assert implementation["op"] == full_report.implementations[0].op
    assert implementation["implementation"] == "JIT" and implementation["kernel"] is None
    assert "not requested" in implementation["reason"]
    for key in ("before", "after"):
        segments = getattr(full_report, key)
        assert data[key] == {"tensorrt": segments.tensorrt, "pytorch": segments.pytorch}


def test_json_keeps_the_dryrun_and_its_failure(full_report: Report) -> None:
    dryrun = json.loads(full_report.to_json())["torch_tensorrt_dryrun"]
    assert (dryrun["version"], dryrun["min_block_size"]) == ("2.13.0", 5)
    assert dryrun["before"] is None and dryrun["before_error"] == DRYRUN_FAILURE
    assert dryrun["after"] == {"tensorrt": 1, "pytorch": 0} and dryrun["after_error"] is None


def test_json_of_an_empty_report(empty_report: Report) -> None:
    data = json.loads(empty_report.to_json())
    for key in ("regions", "left_in_graph", "implementations"):
        assert data[key] == [], key
    assert data["before"] == data["after"]
    assert data["torch_tensorrt_dryrun"] is None and data["torch_tensorrt_dryrun_error"] is None


# --- Markdown ------------------------------------------------------------------------------------


def test_markdown_has_every_table(full_report: Report) -> None:
    markdown = full_report.to_markdown()
    assert markdown.startswith("# trt_autoplugin report\n")
    assert f"Support answered by: {full_report.oracle}." in markdown
    (region,) = full_report.regions
    assert f"`{region.op}`" in _section(markdown, "Regions (1)")
    (size,) = region.size_tensors
    sizes = _section(markdown, "Data-dependent outputs (size tensors)")
    assert f"| {size.extent} | {size.upper_bound} | {size.source} |" in sizes
    (implementation,) = full_report.implementations
    assert f"`{implementation.op}`" in _section(markdown, "Plugin implementations")
    (left,) = full_report.left_in_graph
    assert left.reason in _section(markdown, "Left in the graph (1)")
    conditional = _section(markdown, "Native if Torch-TensorRT accepts them when compiling")
    assert all(e.reason in conditional for e in full_report.conditional)


def test_markdown_segments_show_a_failed_dryrun_run_in_place_of_its_counts(
    full_report: Report,
) -> None:
    markdown = full_report.to_markdown()
    before, after = full_report.before, full_report.after
    assert f"| before (predicted) | {before.tensorrt} | {before.pytorch} |" in markdown
    assert f"| after (predicted) | {after.tensorrt} | {after.pytorch} |" in markdown
    assert f"| before (Torch-TensorRT 2.13.0 dryrun) | fails: {DRYRUN_FAILURE} |  |" in markdown
    assert "| after (Torch-TensorRT 2.13.0 dryrun) | 1 | 0 |" in markdown
    assert "did not run" not in markdown


def test_a_dryrun_that_could_not_run_is_said_under_the_segments(empty_report: Report) -> None:
    reason = "torch_tensorrt is not installed [pip install 'trt-autoplugin[tensorrt]']"
    report = dataclasses.replace(empty_report, torch_tensorrt_dryrun_error=reason)
    markdown = report.to_markdown()
    assert f"Torch-TensorRT's dryrun did not run: {reason}" in markdown
    assert markdown.index("did not run") < markdown.index("## Regions")
    assert "dryrun)" not in markdown  # no rows for a run that did not happen
    text = " ".join(_rich_text(report).split())  # lines rejoined, wherever rich wrapped
    assert f"Torch-TensorRT's dryrun did not run: {reason}" in text


def test_report_lists_plugin_implementations() -> None:
    result = autoplugin(examples.export_example("cumulative"), support=SnapshotSupport())
    extern = Refusal(RefusalKind.INDUCTOR, "an extern call")
    entries = (
        ImplementationEntry(result.regions[0].name, Implementation.JIT, None, extern),
        ImplementationEntry.of(
            result.regions[1].name, Refusal(RefusalKind.ENVIRONMENT, "no CUDA device")
        ),
    )
    report = dataclasses.replace(result.report, implementations=entries)
    markdown = report.to_markdown()
    assert "## Plugin implementations" in markdown
    assert f"| `{result.regions[1].name}` | JIT |  | environment | no CUDA device |" in markdown
    first = report.to_dict()["implementations"][0]
    assert (first["implementation"], first["kind"], first["reason"]) == (
        "JIT",
        "inductor",
        "an extern call",
    )


def test_markdown_of_an_empty_report_says_none(empty_report: Report) -> None:
    markdown = empty_report.to_markdown()
    assert "## Regions (0)" in markdown
    assert _section(markdown, "Left in the graph (0)").split()[-1] == "none"
    for absent in ("Data-dependent outputs", "Plugin implementations", "Native if", "dryrun"):
        assert absent not in markdown, absent


# --- rich tables ---------------------------------------------------------------------------------


def test_rich_tables_have_every_title_and_row(full_report: Report) -> None:
    text = _rich_text(full_report)
    assert f"Segments, by the {full_report.oracle}" in " ".join(text.split())
    for title in (
        "Regions outlined into plugins (1)",
        "Data-dependent outputs (size tensors)",
        "Plugin implementations",
        "Left in the graph (1)",
        f"Native if Torch-TensorRT accepts them when compiling ({len(full_report.conditional)})",
    ):
        assert title in text, title
    assert "before (Torch-TensorRT 2.13.0 dryrun)" in text
    assert f"fails: {DRYRUN_FAILURE}" in " ".join(text.split())
    assert full_report.regions[0].size_tensors[0].upper_bound in text
    assert "aten.lgamma.default" in text and "float64" in text


def test_an_empty_table_is_one_line(empty_report: Report) -> None:
    text = _rich_text(empty_report)
    assert "Regions outlined into plugins: none" in text and "Left in the graph: none" in text
    assert "(0)" not in text and "Data-dependent" not in text and "Native if" not in text


def test_shapes_in_terminal_tables_are_text_not_markup() -> None:
    """A shape such as float32[s77, 3, 16, 16] is printed whole (rich markup would eat it)."""
    report = autoplugin(examples.export_example("spectral"), support=SnapshotSupport()).report
    text = _rich_text(report)
    for region in report.regions:
        for spec in region.inputs:
            assert spec in text
