"""AOT kernels: reading Inductor's output, the launch expressions, and (on a GPU) the kernels.

The CPU tests read real Inductor output: ``tests/data/inductor_2_11/`` holds the wrapper modules
torch 2.11.0+cu130 / Triton 3.6.0 generated on an H100 for the example regions (captured with
``run_and_get_code``), and a PTX file Triton 3.6.0 compiled there. The GPU tests compile, launch
as TensorRT would (CUDA driver, only TensorRT's arguments) and compare with eager.
"""

import ast
import dataclasses
import math
from pathlib import Path

import pytest
import sympy
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import batch_sizes, size_expressions

from trt_autoplugin import autoplugin, examples
from trt_autoplugin.aot import AotKernel, KernelPlan
from trt_autoplugin.aot.build import aot_or_reason, index_inputs_reason
from trt_autoplugin.aot.check import (
    TOLERANCES,
    check_grid_bounds,
    check_int32_bounds,
    empty_outputs,
    poison,
    random_inputs,
)
from trt_autoplugin.aot.expressions import size_expression
from trt_autoplugin.aot.hints import check_cases, compile_hints, input_bytes
from trt_autoplugin.aot.launch import launch
from trt_autoplugin.aot.triton_source import (
    entry_parameters,
    kernel_parameters,
    launch_grid,
    retargeted_source,
    trimmed_ptx,
)
from trt_autoplugin.aot.wrapper import SeveralKernelsError, kernel_plan
from trt_autoplugin.errors import AotError
from trt_autoplugin.outline import TensorSpec, run_body
from trt_autoplugin.refusal import Refusal, RefusalKind
from trt_autoplugin.shape_expr import IntArithmetic
from trt_autoplugin.support import OpSetSupport, SnapshotSupport

DATA = Path(__file__).parent / "data" / "inductor_2_11"


def _region(name: str, index: int):
    return autoplugin(examples.export_example(name), support=SnapshotSupport()).regions[index]


def _plan(name: str, index: int) -> KernelPlan:
    region = _region(name, index)
    code = (DATA / f"{name}_{index}_0.txt").read_text()
    return kernel_plan(code, region.input_specs, region.output_specs)


# --- reading Inductor's wrapper ------------------------------------------------------------------


def test_pointwise_plan_binds_pointers_and_the_element_count():
    region = _region("data_dependent", 0)
    plan = _plan("data_dependent", 0)
    (batch,) = region.input_specs[0].shape[:1]
    assert plan.kernel_name == "triton_poi_fused_erfinv_0"
    assert plan.inputs == ("in_ptr0",)
    assert plan.outputs == ("out_ptr0",)
    assert plan.scalars == (("xnumel", 16 * batch),)


def test_reduction_plan_with_two_outputs_and_a_static_count():
    region = _region("cumulative", 1)  # cummax: values and int64 indices
    plan = _plan("cumulative", 1)
    batch = region.input_specs[0].shape[0]
    assert plan.outputs == ("out_ptr0", "out_ptr1")
    assert plan.scalars == (("xnumel", 16 * batch), ("r0_numel", 10))


@pytest.mark.parametrize(
    ("name", "index", "extern"),
    [
        ("distribution", 1, "torch.ops.aten.digamma.default"),
        ("custom_op", 0, "torch.ops.trt_autoplugin_examples.quantize_rows.default"),
    ],
)
def test_extern_calls_are_refused_with_the_call(name: str, index: int, extern: str):
    with pytest.raises(AotError, match=f"extern call to {extern}"):
        _plan(name, index)


def test_wrapper_for_other_inputs_is_refused():
    region = _region("data_dependent", 0)
    code = (DATA / "data_dependent_0_0.txt").read_text()
    two_inputs = (region.input_specs[0], region.input_specs[0])
    with pytest.raises(AotError, match="takes 1 tensors but the region has 2 inputs"):
        kernel_plan(code, two_inputs, region.output_specs)


