"""The tests' TensorRT stand-ins: what each is for, and what it is not.

Neither is TensorRT. Neither has kernels or a builder: with them no engine is built, no network
is made, no plugin runs inside TensorRT. Tests that need those are marked ``tensorrt`` and use
the real library.

``tests/standin/tensorrt/``: an import-only ``tensorrt`` package, for Torch-TensorRT's dryrun.
    It provides only the names ``import torch_tensorrt`` and ``torch_tensorrt.dynamo.compile(...,
    dryrun=True)`` evaluate (the version Torch-TensorRT was built against, base and annotation
    classes, enum members, a logger); any other name raises "TensorRT is not installed"
    (an AttributeError, so ``hasattr`` answers False). It has no ``tensorrt.plugin``.
    ``tests/dryrun/environment.py`` puts ``tests/standin/`` on the ``PYTHONPATH`` of the dryrun
    subprocess only, never of the test process, where ``import tensorrt`` must find the real
    library or nothing. ``tests/test_torch_tensorrt_dryrun.py`` uses it to see how Torch-TensorRT
    partitions a graph; it says nothing about plugins.

This module: TensorRT's QDP layer over a stand-in ``tensorrt`` module, for the plugin tests.
    `installed` loads TensorRT's own pure-Python ``tensorrt.plugin`` sources (found by
    `qdp_source`) over a stand-in for the compiled ``tensorrt`` module: enums (DataType,
    DimensionOperation, PluginFieldType...), empty base classes for the plugin interfaces, a
    dict-backed plugin registry, and an ``IExprBuilder`` (`IntBuilder`) that folds every shape
    operation into an integer. Everything in ``tensorrt.plugin`` is TensorRT's own code:
    ``register``/``impl``/``aot_impl``/``autotune`` and their validators (``_validate.py``),
    ``PluginDef``, the plugin creator, and the JIT plugin class whose
    ``get_output_data_types``/``get_output_shapes``/``enqueue`` call our descriptor and
    implementation as TensorRT's builder and runtime would.

    It proves: the generated declarations pass TensorRT's validators; the descriptor gives the
    right number of outputs with the right dtypes; its shape expressions use only operations
    ``tensorrt.plugin`` offers and evaluate to the real shapes; ``enqueue`` reaches our JIT
    implementation with TensorRT's buffers. It does not prove that TensorRT's C++ builder
    accepts the plugin, that ``add_plugin`` works, or anything about engines.

    The ``standin_trt`` fixture (``tests/conftest.py``) installs it for one test, and skips the
    test where TensorRT's plugin sources are not found: ``TRT_AUTOPLUGIN_QDP_SOURCE=DIR`` names
    a folder holding them (``tensorrt_bindings/plugin`` of a TensorRT wheel).
"""

import contextlib
import dataclasses
import enum
import importlib.util
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from trt_autoplugin.plugin import trt_dtype_name


def qdp_source() -> Path | None:
    """Where TensorRT's pure-Python ``tensorrt.plugin`` sources are, if anywhere here."""
    candidates = [os.environ.get("TRT_AUTOPLUGIN_QDP_SOURCE")]
    spec = importlib.util.find_spec("tensorrt_bindings")
    if spec is not None and spec.submodule_search_locations:
        candidates += [str(Path(p) / "plugin") for p in spec.submodule_search_locations]
    candidates.append("/tmp/wheels/trtb/tensorrt_bindings/plugin")
    for candidate in candidates:
        if candidate and (Path(candidate) / "_validate.py").is_file():
            return Path(candidate)
    return None


