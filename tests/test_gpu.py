"""The outlined programs on CUDA: region kernels run on the inputs' device and match eager."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import batch_sizes

from trt_autoplugin import examples
from trt_autoplugin.outline import run_body

pytestmark = pytest.mark.gpu

NAMES = examples.example_names()


@pytest.mark.parametrize("name", NAMES)
@given(batch=batch_sizes(), seed=st.integers(0, 2**31 - 1))
def test_rewritten_program_on_cuda_equals_eager(
    cuda_example_results, name: str, batch: int, seed: int
):
    model, result = cuda_example_results[name]
    _, example_inputs, _ = examples.load_example(name)
    generator = torch.Generator(device="cuda").manual_seed(seed)
    inputs = tuple(
        torch.randn(batch, *x.shape[1:], device="cuda", generator=generator) for x in example_inputs
    )
    try:
        expected = model(*inputs)
    except RuntimeError as e:  # cuFFT rejects an empty batch: then the rewrite must fail too
        with pytest.raises(type(e)):
            result.program.module()(*inputs)
        return
    got = result.program.module()(*inputs)
    torch.testing.assert_close(got, expected)
    for value in got if isinstance(got, tuple) else (got,):
        assert value.device.type == "cuda"


@pytest.mark.parametrize("name", NAMES)
def test_region_kernels_keep_the_inputs_device(cuda_example_results, name: str) -> None:
    _, result = cuda_example_results[name]
    for region in result.regions:
        inputs = [
            torch.randn([5 if not isinstance(d, int) else d for d in s.shape], device="cuda").to(
                s.dtype
            )
            for s in region.input_specs
        ]
        for out, spec in zip(run_body(region.body, inputs), region.output_specs, strict=True):
            assert out.device.type == "cuda" and out.dtype == spec.dtype
