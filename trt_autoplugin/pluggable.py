"""What a TensorRT plugin can take: the refusals every entry point applies, before TensorRT.

`region_refusal_reason` is the one decision of whether an outlined region may become a plugin.
`trt_autoplugin.autoplugin`, ``trt-autoplugin analyze`` and the Torch-TensorRT lowering pass all
call it, so a prediction never counts a region that compiling would leave in PyTorch. Pure: no
TensorRT, no Torch-TensorRT.
"""

import dataclasses
import weakref
from collections.abc import Collection

import torch
import torch.fx

from . import data_dependent
from .data_dependent import SizeTensor
from .errors import PluginError
from .graph import target_name
from .limits import MAX_RANK
from .outline import RegionBody, TensorSpec
from .refusal import Refusal, RefusalKind
from .shape_expr import untranslatable_reason

# torch dtype -> name of the ``trt.DataType`` member, for every dtype a plugin boundary may carry.
PLUGIN_DTYPE_NAMES: dict[torch.dtype, str] = {
    torch.float32: "FLOAT",
    torch.float16: "HALF",
    torch.bfloat16: "BF16",
    torch.int8: "INT8",
    torch.int32: "INT32",
    torch.int64: "INT64",
    torch.bool: "BOOL",
}


def plugin_id(body: RegionBody) -> str:
    """The QDP id of a region's plugin: the region op's qualified name, ``ns::region_<hash>``."""
    return body.qualified_name


def is_plugin_dtype(dtype: torch.dtype) -> bool:
    """Whether a TensorRT plugin can take or give tensors of this dtype."""
    return dtype in PLUGIN_DTYPE_NAMES


def trt_dtype_name(dtype: torch.dtype) -> str:
    """The ``trt.DataType`` member name for a torch dtype ('FLOAT', 'HALF', 'BF16', ...).

    Raises:
        PluginError: TensorRT has no counterpart usable at a plugin boundary.
    """
    if dtype not in PLUGIN_DTYPE_NAMES:
        raise PluginError(f"{dtype} has no TensorRT plugin counterpart ({supported_dtypes()})")
    return PLUGIN_DTYPE_NAMES[dtype]


def supported_dtypes() -> str:
    """The plugin dtypes, for messages: 'supported: float32, float16, ...'."""
    return "supported: " + ", ".join(str(d).removeprefix("torch.") for d in PLUGIN_DTYPE_NAMES)


def plugin_refusal_reason(body: RegionBody) -> Refusal | None:
    """Why a region can't become a TensorRT plugin, or None when it can.

    Checks, without TensorRT: the region has at least one tensor input (QDP can't register a
    plugin without one), every input and output dtype has a TensorRT counterpart, every
    rank fits TensorRT's dims, and every output dim translates into a TensorRT shape expression.
    The message names the region and the offending tensor; the lowering pass passes this function
    as ``accept`` to leave refused regions in the graph (see `pipeline.outline_graph_module`).
    """
    name = plugin_id(body)
    reason = (
        _inputs_reason(body)
        or _layout_reason(body)
        or _dtype_reason(body)
        or _rank_reason(body)
        or _shape_reason(body)
    )
    if reason is None:
        return None
    return dataclasses.replace(reason, message=f"region {name}: {reason.message}")


def _shape_reason(body: RegionBody) -> Refusal | None:
    inputs = [s.shape for s in body.input_specs]
    try:
        sizes = size_tensors(body)
    except PluginError as e:
        return Refusal(RefusalKind.DATA_DEPENDENT_BOUND, str(e))
    reason = untranslatable_reason(
        [s.shape for s in body.output_specs], inputs, extents=[s.extent for s in sizes]
    )
    if reason is not None:
        return Refusal(RefusalKind.SHAPE, reason)
    if sizes:
        bound_reason = untranslatable_reason([tuple(s.upper_bound for s in sizes)], inputs)
        if bound_reason is not None:
            message = f"a data-dependent output's upper bound: {bound_reason}"
            return Refusal(RefusalKind.DATA_DEPENDENT_BOUND, message)
    return None


# Per body graph: the descriptor and every JIT call ask, and a body's graph never changes.
_SIZE_TENSORS: "weakref.WeakKeyDictionary[torch.fx.GraphModule, tuple[SizeTensor, ...]]" = (
    weakref.WeakKeyDictionary()
)


def size_tensors(body: RegionBody) -> tuple[SizeTensor, ...]:
    """The size tensors the region's plugin declares for its data-dependent output dims
    (`data_dependent.size_tensors`); empty for a region whose output shapes follow from its
    input shapes.

    Raises:
        PluginError: a data-dependent output dim has no usable upper bound (names the dim).
    """
    known = _SIZE_TENSORS.get(body.graph_module)
    if known is None:
        try:
            known = data_dependent.size_tensors(
                body.graph_module.graph,
                [s.shape for s in body.input_specs],
                [s.shape for s in body.output_specs],
            )
        except ValueError as e:
            raise PluginError(f"data-dependent output: {e}") from e
        _SIZE_TENSORS[body.graph_module] = known
    return known


def _boundary(body: RegionBody) -> list[tuple[str, TensorSpec]]:
    inputs = [(f"input {i} ({s})", s) for i, s in enumerate(body.input_specs)]
    outputs = [(f"output {i} ({s})", s) for i, s in enumerate(body.output_specs)]
    return inputs + outputs