def test_a_second_kernel_launch_is_refused():
    region = _region("data_dependent", 0)
    code = (DATA / "data_dependent_0_0.txt").read_text()
    launch = "triton_poi_fused_erfinv_0.run(arg1_1, buf0, triton_poi_fused_erfinv_0_xnumel, "
    twice = code.replace(launch, "; ".join([launch + "stream=stream0)"] * 2) + " #", 1)
    assert twice != code
    with pytest.raises(AotError, match="2 Triton kernels"):
        kernel_plan(twice, region.input_specs, region.output_specs)


def test_a_whole_buffer_reinterpreted_in_another_shape_is_that_buffer():
    region = _region("cumulative", 1)
    code = (DATA / "cumulative_1_0.txt").read_text()
    launch = "triton_per_fused_cummax_0.run(arg1_1, buf0, buf1,"
    aliased = code.replace(
        launch, "buf2 = reinterpret_tensor(buf1, (s16, 160), (160, 1), 0)\n            " + launch
    ).replace("return (buf0, buf1, )", "return (buf0, buf2, )")
    assert aliased.count("buf2") == 2
    assert kernel_plan(aliased, region.input_specs, region.output_specs) == _plan("cumulative", 1)
    # Part of the buffer, or another layout, is not the buffer.
    part = aliased.replace("(s16, 160), (160, 1), 0)", "(s16, 16), (16, 1), 0)")
    with pytest.raises(AotError, match="reinterpretation of part of buf1"):
        kernel_plan(part, region.input_specs, region.output_specs)
    strided = aliased.replace("(s16, 160), (160, 1), 0)", "(s16, 160), (1, s16), 0)")
    with pytest.raises(AotError, match="not contiguous"):
        kernel_plan(strided, region.input_specs, region.output_specs)


def test_a_wrapper_defining_two_kernels_is_refused_as_several_before_reading_it():
    region = _region("data_dependent", 0)
    code = (DATA / "data_dependent_0_0.txt").read_text()
    second = "\nother_kernel = async_compile.triton('other_kernel', 'pass', device_str='cuda')\n"
    padded = code.replace(
        "buf0 = empty_strided_cuda((s16, 16), (16, 1), torch.float32)",
        "buf0 = empty_strided_cuda((s16, 16), (17, 1), torch.float32)",
    )
    assert padded != code
    # The several kernels are the refusal (build.py then asks Inductor to recompute), not the
    # padded buffer between them.
    with pytest.raises(SeveralKernelsError, match="2 Triton kernels"):
        kernel_plan(padded + second, region.input_specs, region.output_specs)


def test_non_contiguous_input_strides_are_refused():
    region = _region("data_dependent", 0)
    code = (DATA / "data_dependent_0_0.txt").read_text()
    strided = code.replace(
        "assert_size_stride(arg1_1, (s16, 16), (16, 1))",
        "assert_size_stride(arg1_1, (s16, 16), (1, s16))",
    )
    assert strided != code
    with pytest.raises(AotError, match="not contiguous"):
        kernel_plan(strided, region.input_specs, region.output_specs)


def test_kernel_parameters_come_from_the_signature():
    plan = _plan("cumulative", 0)
    assert kernel_parameters(plan.kernel_source, plan.kernel_name) == [
        ("in_ptr0", "*fp32"),
        ("out_ptr0", "*fp32"),
        ("xnumel", "i32"),
        ("r0_numel", "i32"),
        ("XBLOCK", "constexpr"),
    ]


def test_retargeted_source_puts_parameters_in_tensorrt_order():
    plan = _plan("data_dependent", 0)
    order = ["in_ptr0", "unused_input_1", "xnumel", "out_ptr0"]
    source = retargeted_source(plan.kernel_source, plan.kernel_name, order)
    function = next(
        n
        for n in ast.parse(source).body
        if isinstance(n, ast.FunctionDef) and n.name == plan.kernel_name
    )
    assert [a.arg for a in function.args.args] == [*order, "XBLOCK"]
    assert [ast.unparse(d) for d in function.decorator_list] == ["triton.jit"]
    # The body is Inductor's, unchanged.
    original = next(
        n
        for n in ast.parse(plan.kernel_source).body
        if isinstance(n, ast.FunctionDef) and n.name == plan.kernel_name
    )
    assert [ast.unparse(s) for s in function.body] == [ast.unparse(s) for s in original.body]


