"""Whether the optional dependencies import here, and what to install when they don't.

One place for every probe and install hint: Torch-TensorRT, TensorRT's ``tensorrt.plugin`` and
NVIDIA's cuda-python. A probe imports the dependency inside a function and reports why it
failed as one line; ``import trt_autoplugin`` never needs any of them.
"""

import functools
import importlib
import importlib.util
from types import ModuleType
from typing import Any

from .errors import MissingDependencyError

TORCH_TENSORRT_INSTALL_HINT = (
    "install TensorRT and Torch-TensorRT on a machine with an NVIDIA GPU: "
    "pip install 'trt-autoplugin[tensorrt]' (TensorRT's builder libraries come from NVIDIA's "
    "package index)"
)
TENSORRT_PLUGIN_INSTALL_HINT = (
    "install TensorRT >= 10.9 (its Python package provides tensorrt.plugin) on a machine with an "
    "NVIDIA GPU"
)
CUDA_PYTHON_INSTALL_HINT = (
    "launching AOT kernels as TensorRT does needs NVIDIA's cuda-python (pip install cuda-python)"
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
        raise MissingDependencyError(f"{reason}; {TORCH_TENSORRT_INSTALL_HINT}")


def tensorrt_plugin_import_error() -> str | None:
    """Why ``tensorrt.plugin`` does not import here, or None when it does."""
    try:
        importlib.import_module("tensorrt.plugin")
    except (ImportError, OSError, RuntimeError, AttributeError) as e:
        # Its import loads TensorRT's native libraries: any of these can fail.
        return f"tensorrt.plugin does not import: {type(e).__name__}: {e}"
    return None


def tensorrt_plugin() -> ModuleType:
    """``tensorrt.plugin``; MissingDependencyError with the install hint where it doesn't import."""
    reason = tensorrt_plugin_import_error()
    if reason is not None:
        raise MissingDependencyError(f"{reason}; {TENSORRT_PLUGIN_INSTALL_HINT}")
    return importlib.import_module("tensorrt.plugin")


def cuda_driver() -> Any:
    """cuda-python's driver API module; MissingDependencyError where it doesn't import."""
    try:
        from cuda.bindings import driver
    except ImportError:
        try:
            from cuda import cuda as driver  # cuda-python < 12.6 names the module cuda.cuda
        except ImportError as e:
            raise MissingDependencyError(CUDA_PYTHON_INSTALL_HINT) from e
    return driver


def cuda_driver_import_error() -> str | None:
    """Why the CUDA driver bindings don't import, or None."""
    try:
        cuda_driver()
    except MissingDependencyError as e:
        return str(e)
    return None