class IntDim:
    """``trt.IDimensionExpr`` stand-in: a known integer (the stand-in builder folds everything)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def is_constant(self) -> bool:
        return True

    def get_constant_value(self) -> int:
        return self.value


_OPERATIONS = {
    "SUM": lambda a, b: a + b,
    "SUB": lambda a, b: a - b,
    "PROD": lambda a, b: a * b,
    "FLOOR_DIV": lambda a, b: a // b,
    "CEIL_DIV": lambda a, b: -(-a // b),
    "MAX": max,
    "MIN": min,
    "EQUAL": lambda a, b: int(a == b),
    "LESS": lambda a, b: int(a < b),
}


@dataclasses.dataclass
class SizeDim:
    """What ``IExprBuilder.declare_size_tensor`` gives: a dim known only at run time."""

    index: int
    opt: int
    upper: int

    def is_constant(self) -> bool:
        return False


class IntBuilder:
    """``trt.IExprBuilder`` stand-in evaluating every operation on ints."""

    def constant(self, value: int) -> IntDim:
        return IntDim(value)

    def declare_size_tensor(self, index: int, opt: IntDim, upper: IntDim) -> SizeDim:
        return SizeDim(index, opt.value, upper.value)

    def operation(self, operation: enum.Enum, left: IntDim, right: IntDim) -> IntDim:
        return IntDim(_OPERATIONS[operation.name](left.value, right.value))


class _Registry:
    """``trt.IPluginRegistry`` stand-in: creators by (name, namespace)."""

    def __init__(self) -> None:
        self.creators: dict[tuple[str, str], Any] = {}

    def register_creator(self, creator: Any, namespace: str) -> bool:
        self.creators[(creator.name, namespace)] = creator
        return True

    def get_creator(self, name: str, version: str, namespace: str) -> Any:
        return self.creators.get((name, namespace))

    def deregister_creator(self, creator: Any) -> bool:
        keys = [k for k, v in self.creators.items() if v is creator]
        for key in keys:
            del self.creators[key]
        return bool(keys)


class _Base:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


def _standin_tensorrt() -> types.ModuleType:
    import numpy as np

    trt = types.ModuleType("tensorrt")
    trt.__path__ = []  # a package, so that tensorrt.plugin can load under it
    names = ["FLOAT", "HALF", "BF16", "INT8", "INT32", "INT64", "BOOL", "UINT8", "FP8", "INT4"]
    trt.DataType = enum.Enum("DataType", names)
    trt.float32, trt.float16, trt.int32 = trt.DataType.FLOAT, trt.DataType.HALF, trt.DataType.INT32
    numpy_types = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32}
    numpy_types |= {"INT64": np.int64, "BOOL": np.bool_, "UINT8": np.uint8}
    trt.nptype = lambda dtype: numpy_types[dtype.name]
    trt.DimensionOperation = enum.Enum("DimensionOperation", list(_OPERATIONS))
    trt.PluginFieldType = enum.Enum(
        "PluginFieldType",
        ["FLOAT16", "FLOAT32", "FLOAT64", "INT8", "INT16", "INT32", "INT64", "CHAR", "UNKNOWN"],
    )
    trt.TensorRTPhase = enum.Enum("TensorRTPhase", ["BUILD", "RUNTIME"])
    trt.TensorFormat = enum.Enum("TensorFormat", ["LINEAR"])
    trt.PluginArgType = enum.Enum("PluginArgType", ["INT"])
    trt.PluginArgDataType = enum.Enum("PluginArgDataType", ["INT8", "INT16", "INT32"])
    # Its presence turns on tensorrt.plugin's AOT half (aot_impl, KernelLaunchParams).
    trt.QuickPluginCreationRequest = enum.Enum(
        "QuickPluginCreationRequest",
        ["UNKNOWN", "PREFER_AOT", "PREFER_JIT", "STRICT_AOT", "STRICT_JIT"],
    )
    trt.Logger = type("Logger", (_Base,), {"WARNING": 2, "log": lambda self, s, m: None})
    trt.Dims = type("Dims", (tuple,), {"MAX_DIMS": 8})
    trt.DimsExprs = lambda n: [None] * n
    trt.IDimensionExpr = IntDim
    trt.PluginField = lambda name, data=None, type=None: types.SimpleNamespace(name=name, data=data)
    trt.PluginFieldCollection = list
    for name in [
        "IPluginV3",
        "IPluginV3QuickCore",
        "IPluginV3QuickBuild",
        "IPluginV3QuickRuntime",
        "IPluginV3QuickAOTBuild",
        "IPluginCreatorV3Quick",
        "ITensor",
        "ISymExpr",
        "DynamicPluginTensorDesc",
        "PluginTensorDesc",
        "IExprBuilder",
    ]:
        setattr(trt, name, type(name, (_Base,), {}))
    registry = _Registry()
    trt.get_plugin_registry = lambda: registry
    return trt


@contextlib.contextmanager
def installed(monkeypatch: pytest.MonkeyPatch, source: Path) -> Iterator[types.ModuleType]:
    """The stand-in ``tensorrt`` module with TensorRT's ``tensorrt.plugin`` from ``source``
    loaded under it, in ``sys.modules`` in place of any real one until ``monkeypatch`` undoes it.
    """
    saved = {k: v for k, v in sys.modules.items() if k == "tensorrt" or k.startswith("tensorrt.")}
    for key in saved:
        monkeypatch.delitem(sys.modules, key)
    trt = _standin_tensorrt()
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    spec = importlib.util.spec_from_file_location(
        "tensorrt.plugin", source / "__init__.py", submodule_search_locations=[str(source)]
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "tensorrt.plugin", module)
    spec.loader.exec_module(module)
    trt.plugin = module
    try:
        yield trt
    finally:
        # The package imported its submodules itself; monkeypatch restores only what it set.
        for key in [k for k in sys.modules if k.startswith("tensorrt.plugin.")]:
            del sys.modules[key]


def plugin_instance(trt: types.ModuleType, qdp_id: str) -> Any:
    """The JIT plugin TensorRT's creator makes for a registered id (as ``add_plugin`` would)."""
    from tensorrt.plugin._lib import QDP_CREATORS

    namespace, name = qdp_id.split("::")
    return QDP_CREATORS[qdp_id].create_plugin(name, namespace, [], trt.TensorRTPhase.BUILD)


def trt_dtype(trt: types.ModuleType, dtype: torch.dtype) -> Any:
    """The stand-in's ``DataType`` member for a plugin dtype (``test_plugin.py`` checks the
    names against its own table)."""
    return getattr(trt.DataType, trt_dtype_name(dtype))


def tensor_desc(trt: types.ModuleType, tensor: torch.Tensor) -> Any:
    """The ``PluginTensorDesc`` TensorRT's runtime hands ``enqueue`` for ``tensor``."""
    desc = trt.PluginTensorDesc()
    desc.dims = trt.Dims(tensor.shape)
    desc.type = trt_dtype(trt, tensor.dtype)
    desc.format = trt.TensorFormat.LINEAR
    desc.scale = 1.0
    return desc
