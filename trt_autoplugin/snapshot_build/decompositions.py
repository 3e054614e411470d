"""The decomposition sets ``get_decompositions()`` combines, read statically.

- ``torch_enabled``: the keys ``torch._decomp.get_decompositions`` returns for
  ``torch_enabled_decompositions``, as ``ENABLED_TORCH_DECOMPOSITIONS`` holds them: a packet
  becomes those overloads the installed torch has a decomposition for.
- ``torch_disabled``: the overloads of ``torch_disabled_decompositions``.
- ``torch_tensorrt``: the keys of ``TORCH_TRT_DECOMPOSITIONS``; a packet becomes every overload
  with a dispatcher kernel, as ``torch._decomp.register_decomposition`` does.
- ``attention``: ``ATTENTION_DECOMPOSITION_OPS``, which ``get_decompositions()`` drops from
  ``TORCH_TRT_DECOMPOSITIONS`` unless ``decompose_attention`` (default False); and
  ``cia_keeps_attention``: see :func:`cia_filter_keeps_attention`.
"""

import ast
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch._decomp

from trt_autoplugin.snapshot_build.keys import Key, resolved_key
from trt_autoplugin.snapshot_build.reader import (
    Context,
    Failure,
    StaticReader,
    callee_name,
    is_name,
    module_name,
)
from trt_autoplugin.snapshot_build.sites import (
    keyword_argument,
    registered_key,
    registrar_sites,
    site_key,
)
from trt_autoplugin.snapshot_build.source import (
    DECOMPOSITIONS_FILE,
    GROUPS_FILE,
    JsonObject,
    unresolved_record,
)

ATTENTION_SET = "ATTENTION_DECOMPOSITION_OPS"
_DECOMPOSITION_REGISTRAR = "register_torch_trt_decomposition"
_TRT_DECOMPOSITION_TABLE = "TORCH_TRT_DECOMPOSITIONS"
_ENABLED_SET = "torch_enabled_decompositions"
_DISABLED_SET = "torch_disabled_decompositions"
_GET_DECOMPOSITIONS = "get_decompositions"
_CIA_COLLECTOR = "_collect_all_valid_cia_ops_for_aten_namespace"

_SetReader = Callable[[StaticReader], tuple[list[str], list[JsonObject]]]


def static_decompositions(reader: StaticReader) -> tuple[dict[str, Any], list[JsonObject]]:
    """Every decomposition fact of a snapshot, read from the sources.

    Args:
        reader: The reader of the source tree.

    Returns:
        ``torch_enabled``, ``torch_disabled``, ``torch_tensorrt`` and ``attention`` (sorted
        targets) and ``cia_keeps_attention``, and the ``unresolved`` records.
    """
    decompositions: dict[str, Any] = {}
    unresolved: list[JsonObject] = []
    sets: tuple[tuple[str, _SetReader], ...] = (
        ("torch_enabled", _enabled_decompositions),
        ("torch_disabled", _disabled_decompositions),
        ("torch_tensorrt", _trt_decompositions),
        ("attention", _attention_decompositions),
    )
    for name, build in sets:
        decompositions[name], gaps = build(reader)
        unresolved.extend(gaps)
    keeps, gaps = cia_filter_keeps_attention(reader.files.get(DECOMPOSITIONS_FILE))
    decompositions["cia_keeps_attention"] = keeps
    unresolved.extend(gaps)
    return decompositions, unresolved


def _group_keys(
    reader: StaticReader, name: str, *, path: str = GROUPS_FILE
) -> tuple[list[tuple[Key, str, str]], list[JsonObject]]:
    """The resolved elements of a set literal at module level in ``path``.

    Returns:
        ``(key, source, expression)`` per resolved element, and the unresolved records.
    """
    context = Context(module_name(path))
    elements = reader.evaluate(ast.Name(id=name, ctx=ast.Load()), context)
    if not isinstance(elements, tuple):
        reason = elements.reason if isinstance(elements, Failure) else "not a set literal"
        return [], [unresolved_record(f"{path}:0", name, "decomposition", reason)]
    resolved: list[tuple[Key, str, str]] = []
    unresolved: list[JsonObject] = []
    for element in elements:
        source, expression = f"{path}:{element.expr.lineno}", ast.unparse(element.expr)
        key = resolved_key(reader, element.expr, element.context)
        if isinstance(key, Failure):
            unresolved.append(unresolved_record(source, expression, "decomposition", key.reason))
        elif key.op is None:
            reason = f"'{key.target}' is not an operator of torch {torch.__version__}"
            unresolved.append(unresolved_record(source, expression, "decomposition", reason))
        else:
            resolved.append((key, source, expression))
    return resolved, unresolved


