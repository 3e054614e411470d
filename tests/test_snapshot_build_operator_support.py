"""Tests for ``snapshot_build.operator_support``: the partitioner's checks per release."""

import textwrap
from pathlib import Path

import pytest
from test_snapshot_build import PARTITIONER_2_13, PARTITIONER_FILE, write_tree

from trt_autoplugin import snapshot_build
from trt_autoplugin.errors import SupportError
from trt_autoplugin.snapshot import snapshot_from_json
from trt_autoplugin.snapshot_build.operator_support import operator_support_checks

# TorchTensorRTOperatorSupport as 2.11 wrote it (registry lookup only) and 2.12 (complex check
# first); 2.13's is the synthetic trees' default.
PARTITIONER_2_11 = """
class TorchTensorRTOperatorSupport(OperatorSupport):
    def is_node_supported(self, submodules, node):
        node_name = ConverterRegistry.qualified_name_or_str(node.target)
        return node in CONVERTERS and node_name not in self.torch_executed_ops
"""
PARTITIONER_2_12 = """
class TorchTensorRTOperatorSupport(OperatorSupport):
    @staticmethod
    def _has_complex_dtype(node):
        return False

    def is_node_supported(self, submodules, node):
        if self._has_complex_dtype(node):
            return False
        return node in CONVERTERS
"""


@pytest.mark.parametrize(
    ("source", "complex_", "fallback", "line"),
    [
        pytest.param(PARTITIONER_2_11, False, False, 3, id="2.11"),
        pytest.param(PARTITIONER_2_12, True, False, 7, id="2.12"),
        pytest.param(PARTITIONER_2_13, True, True, 3, id="2.13"),
    ],
)
def test_operator_support_checks(source: str, complex_: bool, fallback: bool, line: int) -> None:
    checks, unresolved = operator_support_checks(textwrap.dedent(source))
    assert unresolved == []
    assert checks == {
        "source": f"{PARTITIONER_FILE}:{line}",
        "rejects_complex_dtypes": complex_,
        "honors_fallback_data_dependent_ops": fallback,
    }


def test_missing_operator_support_is_unresolved(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {PARTITIONER_FILE: "class Other:\n    pass\n"})
    snapshot = snapshot_build.static_snapshot(snapshot_build.source_tree_from_directory(root))
    assert snapshot["operator_support"] is None
    (record,) = [r for r in snapshot["unresolved"] if r["kind"] == "operator_support"]
    assert "TorchTensorRTOperatorSupport.is_node_supported" in record["reason"]
    with pytest.raises(SupportError, match="does not record"):
        snapshot_from_json(snapshot)
    checks, _ = operator_support_checks(None)
    assert checks is None
