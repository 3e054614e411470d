"""Refusals: one typed answer, from every stage that says no, reported the same way everywhere."""

import dataclasses
import json

import pytest
import torch
import torch.fx
from torch.export import Dim

from trt_autoplugin import examples
from trt_autoplugin.lowering import implementations
from trt_autoplugin.partition import refusal_reason
from trt_autoplugin.pipeline import autoplugin
from trt_autoplugin.pluggable import size_tensors
from trt_autoplugin.refusal import Implementation, Refusal, RefusalKind
from trt_autoplugin.report import CONDITIONAL, ImplementationEntry, rich_renderables
from trt_autoplugin.support import OpSetSupport, SnapshotSupport

# --- the dataclass -------------------------------------------------------------------------------


def test_a_refusal_reads_as_its_message() -> None:
    refusal = Refusal(RefusalKind.MUTATION, "mutates an input in place", node="add_")
    assert str(refusal) == f"{refusal}" == "mutates an input in place"
    assert (refusal.kind, refusal.node) == (RefusalKind.MUTATION, "add_")
    with pytest.raises(dataclasses.FrozenInstanceError):
        refusal.message = "something else"  # type: ignore[misc]


@pytest.mark.parametrize("message", ["", "   "])
def test_a_refusal_needs_a_message(message: str) -> None:
    with pytest.raises(ValueError, match="needs a message"):
        Refusal(RefusalKind.DTYPE, message)


def test_a_refusal_needs_a_kind_and_a_real_node_name() -> None:
    with pytest.raises(TypeError, match="RefusalKind"):
        Refusal("dtype", "input 0 has dtype float64")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty node"):
        Refusal(RefusalKind.DTYPE, "input 0 has dtype float64", node="")


def test_kind_values_are_distinct_kebab_case_names() -> None:
    values = [kind.value for kind in RefusalKind]
    assert len(set(values)) == len(values)
    assert all(v == v.lower() and " " not in v and "_" not in v for v in values)
    assert CONDITIONAL not in values


def test_an_implementation_entry_is_jit_exactly_when_refused() -> None:
    refusal = Refusal(RefusalKind.INDUCTOR, "an extern call")
    with pytest.raises(ValueError, match="JIT"):
        ImplementationEntry("op", Implementation.JIT, None, None)
    with pytest.raises(ValueError, match="AOT"):
        ImplementationEntry("op", Implementation.AOT, "kernel", refusal)
    assert ImplementationEntry.of("op", refusal).implementation is Implementation.JIT


# --- each producer's kind ------------------------------------------------------------------------


def test_a_node_that_mutates_or_is_no_operator_call_is_refused_as_such() -> None:
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    add_ = graph.call_function(torch.ops.aten.add_.Tensor, (x, 1))
    assert refusal_reason(add_) == Refusal(
        RefusalKind.MUTATION,
        "mutates an input in place; a plugin's inputs are read-only",
        add_.name,
    )
    assert refusal_reason(x).kind is RefusalKind.NOT_AN_OPERATOR


def _left_kinds(report) -> dict[str, str]:
    return {entry.target: entry.kind for entry in report.left_in_graph}


def test_a_float64_boundary_is_refused_as_a_dtype() -> None:
    model, inputs, dynamic_shapes = examples.load_example("distribution")
    inputs = tuple(t.double() for t in inputs)
    ep = torch.export.export(model.double(), inputs, dynamic_shapes=dynamic_shapes)
    report = autoplugin(ep, support=SnapshotSupport()).report
    assert "aten.lgamma.default" in _left_kinds(report)
    assert set(_left_kinds(report).values()) == {RefusalKind.DTYPE.value}
    assert all("float64" in entry.reason for entry in report.left_in_graph)


class _Repeat(torch.nn.Module):
    def forward(self, x: torch.Tensor, repeats: torch.Tensor) -> torch.Tensor:
        return torch.repeat_interleave(x, repeats, dim=0)