def _enabled_decompositions(reader: StaticReader) -> tuple[list[str], list[JsonObject]]:
    keys, unresolved = _group_keys(reader, _ENABLED_SET)
    targets: set[str] = set()
    for key, source, expression in keys:
        # ENABLED_TORCH_DECOMPOSITIONS is get_decompositions(torch_enabled_decompositions):
        # a packet keeps the overloads torch decomposes, an op torch cannot decompose is
        # ignored. Record those, since the set names them.
        found = torch._decomp.get_decompositions([key.op])  # type: ignore[list-item]
        if not found:
            reason = f"torch {torch.__version__} has no decomposition for it, so it is ignored"
            unresolved.append(unresolved_record(source, expression, "decomposition", reason))
        targets.update(str(op) for op in found)
    return sorted(targets), unresolved


def _disabled_decompositions(reader: StaticReader) -> tuple[list[str], list[JsonObject]]:
    keys, unresolved = _group_keys(reader, _DISABLED_SET)
    # get_decompositions filters with `op not in torch_disabled_decompositions`, which an
    # OpOverload never is when the set holds its packet.
    reason = "a packet in the disabled set matches no OpOverload, so it disables nothing"
    targets, packets = _overload_targets(keys, reason)
    return targets, unresolved + packets


def _attention_decompositions(reader: StaticReader) -> tuple[list[str], list[JsonObject]]:
    """The overloads in ``ATTENTION_DECOMPOSITION_OPS``; none where the release has no such set."""
    if ATTENTION_SET not in reader.scope(module_name(DECOMPOSITIONS_FILE)):
        return [], []
    keys, unresolved = _group_keys(reader, ATTENTION_SET, path=DECOMPOSITIONS_FILE)
    # Filtered with `k not in ATTENTION_DECOMPOSITION_OPS` like the disabled set.
    reason = "a packet in the attention set matches no OpOverload, so it keeps nothing"
    targets, packets = _overload_targets(keys, reason)
    return targets, unresolved + packets


def _overload_targets(
    keys: Iterable[tuple[Key, str, str]], packet_reason: str
) -> tuple[list[str], list[JsonObject]]:
    """The overloads of a set tested with ``op not in``, and records for the packets in it."""
    targets: list[str] = []
    unresolved: list[JsonObject] = []
    for key, source, expression in keys:
        if key.packet_overloads is not None:
            record = unresolved_record(source, expression, "decomposition", packet_reason)
            unresolved.append(record)
        else:
            targets.append(key.target)
    return sorted(set(targets)), unresolved


def _registered_overloads(op: object) -> list[str]:
    """What ``torch._decomp.register_decomposition`` keys a decomposition of ``op`` under."""
    if isinstance(op, torch._ops.OpOverloadPacket):
        # ``op_overloads()`` is newer than torch 2.11; ``overloads()`` names them in every release.
        candidates = [getattr(op, name) for name in op.overloads()]
    elif isinstance(op, torch._ops.OpOverload):
        candidates = [op]
    else:
        return []
    # Like torch, skip overloads without a dispatcher entry (TorchScript-only ones).
    return [str(o) for o in candidates if torch._C._dispatch_has_kernel(o.name())]


