"""A TensorRT Quick Deployable Plugin (``tensorrt.plugin``) for each outlined region.

Each region op ``trt_autoplugin::region_<hash>`` becomes a QDP plugin of the same id with

* a descriptor (``trtp.register``): one output per region output, its dtype taken from the
  region's output spec (never copied from an input) and its shape translated from the region's
  symbolic output shape into ``trtp.ShapeExpr`` arithmetic by `shape_expr.translate_shapes`;
* a JIT implementation (``trtp.impl``) that runs the region body with PyTorch on the stream
  TensorRT passes, reading TensorRT's input buffers and writing its output buffers in place.

Everything TensorRT can't represent is refused by `plugin_refusal_reason` *before* TensorRT sees
the region, so the caller can leave it as a graph break. ``tensorrt`` is imported inside functions
only: this module imports without TensorRT and its pure parts (refusals, dtype names, buffers,
`jit_launch`) are testable without it.

Unlike Torch-TensorRT's ``_generate_plugin``, the plugin functions are closures whose QDP-visible
signature is set through ``__signature__`` (``inspect.signature``, which TensorRT's ``_validate``
reads, honours it), not code compiled from f-strings; and shapes come from the region's own
symbolic shapes, not from re-tracing the op under fake inputs of size 5.
"""

import dataclasses
import inspect
import logging
import os
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import sympy
import torch

from .aot.kernel import AotKernel
from .data_dependent import SizeTensor, opt_extent
from .errors import PluginError, ShapeTranslationError
from .handles import RegistrationHandle
from .jit import CudaBuffer, OutputAddress, jit_launch
from .outline import RegionBody
from .pluggable import (  # noqa: F401 - re-exported: the plugin's view of what it can take
    MAX_RANK,
    PLUGIN_DTYPE_NAMES,
    check_pluggable,
    is_plugin_dtype,
    plugin_id,
    plugin_refusal_reason,
    size_tensors,
    supported_dtypes,
    trt_dtype_name,
)
from .probes import tensorrt_plugin, tensorrt_plugin_import_error  # noqa: F401 - re-exported
from .serialize import LoadedRegion, load_regions
from .shape_expr import translate_shapes

logger = logging.getLogger(__name__)


def trt_dtype(dtype: torch.dtype) -> Any:
    """The ``trt.DataType`` for a torch dtype (needs TensorRT)."""
    import tensorrt as trt

    return getattr(trt.DataType, trt_dtype_name(dtype))


def torch_dtype(trt_data_type: Any) -> torch.dtype:
    """The torch dtype for a ``trt.DataType`` a plugin may see (needs TensorRT).

    Raises:
        PluginError: not one of the plugin dtypes.
    """
    import tensorrt as trt

    for dtype, name in PLUGIN_DTYPE_NAMES.items():
        if getattr(trt.DataType, name) == trt_data_type:
            return dtype
    raise PluginError(
        f"TensorRT dtype {trt_data_type} is not a plugin dtype ({supported_dtypes()})"
    )


class TrtShapeArithmetic:
    """`shape_expr.ShapeArithmetic` over ``trtp.ShapeExpr``.

    Constants are ``trtp.ShapeExpr(value)``: inside ``get_output_shapes`` TensorRT's expression
    builder is set and makes it a real constant; while TensorRT only asks for dtypes it is a fake
    expression, like every input dim then.
    """

    def __init__(self, trtp: ModuleType) -> None:
        self._trtp = trtp

    def constant(self, value: int) -> Any:
        return self._trtp.ShapeExpr(value)

    def add(self, left: Any, right: Any) -> Any:
        return left + right

    def sub(self, left: Any, right: Any) -> Any:
        return left - right

    def mul(self, left: Any, right: Any) -> Any:
        return left * right

    def floordiv(self, left: Any, right: Any) -> Any:
        return left // right

    def cdiv(self, left: Any, right: Any) -> Any:
        return self._trtp.cdiv(left, right)

    def max(self, left: Any, right: Any) -> Any:
        return self._trtp.max(left, right)

    def min(self, left: Any, right: Any) -> Any:
        return self._trtp.min(left, right)


