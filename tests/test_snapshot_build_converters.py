"""Tests for ``snapshot_build.converters``: registrations read from synthetic source trees."""

from pathlib import Path
from typing import Any

from test_snapshot_build import write_tree

from trt_autoplugin import snapshot_build


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
