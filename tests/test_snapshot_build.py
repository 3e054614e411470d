"""Tests for the snapshot builder's entry points and the snapshots it ships.

The synthetic source trees here are shared by the tests of each ``snapshot_build`` module
(``test_snapshot_build_<module>.py``).
"""

import json
import os
import re
import textwrap
import types
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch

from trt_autoplugin import snapshot_build
from trt_autoplugin.errors import SupportError

VERSION = "2.13.0"
SUPPORTED = ("2.11.0", "2.12.0", "2.13.0", "2.14.0")
# A directory holding torch_tensorrt-<version>-*.whl for the releases to regenerate and compare.
WHEEL_DIRECTORY_VARIABLE = "TRT_AUTOPLUGIN_TTRT_WHEELS"
TOP_LEVEL_KEYS = [
    "format",
    "torch_tensorrt_version",
    "generated_from",
    "torch_version_used_to_resolve",
    "converters",
    "decompositions",
    "operator_support",
    "unresolved",
]
ENTRY_FIELDS = {
    "validator",
    "supports_dynamic_shapes",
    "requires_output_allocator",
    "requires_native_multidevice",
    "priority",
    "enabled",
    "source",
    "function",
    "condition",
    "via",
    "packet_overloads",
    "known_to_torch",
}
SOURCE_PATTERN = re.compile(r"^[\w/]+\.py:\d+$")
# What every release's ATTENTION_DECOMPOSITION_OPS holds.
ATTENTION = [
    "aten._scaled_dot_product_cudnn_attention.default",
    "aten._scaled_dot_product_efficient_attention.default",
    "aten._scaled_dot_product_flash_attention.default",
    "aten.scaled_dot_product_attention.default",
]