# --- expressions ---------------------------------------------------------------------------------


@given(size_expressions(), st.lists(st.integers(0, 5000), min_size=3, max_size=3))
def test_size_expressions_read_as_python_computes_them(text: str, values: list[int]):
    names = dict(zip(("a", "b", "c"), values, strict=True))
    try:
        expected = eval(text, {"max": max, "min": min}, dict(names))  # noqa: S307 - test-made text
    except ZeroDivisionError:
        return
    symbols = {n: sympy.Symbol(n, integer=True, nonnegative=True) for n in names}
    expression = size_expression(ast.parse(text, mode="eval").body, symbols)
    got = expression.subs({symbols[n]: v for n, v in names.items()})
    assert int(got) == expected


@pytest.mark.parametrize("text", ["a.size(0)", "a / 2", "float(a)", "a ** 2", "f(a)", "1.5"])
def test_other_size_expressions_are_refused(text: str):
    with pytest.raises(AotError, match="doesn't know"):
        size_expression(ast.parse(text, mode="eval").body, {"a": sympy.Symbol("a")})


@given(st.integers(0, 2**24), st.sampled_from([1, 64, 128, 1024]))
def test_grid_is_ceil_of_numel_over_block_and_never_empty(numel: int, block: int):
    # A positive symbol, as export makes them: sympy would simplify a Max(16*s, 1) clamp away.
    s = sympy.Symbol("s", integer=True, positive=True)
    grid = launch_grid("Grid1D", {"XBLOCK": block}, {"xnumel": 16 * s})
    kernel = _kernel(((s, 16),), (16 * s,), grid)
    blocks, _ = kernel.concrete_launch([(numel, 16)])
    assert blocks == (max(1, math.ceil(16 * numel / block)), 1, 1)


def _kernel(input_shapes, scalars, grid) -> AotKernel:
    return AotKernel(
        plugin_id="trt_autoplugin::region_test",
        kernel_name="k",
        ptx="",
        input_shapes=input_shapes,
        scalars=scalars,
        grid=grid,
        block=128,
        shared_mem=0,
        config="",
        arch=90,
    )


@given(alternatives=st.integers(0, 5), tactic=st.integers(-2, 8))
def test_tactic_numbers_name_the_kernel_then_its_alternatives(alternatives: int, tactic: int):
    s = sympy.Symbol("s", integer=True, positive=True)
    configs = [
        dataclasses.replace(_kernel(((s,),), (s,), (s, 1, 1)), config=f"XBLOCK={2**i}")
        for i in range(alternatives + 1)
    ]
    kernel = dataclasses.replace(configs[0], alternatives=tuple(configs[1:]))
    assert [k.config for k in kernel.tactics()] == [k.config for k in configs]
    if tactic == 0:  # TensorRT's default tactic, where the plugin declares none
        assert kernel.for_tactic(0) is kernel
    elif 1 <= tactic <= alternatives + 1:
        assert kernel.for_tactic(tactic).config == f"XBLOCK={2 ** (tactic - 1)}"
    else:
        with pytest.raises(AotError, match=f"tactic {tactic}"):
            kernel.for_tactic(tactic)


def test_unknown_grid_types_are_refused():
    with pytest.raises(AotError, match="not supported"):
        launch_grid("CooperativeReductionGrid", {"XBLOCK": 1, "RSPLIT": 4}, {})


@pytest.fixture(scope="module")
def cumulative_kernel() -> AotKernel:
    # Built once, not per example: exporting the example is most of the test's time.
    region = _region("cumulative", 0)
    plan = _plan("cumulative", 0)
    numels = {n: sympy.sympify(v) for n, v in plan.scalars}
    grid = launch_grid("Grid1D", {"XBLOCK": 32}, numels)
    return _kernel(tuple(s.shape for s in region.input_specs), tuple(numels.values()), grid)