def test_a_data_dependent_size_without_a_bound_is_refused_as_unbounded() -> None:
    n = Dim("n", min=2, max=64)
    ep = torch.export.export(
        _Repeat(), (torch.randn(4, 3), torch.tensor([1, 2, 0, 3])), dynamic_shapes=({0: n}, {0: n})
    )
    oracle = OpSetSupport(unsupported=["aten.repeat_interleave"], base=SnapshotSupport())
    report = autoplugin(ep, support=oracle, min_block_size=1).report
    kind = _left_kinds(report)["aten.repeat_interleave.Tensor"]
    assert kind == RefusalKind.UNBOUNDED_DATA_DEPENDENT.value


def test_a_region_holding_a_torch_executed_op_is_refused_as_such() -> None:
    ep = examples.export_example("distribution")
    report = autoplugin(
        ep, support=SnapshotSupport(), torch_executed_ops=["aten.lgamma.default"]
    ).report
    assert _left_kinds(report)["aten.lgamma.default"] == RefusalKind.TORCH_EXECUTED_OPS.value


def test_plugins_stay_jit_with_the_kind_of_why() -> None:
    result = autoplugin(examples.export_example("data_dependent"), support=SnapshotSupport())
    _, entries = implementations(result.regions, aot=False)
    assert {e.reason.kind for e in entries} == {RefusalKind.NOT_REQUESTED}
    # A data-dependent output is refused before any kernel is built, CUDA or not.
    _, entries = implementations(result.regions, aot=True)
    masked = [e for e, r in zip(entries, result.regions, strict=True) if size_tensors(r.body)]
    assert masked and {e.reason.kind for e in masked} == {RefusalKind.DATA_DEPENDENT_OUTPUT}


# --- reporting -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def refused_report():
    """A report with a node left in the graph and a JIT implementation, each with its kind."""
    ep = examples.export_example("distribution")
    result = autoplugin(ep, support=SnapshotSupport(), torch_executed_ops=["aten.lgamma.default"])
    _, entries = implementations(result.regions, aot=False)
    return dataclasses.replace(result.report, implementations=entries)


def test_the_json_report_round_trips_kinds_and_messages(refused_report) -> None:
    data = json.loads(refused_report.to_json())
    assert json.loads(json.dumps(refused_report.to_dict())) == data  # no enum leaks through
    left = {e["target"]: e for e in data["left_in_graph"]}
    entry = left["aten.lgamma.default"]
    assert entry["kind"] == "torch-executed-ops" and "torch_executed_ops" in entry["reason"]
    assert data["implementations"], data
    for implementation in data["implementations"]:
        assert implementation["implementation"] == "JIT"
        assert implementation["kind"] == "not-requested"
        assert implementation["reason"] == "AOT kernels were not requested"


def test_markdown_and_terminal_tables_show_the_kind(refused_report) -> None:
    from rich.console import Console

    markdown = refused_report.to_markdown()
    assert "| node | op | source | kind | reason |" in markdown
    assert "| op | runs as | kernel | kind | why not AOT |" in markdown
    assert "| torch-executed-ops |" in markdown and "| not-requested |" in markdown
    console = Console(record=True, width=300)
    for renderable in rich_renderables(refused_report):
        console.print(renderable)
    text = console.export_text()
    assert "torch-executed-ops" in text and "not-requested" in text


class _Sparsified(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.lgamma(x).to_sparse()


def test_a_sparse_tensor_at_the_boundary_is_refused_by_its_layout() -> None:
    # Found by the OpInfo sweep on CUDA: the JIT plugin can't copy a sparse result into
    # TensorRT's dense buffer, so such a region must never become one.
    ep = torch.export.export(_Sparsified(), (torch.rand(3, 4) + 1,))
    support = OpSetSupport(unsupported=["aten.lgamma", "aten._to_sparse"], base=SnapshotSupport())
    result = autoplugin(ep, support=support)
    assert result.regions == ()
    kinds = {entry.target: entry.kind for entry in result.report.left_in_graph}
    assert kinds == {"aten.lgamma.default": "layout", "aten._to_sparse.default": "layout"}
    (entry, _) = result.report.left_in_graph
    assert "output 0 is a torch.sparse_coo tensor" in entry.reason
