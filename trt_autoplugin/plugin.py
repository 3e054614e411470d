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
import importlib
import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import torch

from .errors import MissingDependencyError, PluginError, ShapeTranslationError
from .outline import RegionBody
from .pluggable import (  # noqa: F401 - re-exported: the plugin's view of what it can take
    MAX_RANK,
    PLUGIN_DTYPE_NAMES,
    check_pluggable,
    is_plugin_dtype,
    plugin_id,
    plugin_refusal_reason,
    supported_dtypes,
    trt_dtype_name,
)
from .shape_expr import translate_shapes

logger = logging.getLogger(__name__)

# ``__cuda_array_interface__`` typestr per dtype. numpy has no bfloat16, so bf16 buffers travel
# as int16 (same size) and are viewed back as bfloat16 (`as_cuda_tensor`).
_TYPESTRS: dict[torch.dtype, str] = {
    torch.float32: "<f4",
    torch.float16: "<f2",
    torch.bfloat16: "<i2",
    torch.int8: "|i1",
    torch.int32: "<i4",
    torch.int64: "<i8",
    torch.bool: "|b1",
}

INSTALL_HINT = (
    "install TensorRT >= 10.9 (its Python package provides tensorrt.plugin) on a machine with an "
    "NVIDIA GPU"
)


# --- buffers and the JIT launch (no TensorRT needed) ---------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class CudaBuffer:
    """A linear device buffer as TensorRT hands it to a plugin, for any plugin dtype.

    TensorRT 11.4's ``trtp.Tensor.__cuda_array_interface__`` raises for BF16 (numpy has no
    bfloat16). This buffer describes the same memory itself: bf16 is announced as int16 and
    `as_cuda_tensor` views it back as bfloat16, so every dtype takes the same zero-copy path.

    Attributes:
        ptr: device address of the first element (may be 0 for an empty tensor).
        shape: the concrete shape.
        strides: strides in elements, as TensorRT gives them.
        dtype: the torch dtype of the elements.
    """

    ptr: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: torch.dtype

    def __post_init__(self) -> None:
        if self.dtype not in _TYPESTRS:
            raise PluginError(f"no buffer for dtype {self.dtype} ({supported_dtypes()})")
        if len(self.shape) != len(self.strides):
            raise PluginError(
                f"buffer shape {self.shape} and strides {self.strides} differ in rank"
            )

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        return {
            "shape": self.shape,
            "typestr": _TYPESTRS[self.dtype],
            "data": (self.ptr, False),
            "strides": tuple(s * itemsize for s in self.strides),
            # The plugin runs on the stream that owns these buffers: nothing to synchronize.
            "stream": None,
            "version": 3,
        }


def as_cuda_tensor(buffer: object) -> torch.Tensor:
    """A torch tensor over a buffer exposing ``__cuda_array_interface__``, without copying.

    A `CudaBuffer` of bfloat16 comes in as int16 and is viewed as bfloat16 (same element size,
    so any strides work).
    """
    tensor = torch.as_tensor(buffer, device="cuda")
    if isinstance(buffer, CudaBuffer) and tensor.dtype != buffer.dtype:
        tensor = tensor.view(buffer.dtype)
    return tensor


def jit_launch(
    body: RegionBody, inputs: Sequence[object], outputs: Sequence[object], stream: int
) -> None:
    """Runs a region on TensorRT's buffers: what the plugin's JIT implementation does.

    Inputs and outputs are wrapped zero-copy (`as_cuda_tensor`); the body runs with PyTorch on
    ``torch.cuda.ExternalStream(stream)``, so its kernels are ordered after TensorRT's work on
    that stream. A body with ops from outside PyTorch (`foreign_ops`) runs on the legacy
    default stream instead, ordered after and before TensorRT's stream by events: such ops may
    launch kernels there whatever the current stream. Each result is then copied into its output
    buffer: **one device-to-device copy per output** (PyTorch ops allocate their results; the
    copy also materializes results that are views of inputs). No host round trip.

    Args:
        body: the region body.
        inputs: one buffer per region input, exposing ``__cuda_array_interface__``.
        outputs: one buffer per region output, shaped as the descriptor declared.
        stream: the raw ``cudaStream_t`` handle TensorRT passes.

    Raises:
        PluginError: the buffer counts, or a result's shape, don't match the region.
    """
    _check_counts(body, inputs, outputs)
    tensorrt_stream = _torch_stream(stream)
    # Kernels of ops from outside PyTorch may ignore the current stream and launch on the
    # legacy default stream (torchvision's deform_conv2d does); such a body runs there, after
    # TensorRT's work and before TensorRT's next, so all of its kernels are ordered.
    run_stream = (
        torch.cuda.default_stream(tensorrt_stream.device) if foreign_ops(body) else tensorrt_stream
    )
    if run_stream != tensorrt_stream:
        run_stream.wait_stream(tensorrt_stream)
    with torch.no_grad(), torch.cuda.stream(run_stream):
        args = [as_cuda_tensor(b) for b in inputs]
        destinations = [as_cuda_tensor(b) for b in outputs]
        results = tuple(body.graph_module(*args))
        for index, (destination, result) in enumerate(zip(destinations, results, strict=True)):
            _check_result(body, index, destination, result)
            destination.copy_(result)
    if run_stream != tensorrt_stream:
        tensorrt_stream.wait_stream(run_stream)


