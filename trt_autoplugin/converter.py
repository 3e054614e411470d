"""Torch-TensorRT's converter registry: asked live for support, and extended with region converters.

The only module besides ``plugin.py`` and ``lowering.py`` that imports ``torch_tensorrt``; every
import happens inside a function, so ``import trt_autoplugin`` works without TensorRT.
"""

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.fx

from .aot.kernel import AotKernel
from .errors import MissingDependencyError, OutlineError, PluginError
from .outline import RegionBody, register_region_op
from .pluggable import size_tensors
from .plugin import (
    PluginHandle,
    RegistrationHandle,
    check_pluggable,
    plugin_id,
    register_plugin,
    registered_plugin,
    tensorrt_plugin_import_error,
)
from .probes import require_torch_tensorrt

logger = logging.getLogger(__name__)

# --- a converter per region ----------------------------------------------------------------------
#
# Reused from Torch-TensorRT's ``generate_plugin_converter`` (``_generate_plugin_converter.py``):
# its converter body (ITensors from ``get_trt_tensor``; ``ctx.net.add_plugin(trtp.op.<ns>.<name>(
# *itensors), aot=<QDP_REGISTRY entry has an aot_impl>)``; the layer named ``[target]-[name]``; one
# ITensor, or a tuple of them, returned) and its registration through ``dynamo_tensorrt_converter``.
# Why it is not called directly: it expects the plugin ``generate_plugin`` makes, whose descriptor
# copies the first input's dtype into every output and re-traces the op with size-5 inputs to find
# shapes; it maps only Tensor/int/float/bool/str arguments; it names ITensors with ``uuid4()``
# (non-deterministic); it asserts instead of raising; and its registration has no undo. Region ops
# take tensors only (scalars are baked into the body), so the mapping below is all a
# region needs, and our plugin (plugin.py) declares each output's own dtype and shape.


def has_symbolic_dims(body: RegionBody) -> bool:
    """Whether a region has symbolic sizes: its converter must declare dynamic-shape support."""
    return any(spec.is_dynamic() for spec in (*body.input_specs, *body.output_specs))


def plugin_inputs(
    args: Sequence[object], kwargs: Mapping[str, object], num_inputs: int, op_name: str
) -> list[object]:
    """The region op's inputs in schema order, from a node's args and kwargs.

    Outlining calls the op positionally; a pass that normalizes calls may move them into kwargs
    named as in the schema (``in_0``, ``in_1``, ...). Both are accepted, nothing else.

    Raises:
        PluginError: a missing, duplicated or unexpected argument (names the op).
    """
    if len(args) > num_inputs:
        raise PluginError(f"{op_name} takes {num_inputs} tensors; the node passes {len(args)}")
    values = list(args)
    expected = [f"in_{i}" for i in range(num_inputs)]
    unexpected = sorted(set(kwargs) - set(expected[len(values) :]))
    if unexpected:
        raise PluginError(f"{op_name} got unexpected or duplicated arguments {unexpected}")
    for name in expected[len(values) :]:
        if name not in kwargs:
            raise PluginError(f"{op_name} is missing its argument {name}")
        values.append(kwargs[name])
    return values


def input_tensor_names(node_name: str, num_inputs: int) -> list[str]:
    """Deterministic names for the ITensors ``get_trt_tensor`` creates (constant inputs)."""
    return [f"{node_name}_in_{i}" for i in range(num_inputs)]


def plugin_layer_name(target: object, node_name: str) -> str:
    """The plugin layer's name, as ``generate_plugin_converter`` names it: ``[target]-[name]``."""
    return f"[{target}]-[{node_name}]"


