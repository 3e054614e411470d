"""trt_autoplugin: outline what Torch-TensorRT can't convert into auto-generated TensorRT plugins.

The public API. Everything here imports without TensorRT or a GPU.
"""

from . import examples, support
from .errors import (
    AutopluginError,
    MissingDependencyError,
    OutlineError,
    PartitionError,
    PluginError,
    ShapeTranslationError,
    SupportError,
)
from .outline import OutlinedRegion, TensorSpec
from .pipeline import AutopluginResult, autoplugin
from .report import Report
from .support import OpSetSupport, SnapshotSupport, TorchTensorRTSupport

__version__ = "0.1.0"

__all__ = [
    "AutopluginError",
    "AutopluginResult",
    "MissingDependencyError",
    "OpSetSupport",
    "OutlineError",
    "OutlinedRegion",
    "PartitionError",
    "PluginError",
    "Report",
    "ShapeTranslationError",
    "SnapshotSupport",
    "SupportError",
    "TensorSpec",
    "TorchTensorRTSupport",
    "autoplugin",
    "examples",
    "support",
]