@given(batch=batch_sizes())
def test_launch_expressions_evaluate_on_concrete_shapes(cumulative_kernel: AotKernel, batch: int):
    kernel = cumulative_kernel
    grid, scalars = kernel.concrete_launch([(batch, 10, 16)])
    assert scalars == (16 * batch, 10)
    assert grid == (max(1, math.ceil(16 * batch / 32)), 1, 1)
    assert kernel.launch_dims([[batch, 10, 16]], IntArithmetic()) == (grid, scalars)


# --- PTX -----------------------------------------------------------------------------------------


def test_hidden_scratch_parameters_are_trimmed_to_tensorrts_arguments():
    ptx = (DATA / "add_kernel_triton_3_6.ptx").read_text()
    assert len(entry_parameters(ptx, "add_kernel")) == 5  # x, n, y + two scratch pointers
    trimmed = trimmed_ptx(ptx, "add_kernel", 3)
    assert entry_parameters(trimmed, "add_kernel") == [f"add_kernel_param_{i}" for i in range(3)]
    assert trimmed[trimmed.index("{") :] == ptx[ptx.index("{") :]


def test_a_hidden_parameter_the_kernel_reads_is_refused():
    ptx = (DATA / "add_kernel_triton_3_6.ptx").read_text()
    reading = ptx.replace(
        "ld.param.b64 \t%rd17, [add_kernel_param_0];", "ld.param.b64 \t%rd17, [add_kernel_param_3];"
    )
    assert reading != ptx
    with pytest.raises(AotError, match="reads its hidden parameters"):
        trimmed_ptx(reading, "add_kernel", 3)


def test_fewer_parameters_than_tensorrt_passes_are_refused():
    ptx = (DATA / "add_kernel_triton_3_6.ptx").read_text()
    with pytest.raises(AotError, match="takes 5 parameters, TensorRT passes 6"):
        trimmed_ptx(ptx, "add_kernel", 6)


# --- the environment -----------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_without_cuda_a_region_stays_jit_with_the_reason():
    answer = aot_or_reason(_region("data_dependent", 0).body)
    assert isinstance(answer, Refusal) and "no CUDA device" in answer.message
    assert answer.kind is RefusalKind.ENVIRONMENT


def test_check_cases_cover_empty_single_odd_and_maximal_sizes():
    s = sympy.Symbol("s", integer=True, positive=True)
    cases = check_cases({s: (0, 4096)}, {s: 4096})
    values = [c[s] for c in cases]
    assert values[:4] == [0, 1, 3, 7] and 4096 in values


# --- on the GPU ----------------------------------------------------------------------------------

# Example regions Inductor turns into one pointwise or reduction Triton kernel (torch 2.11).
AOT_TARGETS = {
    "aten.erfinv.default",
    "aten.lgamma.default",
    "aten.logcumsumexp.default",
    "aten.cummax.default",
    "aten.digamma.default",  # decomposed for Inductor (aot/decompositions.py)
    # A Python custom op, traced into its torch ops for Inductor (aot/decompositions.py).
    "trt_autoplugin_examples.quantize_rows.default",
}


@pytest.fixture(scope="module")
def cuda_answers(cuda_example_results):
    return [
        (name, region, aot_or_reason(region.body))
        for name, (_, result) in cuda_example_results.items()
        for region in result.regions
    ]


@pytest.mark.gpu
def test_pointwise_and_reduction_example_regions_get_aot_kernels(cuda_answers):
    for name, region, answer in cuda_answers:
        if set(region.targets) - {"_operator.getitem"} <= AOT_TARGETS:
            assert isinstance(answer, AotKernel), f"{name}: {region.targets}: {answer}"
            # Inductor gives every one of these kernels several configs: all become tactics,
            # each checked, the tuned one first.
            assert len(answer.tactics()) > 1, answer.config
            assert all(t.checked_shapes for t in answer.tactics())
            assert len({t.config for t in answer.tactics()}) == len(answer.tactics())
        else:
            assert isinstance(answer, Refusal), f"{name}: {region.targets}"


