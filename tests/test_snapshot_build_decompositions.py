"""Tests for ``snapshot_build.decompositions``: the decomposition sets and the CIA filter."""

import textwrap
from pathlib import Path

import pytest
import torch
from test_snapshot_build import GET_DECOMPOSITIONS_2_11, GET_DECOMPOSITIONS_2_12, write_tree

from trt_autoplugin import snapshot_build
from trt_autoplugin.snapshot import snapshot_from_json
from trt_autoplugin.snapshot_build.decompositions import cia_filter_keeps_attention


def test_decomposition_sets(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "dynamo/lowering/_decomposition_groups.py": """
                import torch
                aten = torch.ops.aten
                torch_enabled_decompositions = {aten.addcmul, aten.arange.default, aten.l1_loss}
                torch_disabled_decompositions = {aten._softmax.default, aten.mean}
                TORCH_TRT_DECOMPOSITIONS = {}
            """,
            "dynamo/lowering/_decompositions.py": textwrap.dedent("""
                import torch
                from ._decomposition_groups import TORCH_TRT_DECOMPOSITIONS, aten

                def replace_inplace_op(aten_op, outplace_op):
                    @register_torch_trt_decomposition(aten_op, registry=TORCH_TRT_DECOMPOSITIONS)
                    def inplace_op(*args, **kwargs): ...
                    return inplace_op

                replace_inplace_op(aten.add_, aten.add)

                @register_torch_trt_decomposition(aten.rsqrt, registry=TORCH_TRT_DECOMPOSITIONS)
                def rsqrt_replacement(*args, **kwargs): ...

                @register_torch_trt_decomposition(
                    torch.ops.prims.var.default, registry=TORCH_TRT_DECOMPOSITIONS
                )
                def var_decomposition(*args, **kwargs): ...

                ATTENTION_DECOMPOSITION_OPS = {
                    aten.scaled_dot_product_attention.default,
                    aten._scaled_dot_product_flash_attention,
                }
            """)
            + GET_DECOMPOSITIONS_2_11,
        },
    )
    snapshot = snapshot_build.static_snapshot(snapshot_build.source_tree_from_directory(root))
    decompositions = snapshot["decompositions"]
    expected_enabled = sorted(
        str(op)
        for op in torch._decomp.get_decompositions(
            [torch.ops.aten.addcmul, torch.ops.aten.arange.default]
        )
    )
    assert decompositions["torch_enabled"] == expected_enabled
    assert "aten.addcmul.default" in decompositions["torch_enabled"]
    assert decompositions["torch_disabled"] == ["aten._softmax.default"]
    assert {
        "aten.add_.Tensor",
        "aten.add_.Scalar",
        "aten.rsqrt.default",
        "prims.var.default",
    } <= set(decompositions["torch_tensorrt"])
    assert decompositions["attention"] == ["aten.scaled_dot_product_attention.default"]
    assert decompositions["cia_keeps_attention"] is True
    reasons = {r["expression"]: r["reason"] for r in snapshot["unresolved"]}
    assert set(reasons) == {"aten.l1_loss", "aten.mean", "aten._scaled_dot_product_flash_attention"}
    assert "no decomposition" in reasons["aten.l1_loss"]
    assert "disables nothing" in reasons["aten.mean"]
    assert "keeps nothing" in reasons["aten._scaled_dot_product_flash_attention"]


@pytest.mark.parametrize(
    ("source", "keeps"),
    [
        pytest.param(GET_DECOMPOSITIONS_2_11, True, id="2.11"),
        pytest.param(GET_DECOMPOSITIONS_2_12, False, id="2.12"),
    ],
)
def test_cia_filter_of_attention(source: str, keeps: bool) -> None:
    assert cia_filter_keeps_attention(source) == (keeps, [])


@pytest.mark.parametrize(
    ("source", "line"),
    [
        pytest.param(None, 0, id="no file"),
        pytest.param("def get_decompositions():\n    return {}\n", 1, id="no CIA table"),
    ],
)
def test_missing_cia_filter_is_unresolved(source: str | None, line: int) -> None:
    keeps, (record,) = cia_filter_keeps_attention(source)
    assert keeps is None
    assert record["source"] == f"dynamo/lowering/_decompositions.py:{line}"
    assert "_collect_all_valid_cia_ops_for_aten_namespace" in record["reason"]


def test_release_without_an_attention_set(tmp_path: Path) -> None:
    # Before ATTENTION_DECOMPOSITION_OPS existed nothing was kept from either table.
    source = "import torch\n" + GET_DECOMPOSITIONS_2_11.replace(
        "if k not in ATTENTION_DECOMPOSITION_OPS", "if True"
    )
    root = write_tree(tmp_path, {"dynamo/lowering/_decompositions.py": source})
    snapshot = snapshot_build.static_snapshot(snapshot_build.source_tree_from_directory(root))
    assert snapshot["decompositions"]["attention"] == []
    assert snapshot["decompositions"]["cia_keeps_attention"] is True
    assert snapshot["unresolved"] == []
    loaded = snapshot_from_json(snapshot)
    assert loaded.default_torch_tensorrt_decompositions == loaded.torch_tensorrt_decompositions
