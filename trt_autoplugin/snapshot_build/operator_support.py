"""The checks Torch-TensorRT's partitioner makes besides the converter registry lookup."""

import ast

from trt_autoplugin.snapshot_build.source import PARTITIONER_FILE, JsonObject, unresolved_record

_OPERATOR_SUPPORT_CLASS = "TorchTensorRTOperatorSupport"
_SUPPORT_METHOD = "is_node_supported"


def operator_support_checks(text: str | None) -> tuple[JsonObject | None, list[JsonObject]]:
    """What ``TorchTensorRTOperatorSupport.is_node_supported`` checks besides the registry.

    The releases differ here, not only in their converters: 2.11 asks the registry and
    ``torch_executed_ops`` only; 2.12 first rejects any node that produces or reads a complex
    tensor (``_has_complex_dtype``); 2.13 and 2.14 then also send nodes whose converter needs
    an output allocator to PyTorch when ``fallback_data_dependent_ops`` is set (a setting 2.13
    added). The snapshot oracle reads these flags instead of assuming one release's behaviour.
    The method is read for the names it uses, so a renamed helper still counts if its name
    says "complex".

    Args:
        text: The source of ``dynamo/partitioning/_global_partitioner.py``, None if absent.

    Returns:
        ``{"source", "rejects_complex_dtypes", "honors_fallback_data_dependent_ops"}``, or None
        and the ``unresolved`` record saying why the method was not found.
    """
    method = _support_method(text)
    if method is None:
        where = f"{PARTITIONER_FILE}:0"
        reason = f"no {_OPERATOR_SUPPORT_CLASS}.{_SUPPORT_METHOD} found"
        return None, [unresolved_record(where, _SUPPORT_METHOD, "operator_support", reason)]
    names = {node.id for node in ast.walk(method) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(method) if isinstance(node, ast.Attribute)}
    checks = {
        "source": f"{PARTITIONER_FILE}:{method.lineno}",
        "rejects_complex_dtypes": any("complex" in name.lower() for name in names),
        "honors_fallback_data_dependent_ops": "fallback_data_dependent_ops" in names,
    }
    return checks, []


def _support_method(text: str | None) -> ast.FunctionDef | None:
    if text is None:
        return None
    for statement in ast.parse(text, filename=PARTITIONER_FILE).body:
        if isinstance(statement, ast.ClassDef) and statement.name == _OPERATOR_SUPPORT_CLASS:
            for member in statement.body:
                if isinstance(member, ast.FunctionDef) and member.name == _SUPPORT_METHOD:
                    return member
    return None
