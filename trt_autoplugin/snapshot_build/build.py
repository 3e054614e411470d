"""Assembling a snapshot: from the sources read statically, or from the imported package."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from trt_autoplugin.errors import SupportError
from trt_autoplugin.snapshot_build.converters import static_converters
from trt_autoplugin.snapshot_build.decompositions import (
    ATTENTION_SET,
    cia_filter_keeps_attention,
    static_decompositions,
)
from trt_autoplugin.snapshot_build.keys import Key, key_for_object
from trt_autoplugin.snapshot_build.live import live_converters
from trt_autoplugin.snapshot_build.operator_support import operator_support_checks
from trt_autoplugin.snapshot_build.reader import StaticReader
from trt_autoplugin.snapshot_build.source import (
    DECOMPOSITIONS_FILE,
    PARTITIONER_FILE,
    JsonObject,
    SourceTree,
    source_tree_from_directory,
    source_tree_from_wheel,
)

# The schema's version, which snapshot.py names when a file lacks a field it reads:
# "operator_support" (from format 2: the checks TorchTensorRTOperatorSupport makes besides the
# lookup) and "decompositions.attention"/"cia_keeps_attention" (from 3: which attention ops
# get_decompositions() leaves undecomposed by default).
FORMAT = 3


def build_snapshot(*, wheel: Path | None = None, source: Path | None = None) -> JsonObject:
    """Builds the snapshot from a wheel, a source directory, or the importable package.

    Args:
        wheel: A ``torch_tensorrt`` wheel to read statically.
        source: A ``torch_tensorrt`` source directory to read statically.

    Returns:
        The snapshot; imported from the live registry when neither is given.

    Raises:
        SupportError: Both are given, the sources cannot be read, or (neither given)
            ``torch_tensorrt`` cannot be imported.
    """
    if wheel is not None and source is not None:
        raise SupportError("pass either a wheel or a source directory, not both")
    if wheel is not None:
        return static_snapshot(source_tree_from_wheel(wheel))
    if source is not None:
        return static_snapshot(source_tree_from_directory(source))
    return import_snapshot()


def static_snapshot(tree: SourceTree) -> JsonObject:
    """Builds the snapshot by reading the package's source, without importing it.

    Args:
        tree: The ``torch_tensorrt`` sources, from :func:`source_tree_from_wheel` or
            :func:`source_tree_from_directory`.

    Returns:
        The snapshot as a JSON-ready dict, ``"generated_from": "static"``.

    Examples:
        >>> tree = source_tree_from_wheel(Path("torch_tensorrt-2.13.0-cp311-....whl"))
        >>> static_snapshot(tree)["converters"]["aten.sort.default"][0]["validator"]
        'sort_validator'
    """
    reader = StaticReader(tree)
    converters, unresolved = static_converters(reader)
    decompositions, gaps = static_decompositions(reader)
    unresolved.extend(gaps)
    operator_support, gaps = operator_support_checks(tree.files.get(PARTITIONER_FILE))
    unresolved.extend(gaps)
    unresolved.sort(key=_source_order)
    return _snapshot(
        tree.version, "static", converters, decompositions, operator_support, unresolved
    )


def _source_order(record: JsonObject) -> tuple[str, int]:
    path, _, line = record["source"].rpartition(":")
    return (path, int(line)) if line.isdigit() else (record["source"], 0)


def import_snapshot() -> JsonObject:
    """Builds the snapshot from the live registry of an importable ``torch_tensorrt``.

    ``ConverterSupport`` does not keep the priority, so ``"priority"`` is null here (the
    entries' order still reflects it), and ``"condition"`` is null: import already decided.

    Returns:
        The snapshot as a JSON-ready dict, ``"generated_from": "import"``.

    Raises:
        SupportError: ``torch_tensorrt`` cannot be imported.
    """
    try:
        import torch_tensorrt
        from torch_tensorrt.dynamo.conversion import _ConverterRegistry as registry
        from torch_tensorrt.dynamo.lowering import _decomposition_groups as groups
        from torch_tensorrt.dynamo.lowering import _decompositions  # (importing fills the table)
    except (ImportError, OSError, RuntimeError) as e:
        raise SupportError(
            f"cannot import torch_tensorrt ({e}); pass --wheel or --source to read its source "
            "statically instead."
        ) from e
    package = Path(torch_tensorrt.__file__).parent
    default = registry.ConverterSupport.__dataclass_fields__["capability_validator"].default
    converters = live_converters(registry.DYNAMO_ATEN_CONVERTERS, default, package)
    disabled = [key_for_object(op) for op in groups.torch_disabled_decompositions]
    attention = getattr(_decompositions, ATTENTION_SET, ())
    keeps, unresolved = cia_filter_keeps_attention(_package_text(package, DECOMPOSITIONS_FILE))
    decompositions = {
        "torch_enabled": sorted({str(op) for op in groups.ENABLED_TORCH_DECOMPOSITIONS}),
        "torch_disabled": sorted({k.target for k in disabled if isinstance(k, Key)}),
        "torch_tensorrt": sorted({str(op) for op in groups.TORCH_TRT_DECOMPOSITIONS}),
        # A packet in the set matches no OpOverload key, as in the static reading.
        "attention": sorted({str(op) for op in attention if isinstance(op, torch._ops.OpOverload)}),
        "cia_keeps_attention": keeps,
    }
    operator_support, gaps = operator_support_checks(_package_text(package, PARTITIONER_FILE))
    unresolved.extend(gaps)
    return _snapshot(
        torch_tensorrt.__version__,
        "import",
        converters,
        decompositions,
        operator_support,
        unresolved,
    )


def _package_text(package: Path, path: str) -> str | None:
    file = package / path
    return file.read_text(encoding="utf-8") if file.is_file() else None


def _snapshot(
    version: str,
    origin: str,
    converters: JsonObject,
    decompositions: Mapping[str, Any],
    operator_support: JsonObject | None,
    unresolved: list[JsonObject],
) -> JsonObject:
    return {
        "format": FORMAT,
        "torch_tensorrt_version": version,
        "generated_from": origin,
        "torch_version_used_to_resolve": torch.__version__,
        "converters": converters,
        "decompositions": {
            "torch_enabled": decompositions["torch_enabled"],
            "torch_disabled": decompositions["torch_disabled"],
            "torch_tensorrt": decompositions["torch_tensorrt"],
            "attention": decompositions["attention"],
            "cia_keeps_attention": decompositions["cia_keeps_attention"],
        },
        "operator_support": operator_support,
        "unresolved": unresolved,
    }
