"""Torch-TensorRT's live converter registry, asked as its partitioner asks.

Used by the support oracle (`support.TorchTensorRTSupport`) and the lowering pass alike, so it
sits below both. ``torch_tensorrt`` is imported inside functions only.
"""

from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

import torch
import torch.fx

from .graph import has_complex_values
from .probes import require_torch_tensorrt


class CompilationSettingsLike(Protocol):
    """The fields of Torch-TensorRT's ``CompilationSettings`` trt_autoplugin reads.

    ``fallback_data_dependent_ops`` exists from 2.13 on: it is read with ``getattr``.
    """

    min_block_size: int
    torch_executed_ops: Collection[Any]
    enable_experimental_decompositions: bool


def compilation_settings(**kwargs: Any) -> CompilationSettingsLike:
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

    def __init__(self, settings: CompilationSettingsLike | None = None) -> None:
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
        # Our own check, not TorchTensorRTOperatorSupport._has_complex_dtype: that private
        # method exists only from Torch-TensorRT 2.12 on.
        if has_complex_values(node):
            return "complex tensors (TensorRT has no complex type)"
        if target in self.settings.torch_executed_ops:
            return "listed in torch_executed_ops"
        if self._registry.get_unvalidated(target) is not None:
            return "its converter's capability validator or dynamic-shape support rejects it"
        return f"no converter for {target}"

    def decompositions(self) -> Mapping[Any, Callable[..., Any]]:
        from torch_tensorrt.dynamo.lowering import get_decompositions

        return get_decompositions(self.settings.enable_experimental_decompositions)
