"""Decompositions for Inductor: ``digamma`` as pointwise ops, against ATen over its whole domain.

The reference is ``torch.digamma`` computed in float64 and cast to the dtype under test, so a
test fails only where the decomposition is off by more than its dtype's tolerance
(`TOLERANCES`), never where ATen's own float32 or float16 kernel rounds differently.
"""

import math
import operator
import shutil

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import batch_sizes

from trt_autoplugin import autoplugin
from trt_autoplugin.aot import AotKernel
from trt_autoplugin.aot.build import aot_kernel
from trt_autoplugin.aot.decompositions import (
    INDUCTOR_DECOMPOSITIONS,
    custom_op_implementation,
    digamma,
    inductor_ready,
)
from trt_autoplugin.errors import AotError
from trt_autoplugin.examples import QuantizedLinear, quantize_rows_op
from trt_autoplugin.outline import run_body
from trt_autoplugin.support import OpSetSupport, SnapshotSupport

aten = torch.ops.aten

DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)

# (rtol, atol) against float64 ATen cast to the dtype. float64: ATen's formula, rounded apart in
# places (x + k for ATen's repeated x += 1; libm's tan and log against torch's), a few ulp; next
# to digamma's roots the recurrence cancels terms as large as log|x| (up to ~37), so a few ulp
# of those is the absolute part.
# float32: the same, in float32 ulp (2**-23; log|x| stays below ~16 for non-integers).
# float16 and bfloat16 compute in float32 and round once, against float64 rounded once: at most
# one ulp of the dtype apart (measured over all 65536 values of each: fp16 0.94 ulp, bf16 0);
# the absolute part is one subnormal step.
TOLERANCES = {
    torch.float64: (2e-15, 1e-14),
    torch.float32: (1e-6, 1e-5),
    torch.float16: (2.0**-10, 2.0**-24),
    torch.bfloat16: (2.0**-7, 2.0**-133),
}


def _expected(x: torch.Tensor) -> torch.Tensor:
    return torch.digamma(x.double()).to(x.dtype)


def _assert_matches_aten(x: torch.Tensor) -> None:
    rtol, atol = TOLERANCES[x.dtype]
    # Infinities must agree exactly, NaNs by position (assert_close checks both).
    torch.testing.assert_close(digamma(x), _expected(x), rtol=rtol, atol=atol, equal_nan=True)


