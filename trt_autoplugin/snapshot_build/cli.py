"""The command line: build a snapshot, write it where the package ships it, say what it holds.

The only module of the package that prints.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from trt_autoplugin.errors import SupportError
from trt_autoplugin.snapshot_build.build import build_snapshot
from trt_autoplugin.snapshot_build.source import JsonObject

SNAPSHOT_DIR = Path(__file__).parent.parent / "snapshots"


def snapshot_path(version: str) -> Path:
    """Where the snapshot of a Torch-TensorRT version is shipped."""
    return SNAPSHOT_DIR / f"torch_tensorrt-{version}.json"


def snapshot_text(snapshot: JsonObject) -> str:
    """The snapshot serialized as it is shipped: indented JSON with a final newline."""
    return json.dumps(snapshot, indent=2) + "\n"


def summary(snapshot: JsonObject, output: Path) -> str:
    """A one-line account of a written snapshot."""
    converters = snapshot["converters"]
    entries = [e for target_entries in converters.values() for e in target_entries]
    with_validator = sum(e["validator"] is not None for e in entries)
    decompositions = snapshot["decompositions"]
    return (
        f"wrote {output} ({snapshot['generated_from']}): {len(converters)} converter targets, "
        f"{len(entries)} entries, {with_validator} with validators; decompositions "
        f"{len(decompositions['torch_enabled'])} torch-enabled, "
        f"{len(decompositions['torch_disabled'])} torch-disabled, "
        f"{len(decompositions['torch_tensorrt'])} torch_tensorrt, "
        f"{_attention_summary(decompositions)}; "
        f"operator support {_checks_summary(snapshot['operator_support'])}; "
        f"{len(snapshot['unresolved'])} unresolved"
    )


def _attention_summary(decompositions: JsonObject) -> str:
    keeps = decompositions["cia_keeps_attention"]
    fate = {True: "torch decomposes", False: "converters take", None: "unknown CIA filter for"}
    return f"{fate[keeps]} {len(decompositions['attention'])} attention ops"


def _checks_summary(checks: JsonObject | None) -> str:
    if checks is None:
        return "not found"
    complex_ = "rejects" if checks["rejects_complex_dtypes"] else "ignores"
    fallback = "honors" if checks["honors_fallback_data_dependent_ops"] else "has no"
    return f"{complex_} complex dtypes, {fallback} fallback_data_dependent_ops"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trt_autoplugin.snapshot_build",
        description="Regenerate the Torch-TensorRT converter and decomposition snapshot.",
    )
    origin = parser.add_mutually_exclusive_group()
    origin.add_argument("--wheel", type=Path, help="torch_tensorrt wheel to read statically")
    origin.add_argument("--source", type=Path, help="torch_tensorrt source directory")
    parser.add_argument("--output", type=Path, help="default: the shipped snapshot path")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the script; returns its exit status.

    Args:
        argv: The arguments, ``sys.argv[1:]`` when None.

    Returns:
        0 when the snapshot was written, 2 when it could not be built.
    """
    arguments = _parser().parse_args(argv)
    try:
        snapshot = build_snapshot(wheel=arguments.wheel, source=arguments.source)
    except SupportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    output = arguments.output or snapshot_path(snapshot["torch_tensorrt_version"])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(snapshot_text(snapshot), encoding="utf-8")
    print(summary(snapshot, output))
    return 0
