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
from .lowering import (
    CompileResult,
    compile,
    lowering_pass,
    register_lowering_pass,
    unregister_lowering_pass,
)
from .outline import OutlinedRegion, TensorSpec
from .pipeline import AutopluginResult, autoplugin
from .report import Report
from .serialize import load_plugins, load_regions, save_regions
from .support import OpSetSupport, SnapshotSupport, TorchTensorRTSupport

__version__ = "0.1.0"

__all__ = [
    "AutopluginError",
    "AutopluginResult",
    "CompileResult",
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
    "compile",
    "examples",
    "load_plugins",
    "load_regions",
    "lowering_pass",
    "register_lowering_pass",
    "save_regions",
    "support",
    "unregister_lowering_pass",
]
