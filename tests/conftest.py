"""Shared test setup: hypothesis profiles, the gpu/tensorrt markers' skip logic, the
built-in examples exported and rewritten once per session and device, and the QDP stand-in
(``tests/standin/qdp.py``) as the `standin_trt` fixture."""

import importlib
import os
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings
from standin import qdp

from trt_autoplugin import AutopluginResult, autoplugin, examples
from trt_autoplugin.outline import OutlinedRegion
from trt_autoplugin.support import SnapshotSupport

# `ci` keeps the CPU suite within CI's budget; `thorough` is for local runs before a release:
#   HYPOTHESIS_PROFILE=thorough python -m pytest
settings.register_profile(
    "ci",
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "thorough",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _tensorrt_missing() -> str | None:
    for module in ("tensorrt.plugin", "torch_tensorrt"):
        try:
            importlib.import_module(module)
        except (ImportError, OSError, RuntimeError, AssertionError) as e:
            return f"needs TensorRT (tensorrt.plugin) and torch_tensorrt: {module}: {e}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_gpu = None if torch.cuda.is_available() else "needs a CUDA GPU"
    no_trt = None
    if any("tensorrt" in item.keywords for item in items):
        no_trt = _tensorrt_missing()
    for item in items:
        if no_gpu and "gpu" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=no_gpu))
        if no_trt and "tensorrt" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=no_trt.splitlines()[0]))


ExampleResults = dict[str, tuple[torch.nn.Module, AutopluginResult]]


def _example_results(device: str) -> ExampleResults:
    """``{name: (model, autoplugin result)}`` for every built-in example, exported on ``device``
    (a CUDA export bakes no CPU device into the region bodies) with batch 0 allowed."""
    out = {}
    for name in examples.example_names():
        model, inputs, dynamic_shapes = examples.load_example(name, min_batch=0)
        model = model.to(device)
        ep = torch.export.export(
            model, tuple(x.to(device) for x in inputs), dynamic_shapes=dynamic_shapes
        )
        out[name] = (model, autoplugin(ep, support=SnapshotSupport()))
    return out


@pytest.fixture(scope="session")
def example_results() -> ExampleResults:
    return _example_results("cpu")


@pytest.fixture(scope="session")
def cuda_example_results() -> ExampleResults:
    return _example_results("cuda")


@pytest.fixture(scope="session")
def example_regions(example_results) -> dict[str, tuple[OutlinedRegion, ...]]:
    """Every built-in example's regions, outlined with the shipped snapshot."""
    return {name: result.regions for name, (_, result) in example_results.items()}


@pytest.fixture(scope="session")
def cuda_example_regions(cuda_example_results) -> dict[str, tuple[OutlinedRegion, ...]]:
    """Example regions exported from the model on CUDA (bodies then bake no CPU device)."""
    return {name: result.regions for name, (_, result) in cuda_example_results.items()}


@pytest.fixture
def standin_trt(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """TensorRT's own pure-Python ``tensorrt.plugin`` over a stand-in ``tensorrt`` module
    (``tests/standin/qdp.py`` says what that proves and what it doesn't); every plugin
    registered meanwhile is destroyed after. Skips where TensorRT's plugin sources are not found.
    """
    source = qdp.qdp_source()
    if source is None:
        pytest.skip("TensorRT's tensorrt.plugin sources not found (set TRT_AUTOPLUGIN_QDP_SOURCE)")
    with qdp.installed(monkeypatch, source) as trt:
        try:
            yield trt
        finally:
            from trt_autoplugin import plugin

            for handle in list(plugin._PLUGINS.values()):
                handle.destroy()


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    """A file a test's code-running payload would create; the test fails if it exists after."""
    path = tmp_path / "marker"
    yield path
    assert not path.exists(), "a payload ran"