# Ops of these namespaces run their CUDA kernels on PyTorch's current stream.
_CORE_NAMESPACES = frozenset({"aten", "prims"})


# Per body graph: jit_launch asks on every inference, and a body's graph never changes.
_FOREIGN_OPS: "weakref.WeakKeyDictionary[torch.fx.GraphModule, tuple[str, ...]]" = (
    weakref.WeakKeyDictionary()
)


def foreign_ops(body: RegionBody) -> tuple[str, ...]:
    """The body's ops from outside PyTorch's core (``torchvision::``, a user's library...),
    whose CUDA kernels may not run on the current stream."""
    known = _FOREIGN_OPS.get(body.graph_module)
    if known is None:
        known = tuple(
            dict.fromkeys(
                str(node.target)
                for node in body.graph_module.graph.nodes
                if node.op == "call_function"
                and isinstance(node.target, torch._ops.OpOverload)
                and node.target.namespace not in _CORE_NAMESPACES
            )
        )
        _FOREIGN_OPS[body.graph_module] = known
    return known


def _torch_stream(stream: int) -> torch.cuda.Stream:
    """The torch stream for a raw handle; 0 is the legacy default stream.

    ``ExternalStream(0)`` is not the default stream on torch 2.11 (seen on the GPU machine: it
    came back as another handle), so work on it was unordered with the caller's.
    """
    if stream == 0:
        return torch.cuda.default_stream()
    return torch.cuda.ExternalStream(stream)


def _check_result(
    body: RegionBody, index: int, destination: torch.Tensor, result: torch.Tensor
) -> None:
    # copy_ would broadcast or cast silently: a mismatch means the descriptor and the body
    # disagree, which must not pass unnoticed.
    if destination.shape != result.shape or destination.dtype != result.dtype:
        raise PluginError(
            f"region {plugin_id(body)}: output {index} is {result.dtype}{list(result.shape)} "
            f"but TensorRT allocated {destination.dtype}{list(destination.shape)}; the "
            "plugin's descriptor disagrees with the region"
        )


def _check_counts(body: RegionBody, inputs: Sequence[object], outputs: Sequence[object]) -> None:
    if len(inputs) != len(body.input_specs) or len(outputs) != len(body.output_specs):
        raise PluginError(
            f"region {plugin_id(body)} takes {len(body.input_specs)} inputs and gives "
            f"{len(body.output_specs)} outputs; got {len(inputs)} and {len(outputs)} buffers"
        )


# --- TensorRT ------------------------------------------------------------------------------------


def tensorrt_plugin_import_error() -> str | None:
    """Why ``tensorrt.plugin`` does not import here, or None when it does."""
    try:
        importlib.import_module("tensorrt.plugin")
    except (ImportError, OSError, RuntimeError, AttributeError) as e:
        # Its import loads TensorRT's native libraries: any of these can fail.
        return f"tensorrt.plugin does not import: {type(e).__name__}: {e}"
    return None


def _trtp() -> ModuleType:
    reason = tensorrt_plugin_import_error()
    if reason is not None:
        raise MissingDependencyError(f"{reason}; {INSTALL_HINT}")
    return importlib.import_module("tensorrt.plugin")


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


