"""Tests for the Torch-TensorRT snapshot and the script that regenerates it."""

import dataclasses
import functools
import json
import os
import re
import textwrap
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch

from trt_autoplugin import snapshot_build
from trt_autoplugin.errors import SupportError
from trt_autoplugin.snapshot import snapshot_from_json

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


def _shipped(version: str) -> dict[str, Any]:
    return json.loads(snapshot_build.snapshot_path(version).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return _shipped(VERSION)


@pytest.fixture(scope="module", params=SUPPORTED)
def each_shipped(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _shipped(request.param)


# (a) The shipped snapshots


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


# (b) The static reader on synthetic source trees

GROUPS = """
import torch
aten = torch.ops.aten
torch_enabled_decompositions = {aten.addcmul, aten.arange.default}
torch_disabled_decompositions = {aten._softmax.default}
"""
ATTENTION = [
    "aten._scaled_dot_product_cudnn_attention.default",
    "aten._scaled_dot_product_efficient_attention.default",
    "aten._scaled_dot_product_flash_attention.default",
    "aten.scaled_dot_product_attention.default",
]
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
# TorchTensorRTOperatorSupport as 2.11 wrote it (registry lookup only), 2.12 (complex check
# first) and 2.13 (the data-dependent fallback too).
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


def converters_of(tmp_path: Path, source: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    root = write_tree(tmp_path, {"dynamo/conversion/converters.py": source})
    snapshot = snapshot_build.static_snapshot(snapshot_build.source_tree_from_directory(root))
    converter_gaps = [r for r in snapshot["unresolved"] if r["kind"] == "converter"]
    return snapshot["converters"], converter_gaps


def test_literal_decorator_arguments(tmp_path: Path) -> None:
    converters, gaps = converters_of(
        tmp_path,
        """
        import operator
        import torch
        from torch_tensorrt.dynamo.conversion._ConverterRegistry import (
            ConverterPriority,
            dynamo_tensorrt_converter,
        )

        @dynamo_tensorrt_converter(
            torch.ops.aten.sort.default,
            capability_validator=sort_validator,
            supports_dynamic_shapes=True,
            requires_output_allocator=True,
        )
        def sort(ctx, target, args, kwargs, name): ...

        @dynamo_tensorrt_converter(operator.getitem, enabled=False)
        @dynamo_tensorrt_converter(torch.sym_not, enabled=is_tensorrt_version_supported("10.8"))
        def evaluators(ctx, target, args, kwargs, name): ...
        """,
    )
    assert gaps == []
    (sort,) = converters["aten.sort.default"]
    assert sort["validator"] == "sort_validator"
    assert sort["supports_dynamic_shapes"] is True
    assert sort["requires_output_allocator"] is True
    assert sort["priority"] == "STANDARD"
    assert sort["enabled"] is True
    assert sort["source"] == "dynamo/conversion/converters.py:9"
    assert sort["function"] == "sort"
    assert converters["_operator.getitem"][0]["enabled"] is False
    assert converters["torch.sym_not"][0]["enabled"] == "is_tensorrt_version_supported('10.8')"


def test_registry_order_puts_high_priority_first(tmp_path: Path) -> None:
    converters, _ = converters_of(
        tmp_path,
        """
        import torch
        from torch_tensorrt.dynamo.conversion._ConverterRegistry import ConverterPriority

        @dynamo_tensorrt_converter(torch.ops.aten.clone.default, capability_validator=upper)
        @dynamo_tensorrt_converter(torch.ops.aten.clone.default, capability_validator=lower)
        def first(ctx, target, args, kwargs, name): ...

        @dynamo_tensorrt_converter(
            torch.ops.aten.clone.default,
            capability_validator=urgent,
            priority=ConverterPriority.HIGH,
        )
        def second(ctx, target, args, kwargs, name): ...
        """,
    )
    entries = converters["aten.clone.default"]
    # Stacked decorators apply bottom-up; HIGH is inserted at the front.
    assert [e["validator"] for e in entries] == ["urgent", "lower", "upper"]
    assert [e["priority"] for e in entries] == ["HIGH", "STANDARD", "STANDARD"]


def test_packet_keys_stay_packets_and_rejected_ones_are_unresolved(tmp_path: Path) -> None:
    converters, gaps = converters_of(
        tmp_path,
        """
        import torch
        aten = torch.ops.aten

        @dynamo_tensorrt_converter(aten.matmul)
        @dynamo_tensorrt_converter(aten.matmul.default)
        def matmul(ctx, target, args, kwargs, name): ...

        @dynamo_tensorrt_converter(aten.add)
        def add(ctx, target, args, kwargs, name): ...
        """,
    )
    assert converters["aten.matmul"][0]["packet_overloads"] == ["default", "out"]
    assert converters["aten.matmul.default"][0]["packet_overloads"] is None
    assert "aten.add" not in converters
    (rejected,) = gaps
    assert rejected["source"] == "dynamo/conversion/converters.py:9"
    assert rejected["expression"] == "aten.add"
    assert "AssertionError" in rejected["reason"]


def test_for_loop_and_helper_registrations_are_unrolled(tmp_path: Path) -> None:
    converters, gaps = converters_of(
        tmp_path,
        """
        import torch
        UNARY = [torch.ops.aten.sin.default, torch.ops.aten.cos.default]

        for op in UNARY:
            @dynamo_tensorrt_converter(op, supports_dynamic_shapes=True)
            def unary(ctx, target, args, kwargs, name): ...

        for op, check, dynamic in (
            (torch.ops.aten.exp.default, exp_validator, True),
            (torch.ops.aten.log.default, log_validator, False),
        ):
            @dynamo_tensorrt_converter(
                op, capability_validator=check, supports_dynamic_shapes=dynamic
            )
            def pointwise(ctx, target, args, kwargs, name): ...

        def register_unary(op, dynamic=True):
            @dynamo_tensorrt_converter(op, supports_dynamic_shapes=dynamic)
            def converter(ctx, target, args, kwargs, name): ...
            return converter

        register_unary(torch.ops.aten.tan.default)
        register_unary(torch.ops.aten.tanh.default, dynamic=False)
        """,
    )
    assert gaps == []
    for target in ("aten.sin.default", "aten.cos.default"):
        (entry,) = converters[target]
        assert entry["source"] == "dynamo/conversion/converters.py:6"
        assert entry["supports_dynamic_shapes"] is True
    assert converters["aten.exp.default"][0]["validator"] == "exp_validator"
    assert converters["aten.log.default"][0]["validator"] == "log_validator"
    assert converters["aten.log.default"][0]["supports_dynamic_shapes"] is False
    assert converters["aten.tan.default"][0]["via"] == "dynamo/conversion/converters.py:23"
    assert converters["aten.tan.default"][0]["supports_dynamic_shapes"] is True
    assert converters["aten.tanh.default"][0]["supports_dynamic_shapes"] is False


def test_unresolvable_keys_are_listed_with_file_and_line(tmp_path: Path) -> None:
    converters, gaps = converters_of(
        tmp_path,
        """
        import torch

        @dynamo_tensorrt_converter(make_key("sin"))
        def computed(ctx, target, args, kwargs, name): ...

        @dynamo_tensorrt_converter(undefined_name)
        def undefined(ctx, target, args, kwargs, name): ...

        for op in build_ops():
            @dynamo_tensorrt_converter(op)
            def looped(ctx, target, args, kwargs, name): ...

        def register_at_runtime(op):
            return dynamo_tensorrt_converter(op)(lambda *args: None)

        @dynamo_tensorrt_converter(torch.ops.aten.definitely_not_an_op.default)
        @dynamo_tensorrt_converter(torch.ops.aten.cos.default)
        def kept(ctx, target, args, kwargs, name): ...

        from torch_tensorrt.nowhere import missing_op
        @dynamo_tensorrt_converter(missing_op)
        def from_nowhere(ctx, target, args, kwargs, name): ...
        """,
    )
    assert list(converters) == ["aten.cos.default", "aten.definitely_not_an_op.default"]
    assert converters["aten.definitely_not_an_op.default"][0]["known_to_torch"] is False
    sources = {r["source"]: r for r in gaps}
    assert list(sources) == [
        "dynamo/conversion/converters.py:4",
        "dynamo/conversion/converters.py:7",
        "dynamo/conversion/converters.py:11",
        "dynamo/conversion/converters.py:15",
        "dynamo/conversion/converters.py:22",
    ]
    assert sources["dynamo/conversion/converters.py:4"]["expression"] == "make_key('sin')"
    assert "undefined_name" in sources["dynamo/conversion/converters.py:7"]["reason"]
    assert "build_ops()" in sources["dynamo/conversion/converters.py:11"]["reason"]
    assert "register_at_runtime()" in sources["dynamo/conversion/converters.py:15"]["reason"]
    assert "no module" in sources["dynamo/conversion/converters.py:22"]["reason"]


def test_names_imported_from_the_package_and_conditions(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "dynamo/lowering/passes/ops.py": """
                import torch
                fused_op = (
                    torch.ops.mylib.fused.default
                )
            """,
            "dynamo/conversion/converters.py": """
                import operator
                from torch_tensorrt.dynamo.lowering.passes.ops import fused_op
                from ..lowering.passes import ops

                if ENABLED_FEATURES.native_trt_collectives:
                    @dynamo_tensorrt_converter(fused_op)
                    def native(ctx, target, args, kwargs, name): ...
                else:
                    @dynamo_tensorrt_converter(ops.fused_op)
                    def fallback(ctx, target, args, kwargs, name): ...

                try:
                    import modelopt
                except ImportError:
                    pass
                else:
                    @dynamo_tensorrt_converter(operator.neg)
                    def neg(ctx, target, args, kwargs, name): ...
            """,
        },
    )
    snapshot = snapshot_build.static_snapshot(snapshot_build.source_tree_from_directory(root))
    native, fallback = snapshot["converters"]["mylib.fused.default"]
    assert native["condition"] == "ENABLED_FEATURES.native_trt_collectives"
    assert fallback["condition"] == "not (ENABLED_FEATURES.native_trt_collectives)"
    assert native["known_to_torch"] is False
    (neg,) = snapshot["converters"]["_operator.neg"]
    assert neg["condition"] == "no exception from: import modelopt"


def test_functions_defined_in_the_package_are_keys(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "dynamo/lowering/passes/fuse.py": """
                import torch

                def fused_gather(inp, group_size, group_name):
                    return inp

                @torch.library.custom_op("tensorrt::fused", mutates_args=())
                def fused_custom(inp):
                    return inp

                class Fused:
                    pass
            """,
            "dynamo/conversion/converters.py": """
                from torch_tensorrt.dynamo.lowering.passes.fuse import (
                    Fused,
                    fused_custom,
                    fused_gather,
                )
                from ..lowering.passes import fuse

                if ENABLED_FEATURES.trtllm_for_nccl:
                    @dynamo_tensorrt_converter(fused_gather)
                    def gather(ctx, target, args, kwargs, name): ...

                @dynamo_tensorrt_converter(fuse.fused_gather, supports_dynamic_shapes=True)
                def gather_again(ctx, target, args, kwargs, name): ...

                @dynamo_tensorrt_converter(fused_custom)
                def custom(ctx, target, args, kwargs, name): ...

                @dynamo_tensorrt_converter(Fused)
                def klass(ctx, target, args, kwargs, name): ...

                @dynamo_tensorrt_converter(fused_gather.attribute)
                def attribute(ctx, target, args, kwargs, name): ...
            """,
        },
    )
    snapshot = snapshot_build.static_snapshot(snapshot_build.source_tree_from_directory(root))
    first, second = snapshot["converters"][
        "torch_tensorrt.dynamo.lowering.passes.fuse.fused_gather"
    ]
    assert first["condition"] == "ENABLED_FEATURES.trtllm_for_nccl"
    assert first["known_to_torch"] is False
    assert second["supports_dynamic_shapes"] is True
    reasons = {r["expression"]: r["reason"] for r in snapshot["unresolved"]}
    assert "decorated function" in reasons["fused_custom"]
    assert "is a class" in reasons["Fused"]
    assert "attribute 'attribute' of the function" in reasons["fused_gather.attribute"]


@pytest.mark.parametrize(
    ("source", "complex_", "fallback", "line"),
    [
        pytest.param(PARTITIONER_2_11, False, False, 3, id="2.11"),
        pytest.param(PARTITIONER_2_12, True, False, 7, id="2.12"),
        pytest.param(PARTITIONER_2_13, True, True, 3, id="2.13"),
    ],
)
def test_operator_support_checks(source: str, complex_: bool, fallback: bool, line: int) -> None:
    checks, unresolved = snapshot_build.operator_support_checks(textwrap.dedent(source))
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
    checks, _ = snapshot_build.operator_support_checks(None)
    assert checks is None


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
    assert snapshot_build.cia_filter_keeps_attention(source) == (keeps, [])


@pytest.mark.parametrize(
    ("source", "line"),
    [
        pytest.param(None, 0, id="no file"),
        pytest.param("def get_decompositions():\n    return {}\n", 1, id="no CIA table"),
    ],
)
def test_missing_cia_filter_is_unresolved(source: str | None, line: int) -> None:
    keeps, (record,) = snapshot_build.cia_filter_keeps_attention(source)
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


# The live-registry path, on a registry shaped like DYNAMO_ATEN_CONVERTERS


@dataclasses.dataclass(frozen=True)
class _Support:
    converter_implementation: Callable[..., Any]
    capability_validator: Callable[..., bool]
    supports_dynamic_shapes: bool = False
    requires_output_allocator: bool = False
    requires_native_multidevice: bool = False


def _always(node: object, settings: object) -> bool:
    return True


def _sort_validator(node: object, settings: object, limit: int = 0) -> bool:
    return True


def _convert(*args: object) -> None:
    return None


def test_live_converters_use_the_same_entry_shape() -> None:
    validator = functools.partial(_sort_validator, limit=3840)
    registry = {
        torch.ops.aten.sort.default: [_Support(_convert, validator, supports_dynamic_shapes=True)],
        torch.ops.aten.matmul: [_Support(_convert, _always)],
    }
    converters = snapshot_build.live_converters(registry, _always, Path(__file__).parent)
    (sort,) = converters["aten.sort.default"]
    assert set(sort) == ENTRY_FIELDS
    assert sort["validator"] == "_sort_validator(limit=3840)"
    assert sort["supports_dynamic_shapes"] is True
    assert sort["source"].startswith("test_snapshot_build.py:")
    assert converters["aten.matmul"][0]["validator"] is None
    assert converters["aten.matmul"][0]["packet_overloads"] == ["default", "out"]


# (c) The shipped snapshots are what the generator makes of the real wheels


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
