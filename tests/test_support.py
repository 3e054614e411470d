"""The support oracles: snapshot predictions on known ops, explicit overrides, settings."""

import pytest
import torch

from trt_autoplugin import autoplugin, examples, snapshot
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
    oracle = SnapshotSupport()
    entries = oracle.snapshot.converters["aten.sort.default"]
    verdict = _verdict(ep.graph_module, oracle, torch.ops.aten.sort.default)
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


# Which snapshot, and how releases differ


def test_description_says_which_snapshot_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "installed_torch_tensorrt_version", lambda: None)
    monkeypatch.setattr(snapshot, "installed_torch_version", lambda: "2.12.1+cu128")
    oracle = SnapshotSupport()
    assert oracle.snapshot.version == "2.12.0"
    assert oracle.description == (
        "snapshot of Torch-TensorRT 2.12.0 (chosen by torch 2.12.1+cu128; predicted)"
    )
    explicit = SnapshotSupport(version="2.11.0")
    assert (
        explicit.description == "snapshot of Torch-TensorRT 2.11.0 (chosen explicitly; predicted)"
    )


def test_the_report_carries_the_description() -> None:
    oracle = SnapshotSupport(version="2.14.0")
    result = autoplugin(examples.export_example("cumulative"), support=oracle)
    assert result.report.oracle == oracle.description


def test_unknown_version_is_a_clear_error() -> None:
    with pytest.raises(SupportError, match="shipped: 2.11.0, 2.12.0, 2.13.0, 2.14.0"):
        SnapshotSupport(version="2.10.0")


def _node(gm: torch.fx.GraphModule, target: object) -> torch.fx.Node:
    (node,) = [n for n in gm.graph.nodes if n.target == target]
    return node


@pytest.mark.parametrize("version", ["2.12.0", "2.13.0", "2.14.0"])
def test_complex_nodes_are_rejected_from_2_12(version: str) -> None:
    mul = _node(examples.export_example("spectral").graph_module, torch.ops.aten.mul.Tensor)
    support = SnapshotSupport(version=version).node_support(mul)
    assert support.verdict is Verdict.UNSUPPORTED
    assert "complex" in support.reason


def test_2_11_sends_complex_nodes_to_their_converter() -> None:
    # 2.11's TorchTensorRTOperatorSupport has no _has_complex_dtype: a complex mul is judged
    # by its converter alone. The FFTs have none in any release.
    gm = examples.export_example("spectral").graph_module
    oracle = SnapshotSupport(version="2.11.0")
    mul = oracle.node_support(_node(gm, torch.ops.aten.mul.Tensor))
    assert mul.verdict is Verdict.NATIVE
    assert "2.11.0 does not reject complex tensors" in mul.reason
    fft = oracle.node_support(_node(gm, torch.ops.aten.fft_rfft2.default))
    assert fft.verdict is Verdict.UNSUPPORTED


def _glu_gm() -> torch.fx.GraphModule:
    class Glu(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.glu(x, dim=-1)

    return torch.export.export(Glu(), (torch.randn(4, 8),)).graph_module


def test_converters_added_by_a_release() -> None:
    glu = _node(_glu_gm(), torch.ops.aten.glu.default)
    assert SnapshotSupport(version="2.13.0").node_support(glu).verdict is Verdict.UNSUPPORTED
    assert SnapshotSupport(version="2.14.0").node_support(glu).verdict is Verdict.NATIVE


def _nonzero_gm() -> torch.fx.GraphModule:
    class Nonzero(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nonzero(x)

    return torch.export.export(Nonzero(), (torch.randn(4, 8),)).graph_module


def test_fallback_data_dependent_ops_from_2_13() -> None:
    nonzero = _node(_nonzero_gm(), torch.ops.aten.nonzero.default)
    assert SnapshotSupport(version="2.13.0").node_support(nonzero).is_native
    fallback = SnapshotSupport(version="2.13.0", fallback_data_dependent_ops=True)
    support = fallback.node_support(nonzero)
    assert support.verdict is Verdict.UNSUPPORTED
    assert "output allocator" in support.reason
    with pytest.raises(SupportError, match="2.13.0, 2.14.0"):
        SnapshotSupport(version="2.12.0", fallback_data_dependent_ops=True)


class _ReturnsItem(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, float]:
        y = torch.sin(x) * 2
        return y, y.sum().item()


class _ChecksItem(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._check(x.sum().item() > -1e9)
        return torch.sin(x) * 2


def test_a_scalar_program_output_keeps_its_verdict_and_is_counted() -> None:
    ep = torch.export.export(_ReturnsItem(), (torch.randn(4),))
    result = autoplugin(ep, support=SnapshotSupport(), min_block_size=1)
    program = result.program.graph_module
    (scalar,) = [
        n for n in program.graph.nodes if n.target is torch.ops.aten._local_scalar_dense.default
    ]
    report = support_report(program, SnapshotSupport())
    assert report.verdicts[scalar.name].verdict is Verdict.UNSUPPORTED
    (left,) = result.report.left_in_graph
    assert left.node == scalar.name
    assert "program output" in left.reason and "non-tensor" in left.reason
    assert result.report.after.pytorch == 1


def test_a_scalar_feeding_only_a_removed_assert_is_ignored() -> None:
    try:
        ep = torch.export.export(_ChecksItem(), (torch.randn(4),))
    except AssertionError as e:  # torch 2.11's solver on a float .item() check
        if "created by constraints solver" not in str(e):
            raise
        pytest.skip(f"torch {torch.__version__}'s export fails on a float .item() check: {e}")
    result = autoplugin(ep, support=SnapshotSupport(), min_block_size=1)
    gm = result.program.graph_module
    report = support_report(gm, SnapshotSupport())
    scalars = [n for n in gm.graph.nodes if n.target is torch.ops.aten._local_scalar_dense.default]
    assert scalars
    assert all(report.verdicts[n.name].verdict is Verdict.IGNORED for n in scalars)
    assert result.report.left_in_graph == ()