def _descriptor(body: RegionBody, trtp: ModuleType) -> Callable[..., Any]:
    """The ``trtp.register`` function: output descriptors from the region's specs."""
    region = plugin_id(body)
    input_dtypes = [trt_dtype(s.dtype) for s in body.input_specs]
    output_dtypes = [trt_dtype(s.dtype) for s in body.output_specs]
    input_shapes = [s.shape for s in body.input_specs]
    output_shapes = [s.shape for s in body.output_specs]

    def describe(*inputs: Any) -> tuple[Any, ...]:
        for index, (desc, expected) in enumerate(zip(inputs, input_dtypes, strict=True)):
            if desc.dtype != expected:
                raise PluginError(
                    f"region {region}: TensorRT gives input {index} as {desc.dtype}, but the "
                    f"region was traced with {expected}"
                )
        try:
            dims = translate_shapes(
                output_shapes,
                input_shapes,
                [list(desc.shape_expr) for desc in inputs],
                TrtShapeArithmetic(trtp),
            )
        except (ShapeTranslationError, ValueError) as e:
            raise PluginError(f"region {region}: {e}") from e
        return tuple(
            trtp.from_shape_expr(tuple(shape), dtype=dtype)
            for shape, dtype in zip(dims, output_dtypes, strict=True)
        )

    num_outputs = len(output_dtypes)
    returns = trtp.TensorDesc if num_outputs == 1 else tuple[(trtp.TensorDesc,) * num_outputs]
    parameters = [(n, trtp.TensorDesc) for n in _input_names(body)]
    return _with_signature(describe, f"describe_{body.op_name}", parameters, returns)


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
    parameters = [(n, trtp.Tensor) for n in names]
    parameters += [("outputs", tuple[(trtp.Tensor,) * num_outputs]), ("stream", int)]
    signature = inspect.Signature(
        [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p, _ in parameters]
    )

    def launch(*args: Any, **kwargs: Any) -> None:
        # TensorRT passes tensors and outputs positionally and the stream by keyword
        # (_TemplateJITPlugin.enqueue); binding accepts either.
        bound = signature.bind(*args, **kwargs).arguments
        jit_launch(
            body,
            [trt_buffer(bound[n]) for n in names],
            [trt_buffer(t) for t in bound["outputs"]],
            int(bound["stream"]),
        )

    return _with_signature(launch, f"launch_{body.op_name}", parameters, None)


def _aot_impl(body: RegionBody, kernel: Any, trtp: ModuleType) -> Callable[..., Any]:
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


def _autotune(body: RegionBody, kernel: Any, trtp: ModuleType) -> Callable[..., Any]:
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


class RegistrationHandle:
    """Something registered in a process-wide registry; `destroy` undoes it, once.

    Like torch's ``RegistrationHandle``, but idempotent and thread-safe: subclasses give the
    lock their registry is guarded by (``_lock``), a name (``_name``) and ``_unregister``.
    """

    __slots__ = ("_destroyed",)
    _lock: threading.RLock

    def __init__(self) -> None:
        self._destroyed = False

    @property
    def is_destroyed(self) -> bool:
        return self._destroyed

    def destroy(self) -> None:
        """Unregisters (idempotent)."""
        with self._lock:
            if self._destroyed:
                return
            self._unregister()
            self._destroyed = True

    def _unregister(self) -> None:
        raise NotImplementedError

    def _name(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        state = "destroyed" if self._destroyed else "registered"
        return f"{type(self).__name__}({self._name()!r}, {state})"


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


def register_plugin(body: RegionBody, *, aot_kernel: Any = None) -> PluginHandle:
    """Registers the region's QDP plugin (descriptor, JIT implementation, and the AOT one when
    ``aot_kernel`` is given).

    Refusals come first and need no TensorRT: a region that can't be a plugin raises before
    ``tensorrt`` is imported.

    Args:
        body: the region body; the plugin id is ``trt_autoplugin::region_<hash>`` of it.
        aot_kernel: the region's `aot.AotKernel`, registered as ``trtp.aot_impl``, with a
            ``trtp.autotune`` declaring its configs as tactics; the converter then asks
            TensorRT for the AOT implementation.

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
    trtp = _trtp()
    qdp_id = plugin_id(body)
    if aot_kernel is not None and aot_kernel.plugin_id != qdp_id:
        raise PluginError(f"AOT kernel of {aot_kernel.plugin_id} given for region {qdp_id}")
    with _LOCK:
        if qdp_id in _PLUGINS:
            return _PLUGINS[qdp_id]
        from tensorrt.plugin._lib import QDP_REGISTRY

        if qdp_id in QDP_REGISTRY:
            raise PluginError(
                f"a QDP plugin {qdp_id} is already registered, but not by trt_autoplugin in "
                "this process; remove it before registering the region"
            )
        _register_qdp(body, trtp, qdp_id, aot_kernel)
        handle = PluginHandle(qdp_id)
        _PLUGINS[qdp_id] = handle
    logger.info("registered TensorRT plugin %s", qdp_id)
    return handle


def _register_qdp(body: RegionBody, trtp: ModuleType, qdp_id: str, aot_kernel: Any) -> None:
    try:
        trtp.register(qdp_id)(_descriptor(body, trtp))
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
