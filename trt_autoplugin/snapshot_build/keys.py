"""Registry keys resolved with the installed torch to the strings the partitioner compares.

An ``OpOverloadPacket`` key stays a packet key, as ``_ConverterRegistry.py`` stores it: the
registry never expands it, so it matches no ``OpOverload`` node target.
"""

import ast
import dataclasses
import importlib

import torch

from trt_autoplugin.snapshot_build.reader import Context, Definition, Failure, StaticReader

# Key expressions are evaluated by importing these modules and nothing else: the static
# reader must not run code from the package it reads.
_IMPORTABLE_ROOTS = frozenset({"torch", "operator", "_operator", "math", "builtins"})


@dataclasses.dataclass(frozen=True, slots=True)
class Key:
    """A registry key resolved to its canonical target string."""

    target: str
    op: object | None  # the torch object, None for an op the installed torch lacks
    packet_overloads: tuple[str, ...] | None


def resolved_key(reader: StaticReader, expr: ast.expr, context: Context) -> Key | Failure:
    """The key an expression of the sources stands for, or why it cannot be resolved."""
    value = reader.evaluate(expr, context)
    if isinstance(value, Failure):
        return value
    if isinstance(value, tuple):
        return Failure("a literal sequence is not a registry key")
    if isinstance(value, Definition):
        # The function object is the key; the partitioner names it module.name, as
        # key_for_object does for a live one. Not a torch op, so known_to_torch is false.
        return Key(target=value.path, op=None, packet_overloads=None)
    return _key_for_path(value)


def key_for_object(value: object) -> Key | Failure:
    """The key of a live registry's target: an operator, a packet or a function."""
    if isinstance(value, torch._ops.OpOverload):
        return Key(target=str(value), op=value, packet_overloads=None)
    if isinstance(value, torch._ops.OpOverloadPacket):
        return Key(target=str(value), op=value, packet_overloads=tuple(value.overloads()))
    module, name = getattr(value, "__module__", None), getattr(value, "__name__", None)
    if callable(value) and module and name:
        return Key(target=f"{module}.{name}", op=value, packet_overloads=None)
    return Failure(f"{value!r} is neither an operator nor a function")


def _key_for_path(path: str) -> Key | Failure:
    root, *attributes = path.split(".")
    if root not in _IMPORTABLE_ROOTS:
        return Failure(f"'{path}' is outside the modules the reader may import")
    value: object = importlib.import_module(root)
    for attribute in attributes:
        try:
            value = getattr(value, attribute)
        except (AttributeError, RuntimeError):
            return _missing_op_key(path)
    return key_for_object(value)


def _missing_op_key(path: str) -> Key | Failure:
    # Ops of other libraries (torch.ops.tensorrt.*, registered by Torch-TensorRT or modelopt
    # at import) are absent here, but an overload's canonical string needs no torch object.
    parts = path.split(".")
    if parts[:2] == ["torch", "ops"] and len(parts) == 5:
        return Key(target=".".join(parts[2:]), op=None, packet_overloads=None)
    return Failure(f"'{path}' does not exist in torch {torch.__version__}")