def _region_converter(
    body: RegionBody, qdp_id: str, aot_kernel: AotKernel | None, size_tensor_opt: float
) -> Callable[..., Any]:
    """The converter function for one region op (runs only inside Torch-TensorRT's interpreter).

    It registers the region's plugin on its first call if the lowering pass could not: the
    partitioner consults converters only, so a dryrun needs no ``tensorrt.plugin``, and a real
    build gets its plugin just before the layer that uses it.
    """
    namespace, name = qdp_id.split("::")
    specs = body.input_specs
    num_outputs = len(body.output_specs)

    def convert(
        ctx: Any, target: object, args: Sequence[object], kwargs: Mapping[str, object], node: str
    ) -> Any:
        # A no-op when already registered.
        register_plugin(body, aot_kernel=aot_kernel, size_tensor_opt=size_tensor_opt)
        import tensorrt.plugin as trtp
        from tensorrt.plugin._lib import QDP_REGISTRY

        values = plugin_inputs(args, kwargs, len(specs), qdp_id)
        names = input_tensor_names(node, len(specs))
        itensors = [
            _plugin_input(ctx, value, tensor_name, spec.dtype)
            for value, tensor_name, spec in zip(values, names, specs, strict=True)
        ]
        plugin = getattr(getattr(trtp.op, namespace), name)
        aot = QDP_REGISTRY[qdp_id].aot_impl_func is not None
        layer = ctx.net.add_plugin(plugin(*itensors), aot=aot)
        if not layer:
            raise PluginError(f"TensorRT did not create the plugin layer of {qdp_id} for {node}")
        layer.name = plugin_layer_name(target, node)
        # The size tensors come after the region's outputs; TensorRT reads them itself.
        if num_outputs == 1:
            return layer.get_output(0)
        # A tuple, so that Torch-TensorRT's getitem converter unpacks it.
        return tuple(layer.get_output(i) for i in range(num_outputs))

    return convert


def _plugin_input(ctx: Any, value: object, name: str, dtype: torch.dtype) -> Any:
    """An ITensor of the traced dtype: constants are made so, other ITensors cast if they differ.

    The plugin declares the traced input dtypes and its descriptor refuses others; a cast keeps
    the region's semantics if an upstream converter chose another dtype (e.g. int32 indices).
    """
    from torch_tensorrt.dynamo.conversion.converter_utils import cast_trt_tensor, get_trt_tensor

    itensor = get_trt_tensor(ctx, value, name, dtype=dtype)
    cast = cast_trt_tensor(ctx, itensor, dtype, f"{name}_cast")
    if cast is not itensor:
        logger.info(
            "cast %s from %s to the traced %s for a region plugin", name, itensor.dtype, dtype
        )
    return cast


_LOCK = threading.RLock()


class ConverterHandle(RegistrationHandle):
    """A region op's registered converter; `destroy` removes it from Torch-TensorRT's registry.

    ``DYNAMO_CONVERTERS`` refuses ``del`` (its ``__delitem__`` raises), but the dict it wraps,
    ``DYNAMO_ATEN_CONVERTERS``, is a plain ``dict[target, list[ConverterSupport]]``: `destroy`
    removes this converter's entry from the op's list, and the op's key once the list is empty.
    """

    __slots__ = ("op", "_implementation")
    _lock = _LOCK

    def __init__(self, op: torch._ops.OpOverload, implementation: Callable[..., Any]) -> None:
        super().__init__()
        self.op = op
        self._implementation = implementation

    def _unregister(self) -> None:
        from torch_tensorrt.dynamo.conversion._ConverterRegistry import DYNAMO_ATEN_CONVERTERS

        entries = DYNAMO_ATEN_CONVERTERS.get(self.op, [])
        kept = [e for e in entries if e.converter_implementation is not self._implementation]
        if kept:
            DYNAMO_ATEN_CONVERTERS[self.op] = kept
        else:
            DYNAMO_ATEN_CONVERTERS.pop(self.op, None)
        _CONVERTERS.pop(self.op.name(), None)

    def _name(self) -> str:
        return self.op.name()


_CONVERTERS: dict[str, ConverterHandle] = {}