def _inputs_reason(body: RegionBody) -> Refusal | None:
    # tensorrt.plugin (10.6 to 11.4) checks an impl's parameters against the schema
    # "(" + <tensor names> + ", outputs, stream)": with no tensor inputs that is
    # "(, outputs, stream)", which no Python signature matches, so `trtp.impl` (likewise
    # `aot_impl` and `autotune`) refuses every plugin without inputs.
    if body.input_specs:
        return None
    return Refusal(
        RefusalKind.NO_TENSOR_INPUT,
        "it has no tensor inputs (a constant computed from factory ops such as arange, full, "
        "eye or a window function), and a TensorRT Quick Deployable Plugin needs at least one: "
        "tensorrt.plugin's impl validator rejects a plugin without inputs; it stays in "
        "PyTorch, where Torch-TensorRT's constant_fold folds a constant into the engine",
    )


def _layout_reason(body: RegionBody) -> Refusal | None:
    graph = body.graph_module.graph
    (output,) = graph.find_nodes(op="output")
    values = [(f"input {i}", n) for i, n in enumerate(graph.find_nodes(op="placeholder"))]
    values += [(f"output {i}", n) for i, n in enumerate(output.args[0])]
    for label, node in values:
        value = node.meta.get("val") if isinstance(node, torch.fx.Node) else None
        if isinstance(value, torch.Tensor) and value.layout != torch.strided:
            message = (
                f"{label} is a {value.layout} tensor; TensorRT's buffers are dense, so the op "
                "making or reading it stays in PyTorch"
            )
            return Refusal(RefusalKind.LAYOUT, message)
    return None


def _dtype_reason(body: RegionBody) -> Refusal | None:
    for label, spec in _boundary(body):
        if not is_plugin_dtype(spec.dtype):
            message = (
                f"{label} has dtype {spec.dtype}, which a TensorRT plugin can't take at its "
                f"boundary ({supported_dtypes()}); keep the op producing it out of the region"
            )
            return Refusal(RefusalKind.DTYPE, message)
    return None


def _rank_reason(body: RegionBody) -> Refusal | None:
    for label, spec in _boundary(body):
        if len(spec.shape) > MAX_RANK:
            message = f"{label} has rank {len(spec.shape)}; TensorRT dims hold at most {MAX_RANK}"
            return Refusal(RefusalKind.RANK, message)
    return None


def check_pluggable(body: RegionBody) -> None:
    """Raises PluginError with `plugin_refusal_reason` if the region can't become a plugin."""
    refusal = plugin_refusal_reason(body)
    if refusal is not None:
        raise PluginError(str(refusal))


def executed_ops_reason(body: RegionBody, torch_executed_ops: Collection[object]) -> Refusal | None:
    """Why a region must stay in PyTorch because the user listed one of its ops, or None.

    ``torch_executed_ops`` asks for ops to run in PyTorch, outside TensorRT; a plugin would run
    them inside an engine, so a region holding one is left in the graph. Entries may be ops or
    their names, as Torch-TensorRT accepts ('torch.ops.aten.lgamma.default' or
    'aten.lgamma.default').
    """
    objects = {o for o in torch_executed_ops if not isinstance(o, str)}
    names = {o for o in torch_executed_ops if isinstance(o, str)}
    for node in body.graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = target_name(node.target)
        if node.target in objects or name in names or f"torch.ops.{name}" in names:
            message = f"it contains {name}, listed in torch_executed_ops"
            return Refusal(RefusalKind.TORCH_EXECUTED_OPS, message)
    return None


def fallback_reason(body: RegionBody) -> Refusal | None:
    """Why ``fallback_data_dependent_ops`` keeps the region in PyTorch: it has data-dependent
    outputs, so its converter needs Torch-TensorRT's output allocator, which that setting
    refuses. None for a region without such outputs (or one that can't be a plugin anyway)."""
    try:
        sizes = size_tensors(body)
    except PluginError:
        return None
    if not sizes:
        return None
    extents = ", ".join(str(s.extent) for s in sizes)
    message = (
        f"it has data-dependent outputs (extent {extents}) and fallback_data_dependent_ops is "
        "set: Torch-TensorRT runs ops that need its output allocator in PyTorch"
    )
    return Refusal(RefusalKind.FALLBACK_DATA_DEPENDENT, message)


def region_refusal_reason(
    body: RegionBody,
    *,
    torch_executed_ops: Collection[object] = (),
    fallback_data_dependent_ops: bool = False,
) -> Refusal | None:
    """Why a region stays in PyTorch instead of becoming a plugin, or None when it can be one.

    Args:
        body: the proposed region's body.
        torch_executed_ops: ops the user asked to run in PyTorch (Torch-TensorRT's setting).
        fallback_data_dependent_ops: Torch-TensorRT's setting (2.13 on): ops needing its
            output allocator run in PyTorch, so a region with data-dependent outputs does too.

    Returns:
        `plugin_refusal_reason`, `executed_ops_reason` or `fallback_reason`, the first that
        applies.
    """
    reason = plugin_refusal_reason(body) or executed_ops_reason(body, torch_executed_ops)
    if reason is None and fallback_data_dependent_ops:
        reason = fallback_reason(body)
    return reason