def _with_signature(
    function: Callable[..., Any], name: str, parameters: Sequence[tuple[str, Any]], returns: Any
) -> Callable[..., Any]:
    """Gives a closure the signature QDP validates (``inspect.signature`` reads ``__signature__``).

    Annotations are real classes, never strings: ``_validate`` calls ``issubclass`` on them.
    """
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    function.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p, kind, annotation=a) for p, a in parameters],
        return_annotation=returns,
    )
    function.__annotations__ = {**dict(parameters), "return": returns}
    function.__name__ = function.__qualname__ = name
    return function


def _input_names(body: RegionBody) -> list[str]:
    # The region op's schema names (outline.region_schema), so both read the same.
    return [f"in_{i}" for i in range(len(body.input_specs))]


def _descriptor(body: RegionBody, trtp: ModuleType, size_tensor_opt: float) -> Callable[..., Any]:
    """The ``trtp.register`` function: output descriptors from the region's specs, then one
    ``trtp.size_tensor`` per data-dependent extent (`pluggable.size_tensors`), optimized for
    ``size_tensor_opt`` of its upper bound."""
    region = plugin_id(body)
    input_dtypes = [trt_dtype(s.dtype) for s in body.input_specs]
    output_dtypes = [trt_dtype(s.dtype) for s in body.output_specs]
    input_shapes = [s.shape for s in body.input_specs]
    output_shapes = [s.shape for s in body.output_specs]
    sizes = size_tensors(body)

    def describe(*inputs: Any) -> tuple[Any, ...]:
        for index, (desc, expected) in enumerate(zip(inputs, input_dtypes, strict=True)):
            if desc.dtype != expected:
                raise PluginError(
                    f"region {region}: TensorRT gives input {index} as {desc.dtype}, but the "
                    f"region was traced with {expected}"
                )
        input_dims = [list(desc.shape_expr) for desc in inputs]
        arith = TrtShapeArithmetic(trtp)
        try:
            declared = _size_tensor_descs(sizes, size_tensor_opt, input_shapes, input_dims, trtp)
            extents = {s.extent: d.expr() for s, d in zip(sizes, declared, strict=True)}
            dims = translate_shapes(output_shapes, input_shapes, input_dims, arith, extents=extents)
        except (ShapeTranslationError, ValueError) as e:
            raise PluginError(f"region {region}: {e}") from e
        outputs = tuple(
            trtp.from_shape_expr(tuple(shape), dtype=dtype)
            for shape, dtype in zip(dims, output_dtypes, strict=True)
        )
        return (*outputs, *declared)

    num_outputs = len(output_dtypes) + len(sizes)
    returns = trtp.TensorDesc if num_outputs == 1 else tuple[(trtp.TensorDesc,) * num_outputs]
    parameters = [(n, trtp.TensorDesc) for n in _input_names(body)]
    return _with_signature(describe, f"describe_{body.op_name}", parameters, returns)


def _size_tensor_descs(
    sizes: Sequence[SizeTensor],
    fraction: float,
    input_shapes: Sequence[Any],
    input_dims: Sequence[Any],
    trtp: ModuleType,
) -> list[Any]:
    """``trtp.size_tensor(opt, upper_bound)`` per data-dependent extent, both translated into
    expressions of the input dims."""
    if not sizes:
        return []
    arith = TrtShapeArithmetic(trtp)
    bounds = [[s.upper_bound for s in sizes], [opt_extent(s, fraction) for s in sizes]]
    upper, opt = translate_shapes(bounds, input_shapes, input_dims, arith)
    return [trtp.size_tensor(o, u) for o, u in zip(opt, upper, strict=True)]


