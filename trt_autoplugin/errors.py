"""Exception types: one root, one subclass per pipeline stage."""


class AutopluginError(Exception):
    """Root of every error trt_autoplugin raises."""


class SupportError(AutopluginError):
    """The support oracle could not answer (missing snapshot, bad settings)."""


class DecompositionError(AutopluginError):
    """Torch failed to decompose the program as Torch-TensorRT would before conversion."""


class PartitionError(AutopluginError):
    """The region search met a graph it cannot partition."""


class OutlineError(AutopluginError):
    """A region could not become a custom op."""


class ShapeTranslationError(AutopluginError):
    """A symbolic shape has no TensorRT shape-expression equivalent."""


class PluginError(AutopluginError):
    """A region could not become a TensorRT plugin or converter."""


class AotError(AutopluginError):
    """A region can't get an ahead-of-time kernel; it stays a JIT plugin (the message says why)."""


class ArchiveError(AutopluginError):
    """A ``.pt2`` file or saved region set is malformed, or holds something that would run code."""


class MissingDependencyError(AutopluginError):
    """An optional dependency (TensorRT, Torch-TensorRT, a GPU) is not available."""