def _shipped(version: str) -> dict[str, Any]:
    return json.loads(snapshot_build.snapshot_path(version).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return _shipped(VERSION)


@pytest.fixture(scope="module", params=SUPPORTED)
def each_shipped(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _shipped(request.param)


# The shipped snapshots


def test_shipped_snapshot_has_the_schema(each_shipped: dict[str, Any]) -> None:
    shipped = each_shipped
    assert list(shipped) == TOP_LEVEL_KEYS
    assert shipped["format"] == snapshot_build.FORMAT
    assert snapshot_build.snapshot_path(shipped["torch_tensorrt_version"]).is_file()
    assert shipped["generated_from"] in ("static", "import")
    assert isinstance(shipped["torch_version_used_to_resolve"], str)
    assert list(shipped["converters"]) == sorted(shipped["converters"])
    for target, entries in shipped["converters"].items():
        assert entries, target
        for entry in entries:
            assert set(entry) == ENTRY_FIELDS, target
            assert entry["priority"] in ("STANDARD", "HIGH")
            assert SOURCE_PATTERN.match(entry["source"]), entry["source"]
    decompositions = dict(shipped["decompositions"])
    assert isinstance(decompositions.pop("cia_keeps_attention"), bool)
    assert list(decompositions) == [
        "torch_enabled",
        "torch_disabled",
        "torch_tensorrt",
        "attention",
    ]
    for names in decompositions.values():
        assert names == sorted(set(names))
        assert all(isinstance(name, str) for name in names)
    checks = shipped["operator_support"]
    assert SOURCE_PATTERN.match(checks["source"]), checks
    assert {type(checks[k]) for k in checks if k != "source"} == {bool}
    for record in shipped["unresolved"]:
        assert SOURCE_PATTERN.match(record["source"]), record
        assert {"source", "expression", "kind", "reason"} <= set(record)
    # Every registration resolves; what stays unresolved is runtime-only or names an op the
    # resolving torch cannot decompose.
    runtime = [r for r in shipped["unresolved"] if r["kind"] == "converter"]
    assert [r["reason"].split(",")[0] for r in runtime] == [
        "registered inside '_generate_plugin_converter()'"
    ]


def test_shipped_snapshot_matches_the_reference(shipped: dict[str, Any]) -> None:
    converters = shipped["converters"]
    assert "aten.add.Tensor" in converters
    assert "_operator.getitem" in converters
    for missing in (
        "aten.lgamma.default",
        "aten.digamma.default",
        "aten.logcumsumexp.default",
        "aten.cummax.default",
        "aten._fft_r2c.default",
    ):
        assert missing not in converters, missing
    assert [e["validator"] for e in converters["aten.sort.default"]] == ["sort_validator"]
    assert [e["validator"] for e in converters["aten.topk.default"]] == ["topk_validator"]
    assert [e["requires_output_allocator"] for e in converters["aten.nonzero.default"]] == [True]
    (cumsum,) = converters["aten.cumsum.default"]
    assert cumsum["validator"] is not None
    assert cumsum["supports_dynamic_shapes"] is True


def test_shipped_decompositions_match_the_reference(shipped: dict[str, Any]) -> None:
    decompositions = shipped["decompositions"]
    for name in ("aten._softmax.default", "aten.linear.default", "aten.matmul.default"):
        assert name in decompositions["torch_disabled"]
    assert "aten.rsqrt.default" in decompositions["torch_tensorrt"]
    # The in-place rewrites are registered through a helper call, with a packet key.
    assert {"aten.add_.Tensor", "aten.add_.Scalar"} <= set(decompositions["torch_tensorrt"])


def test_shipped_snapshot_records_conditional_and_runtime_registrations(
    shipped: dict[str, Any],
) -> None:
    (quantize,) = shipped["converters"]["tensorrt.quantize_op.default"]
    assert "modelopt" in quantize["condition"]
    assert quantize["known_to_torch"] is False
    runtime = [r for r in shipped["unresolved"] if r["kind"] == "converter"]
    assert [r["source"] for r in runtime] == [
        "dynamo/conversion/plugins/_generate_plugin_converter.py:169"
    ]


def test_releases_differ_where_the_sources_do() -> None:
    old, new = _shipped("2.11.0"), _shipped("2.13.0")
    # 2.11 keys its NCCL converters by plain functions, 2.12 on by tensorrt:: custom ops.
    passes = "torch_tensorrt.dynamo.lowering.passes.fuse_distributed_ops"
    (gather,) = old["converters"][f"{passes}.tensorrt_fused_nccl_all_gather_op"]
    assert gather["condition"] == "ENABLED_FEATURES.trtllm_for_nccl"
    assert gather["known_to_torch"] is False
    assert "tensorrt.fused_nccl_all_gather.default" in new["converters"]
    assert not [t for t in new["converters"] if t.startswith(passes)]
    # Converters added later: operator.neg and sym_min in 2.13, glu in 2.14.
    for target in ("_operator.neg", "torch.sym_min"):
        assert target not in old["converters"] and target in new["converters"]
    assert "aten.glu.default" in _shipped("2.14.0")["converters"]
    assert [e["validator"] for e in old["converters"]["aten.cumsum.default"]] == ["refit_validator"]
    assert [e["validator"] for e in new["converters"]["aten.cumsum.default"]] == [
        "cumsum_validator"
    ]
    # TorchTensorRTOperatorSupport: 2.11 checks neither complex dtypes nor the data-dependent
    # fallback; 2.13 checks both.
    assert old["operator_support"]["rejects_complex_dtypes"] is False
    assert old["operator_support"]["honors_fallback_data_dependent_ops"] is False
    assert new["operator_support"]["rejects_complex_dtypes"] is True
    assert new["operator_support"]["honors_fallback_data_dependent_ops"] is True
    # get_decompositions(): every release drops the same attention ops from its own table; only
    # 2.11's CIA filter lets torch decompose them.
    for version in SUPPORTED:
        assert _shipped(version)["decompositions"]["attention"] == ATTENTION
    keeps = [_shipped(v)["decompositions"]["cia_keeps_attention"] for v in SUPPORTED]
    assert keeps == [True, False, False, False]


# Synthetic source trees

GROUPS = """
import torch
aten = torch.ops.aten
torch_enabled_decompositions = {aten.addcmul, aten.arange.default}
torch_disabled_decompositions = {aten._softmax.default}
"""
# get_decompositions() as 2.11 wrote it (the CIA table filtered by the disabled set only) and as
# 2.12 on write it (attention ops filtered out too); the experimental branch is left out.
GET_DECOMPOSITIONS_2_11 = """
def get_decompositions(enable_experimental_decompositions=False, decompose_attention=False):
    trt_decomps = (
        TORCH_TRT_DECOMPOSITIONS
        if decompose_attention
        else {
            k: v
            for k, v in TORCH_TRT_DECOMPOSITIONS.items()
            if k not in ATTENTION_DECOMPOSITION_OPS
        }
    )
    decomp_table = {}
    for op in _collect_all_valid_cia_ops_for_aten_namespace():
        decomp_table[op] = _get_decomp_for_cia(op)
    DECOMP_TABLE_FILTERED = {
        decomp: decomp_table[decomp]
        for decomp in decomp_table
        if decomp not in torch_disabled_decompositions
    }
    return {**ENABLED_TORCH_DECOMPOSITIONS, **DECOMP_TABLE_FILTERED, **trt_decomps}
"""
GET_DECOMPOSITIONS_2_12 = GET_DECOMPOSITIONS_2_11.replace(
    "if decomp not in torch_disabled_decompositions",
    "if decomp not in torch_disabled_decompositions\n"
    "        and decomp not in ATTENTION_DECOMPOSITION_OPS",
)
NO_TRT_DECOMPOSITIONS = "import torch\n" + GET_DECOMPOSITIONS_2_12
# TorchTensorRTOperatorSupport as 2.13 writes it (complex check, then the data-dependent
# fallback): what a tree has unless a test replaces it.
PARTITIONER_2_13 = """
class TorchTensorRTOperatorSupport(OperatorSupport):
    def is_node_supported(self, submodules, node):
        if self._has_complex_dtype(node):
            return False
        settings = CONVERTERS.compilation_settings
        if settings.fallback_data_dependent_ops and self._requires_output_allocator(node):
            return False
        return node in CONVERTERS
"""
PARTITIONER_FILE = "dynamo/partitioning/_global_partitioner.py"


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Writes a torch_tensorrt package under ``root``; ``files`` override the defaults."""
    defaults = {
        "_version.py": f'__version__ = "{VERSION}"\n',
        "dynamo/lowering/_decomposition_groups.py": GROUPS,
        "dynamo/lowering/_decompositions.py": NO_TRT_DECOMPOSITIONS,
        PARTITIONER_FILE: PARTITIONER_2_13,
    }
    for relative, text in {**defaults, **files}.items():
        path = root / "torch_tensorrt" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


# The entry points


def test_all_names_the_public_entry_points() -> None:
    for name in snapshot_build.__all__:
        assert hasattr(snapshot_build, name), name
    public = {n for n in vars(snapshot_build) if not n.startswith("_")}
    modules = {n for n in public if isinstance(getattr(snapshot_build, n), types.ModuleType)}
    assert public - modules == set(snapshot_build.__all__)


def test_wheel_and_directory_give_the_same_snapshot(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "tree",
        {
            "dynamo/conversion/converters.py": """
                import torch
                @dynamo_tensorrt_converter(torch.ops.aten.sin.default)
                def sin(ctx, target, args, kwargs, name): ...
            """
        },
    )
    wheel = tmp_path / f"torch_tensorrt-{VERSION}-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for file in sorted(root.rglob("*.py")):
            archive.write(file, file.relative_to(root).as_posix())
    from_wheel = snapshot_build.build_snapshot(wheel=wheel)
    from_directory = snapshot_build.build_snapshot(source=root / "torch_tensorrt")
    assert from_wheel == from_directory
    assert from_wheel["generated_from"] == "static"
    assert list(from_wheel["converters"]) == ["aten.sin.default"]


def test_not_a_source_tree_raises(tmp_path: Path) -> None:
    with pytest.raises(SupportError, match="_decomposition_groups.py"):
        snapshot_build.source_tree_from_directory(tmp_path)
    with pytest.raises(SupportError, match="cannot read the wheel"):
        snapshot_build.source_tree_from_wheel(tmp_path / "missing.whl")


def test_main_writes_the_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_tree(tmp_path / "tree", {})
    output = tmp_path / "out" / "snapshot.json"
    assert snapshot_build.main(["--source", str(root), "--output", str(output)]) == 0
    assert json.loads(output.read_text(encoding="utf-8"))["torch_tensorrt_version"] == VERSION
    printed = capsys.readouterr().out
    assert "0 converter targets" in printed
    assert "rejects complex dtypes, honors fallback_data_dependent_ops" in printed
    assert "converters take 0 attention ops" in printed
    assert snapshot_build.main(["--source", str(tmp_path / "nowhere")]) == 2


# The shipped snapshots are what the generator makes of the real wheels


def test_shipped_snapshot_regenerates_from_the_wheel(each_shipped: dict[str, Any]) -> None:
    shipped = each_shipped
    version = shipped["torch_tensorrt_version"]
    directory = Path(os.environ.get(WHEEL_DIRECTORY_VARIABLE, "/nonexistent"))
    wheels = sorted(directory.glob(f"torch_tensorrt-{version}-*.whl"))
    if not wheels:
        pytest.skip(f"set {WHEEL_DIRECTORY_VARIABLE} to a directory with the {version} wheel")
    wheel = wheels[0]
    resolved_with = shipped["torch_version_used_to_resolve"].split("+")[0]
    if torch.__version__.split("+")[0] != resolved_with:
        pytest.skip(
            f"the snapshot was resolved with torch {resolved_with}, not {torch.__version__}"
        )
    regenerated = snapshot_build.static_snapshot(snapshot_build.source_tree_from_wheel(Path(wheel)))
    regenerated.pop("torch_version_used_to_resolve")
    expected = dict(shipped)
    expected.pop("torch_version_used_to_resolve")
    assert regenerated == expected