def register_converter(
    body: RegionBody, *, aot_kernel: AotKernel | None = None, size_tensor_opt: float = 0.5
) -> ConverterHandle:
    """Registers a Torch-TensorRT converter for a region's op.

    The converter adds the region's QDP plugin (`plugin.register_plugin`, registered by the
    converter itself if it is not yet) to the network; it is registered with
    ``supports_dynamic_shapes`` when the region has symbolic sizes.

    Returns:
        The handle (the existing one if this region op already has our converter).

    Raises:
        MissingDependencyError: ``torch_tensorrt`` does not import.
    """
    require_torch_tensorrt()
    from torch_tensorrt.dynamo.conversion._ConverterRegistry import dynamo_tensorrt_converter

    op = register_region_op(body)
    with _LOCK:
        if op.name() in _CONVERTERS:
            return _CONVERTERS[op.name()]
        implementation = _region_converter(body, op.name(), aot_kernel, size_tensor_opt)
        dynamo_tensorrt_converter(
            op,
            supports_dynamic_shapes=has_symbolic_dims(body),
            # A data-dependent output's size is known after the plugin ran: Torch-TensorRT then
            # runs the engine with its output allocator (and falls back to PyTorch under
            # fallback_data_dependent_ops, 2.13 on).
            requires_output_allocator=bool(size_tensors(body)),
        )(implementation)
        handle = ConverterHandle(op, implementation)
        _CONVERTERS[op.name()] = handle
    logger.info("registered a Torch-TensorRT converter for %s", op.name())
    return handle


class RegionHandle(RegistrationHandle):
    """A region's converter and plugin, registered together; `destroy` removes the converter,
    then the plugin if it was registered.

    ``plugin`` is None while the plugin's registration waits for the converter's first call
    (``tensorrt.plugin`` did not import when the region was registered: a dryrun).
    """

    __slots__ = ("body", "plugin", "converter")
    _lock = _LOCK

    def __init__(
        self, body: RegionBody, plugin: PluginHandle | None, converter: ConverterHandle
    ) -> None:
        super().__init__()
        self.body = body
        self.plugin = plugin
        self.converter = converter

    def _unregister(self) -> None:
        self.converter.destroy()
        plugin = self.plugin or registered_plugin(self.body)
        if plugin is not None:
            plugin.destroy()

    def _name(self) -> str:
        return self.body.qualified_name


def register_region(
    body: RegionBody, *, aot_kernel: AotKernel | None = None, size_tensor_opt: float = 0.5
) -> RegionHandle:
    """Registers a region's Torch-TensorRT converter and its TensorRT plugin.

    With ``aot_kernel`` (an `aot.AotKernel`) the plugin gets an AOT implementation too, and the
    converter adds the layer with ``aot=True``: the engine runs the kernel without Python.

    Where ``tensorrt.plugin`` does not import (Torch-TensorRT's dryrun on a machine without
    TensorRT), only the converter is registered: the partitioner asks converters, not plugins,
    and the converter registers the plugin when it first runs. A real build without TensorRT
    still stops, at TensorRT's builder, before any converter runs. ``size_tensor_opt`` is as in
    `plugin.register_plugin`.

    Raises:
        PluginError: the region can't be a plugin (raised before TensorRT sees it).
        MissingDependencyError: Torch-TensorRT does not import.
    """
    check_pluggable(body)
    plugin = None
    if tensorrt_plugin_import_error() is None:
        plugin = register_plugin(body, aot_kernel=aot_kernel, size_tensor_opt=size_tensor_opt)
    else:
        logger.info(
            "%s: plugin registration waits for the converter (%s)",
            plugin_id(body),
            tensorrt_plugin_import_error(),
        )
    try:
        converter = register_converter(body, aot_kernel=aot_kernel, size_tensor_opt=size_tensor_opt)
    except (MissingDependencyError, PluginError, OutlineError):
        if plugin is not None:
            plugin.destroy()
        raise
    return RegionHandle(body, plugin, converter)