@pytest.mark.gpu
@given(batch=batch_sizes() | st.integers(0, 4096), seed=st.integers(0, 2**31 - 1))
# A quantizer's quotient next to .5: with Triton's division (2 ulp) one int8 code was off by one.
@example(batch=511, seed=247)
def test_aot_kernels_match_eager_over_drawn_batches(cuda_answers, batch: int, seed: int):
    for _, region, kernel in cuda_answers:
        if isinstance(kernel, Refusal):
            continue
        for tactic in kernel.tactics():  # TensorRT may pick any of them
            _launch_and_compare(region, tactic, batch, seed)


def _launch_and_compare(region, kernel, batch: int, seed: int) -> None:
    shapes = [
        tuple(batch if not isinstance(d, int) else d for d in s.shape) for s in region.input_specs
    ]
    inputs = random_inputs(region.input_specs, shapes, "cuda", seed)
    outputs = empty_outputs(region.body, inputs)
    for out in outputs:
        poison(out, seed)
    launch(kernel, inputs, outputs, torch.cuda.current_stream().cuda_stream)
    expected = run_body(region.body, inputs)
    for got, want in zip(outputs, expected, strict=True):
        rtol, atol = TOLERANCES.get(want.dtype, (0.0, 0.0))
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol, equal_nan=True)


class _Pointwise(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.sin(x) * y + x


class _Reduction(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=-1)


class _Integer(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.remainder(x * 3 + 1, 7)


_FORCED = OpSetSupport(
    unsupported=["aten.sin", "aten.mul", "aten.add", "aten._softmax", "aten.remainder"],
    base=SnapshotSupport(),
)


def _forced_region(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]):
    batch = torch.export.Dim("batch", min=0, max=4096)
    dynamic = tuple({0: batch} for _ in inputs)
    ep = torch.export.export(module, inputs, dynamic_shapes=dynamic)
    (region,) = autoplugin(ep, support=_FORCED).regions
    return region


@pytest.fixture(scope="module")
def dtype_kernels():
    kernels = {}
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        x = torch.randn(8, 24, device="cuda", dtype=dtype)
        for key, module, inputs in (
            ("pointwise", _Pointwise(), (x, x)),
            ("softmax", _Reduction(), (x,)),
        ):
            region = _forced_region(module, inputs)
            kernels[(key, dtype)] = (region, aot_or_reason(region.body))
    integers = torch.randint(-50, 50, (8, 24), device="cuda", dtype=torch.int32)
    region = _forced_region(_Integer(), (integers,))
    kernels[("integer", torch.int32)] = (region, aot_or_reason(region.body))
    return kernels


@pytest.mark.gpu
def test_forced_regions_of_every_dtype_get_aot_kernels(dtype_kernels):
    for key, (_, answer) in dtype_kernels.items():
        assert isinstance(answer, AotKernel), f"{key}: {answer}"


@pytest.mark.gpu
@given(batch=batch_sizes() | st.integers(0, 4096), seed=st.integers(0, 2**31 - 1))
def test_aot_kernels_of_every_dtype_match_eager(dtype_kernels, batch: int, seed: int):
    for region, kernel in dtype_kernels.values():
        if isinstance(kernel, AotKernel):
            for tactic in kernel.tactics():
                _launch_and_compare(region, tactic, batch, seed)


def test_unbounded_dims_keep_a_kernel_with_scalars_jit():
    plan = _plan("data_dependent", 0)
    region = _region("data_dependent", 0)
    (symbol,) = region.input_specs[0].shape[0].free_symbols
    with pytest.raises(AotError, match="no upper bound.*Dim"):
        check_int32_bounds(plan, {symbol: (0, None)})
    with pytest.raises(AotError, match="int32 max"):
        check_int32_bounds(plan, {symbol: (0, 2**28)})
    check_int32_bounds(plan, {symbol: (0, 4096)})


def test_grids_beyond_cudas_y_and_z_limit_are_refused_at_the_top_of_the_range():
    s = sympy.Symbol("s", integer=True, positive=True)
    grid = launch_grid("Grid2D", {"XBLOCK": 16, "YBLOCK": 1}, {"xnumel": 16 * s, "ynumel": s})
    check_grid_bounds("k", grid, {s: (0, 65535)})
    with pytest.raises(AotError, match="65536 blocks in y.*65535"):
        check_grid_bounds("k", grid, {s: (0, 65536)})
    with pytest.raises(AotError, match="no bound in y"):
        check_grid_bounds("k", grid, {s: (0, None)})
    check_grid_bounds("k", (16 * s, sympy.Integer(1), sympy.Integer(1)), {s: (0, None)})


@given(upper=st.integers(2, 2**26) | st.none(), width=st.sampled_from([1, 4, 1024, 65536]))
def test_compile_hints_are_large_bounded_by_bytes_and_in_range(upper: int | None, width: int):
    s = sympy.Symbol("s", integer=True, positive=True)
    t = sympy.Symbol("t", integer=True, positive=True)
    specs = (TensorSpec((s, width), torch.float32), TensorSpec((t,), torch.float16))
    ranges = {s: (0, upper), t: (0, upper)}
    hints = compile_hints(ranges, specs, budget_bytes=1 << 20)
    top = 4096 if upper is None else upper
    for value in hints.values():
        assert 2 <= value <= max(top, 2)
    assert hints[s] != hints[t] or top <= 2
    if input_bytes(specs, hints) > 1 << 20:  # only when even the smallest sizes exceed it
        assert max(hints.values()) <= 3
    # Never halved below what fits: doubling would exceed the budget or the range.
    doubled = {k: min(2 * v, top) for k, v in hints.items()}
    assert input_bytes(specs, doubled) > 1 << 19 or doubled == {k: top for k in hints} or top <= 3


class _Gather(torch.nn.Module):
    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)[index]


