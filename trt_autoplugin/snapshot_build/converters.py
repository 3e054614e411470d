"""The converter registry, read statically: ``dynamo_tensorrt_converter`` calls and their options.

Files of ``dynamo/conversion/`` are read in sorted order (the order ``conversion/__init__.py``
imports them) and entries are kept in registry order, ``HIGH`` priority inserted first. A packet
key Torch-TensorRT rejects (three or more overloads, or two that are not ``{default, out}``) is
reported as unresolved; the packets it accepts list their overloads in ``"packet_overloads"``.
"""

import ast
from collections.abc import Iterable

from trt_autoplugin.snapshot_build.keys import Key
from trt_autoplugin.snapshot_build.reader import (
    MAX_DEPTH,
    Bound,
    Context,
    StaticReader,
    callee_name,
)
from trt_autoplugin.snapshot_build.sites import (
    Site,
    keyword_argument,
    registered_key,
    registrar_sites,
    site_key,
)
from trt_autoplugin.snapshot_build.source import CONVERTER_DIR, JsonObject, unresolved_record

_CONVERTER_REGISTRAR = "dynamo_tensorrt_converter"


def static_converters(reader: StaticReader) -> tuple[JsonObject, list[JsonObject]]:
    """Converter entries by target in registry order, and the registrations not resolved.

    Args:
        reader: The reader of the source tree.

    Returns:
        Entries by canonical target, sorted by target, and the ``unresolved`` records.
    """
    registry: dict[str, list[JsonObject]] = {}
    unresolved: list[JsonObject] = []
    for path in _converter_files(reader.files):
        sites, unreached = registrar_sites(reader, path, _CONVERTER_REGISTRAR, kind="converter")
        unresolved.extend(unreached)
        for site in sites:
            key = site_key(reader, site, "key", kind="converter")
            if isinstance(key, dict):
                unresolved.append(key)
            elif (reason := _rejected_packet_reason(key)) is not None:
                expr = registered_key(site.call, "key")
                expression = ast.unparse(expr) if expr is not None else key.target
                unresolved.append(unresolved_record(site.source, expression, "converter", reason))
            else:
                _insert(registry, key.target, _converter_entry(site, key))
    return dict(sorted(registry.items())), unresolved


def _converter_files(files: Iterable[str]) -> list[str]:
    return sorted(p for p in files if p.startswith(CONVERTER_DIR) and p.endswith(".py"))


def _insert(registry: dict[str, list[JsonObject]], target: str, entry: JsonObject) -> None:
    # As dynamo_tensorrt_converter does: HIGH goes first, everything else is appended.
    entries = registry.setdefault(target, [])
    if entry["priority"] == "HIGH":
        entries.insert(0, entry)
    else:
        entries.append(entry)


def _rejected_packet_reason(key: Key) -> str | None:
    """Why ``dynamo_tensorrt_converter`` raises AssertionError for a packet key, if it does."""
    overloads = key.packet_overloads
    if overloads is None:
        return None
    if len(overloads) >= 3 or (len(overloads) == 2 and "out" not in overloads):
        return (
            f"packet key with overloads {list(overloads)}: Torch-TensorRT raises AssertionError "
            "at import (it accepts one overload or exactly default and out)"
        )
    return None


def _converter_entry(site: Site, key: Key) -> JsonObject:
    call, context = site.call, site.context
    return {
        "validator": _validator(call, context),
        "supports_dynamic_shapes": _flag(call, "supports_dynamic_shapes", context, default=False),
        "requires_output_allocator": _flag(
            call, "requires_output_allocator", context, default=False
        ),
        "requires_native_multidevice": _flag(
            call, "requires_native_multidevice", context, default=False
        ),
        "priority": _priority(call, context),
        "enabled": _flag(call, "enabled", context, default=True),
        "source": site.source,
        "function": site.function,
        "condition": " and ".join(site.conditions) or None,
        "via": site.via,
        "packet_overloads": list(key.packet_overloads) if key.packet_overloads else None,
        "known_to_torch": key.op is not None,
    }


def _substituted(expr: ast.expr, context: Context) -> ast.expr:
    """The expression a loop variable or helper parameter stands for, else the expression."""
    for _ in range(MAX_DEPTH):
        if not isinstance(expr, ast.Name):
            break
        bound = context.names.get(expr.id)
        if not isinstance(bound, Bound):
            break
        expr, context = bound.expr, bound.context
    return expr


def _flag(call: ast.Call, name: str, context: Context, *, default: bool) -> bool | str:
    """A boolean option: its literal value, or its source text when it is not a literal."""
    expr = keyword_argument(call, name)
    if expr is None:
        return default
    expr = _substituted(expr, context)
    if isinstance(expr, ast.Constant) and isinstance(expr.value, bool):
        return expr.value
    return ast.unparse(expr)


def _priority(call: ast.Call, context: Context) -> str:
    expr = keyword_argument(call, "priority")
    if expr is None:
        return "STANDARD"
    expr = _substituted(expr, context)
    name = callee_name(expr)
    return name if name in ("HIGH", "STANDARD") else ast.unparse(expr)


def _validator(call: ast.Call, context: Context) -> str | None:
    expr = keyword_argument(call, "capability_validator")
    if expr is None:
        return None
    expr = _substituted(expr, context)
    if isinstance(expr, ast.Constant) and expr.value is None:
        return None
    return expr.id if isinstance(expr, ast.Name) else ast.unparse(expr)