def _digamma_domain(dtype: torch.dtype) -> tuple[st.SearchStrategy[float], ...]:
    """Values across digamma's domain, one strategy per part: its poles (+-0, negative
    integers), next to them (either side), any negative, tiny (subnormals, 1e-30), huge (1e30,
    the dtype's max), +-inf and NaN, ordinary values, and (-10, 10), where the recurrence takes
    the most steps to reach the series."""
    biggest = torch.finfo(dtype).max
    offset = st.sampled_from([1e-6, -1e-6, 1e-3, -1e-3, 2.0**-20, -(2.0**-20)])
    return (
        st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, biggest, -biggest]),
        st.integers(-(2**60), -1).map(float) | st.integers(-100, -1).map(float),
        st.builds(lambda n, d: d - n, st.integers(1, 1000), offset | st.floats(-0.05, 0.05)),
        st.floats(max_value=0.0, allow_nan=False, allow_infinity=False),
        st.sampled_from([1e-30, -1e-30, 5e-324, torch.finfo(dtype).tiny, 1e30, -1e30])
        | st.floats(-1e-30, 1e-30),
        st.floats(-100.0, 100.0),
        st.floats(-10.0, 10.0),
        st.floats(allow_nan=True, allow_infinity=True),
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@given(data=st.data())
def test_digamma_matches_aten_over_the_whole_domain(dtype: torch.dtype, data: st.DataObject):
    domain = _digamma_domain(dtype)
    # One value from every part in every example, then more from any of them.
    values = [*data.draw(st.tuples(*domain)), *data.draw(st.lists(st.one_of(domain)))]
    _assert_matches_aten(torch.tensor(values, dtype=torch.float64).to(dtype))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_digamma_matches_aten_on_every_half_precision_value(dtype: torch.dtype):
    every = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(dtype)
    _assert_matches_aten(every)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_digamma_special_values_are_atens_exactly(dtype: torch.dtype):
    inf, nan = math.inf, math.nan
    x = torch.tensor([0.0, -0.0, -1.0, -2.0, -100.0, inf, -inf, nan], dtype=dtype)
    expected = torch.tensor([-inf, inf, nan, nan, nan, inf, nan, nan], dtype=dtype)
    torch.testing.assert_close(torch.digamma(x), expected, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(digamma(x), expected, rtol=0, atol=0, equal_nan=True)


def test_integer_inputs_give_the_default_float_dtype_as_aten():
    x = torch.arange(-3, 12)
    torch.testing.assert_close(digamma(x), torch.digamma(x), equal_nan=True)


# --- on a region body ----------------------------------------------------------------------------


class _Digamma(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.digamma(x.abs() + 0.5) * 2


@pytest.fixture(scope="module")
def digamma_body():
    batch = torch.export.Dim("batch", min=0, max=4096)
    ep = torch.export.export(_Digamma(), (torch.randn(3, 8),), dynamic_shapes=({0: batch},))
    support = OpSetSupport(unsupported=["aten.digamma"], base=SnapshotSupport())
    (region,) = autoplugin(ep, support=support).regions
    return region.body


def _targets(gm: torch.fx.GraphModule) -> set[object]:
    return {n.target for n in gm.graph.nodes if n.op == "call_function"}


def test_inductor_ready_body_has_no_digamma_and_keeps_its_symbolic_dims(digamma_body):
    gm = digamma_body.graph_module
    ready = inductor_ready(gm)
    assert aten.digamma.default in _targets(gm)  # the original is left as it was
    assert not _targets(ready) & set(INDUCTOR_DECOMPOSITIONS)
    (placeholder,) = ready.graph.find_nodes(op="placeholder")
    (output,) = ready.graph.find_nodes(op="output")
    (batch,) = placeholder.meta["val"].shape[:1]
    assert isinstance(batch, torch.SymInt)
    assert output.args[0][0].meta["val"].shape == placeholder.meta["val"].shape


def test_a_graph_without_fake_values_is_refused_with_the_node():
    gm = torch.fx.symbolic_trace(lambda x: aten.digamma.default(x) + 1)
    with pytest.raises(AotError, match="aten.digamma.default.*carry no fake value"):
        inductor_ready(gm)


@given(batch=batch_sizes(), seed=st.integers(0, 2**31 - 1))
def test_inductor_ready_body_computes_what_the_body_does(digamma_body, batch: int, seed: int):
    ready = inductor_ready(digamma_body.graph_module)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 8, generator=generator) * 10
    rtol, atol = TOLERANCES[torch.float32]
    torch.testing.assert_close(
        ready(x)[0], run_body(digamma_body, [x])[0], rtol=rtol, atol=atol, equal_nan=True
    )


def test_inductor_fuses_the_ready_body_where_the_body_needs_atens_digamma(digamma_body):
    from torch._inductor.lowering import fallbacks
    from torch._inductor.utils import run_and_get_code

    if not any(shutil.which(c) for c in ("g++", "clang++", "c++")):
        pytest.skip("Inductor's CPU backend needs a C++ compiler")
    gm = digamma_body.graph_module
    ready = inductor_ready(gm)
    # An op in Inductor's fallbacks is what the Triton backend calls back into ATen for.
    assert aten.digamma.default in fallbacks
    assert not _targets(ready) & fallbacks
    # On CPU, Inductor inlines ATen's C++ digamma instead: the ready body's code has none.
    x = torch.randn(5, 8) * 10
    torch._dynamo.mark_dynamic(x, 0)
    got, (code,) = run_and_get_code(torch.compile(ready, backend="inductor"), x)
    _, (original,) = run_and_get_code(torch.compile(gm, backend="inductor"), x)
    assert "digamma" in original and "digamma" not in code
    rtol, atol = TOLERANCES[torch.float32]
    torch.testing.assert_close(got[0], gm(x)[0], rtol=rtol, atol=atol, equal_nan=True)


# --- custom ops with a Python implementation ----------------------------------------------------


@pytest.fixture(scope="module")
def quantize_body():
    batch = torch.export.Dim("batch", min=0, max=4096)
    ep = torch.export.export(
        QuantizedLinear().eval(), (torch.randn(3, 32),), dynamic_shapes=({0: batch},)
    )
    (region,) = autoplugin(ep).regions
    return region.body


def test_a_python_custom_op_is_traced_into_torch_ops_with_both_results(quantize_body):
    gm = quantize_body.graph_module
    ready = inductor_ready(gm)
    op = quantize_rows_op()
    assert op in _targets(gm) and op not in _targets(ready)
    assert operator.getitem not in _targets(ready)
    (output,) = ready.graph.find_nodes(op="output")
    dtypes = [value.meta["val"].dtype for value in output.args[0]]
    assert dtypes == [torch.int8, torch.float32]


@given(batch=batch_sizes(), seed=st.integers(0, 2**31 - 1))
def test_the_traced_custom_op_computes_what_the_op_does(quantize_body, batch: int, seed: int):
    ready = inductor_ready(quantize_body.graph_module)
    x = torch.randn(batch, 32, generator=torch.Generator().manual_seed(seed)) * 100
    for got, want in zip(ready(x), run_body(quantize_body, [x]), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_the_cuda_kernel_a_custom_op_registers_is_the_one_traced():
    @torch.library.custom_op("trt_autoplugin_tests::twice_or_thrice", mutates_args=())
    def twice_or_thrice(x: torch.Tensor) -> torch.Tensor:
        return x * 2

    @twice_or_thrice.register_kernel("cuda")
    def _(x: torch.Tensor) -> torch.Tensor:
        return x * 3

    implementation = custom_op_implementation(twice_or_thrice._opoverload)
    assert implementation is not None
    assert torch.equal(implementation(torch.ones(2)), torch.full((2,), 3.0))


def test_ops_without_a_python_implementation_stay_as_they_are():
    # Declared through torch.library.Library, as C++ extensions (torchvision) declare theirs:
    # no CustomOpDef, so nothing is traced.
    library = torch.library.Library("trt_autoplugin_tests_lib", "FRAGMENT")
    library.define("opaque(Tensor x) -> Tensor")
    library.impl("opaque", lambda x: x + 1, "CompositeExplicitAutograd")
    assert custom_op_implementation(torch.ops.trt_autoplugin_tests_lib.opaque.default) is None
    assert custom_op_implementation(aten.lgamma.default) is None
    assert custom_op_implementation(operator.getitem) is None


# --- on the GPU ----------------------------------------------------------------------------------


@pytest.mark.gpu
def test_the_distribution_digamma_region_gets_a_checked_aot_kernel(cuda_example_regions):
    (region,) = [r for r in cuda_example_regions["distribution"] if "digamma" in str(r.targets)]
    kernel = aot_kernel(region.body)  # raises AotError with the reason where it stays JIT
    assert isinstance(kernel, AotKernel)
    assert all(t.checked_shapes for t in kernel.tactics())


@pytest.mark.gpu
def test_the_digamma_kernel_gives_atens_special_values(cuda_example_regions):
    # The suite's check at 67M elements found +0.0 (rand * 2 - 1 hits it) given the wrong pole.
    from trt_autoplugin.aot.launch import launch

    (region,) = [r for r in cuda_example_regions["distribution"] if "digamma" in str(r.targets)]
    kernel = aot_kernel(region.body)
    tiny = torch.finfo(torch.float32).tiny
    specials = [0.0, -0.0, -1.0, -2.0, -1e-30, 1e-30, tiny, -tiny, math.inf, -math.inf, math.nan]
    specials += [1e-8, -1e-8, -0.5, -2.5 + 1e-6, 1e20, -1e20, 3.0, 10.0]
    x = torch.tensor(specials, device="cuda").repeat(8, 1).reshape(-1, 4)
    for tactic in kernel.tactics():
        out = torch.full_like(x, 12345.0)
        launch(tactic, [x], [out], torch.cuda.current_stream().cuda_stream)
        torch.cuda.synchronize()
        torch.testing.assert_close(out, torch.digamma(x), rtol=1e-5, atol=1e-5, equal_nan=True)
