"""Converter entries read from an imported ``torch_tensorrt``'s live registry.

Each entry has the fields of a statically read one, so both snapshots load the same way.
"""

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trt_autoplugin.snapshot_build.keys import Key, key_for_object
from trt_autoplugin.snapshot_build.source import JsonObject


def live_converters(
    registry: Mapping[object, Sequence[Any]], default_validator: object, package: Path
) -> JsonObject:
    """Converter entries from a live ``DYNAMO_ATEN_CONVERTERS``-shaped mapping.

    Args:
        registry: Target to its ``ConverterSupport`` list, in registry order.
        default_validator: ``ConverterSupport``'s default ``capability_validator``, which
            stands for "no validator".
        package: The ``torch_tensorrt`` package directory, to make sources relative.

    Returns:
        Entries by canonical target, sorted by target.
    """
    converters: dict[str, list[JsonObject]] = {}
    for target, supports in registry.items():
        key = key_for_object(target)
        name = key.target if isinstance(key, Key) else str(target)
        packet = key.packet_overloads if isinstance(key, Key) else None
        converters[name] = [_live_entry(s, default_validator, package, packet) for s in supports]
    return dict(sorted(converters.items()))


def _live_entry(
    support: Any, default_validator: object, package: Path, packet: tuple[str, ...] | None
) -> JsonObject:
    implementation = inspect.unwrap(support.converter_implementation)
    validator = support.capability_validator
    return {
        "validator": None if validator is default_validator else _callable_name(validator),
        "supports_dynamic_shapes": support.supports_dynamic_shapes,
        "requires_output_allocator": support.requires_output_allocator,
        "requires_native_multidevice": getattr(support, "requires_native_multidevice", False),
        "priority": None,
        "enabled": True,
        "source": _live_source(implementation, package),
        "function": getattr(implementation, "__name__", repr(implementation)),
        "condition": None,
        "via": None,
        "packet_overloads": list(packet) if packet else None,
        "known_to_torch": True,
    }


def _callable_name(function: Callable[..., Any]) -> str:
    if isinstance(function, functools.partial):
        arguments = [repr(a) for a in function.args]
        arguments += [f"{k}={v!r}" for k, v in function.keywords.items()]
        return f"{_callable_name(function.func)}({', '.join(arguments)})"
    return getattr(function, "__name__", None) or type(function).__name__


def _live_source(function: Callable[..., Any], package: Path) -> str | None:
    try:
        file = Path(inspect.getsourcefile(function) or "")
        line = function.__code__.co_firstlineno
    except (TypeError, AttributeError):
        return None
    if file.is_relative_to(package):
        file = file.relative_to(package)
    return f"{file.as_posix()}:{line}"
