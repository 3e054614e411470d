"""Tests for ``snapshot_build.live``, on a registry shaped like ``DYNAMO_ATEN_CONVERTERS``."""

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from test_snapshot_build import ENTRY_FIELDS

from trt_autoplugin.snapshot_build.live import live_converters


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
    converters = live_converters(registry, _always, Path(__file__).parent)
    (sort,) = converters["aten.sort.default"]
    assert set(sort) == ENTRY_FIELDS
    assert sort["validator"] == "_sort_validator(limit=3840)"
    assert sort["supports_dynamic_shapes"] is True
    assert sort["source"].startswith("test_snapshot_build_live.py:")
    assert converters["aten.matmul"][0]["validator"] is None
    assert converters["aten.matmul"][0]["packet_overloads"] == ["default", "out"]