def _trt_decompositions(reader: StaticReader) -> tuple[list[str], list[JsonObject]]:
    if DECOMPOSITIONS_FILE not in reader.files:
        return [], [
            unresolved_record(f"{DECOMPOSITIONS_FILE}:0", "", "decomposition", "file is missing")
        ]
    sites, unresolved = registrar_sites(
        reader, DECOMPOSITIONS_FILE, _DECOMPOSITION_REGISTRAR, kind="decomposition"
    )
    targets: set[str] = set()
    for site in sites:
        registry = keyword_argument(site.call, "registry")
        if registry is None or not is_name(registry, _TRT_DECOMPOSITION_TABLE):
            reason = f"registers into a table other than {_TRT_DECOMPOSITION_TABLE}"
            unresolved.append(
                unresolved_record(site.source, ast.unparse(site.call), "decomposition", reason)
            )
            continue
        key = site_key(reader, site, "aten_op", kind="decomposition")
        overloads = [] if isinstance(key, dict) else _registered_overloads(key.op)
        if isinstance(key, dict):
            unresolved.append(key)
        elif not overloads:
            reason = f"no overload of '{key.target}' has a kernel in torch {torch.__version__}"
            expression = ast.unparse(registered_key(site.call, "aten_op") or site.call)
            unresolved.append(unresolved_record(site.source, expression, "decomposition", reason))
        targets.update(overloads)
    return sorted(targets), unresolved


def cia_filter_keeps_attention(text: str | None) -> tuple[bool | None, list[JsonObject]]:
    """Whether ``get_decompositions()`` lets torch decompose the attention ops by default.

    It returns ``{**ENABLED_TORCH_DECOMPOSITIONS, **cia_filtered, **trt_decomps}``, where
    ``trt_decomps`` lacks ``ATTENTION_DECOMPOSITION_OPS`` unless ``decompose_attention``. 2.11
    filters torch's CompositeImplicitAutograd table by the disabled set only, so torch decomposes
    ``aten.scaled_dot_product_attention`` (on a CPU export into
    ``_scaled_dot_product_flash_attention_for_cpu``, which has no converter); 2.12 added
    ``and decomp not in ATTENTION_DECOMPOSITION_OPS``, which leaves it to its converter.
    The comprehension over the table that the loop over
    ``_collect_all_valid_cia_ops_for_aten_namespace()`` fills is read for that test.

    Args:
        text: The source of ``dynamo/lowering/_decompositions.py``, None if absent.

    Returns:
        True if the CIA filter does not exclude ``ATTENTION_DECOMPOSITION_OPS``, or None and the
        ``unresolved`` record saying why the filter was not found.
    """
    function = _module_function(text, DECOMPOSITIONS_FILE, _GET_DECOMPOSITIONS)
    table = _cia_table(function) if function is not None else None
    filters = _comprehensions_over(function, table) if function and table else []
    if function is None or not filters:
        line = function.lineno if function is not None else 0
        reason = f"no filter of the {_CIA_COLLECTOR}() table found in {_GET_DECOMPOSITIONS}"
        record = unresolved_record(
            f"{DECOMPOSITIONS_FILE}:{line}", _GET_DECOMPOSITIONS, "decomposition", reason
        )
        return None, [record]
    return not any(_tests_not_in(f, ATTENTION_SET) for f in filters), []


def _module_function(text: str | None, path: str, name: str) -> ast.FunctionDef | None:
    if text is None:
        return None
    for statement in ast.parse(text, filename=path).body:
        if isinstance(statement, ast.FunctionDef) and statement.name == name:
            return statement
    return None


def _cia_table(function: ast.FunctionDef) -> str | None:
    """The name of the dict ``for op in _collect_all_valid_cia_ops_for_aten_namespace()`` fills."""
    for loop in ast.walk(function):
        if not (
            isinstance(loop, ast.For)
            and isinstance(loop.iter, ast.Call)
            and callee_name(loop.iter.func) == _CIA_COLLECTOR
        ):
            continue
        for statement in loop.body:
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                        return target.value.id
    return None


def _comprehensions_over(function: ast.FunctionDef, table: str) -> list[ast.DictComp]:
    return [
        node
        for node in ast.walk(function)
        if isinstance(node, ast.DictComp) and any(is_name(g.iter, table) for g in node.generators)
    ]


def _tests_not_in(comprehension: ast.DictComp, name: str) -> bool:
    """Whether the comprehension's conditions drop the elements of ``name`` (``x not in name``)."""
    tests = [test for generator in comprehension.generators for test in generator.ifs]
    return any(
        isinstance(op, ast.NotIn) and is_name(comparator, name)
        for test in tests
        for node in ast.walk(test)
        if isinstance(node, ast.Compare)
        for op, comparator in zip(node.ops, node.comparators, strict=True)
    )