def trt_buffer(tensor: Any) -> CudaBuffer:
    """A `CudaBuffer` for a ``trtp.Tensor`` (any plugin dtype, bf16 included)."""
    return CudaBuffer(
        ptr=int(tensor.data_ptr or 0),
        shape=tuple(int(d) for d in tensor.shape),
        strides=tuple(int(s) for s in tensor.strides),
        dtype=torch_dtype(tensor.dtype),
    )


def _jit_impl(body: RegionBody, trtp: ModuleType) -> Callable[..., Any]:
    """The ``trtp.impl`` function: `jit_launch` on TensorRT's tensors and stream."""
    names = _input_names(body)
    num_outputs = len(body.output_specs)
    data_dependent = _data_dependent_outputs(body)
    num_sizes = len(size_tensors(body))
    parameters = [(n, trtp.Tensor) for n in names]
    total = num_outputs + num_sizes
    parameters += [("outputs", tuple[(trtp.Tensor,) * total]), ("stream", int)]
    signature = inspect.Signature(
        [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p, _ in parameters]
    )

    def launch(*args: Any, **kwargs: Any) -> None:
        # TensorRT passes tensors and outputs positionally and the stream by keyword
        # (_TemplateJITPlugin.enqueue); binding accepts either.
        bound = signature.bind(*args, **kwargs).arguments
        outputs = list(bound["outputs"])
        jit_launch(
            body,
            [trt_buffer(bound[n]) for n in names],
            [
                # A data-dependent output's shape holds -1 and a size tensor's is a scalar:
                # only their addresses mean anything before the body ran.
                trt_address(t) if index in data_dependent or index >= num_outputs else trt_buffer(t)
                for index, t in enumerate(outputs)
            ],
            int(bound["stream"]),
        )

    return _with_signature(launch, f"launch_{body.op_name}", parameters, None)


def _data_dependent_outputs(body: RegionBody) -> frozenset[int]:
    """Indices of the outputs with a data-dependent dim."""
    extents = {s.extent for s in size_tensors(body)}
    return frozenset(
        index
        for index, spec in enumerate(body.output_specs)
        if any(sympy.sympify(d) in extents for d in spec.shape)
    )


def trt_address(tensor: Any) -> OutputAddress:
    """An `OutputAddress` for a ``trtp.Tensor`` whose shape is not known yet."""
    return OutputAddress(ptr=int(tensor.data_ptr or 0), dtype=torch_dtype(tensor.dtype))


def _aot_impl(body: RegionBody, kernel: AotKernel, trtp: ModuleType) -> Callable[..., Any]:
    """The ``trtp.aot_impl`` function: the region's `aot.AotKernel`, its grid and scalar
    arguments translated into TensorRT expressions of the input dims.

    TensorRT evaluates the expressions per inference, so one kernel serves every shape of the
    dynamic range; the PTX was checked against eager on several of them (`aot.aot_kernel`).
    TensorRT's ``tactic`` picks among the kernel's configs (`_autotune`).
    """
    names = _input_names(body)
    num_outputs = len(body.output_specs)
    parameters = [(n, trtp.TensorDesc) for n in names]
    parameters += [("outputs", tuple[(trtp.TensorDesc,) * num_outputs]), ("tactic", int)]
    returns = tuple[str | bytes, str | bytes, trtp.KernelLaunchParams, trtp.SymIntExprs]
    arith = TrtShapeArithmetic(trtp)

    def compile_kernel(*args: Any) -> tuple[str, str, Any, Any]:
        descs, tactic = args[: len(names)], args[-1]
        chosen = kernel.for_tactic(tactic)
        grid, scalars = chosen.launch_dims([list(d.shape_expr) for d in descs], arith)
        launch = trtp.KernelLaunchParams()
        launch.grid_x, launch.grid_y, launch.grid_z = grid
        launch.block_x = chosen.block
        launch.shared_mem = chosen.shared_mem
        # Translated scalars are ShapeExprs, which are SymInt32s: TensorRT passes them as int32.
        return chosen.kernel_name, chosen.ptx, launch, trtp.SymIntExprs.from_tuple(tuple(scalars))

    name = f"aot_{body.op_name}"
    return _with_signature(compile_kernel, name, parameters, returns)


