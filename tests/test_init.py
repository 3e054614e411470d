"""The public API: __all__ matches what the package exports (as hypothesis checks its own)."""

import trt_autoplugin


def test_all_names_exist_and_are_public() -> None:
    for name in trt_autoplugin.__all__:
        assert hasattr(trt_autoplugin, name), name
    public = {n for n in vars(trt_autoplugin) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(trt_autoplugin, n)).__name__ == "module"}
    assert public - modules - set(trt_autoplugin.__all__) == set()


def test_fixed_names_of_the_design() -> None:
    assert callable(trt_autoplugin.autoplugin)
    assert trt_autoplugin.support.TorchTensorRTSupport is trt_autoplugin.TorchTensorRTSupport
    assert trt_autoplugin.support.SnapshotSupport
    assert trt_autoplugin.support.OpSetSupport
    for name in ("spectral", "distribution", "custom_op", "data_dependent", "cumulative"):
        assert callable(getattr(trt_autoplugin.examples, name))