def test_regions_reading_integer_indices_are_refused_before_compiling():
    batch = torch.export.Dim("batch", min=0, max=64)
    ep = torch.export.export(
        _Gather(), (torch.randn(8, 3), torch.tensor([0, 2, 1])), dynamic_shapes=({0: batch}, None)
    )
    support = OpSetSupport(unsupported=["aten.sin", "aten.index"], base=SnapshotSupport())
    (region,) = autoplugin(ep, support=support).regions
    assert "is read by aten.index.Tensor, which may read it as positions" in index_inputs_reason(
        region.body
    )
    if torch.cuda.is_available():
        assert aot_or_reason(region.body).kind is RefusalKind.INDEX_BOUNDS


class _Unpool(torch.nn.Module):
    def forward(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.max_unpool2d(x, indices, 2)


class _Counts(torch.nn.Module):
    def forward(self, x: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        return torch.lgamma(counts.to(x.dtype)) * x


def test_integer_inputs_read_as_positions_by_any_op_are_refused_values_are_not():
    # max_unpool2d's name says nothing of indices: it is refused for not reading values only.
    x, indices = torch.nn.functional.max_pool2d(torch.randn(1, 2, 4, 4), 2, return_indices=True)
    ep = torch.export.export(_Unpool(), (x, indices))
    support = OpSetSupport(unsupported=["aten.max_unpool2d"], base=SnapshotSupport())
    (region,) = autoplugin(ep, support=support).regions
    assert "read by aten.max_unpool2d.default" in index_inputs_reason(region.body)
    # Integers cast are values.
    ep = torch.export.export(_Counts(), (torch.rand(3, 4) + 1, torch.randint(1, 5, (3, 4))))
    support = OpSetSupport(unsupported=["aten.lgamma", "aten._to_copy"], base=SnapshotSupport())
    (region,) = autoplugin(ep, support=support).regions
    assert any(not s.dtype.is_floating_point for s in region.input_specs)
    assert index_inputs_reason(region.body) is None
