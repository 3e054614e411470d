"""Torch-TensorRT's converter registry: asked live for support, and extended with region converters.

The only module besides ``plugin.py`` and ``lowering.py`` that imports ``torch_tensorrt``; every
import happens inside a function, so ``import trt_autoplugin`` works without TensorRT.
"""

import functools
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

import torch.fx

from .errors import MissingDependencyError

INSTALL_HINT = (
    "install TensorRT and Torch-TensorRT on a machine with an NVIDIA GPU: "
    "pip install 'trt-autoplugin[tensorrt]' (TensorRT's builder libraries come from NVIDIA's "
    "package index)"
)


@functools.cache
def torch_tensorrt_import_error() -> str | None:
    """Why ``torch_tensorrt`` does not import here, or None when it does."""
    if importlib.util.find_spec("torch_tensorrt") is None:
        return "torch_tensorrt is not installed"
    try:
        import torch_tensorrt  # noqa: F401
    except (ImportError, OSError, RuntimeError, AssertionError) as e:
        # Its import loads TensorRT's libraries and probes CUDA: any of these can fail.
        return f"torch_tensorrt does not import: {type(e).__name__}: {e}"
    return None


def is_torch_tensorrt_available() -> bool:
    """Whether ``torch_tensorrt`` (and so TensorRT) imports in this process."""
    return torch_tensorrt_import_error() is None


def require_torch_tensorrt() -> None:
    """Raises MissingDependencyError with one line saying what is missing and how to fix it."""
    reason = torch_tensorrt_import_error()
    if reason is not None:
        raise MissingDependencyError(f"{reason}; {INSTALL_HINT}")


def compilation_settings(**kwargs: Any) -> Any:
    """A ``CompilationSettings`` with the given fields (default device: the current CUDA one)."""
    require_torch_tensorrt()
    from torch_tensorrt.dynamo import CompilationSettings

    return CompilationSettings(**kwargs)


class LiveRegistry:
    """Torch-TensorRT's converter registry under given compile settings.

    Asks exactly as ``TorchTensorRTOperatorSupport.is_node_supported`` does: the registry is
    told the settings first (its capability validators read them), then the node is checked for
    complex dtypes, the data-dependent fallback, converter presence and ``torch_executed_ops``.
    """

    def __init__(self, settings: Any | None = None) -> None:
        require_torch_tensorrt()
        import torch_tensorrt
        from torch_tensorrt.dynamo.conversion._ConverterRegistry import DYNAMO_CONVERTERS
        from torch_tensorrt.dynamo.partitioning._global_partitioner import (
            TorchTensorRTOperatorSupport,
        )

        self.settings = settings if settings is not None else compilation_settings()
        self.version = torch_tensorrt.__version__
        self._registry = DYNAMO_CONVERTERS
        self._support = TorchTensorRTOperatorSupport(
            torch_executed_ops=self.settings.torch_executed_ops
        )

    def is_node_supported(self, node: torch.fx.Node) -> bool:
        # Set on every call: compile() resets the registry's settings for each module.
        self._registry.set_compilation_settings(self.settings)
        submodules = dict(node.graph.owning_module.named_modules())
        return bool(self._support.is_node_supported(submodules, node))

    def unsupported_reason(self, node: torch.fx.Node) -> str:
        target = node.target
        if self._support._has_complex_dtype(node):
            return "complex tensors (TensorRT has no complex type)"
        if target in self.settings.torch_executed_ops:
            return "listed in torch_executed_ops"
        if self._registry.get_unvalidated(target) is not None:
            return "its converter's capability validator or dynamic-shape support rejects it"
        return f"no converter for {target}"

    def decompositions(self) -> Mapping[Any, Callable[..., Any]]:
        from torch_tensorrt.dynamo.lowering import get_decompositions

        return get_decompositions(self.settings.enable_experimental_decompositions)
