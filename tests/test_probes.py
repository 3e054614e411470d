"""probes.py: each optional dependency's probe says why it doesn't import, in one line, and the
require-functions raise with the install hint; on a machine that has the dependency, the probe
says nothing."""

import importlib.util

import pytest

from trt_autoplugin import probes
from trt_autoplugin.errors import MissingDependencyError


def _imports(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None and bool(importlib.import_module(name))
    except (ImportError, OSError, RuntimeError, AttributeError, AssertionError):
        return False


def test_torch_tensorrt_probe_agrees_with_an_import() -> None:
    reason = probes.torch_tensorrt_import_error()
    assert (reason is None) == _imports("torch_tensorrt")
    assert probes.is_torch_tensorrt_available() is (reason is None)
    if reason is not None:
        assert "torch_tensorrt" in reason and "\n" not in reason
        with pytest.raises(MissingDependencyError, match="pip install 'trt-autoplugin"):
            probes.require_torch_tensorrt()


def test_tensorrt_plugin_probe_agrees_with_an_import() -> None:
    reason = probes.tensorrt_plugin_import_error()
    assert (reason is None) == _imports("tensorrt.plugin")
    if reason is not None:
        assert reason.startswith("tensorrt.plugin does not import")
        with pytest.raises(MissingDependencyError, match="TensorRT >= 10.9"):
            probes.tensorrt_plugin()


def test_cuda_driver_probe_agrees_with_an_import() -> None:
    reason = probes.cuda_driver_import_error()
    available = _imports("cuda.bindings.driver") or _imports("cuda.cuda")
    assert (reason is None) == available
    if reason is not None:
        assert "cuda-python" in reason