def _autotune(body: RegionBody, kernel: AotKernel, trtp: ModuleType) -> Callable[..., Any]:
    """The ``trtp.autotune`` function: one tactic per config of the AOT kernel.

    TensorRT times every tactic at the optimization profile's shapes while it builds the engine
    and keeps the fastest, so the config fits the shapes the engine serves, not only the size
    `aot.aot_kernel` tuned at. Types are the region's own (a plugin's dtypes are fixed) and
    every tensor is LINEAR, which is what TensorRT assumes without an autotune function.
    """
    names = _input_names(body)
    num_outputs = len(body.output_specs)
    parameters = [(n, trtp.TensorDesc) for n in names]
    parameters.append(("outputs", tuple[(trtp.TensorDesc,) * num_outputs]))
    specs = (*body.input_specs, *body.output_specs)
    io_types = ", ".join(trt_dtype_name(spec.dtype) for spec in specs)
    tactics = list(range(1, len(kernel.tactics()) + 1))

    def combinations(*_: Any) -> list[Any]:
        return [trtp.AutoTuneCombination(io_types, "LINEAR", tactics)]

    name = f"autotune_{body.op_name}"
    return _with_signature(combinations, name, parameters, list[trtp.AutoTuneCombination])


# --- registration --------------------------------------------------------------------------------


_LOCK = threading.RLock()


class PluginHandle(RegistrationHandle):
    """A registered region plugin; `destroy` removes it.

    ``tensorrt.plugin`` has no unregister. `destroy` undoes what ``trtp.register`` did: it removes
    the plugin from ``QDP_REGISTRY``, ``QDP_CREATORS`` and ``trtp.op.<ns>``, and deregisters its
    creator from TensorRT's plugin registry. Engines built with the plugin can't run or be loaded
    afterwards. Registering the same region again is a no-op returning the live handle: names are
    content hashes, so equal names mean equal plugins.
    """

    __slots__ = ("plugin_id",)
    _lock = _LOCK

    def __init__(self, plugin_id: str) -> None:
        super().__init__()
        self.plugin_id = plugin_id

    def _unregister(self) -> None:
        _unregister_qdp(self.plugin_id)
        _PLUGINS.pop(self.plugin_id, None)

    def _name(self) -> str:
        return self.plugin_id


_PLUGINS: dict[str, PluginHandle] = {}


def register_plugin(
    body: RegionBody, *, aot_kernel: AotKernel | None = None, size_tensor_opt: float = 0.5
) -> PluginHandle:
    """Registers the region's QDP plugin (descriptor, JIT implementation, and the AOT one when
    ``aot_kernel`` is given).

    Refusals come first and need no TensorRT: a region that can't be a plugin raises before
    ``tensorrt`` is imported.

    Args:
        body: the region body; the plugin id is ``trt_autoplugin::region_<hash>`` of it.
        aot_kernel: the region's `aot.AotKernel`, registered as ``trtp.aot_impl``, with a
            ``trtp.autotune`` declaring its configs as tactics; the converter then asks
            TensorRT for the AOT implementation.
        size_tensor_opt: for a region with data-dependent outputs, the fraction of each
            extent's upper bound TensorRT optimizes for (``trtp.size_tensor``'s ``opt``). The
            first registration of a region in a process decides it.

    Returns:
        The handle (the existing one if this region's plugin is already registered).

    Raises:
        PluginError: the region can't be a plugin (dtype, rank or shape), or TensorRT refused
            the declarations; nothing stays registered.
        MissingDependencyError: ``tensorrt.plugin`` does not import.

    Examples:
        >>> handle = register_plugin(region.body)
        >>> handle.destroy()
    """
    check_pluggable(body)
    if not 0 < size_tensor_opt <= 1:
        raise PluginError(f"size_tensor_opt must be in (0, 1], not {size_tensor_opt}")
    trtp = tensorrt_plugin()
    qdp_id = plugin_id(body)
    if aot_kernel is not None and aot_kernel.plugin_id != qdp_id:
        raise PluginError(f"AOT kernel of {aot_kernel.plugin_id} given for region {qdp_id}")
    if aot_kernel is not None and size_tensors(body):
        raise PluginError(
            f"region {qdp_id} has data-dependent outputs: its AOT kernel can't write their "
            "extents into TensorRT's size tensors; register it without one (JIT)"
        )
    with _LOCK:
        if qdp_id in _PLUGINS:
            return _PLUGINS[qdp_id]
        from tensorrt.plugin._lib import QDP_REGISTRY

        if qdp_id in QDP_REGISTRY:
            raise PluginError(
                f"a QDP plugin {qdp_id} is already registered, but not by trt_autoplugin in "
                "this process; remove it before registering the region"
            )
        _register_qdp(body, trtp, qdp_id, aot_kernel, size_tensor_opt)
        handle = PluginHandle(qdp_id)
        _PLUGINS[qdp_id] = handle
    logger.info("registered TensorRT plugin %s", qdp_id)
    return handle


