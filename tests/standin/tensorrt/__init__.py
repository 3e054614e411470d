"""An import-only stand-in for TensorRT. It is NOT TensorRT: it builds nothing and runs nothing.

It exists so that Torch-TensorRT's Python pipeline (lowering passes, converter registry,
partitioners, dryrun report) can run where TensorRT's libraries can't be installed. It provides
only the names ``import torch_tensorrt`` and ``torch_tensorrt.dynamo.compile(..., dryrun=True)``
evaluate (version, base and annotation classes, the enum members used in module-level tables, a
logger) and answers every other name with `TensorRTNotInstalled`, an AttributeError subclass so
that ``hasattr`` probes answer False. There is no ``tensorrt.plugin`` subpackage. A real compile
therefore stops at ``tensorrt.Builder`` with one line saying TensorRT is not installed.

The version is the TensorRT version the installed Torch-TensorRT was built against, read from its
``_version.py`` without importing it, so that version-gated converters register as they would with
the real library.

``tests/standin/qdp.py`` says what this stand-in and the plugin tests' one are each for.
"""

import enum
import importlib.util
import pathlib
import re


class TensorRTNotInstalled(AttributeError):
    """A TensorRT name the stand-in does not provide was used."""


def _not_installed(qualified_name: str) -> TensorRTNotInstalled:
    return TensorRTNotInstalled(
        f"TensorRT is not installed: tensorrt.{qualified_name} (this is trt_autoplugin's "
        "import-only stand-in, which builds no engine)"
    )


def _torch_tensorrt_tensorrt_version() -> str:
    spec = importlib.util.find_spec("torch_tensorrt")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the TensorRT stand-in needs torch_tensorrt installed beside it")
    text = (pathlib.Path(spec.submodule_search_locations[0]) / "_version.py").read_text()
    found = re.search(r'^__tensorrt_version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if found is None:
        raise ImportError("torch_tensorrt's _version.py names no __tensorrt_version__")
    return found.group(1)


__version__ = _torch_tensorrt_tensorrt_version()


class _StandInType(type):
    """Classes whose unknown attributes raise `TensorRTNotInstalled` naming them."""

    def __getattr__(cls, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        raise _not_installed(f"{cls.__name__}.{name}")


class _StandInEnumType(enum.EnumMeta):
    def __getattr__(cls, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)
        raise _not_installed(f"{cls.__name__}.{name}")


def _class(name: str) -> type:
    return _StandInType(name, (), {"__module__": __name__})


# Base classes, annotations and isinstance targets: no members.
ITensor = _class("ITensor")
INetworkDefinition = _class("INetworkDefinition")
ILayer = _class("ILayer")
IBuilderConfig = _class("IBuilderConfig")
ICudaEngine = _class("ICudaEngine")
IOutputAllocator = _class("IOutputAllocator")
IProgressMonitor = _class("IProgressMonitor")
IProfiler = _class("IProfiler")
IPluginV2 = _class("IPluginV2")
IPluginV3 = _class("IPluginV3")
IAlgorithmSelector = _class("IAlgorithmSelector")
IAttention = _class("IAttention")
PluginFieldCollection = _class("PluginFieldCollection")
Weights = _class("Weights")
ActivationType = _class("ActivationType")
ElementWiseOperation = _class("ElementWiseOperation")
UnaryOperation = _class("UnaryOperation")
TopKOperation = _class("TopKOperation")


class ILogger(metaclass=_StandInType):
    class Severity(enum.IntEnum, metaclass=_StandInEnumType):
        INTERNAL_ERROR = 0
        ERROR = 1
        WARNING = 2
        INFO = 3
        VERBOSE = 4

    def __init__(self) -> None:
        pass


class Logger(ILogger):
    def __init__(self, min_severity: object = None) -> None:
        super().__init__()


class DataType(enum.Enum, metaclass=_StandInEnumType):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    UINT8 = 5
    FP8 = 6
    BF16 = 7
    INT64 = 8
    INT4 = 9
    FP4 = 10


float32 = DataType.FLOAT
float16 = DataType.HALF
bfloat16 = DataType.BF16
int8 = DataType.INT8
int32 = DataType.INT32
int64 = DataType.INT64
uint8 = DataType.UINT8
bool = DataType.BOOL  # noqa: A001 - TensorRT's own alias


class DeviceType(enum.Enum, metaclass=_StandInEnumType):
    GPU = 0
    DLA = 1


class EngineCapability(enum.Enum, metaclass=_StandInEnumType):
    STANDARD = 0
    SAFETY = 1
    DLA_STANDALONE = 2


class InterpolationMode(enum.Enum, metaclass=_StandInEnumType):
    NEAREST = 0
    LINEAR = 1
    CUBIC = 2


class SampleMode(enum.Enum, metaclass=_StandInEnumType):
    STRICT_BOUNDS = 0
    WRAP = 1
    CLAMP = 2
    FILL = 3
    REFLECT = 4


class MatrixOperation(enum.Enum, metaclass=_StandInEnumType):
    NONE = 0
    TRANSPOSE = 1
    VECTOR = 2


class SerializationFlag(enum.Enum, metaclass=_StandInEnumType):
    EXCLUDE_WEIGHTS = 0
    EXCLUDE_LEAN_RUNTIME = 1
    INCLUDE_REFIT = 2


def init_libnvinfer_plugins(logger: object, namespace: str) -> object:
    """Registers no plugin: there is no libnvinfer_plugin."""
    return False


tensorrt = None  # replaced below: ``tensorrt.tensorrt`` is the package itself, as in the real one


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(name)
    raise _not_installed(name)


import sys as _sys  # noqa: E402

tensorrt = _sys.modules[__name__]
