"""The support oracles: snapshot predictions on known ops, explicit overrides, settings."""

import pytest
import torch

from trt_autoplugin import examples
from trt_autoplugin.errors import SupportError
from trt_autoplugin.support import (
    OpSetSupport,
    SnapshotSupport,
    Verdict,
    as_oracle,
    load_snapshot,
    snapshot_versions,
    support_report,
)


@pytest.fixture(scope="module")
def cumulative_gm() -> torch.fx.GraphModule:
    return examples.export_example("cumulative").graph_module


def _verdict(gm: torch.fx.GraphModule, oracle: object, target: object) -> Verdict:
    report = support_report(gm, as_oracle(oracle))  # type: ignore[arg-type]
    (node,) = [n for n in gm.graph.nodes if n.target == target]
    return report.verdicts[node.name].verdict


def test_snapshot_ships_and_loads() -> None:
    assert "2.13.0" in snapshot_versions()
    snapshot = load_snapshot("2.13.0")
    assert "aten.add.Tensor" in snapshot.converters
    assert "aten.lgamma.default" not in snapshot.converters
    assert "aten._softmax.default" in snapshot.torch_disabled_decompositions


def test_missing_snapshot_version_says_which_exist() -> None:
    with pytest.raises(SupportError, match="2.13.0"):
        load_snapshot("0.0.1")


def test_snapshot_answers_known_ops(cumulative_gm: torch.fx.GraphModule) -> None:
    oracle = SnapshotSupport()
    report = support_report(cumulative_gm, oracle)
    by_target = {n.target: report.verdicts[n.name] for n in cumulative_gm.graph.nodes}
    assert by_target[torch.ops.aten.logcumsumexp.default].verdict is Verdict.UNSUPPORTED
    assert by_target[torch.ops.aten.cummax.default].verdict is Verdict.UNSUPPORTED
    assert by_target[torch.ops.aten.linear.default].verdict is Verdict.NATIVE
    assert by_target[torch.ops.aten._assert_tensor_metadata.default].verdict is Verdict.IGNORED
    assert "predicted" in report.oracle


def test_torch_executed_ops_forces_pytorch(cumulative_gm: torch.fx.GraphModule) -> None:
    oracle = SnapshotSupport(torch_executed_ops={torch.ops.aten.linear.default})
    assert _verdict(cumulative_gm, oracle, torch.ops.aten.linear.default) is Verdict.UNSUPPORTED


def test_dynamic_shapes_need_a_dynamic_converter() -> None:
    class Sort(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sort(x, dim=1).values

    batch = torch.export.Dim("batch", min=2, max=64)
    ep = torch.export.export(Sort(), (torch.randn(4, 8),), dynamic_shapes=({0: batch},))
    snapshot = load_snapshot()
    entries = snapshot.converters["aten.sort.default"]
    verdict = _verdict(ep.graph_module, SnapshotSupport(), torch.ops.aten.sort.default)
    expected = any(e.supports_dynamic_shapes for e in entries)
    assert (verdict is Verdict.NATIVE) == expected
    assumed = SnapshotSupport(assume_dynamic_shape_support=True)
    assert _verdict(ep.graph_module, assumed, torch.ops.aten.sort.default) is Verdict.NATIVE


def test_op_set_overrides_base(cumulative_gm: torch.fx.GraphModule) -> None:
    forced = OpSetSupport(unsupported=["aten.linear"], base=SnapshotSupport())
    assert _verdict(cumulative_gm, forced, torch.ops.aten.linear.default) is Verdict.UNSUPPORTED
    kept = OpSetSupport(supported=[torch.ops.aten.logcumsumexp.default], base=SnapshotSupport())
    assert _verdict(cumulative_gm, kept, torch.ops.aten.logcumsumexp.default) is Verdict.NATIVE
    assert _verdict(cumulative_gm, kept, torch.ops.aten.cummax.default) is Verdict.UNSUPPORTED


def test_callable_support(cumulative_gm: torch.fx.GraphModule) -> None:
    def native(node: torch.fx.Node) -> bool:
        return node.target != torch.ops.aten.linear.default

    assert _verdict(cumulative_gm, native, torch.ops.aten.linear.default) is Verdict.UNSUPPORTED
    assert _verdict(cumulative_gm, native, torch.ops.aten.cummax.default) is Verdict.NATIVE


def test_bad_support_argument() -> None:
    with pytest.raises(SupportError, match="SupportOracle"):
        as_oracle(42)  # type: ignore[arg-type]


def test_complex_nodes_are_never_native() -> None:
    gm = examples.export_example("spectral").graph_module
    report = support_report(gm, SnapshotSupport())
    (mul,) = [n for n in gm.graph.nodes if n.target == torch.ops.aten.mul.Tensor]
    assert report.verdicts[mul.name].verdict is Verdict.UNSUPPORTED
    assert "complex" in report.verdicts[mul.name].reason
