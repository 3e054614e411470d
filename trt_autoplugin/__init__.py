"""trt_autoplugin: outline what Torch-TensorRT can't convert into auto-generated TensorRT plugins.

The public API. Everything here imports without TensorRT or a GPU.
"""

from . import examples, support
from .aot import AotKernel, aot_kernel
from .archive import load_program
from .data_dependent import SizeTensor
from .errors import (
    AotError,
    ArchiveError,
    AutopluginError,
    DecompositionError,
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
from .plugin import load_plugins
from .refusal import Implementation, Refusal, RefusalKind
from .report import ImplementationEntry, Report
from .serialize import load_regions, save_regions
from .support import OpSetSupport, SnapshotSupport, TorchTensorRTSupport

__version__ = "0.1.0"

__all__ = [
    "AotError",
    "AotKernel",
    "ArchiveError",
    "AutopluginError",
    "AutopluginResult",
    "CompileResult",
    "DecompositionError",
    "Implementation",
    "ImplementationEntry",
    "MissingDependencyError",
    "OpSetSupport",
    "OutlineError",
    "OutlinedRegion",
    "PartitionError",
    "PluginError",
    "Refusal",
    "RefusalKind",
    "Report",
    "ShapeTranslationError",
    "SizeTensor",
    "SnapshotSupport",
    "SupportError",
    "TensorSpec",
    "TorchTensorRTSupport",
    "aot_kernel",
    "autoplugin",
    "compile",
    "examples",
    "load_plugins",
    "load_program",
    "load_regions",
    "lowering_pass",
    "register_lowering_pass",
    "save_regions",
    "support",
    "unregister_lowering_pass",
]