def _register_qdp(
    body: RegionBody,
    trtp: ModuleType,
    qdp_id: str,
    aot_kernel: AotKernel | None,
    size_tensor_opt: float,
) -> None:
    try:
        trtp.register(qdp_id)(_descriptor(body, trtp, size_tensor_opt))
        trtp.impl(qdp_id)(_jit_impl(body, trtp))
        if aot_kernel is not None:
            trtp.aot_impl(qdp_id)(_aot_impl(body, aot_kernel, trtp))
            if len(aot_kernel.tactics()) > 1:
                trtp.autotune(qdp_id)(_autotune(body, aot_kernel, trtp))
    except (ValueError, TypeError, AttributeError) as e:
        # Roll back a half-done registration, as FakeImplHolder.register does.
        _unregister_qdp(qdp_id)
        raise PluginError(f"TensorRT refused the plugin declarations of {qdp_id}: {e}") from e


def _unregister_qdp(qdp_id: str) -> None:
    from tensorrt.plugin import _lib

    namespace, name = qdp_id.split("::")
    _lib.QDP_REGISTRY.pop(qdp_id, None)
    creator = _lib.QDP_CREATORS.pop(qdp_id, None)
    plugin_namespace = vars(_lib.op).get(namespace)
    if plugin_namespace is not None and name in vars(plugin_namespace):
        delattr(plugin_namespace, name)
    if creator is not None:
        import tensorrt as trt

        if not trt.get_plugin_registry().deregister_creator(creator):
            logger.warning("TensorRT's plugin registry did not know the creator of %s", qdp_id)


def registered_plugin(body: RegionBody) -> PluginHandle | None:
    """The live handle of a region's plugin in this process, if registered."""
    return _PLUGINS.get(plugin_id(body))


def load_plugins(path: str | os.PathLike) -> tuple[LoadedRegion, ...]:
    """`serialize.load_regions`, then registers each region's TensorRT plugin when TensorRT imports.

    Loading an engine built with the plugins needs them registered first. Without TensorRT the
    ops are still registered (the programs run in PyTorch) and a warning says why no plugin was.

    Raises:
        ArchiveError: as `load_regions`.
        OutlineError: as `load_regions`.
        PluginError: a region can't be a plugin, or TensorRT refused it.
    """
    regions = load_regions(path)
    missing = tensorrt_plugin_import_error()
    if missing is not None:
        logger.warning(
            "registered %d region ops but no TensorRT plugins: %s", len(regions), missing
        )
        return regions
    return tuple(dataclasses.replace(r, plugin=register_plugin(r.body)) for r in regions)
