"""The launcher: an AOT kernel launched as TensorRT would (CUDA driver, only TensorRT's
arguments), its module cache key, and the device timing the tuner and the benchmarks share."""

import math

import pytest
import sympy
import torch

from trt_autoplugin.aot import AotKernel, aot_or_reason
from trt_autoplugin.aot.check import empty_outputs, random_inputs
from trt_autoplugin.aot.launch import device_seconds, launch, ptx_digest
from trt_autoplugin.errors import AotError
from trt_autoplugin.outline import run_body


def test_ptx_digest_keys_on_the_text():
    assert ptx_digest(".entry k()") == ptx_digest(".entry k()")
    assert ptx_digest(".entry k()") != ptx_digest(".entry j()")
    assert len(ptx_digest("")) == 16


def test_launch_refuses_tensors_tensorrt_would_not_pass():
    s = sympy.Symbol("s", integer=True, positive=True)
    kernel = AotKernel(
        plugin_id="trt_autoplugin::region_test",
        kernel_name="k",
        ptx="",
        input_shapes=((s,),),
        scalars=(s,),
        grid=(s, sympy.Integer(1), sympy.Integer(1)),
        block=128,
        shared_mem=0,
        config="",
        arch=90,
    )
    with pytest.raises(AotError, match="contiguous CUDA tensor"):
        launch(kernel, [torch.zeros(4)], [torch.zeros(4)], 0)


@pytest.fixture(scope="module")
def checked_kernel(cuda_example_results):
    for _, result in cuda_example_results.values():
        for region in result.regions:
            answer = aot_or_reason(region.body)
            if isinstance(answer, AotKernel):
                return region, answer
    pytest.fail("no example region got an AOT kernel")


@pytest.mark.gpu
def test_device_seconds_of_a_launch_is_a_positive_time(checked_kernel):
    region, kernel = checked_kernel
    shapes = [tuple(d if isinstance(d, int) else 7 for d in s.shape) for s in region.input_specs]
    inputs = random_inputs(region.input_specs, shapes, "cuda", 0)
    outputs = empty_outputs(region.body, inputs)
    stream = torch.cuda.current_stream().cuda_stream
    seconds = device_seconds(lambda: launch(kernel, inputs, outputs, stream), calls=3)
    assert 0 < seconds < 1 and math.isfinite(seconds)


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.device_count() < 2, reason="needs 2 CUDA devices"
)
def test_launch_on_another_device_keeps_the_callers_device(checked_kernel):
    region, kernel = checked_kernel
    torch.cuda.set_device(0)
    with torch.cuda.device(1):
        specs = region.input_specs
        shapes = [tuple(d if isinstance(d, int) else 7 for d in s.shape) for s in specs]
        inputs = random_inputs(specs, shapes, "cuda", 0)
        outputs = empty_outputs(region.body, inputs)
        stream = torch.cuda.current_stream().cuda_stream
    launch(kernel, inputs, outputs, stream)
    torch.cuda.synchronize(1)
    assert torch.cuda.current_device() == 0
    expected = run_body(region.body, inputs)
    for got, want in zip(outputs, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, equal_nan=True)
