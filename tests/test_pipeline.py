"""The pass end to end on the built-in examples: rewritten programs equal the originals."""

import subprocess
import sys
from collections.abc import Sequence

import pytest
import torch
from hypothesis import given, reject
from hypothesis import strategies as st
from strategies import batch_sizes
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.experimental.symbolic_shapes import ShapeEnv

from trt_autoplugin import (
    AutopluginError,
    AutopluginResult,
    DecompositionError,
    autoplugin,
    examples,
)
from trt_autoplugin.outline import NAMESPACE, run_body
from trt_autoplugin.support import OpSetSupport, SnapshotSupport, Verdict

NAMES = examples.example_names()


@pytest.fixture(scope="module")
def results(example_results):
    return example_results


def _inputs(name: str, batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    _, example_inputs, _ = examples.load_example(name)
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, *x.shape[1:], generator=generator) for x in example_inputs)


def _eager(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> object:
    try:
        return model(*inputs)
    except RuntimeError as e:  # e.g. MKL's FFT rejects an empty batch: then both must fail
        return e


@pytest.mark.parametrize("name", NAMES)
@given(batch=batch_sizes(), seed=st.integers(0, 2**31 - 1))
def test_rewritten_program_equals_original(
    results: dict[str, tuple[torch.nn.Module, AutopluginResult]], name: str, batch: int, seed: int
) -> None:
    model, result = results[name]
    inputs = _inputs(name, batch, seed)
    expected = _eager(model, inputs)
    if isinstance(expected, Exception):
        with pytest.raises(type(expected)):
            result.program.module()(*inputs)
        return
    torch.testing.assert_close(result.program.module()(*inputs), expected)


@pytest.mark.parametrize("name", NAMES)
@given(batch=batch_sizes())
def test_fake_kernels_match_real_runs(
    results: dict[str, tuple[torch.nn.Module, AutopluginResult]], name: str, batch: int
) -> None:
    _, result = results[name]
    for region in result.regions:
        real_inputs = [
            torch.randn([batch if not isinstance(d, int) else d for d in spec.shape]).to(spec.dtype)
            for spec in region.input_specs
        ]
        try:
            real = run_body(region.body, real_inputs)
        except RuntimeError:  # MKL's FFT rejects empty batches on the CPU; nothing to compare
            reject()
        # A shape environment, so a data-dependent op gets an unbacked size instead of raising.
        with FakeTensorMode(allow_non_fake_inputs=False, shape_env=ShapeEnv()) as mode:
            fake_inputs = [mode.from_tensor(x, static_shapes=True) for x in real_inputs]
            fake = region.op(*fake_inputs)
        fake = fake if isinstance(fake, tuple) else (fake,)
        assert [_known_dims(f.shape) for f in fake] == [
            _known_dims(r.shape, like=f.shape) for r, f in zip(real, fake, strict=True)
        ]
        assert [f.dtype for f in fake] == [r.dtype for r in real]
        assert [f.dtype for f in fake] == [s.dtype for s in region.output_specs]


def _known_dims(shape: Sequence[object], like: Sequence[object] | None = None) -> list:
    """The dims, None where the fake run has a data-dependent size (the data decides it)."""
    pattern = like if like is not None else shape
    pairs = zip(shape, pattern, strict=True)
    return [None if isinstance(p, torch.SymInt) else int(d) for d, p in pairs]


@pytest.mark.parametrize("name", NAMES)
def test_rewritten_program_is_valid_and_reexports(
    results: dict[str, tuple[torch.nn.Module, AutopluginResult]], name: str
) -> None:
    model, result = results[name]
    program = result.program
    _, inputs, dynamic_shapes = examples.load_example(name)
    assert program.range_constraints.keys() >= {
        s for s in program.range_constraints if str(s).startswith("s")
    }
    assert set(program.state_dict) == set(model.state_dict())
    ops = [n.target for n in program.graph.nodes if n.op == "call_function"]
    assert sum(1 for op in ops if getattr(op, "namespace", None) == NAMESPACE) == len(
        result.regions
    )
    again = torch.export.export(program.module(), inputs, dynamic_shapes=dynamic_shapes)
    torch.testing.assert_close(again.module()(*inputs), model(*inputs))


def test_every_example_leaves_nothing_behind(
    results: dict[str, tuple[torch.nn.Module, AutopluginResult]],
) -> None:
    for name in NAMES:
        report = results[name][1].report
        assert report.regions, name
        assert report.left_in_graph == (), name
        assert report.after.pytorch == 0, name


def test_masked_select_becomes_a_plugin_with_a_size_tensor(
    results: dict[str, tuple[torch.nn.Module, AutopluginResult]],
) -> None:
    report = results["data_dependent"][1].report
    (region,) = [r for r in report.regions if "aten.masked_select.default" in r.targets]
    (size,) = region.size_tensors
    assert (size.extent, size.upper_bound) == (region.outputs[0][len("float32[") : -1], "16*s77")
    assert "masked_select" in size.source


def test_complex_values_stay_inside_one_region(
    results: dict[str, tuple[torch.nn.Module, AutopluginResult]],
) -> None:
    (region,) = results["spectral"][1].regions
    assert {"aten._fft_r2c.default", "aten._fft_c2r.default"} <= set(region.targets)
    assert all(not s.dtype.is_complex for s in (*region.input_specs, *region.output_specs))


def test_two_outputs_of_different_dtypes(
    results: dict[str, tuple[torch.nn.Module, AutopluginResult]],
) -> None:
    (region,) = results["custom_op"][1].regions
    assert [s.dtype for s in region.output_specs] == [torch.int8, torch.float32]
    assert "trt_autoplugin_examples.quantize_rows.default" in region.targets


def test_op_names_are_the_same_in_a_new_process(
    results: dict[str, tuple[torch.nn.Module, AutopluginResult]],
) -> None:
    script = (
        "import torch\n"
        "from trt_autoplugin import autoplugin, examples\n"
        "from trt_autoplugin.support import SnapshotSupport\n"
        "ep = examples.export_example('cumulative')\n"
        "print(' '.join(str(r.op) for r in autoplugin(ep, support=SnapshotSupport()).regions))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    here = " ".join(str(r.op) for r in results["cumulative"][1].regions)
    assert out.stdout.split() == here.split()


def test_different_subgraphs_get_different_names() -> None:
    class Two(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.lgamma(x), torch.lgamma(x * 2).digamma()

    ep = torch.export.export(Two(), (torch.rand(3) + 1,))
    result = autoplugin(ep, support=SnapshotSupport())
    assert len({str(r.op) for r in result.regions}) == len(result.regions) == 2


def test_same_subgraph_reuses_one_op() -> None:
    class Twice(torch.nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.lgamma(x).relu() + torch.lgamma(y).relu()

    ep = torch.export.export(Twice(), (torch.rand(3) + 1, torch.rand(3) + 1))
    result = autoplugin(ep, support=OpSetSupport(unsupported=[torch.ops.aten.lgamma]))
    assert len(result.regions) == 2
    assert result.regions[0].op is result.regions[1].op


def test_symbolic_sizes_read_from_outside_are_recomputed_inside() -> None:
    class Flatten(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.lgamma(x).reshape(x.shape[0] * x.shape[1]).relu()

    dims = {0: torch.export.Dim("a", min=2, max=9), 1: torch.export.Dim("b", min=2, max=9)}
    ep = torch.export.export(Flatten(), (torch.rand(3, 4) + 1,), dynamic_shapes=(dims,))
    oracle = OpSetSupport(unsupported=[torch.ops.aten.lgamma, torch.ops.aten.view])
    result = autoplugin(ep, support=oracle)
    x = torch.rand(5, 7) + 1
    torch.testing.assert_close(result.program.module()(x), Flatten()(x))
    assert all(
        arg.op != "call_function" or isinstance(arg.meta["val"], torch.Tensor)
        for region_node in result.program.graph.nodes
        if getattr(region_node.target, "namespace", None) == NAMESPACE
        for arg in region_node.all_input_nodes
    )


class _BuiltinNamedInput(torch.nn.Module):
    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - nn.Sequential's name
        return torch.lgamma(input) + 1


def test_an_input_named_like_a_builtin_keeps_its_name():
    # Every nn.Sequential's forward argument is called `input`; the rewrite once renamed it.
    ep = torch.export.export(_BuiltinNamedInput(), (torch.randn(3, 4),))
    result = autoplugin(ep, support=SnapshotSupport())
    assert len(result.regions) == 1
    placeholders = [n.name for n in result.program.graph.nodes if n.op == "placeholder"]
    assert placeholders == ["input"]
    x = torch.rand(3, 4) + 0.5
    torch.testing.assert_close(result.program.module()(x), torch.lgamma(x) + 1)


# --- autoplugin refuses exactly what the lowering pass refuses -----------------------------------


class _TwoHeads(torch.nn.Module):
    """Two separate unsupported chains: lgamma at the input dtype, erfinv always in float32."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.lgamma(x) * 2, torch.erfinv(torch.tanh(x.float()))


@given(
    dtype=st.sampled_from([torch.float32, torch.float16, torch.float64]),
    executed=st.sets(st.sampled_from(["aten.lgamma.default", "torch.ops.aten.erfinv.default"])),
)
def test_autoplugin_leaves_in_the_graph_what_the_lowering_pass_leaves(
    dtype: torch.dtype, executed: set[str]
) -> None:
    import types

    from trt_autoplugin.lowering import outline_for_tensorrt

    oracle = OpSetSupport(unsupported=["aten.lgamma", "aten.erfinv"])
    ep = torch.export.export(_TwoHeads(), (torch.rand(4, 3, dtype=dtype),))
    report = autoplugin(ep, support=oracle, torch_executed_ops=executed).report
    settings = types.SimpleNamespace(min_block_size=5, torch_executed_ops=executed)
    gm = ep.run_decompositions({}).module()
    lowered = outline_for_tensorrt(gm, settings, oracle=oracle).report

    def left(r):
        return sorted((e.target, e.reason.split(": ", 1)[-1]) for e in r.left_in_graph)

    assert left(report) == left(lowered)
    refused_targets = {target for target, _ in left(report)}
    assert ("aten.lgamma.default" in refused_targets) == (
        dtype is torch.float64 or "aten.lgamma.default" in executed
    )
    assert ("aten.erfinv.default" in refused_targets) == (
        "torch.ops.aten.erfinv.default" in executed
    )
    assert len(report.regions) == 2 - len(refused_targets)


# --- a model whose state holds a complex nn.Parameter --------------------------------------------


@pytest.fixture(scope="module")
def global_filter() -> tuple[torch.nn.Module, AutopluginResult]:
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "dryrun"))
    import models

    model, inputs, dynamic_shapes = models.global_filter(batch_min=0)
    ep = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes)
    return model, autoplugin(ep, support=SnapshotSupport())


@given(batch=batch_sizes(), seed=st.integers(0, 2**31 - 1))
def test_a_complex_parameter_enters_its_fft_chain_as_a_real_view(
    global_filter: tuple[torch.nn.Module, AutopluginResult], batch: int, seed: int
) -> None:
    model, result = global_filter
    (region,) = result.regions
    assert {"aten._fft_r2c.default", "aten.mul.Tensor", "aten._fft_c2r.default"} <= set(
        region.targets
    )
    assert all(not s.dtype.is_complex for s in region.input_specs)
    weight = result.program.state_dict["filter.complex_weight"]
    assert isinstance(weight, torch.nn.Parameter) and weight.dtype == torch.float32
    assert torch.equal(weight, torch.view_as_real(model.filter.complex_weight.detach()))
    image = torch.randn(batch, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
    expected = _eager(model, (image,))
    if isinstance(expected, Exception):
        with pytest.raises(type(expected)):
            result.program.module()(image)
        return
    torch.testing.assert_close(result.program.module()(image), expected)
    assert result.report.left_in_graph == () and result.report.after.pytorch == 0


@pytest.mark.parametrize("name", ["cumulative", "distribution"])
def test_a_rewritten_program_analyses_as_already_one_engine(name: str) -> None:
    """Region ops become plugins when compiled: a second pass outlines nothing more."""
    first = autoplugin(examples.export_example(name), support=SnapshotSupport())
    again = autoplugin(first.program, support=SnapshotSupport())
    assert first.regions and not again.regions
    assert again.report.before == again.report.after == first.report.after


class _ToDense(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.to_dense() * 2


def test_a_decomposition_failure_is_an_autoplugin_error_naming_stage_and_node() -> None:
    ep = torch.export.export(_ToDense(), (torch.eye(4).to_sparse_csr(),))
    with pytest.raises(DecompositionError, match=r"decomposing .* at node 'to_dense'") as info:
        autoplugin(ep, support=SnapshotSupport())
    assert isinstance(info.value, AutopluginError)
    assert isinstance(info.value.__cause__, RuntimeError)


class _Standardize(torch.nn.Module):
    """var_mean over the batch: with a dynamic batch, its decomposition divides a sum by
    ``torch.sym_float(s0 * 5)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance, mean = torch.var_mean(x, dim=(0, 2), keepdim=True)
        return (x - mean) / (variance + 1e-5).sqrt()


class _TrainingBatchNorm(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(8))
        self.bias = torch.nn.Parameter(torch.randn(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.nn.functional.batch_norm(x, None, None, self.weight, self.bias, training=True)
        return out * 2


def _is_tensor_math(node: torch.fx.Node) -> bool:
    target = node.target
    return (
        isinstance(target, torch._ops.OpOverload)
        and target.namespace in ("aten", "prims")
        and isinstance(node.meta.get("val"), torch.Tensor)
    )


@pytest.fixture(scope="module")
def sym_float_results() -> dict[str, tuple[torch.nn.Module, AutopluginResult]]:
    from torch._decomp import get_decompositions

    batch = torch.export.Dim("batch", min=1, max=64)
    x = torch.randn(4, 8, 5)
    standardize = _Standardize()
    ep = torch.export.export(standardize, (x,), dynamic_shapes=({0: batch},))
    # The shipped snapshot has no converter for torch.sym_float; prims.div is forced out.
    oracle = OpSetSupport(unsupported=[torch.ops.prims.div.default], base=SnapshotSupport())
    results = {"var_mean": (standardize, autoplugin(ep, support=oracle))}
    norm = _TrainingBatchNorm()
    ep = torch.export.export(norm, (x,), dynamic_shapes=({0: batch},))
    ep = ep.run_decompositions(get_decompositions([torch.ops.aten._native_batch_norm_legit]))
    snapshot = SnapshotSupport()
    oracle = OpSetSupport(
        predicate=lambda n: (
            not _is_tensor_math(n) and snapshot.node_support(n).verdict is not Verdict.UNSUPPORTED
        ),
        base=snapshot,
    )
    results["batch_norm"] = (norm, autoplugin(ep, support=oracle))
    return results


@pytest.mark.parametrize("name", ["var_mean", "batch_norm"])
def test_sym_float_size_arithmetic_is_recomputed_inside_the_region(
    sym_float_results: dict[str, tuple[torch.nn.Module, AutopluginResult]], name: str
) -> None:
    _, result = sym_float_results[name]
    assert result.report.left_in_graph == ()
    assert result.regions
    assert torch.sym_float not in {n.target for n in result.program.graph.nodes}
    assert any(
        n.target is torch.sym_float for r in result.regions for n in r.body.graph_module.graph.nodes
    )


@pytest.mark.parametrize("name", ["var_mean", "batch_norm"])
@given(batch=batch_sizes(max_value=64).filter(lambda b: b >= 1), seed=st.integers(0, 2**31 - 1))
def test_sym_float_regions_equal_the_original_and_their_fake_kernels(
    sym_float_results: dict[str, tuple[torch.nn.Module, AutopluginResult]],
    name: str,
    batch: int,
    seed: int,
) -> None:
    model, result = sym_float_results[name]
    x = torch.randn(batch, 8, 5, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(result.program.module()(x), model(x))
    for region in result.regions:
        real_inputs = [
            torch.randn([batch if not isinstance(d, int) else d for d in spec.shape])
            for spec in region.input_specs
        ]
        real = run_body(region.body, real_inputs)
        torch.testing.assert_close(region.op(*real_inputs), real[0] if len(real) == 1 else real)
        with FakeTensorMode() as mode:
            fake = region.op(*[mode.from_tensor(x) for x in real_inputs])
        fake = fake if isinstance(fake, tuple) else (fake,)
        assert [(f.shape, f.dtype) for f in fake] == [(r.shape, r.dtype) for r in real]


def test_sym_float_of_a_region_left_in_the_graph_stays_with_its_reason() -> None:
    batch = torch.export.Dim("batch", min=1, max=64)
    ep = torch.export.export(_Standardize(), (torch.randn(4, 8, 5),), dynamic_shapes=({0: batch},))
    oracle = OpSetSupport(unsupported=[torch.ops.prims.div.default], base=SnapshotSupport())
    result = autoplugin(ep, support=oracle, torch_executed_ops=[torch.ops.prims.div.default])
    assert result.regions == ()
    left = {entry.target: entry.reason for entry in result.report.left_in_graph}
    assert "torch_executed_ops" in left["prims.div.default"]
    assert left["torch.sym_float"].startswith("returns a non-tensor value (SymFloat)")
    kinds = {entry.target: entry.kind for entry in result.report.left_in_graph}
    assert kinds["prims.div.default"] == "torch-executed-ops"
    assert kinds["torch.sym_float"] == "non-tensor-output"


class _Factories(torch.nn.Module):
    """Constant-shape factory ops feeding native arithmetic: regions without tensor inputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = torch.hann_window(8) + torch.full((8,), 2.0) + torch.eye(8)[1]
        return x * window + torch.linspace(0, 1, 8)


class _SizedArange(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.arange(x.shape[0], dtype=torch.float32)


_FACTORY_OPS = ["aten.hann_window", "aten.full", "aten.eye", "aten.linspace", "aten.arange"]


def test_factory_regions_without_inputs_stay_in_pytorch_with_the_reason() -> None:
    x = torch.randn(8)
    ep = torch.export.export(_Factories(), (x,))
    oracle = OpSetSupport(unsupported=_FACTORY_OPS, base=SnapshotSupport())
    result = autoplugin(ep, support=oracle, min_block_size=1)
    assert all(region.input_specs for region in result.regions)
    assert result.report.left_in_graph
    for entry in result.report.left_in_graph:
        assert "no tensor inputs" in entry.reason, entry
        assert entry.kind == "no-tensor-input", entry
    torch.testing.assert_close(result.program.module()(x), _Factories()(x))


class _WindowedProduct(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (torch.hann_window(8) + torch.full((8,), 2.0))


def test_a_factory_feeding_an_unsupported_consumer_joins_its_region() -> None:
    x = torch.randn(8)
    ep = torch.export.export(_WindowedProduct(), (x,))
    unsupported = [*_FACTORY_OPS, "aten.add", "aten.mul"]
    result = autoplugin(ep, support=OpSetSupport(unsupported=unsupported), min_block_size=1)
    assert result.report.left_in_graph == ()
    (region,) = result.regions
    assert len(region.input_specs) == 1
    assert {"aten.hann_window.default", "aten.full.default"} <= set(region.targets)
    torch.testing.assert_close(result.program.module()(x), _WindowedProduct()(x))


@given(batch=st.integers(min_value=2, max_value=32))
def test_an_arange_sized_by_an_input_reads_that_input(batch: int) -> None:
    dims = {"x": {0: torch.export.Dim("n", min=2, max=64)}}
    ep = torch.export.export(_SizedArange(), (torch.randn(4),), dynamic_shapes=dims)
    oracle = OpSetSupport(unsupported=["aten.arange"], base=SnapshotSupport())
    result = autoplugin(ep, support=oracle, min_block_size=1)
    (region,) = result.regions
    assert len(region.input_specs) == 1
    assert result.report.left_in_graph == ()
    x = torch.randn(batch)
    torch.testing.assert_close(result.program.module()(x), _SizedArange()(x))


_CHECKED_LINALG = {
    "inv": lambda x: torch.linalg.inv(x) + 1,
    "solve": lambda x: torch.linalg.solve(x, x[..., :1]) * 2,
    "lu_factor": lambda x: torch.linalg.lu_factor(x)[0] + 1,
}


class _Apply(torch.nn.Module):
    def __init__(self, fn: object) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)  # type: ignore[operator]


def _raised(fn: object, x: torch.Tensor) -> type[BaseException] | None:
    try:
        fn(x)  # type: ignore[operator]
    except RuntimeError as e:  # torch.linalg.LinAlgError is a RuntimeError
        return type(e)
    return None


@pytest.fixture(scope="module")
def checked_linalg_results() -> dict[str, tuple[torch.export.ExportedProgram, AutopluginResult]]:
    batch = torch.export.Dim("batch", min=1, max=64)
    results = {}
    for name, fn in _CHECKED_LINALG.items():
        ep = torch.export.export(_Apply(fn), (torch.randn(4, 3, 3),), dynamic_shapes=({0: batch},))
        results[name] = (ep, autoplugin(ep, support=SnapshotSupport()))
    return results


def _skip_without_linalg_checks(ep: torch.export.ExportedProgram) -> None:
    """Skips where torch's decomposition of a checked linalg op drops its error check (torch
    2.11: linalg_inv_ex and friends with no _linalg_check_errors), so no check exists to keep."""
    from trt_autoplugin.pipeline import decomposed

    targets = {n.target for n in decomposed(ep, SnapshotSupport()).graph.nodes}
    if torch.ops.higher_order.with_effects not in targets:
        pytest.skip(f"torch {torch.__version__}'s decomposition drops the linalg error check")


@pytest.mark.parametrize("name", list(_CHECKED_LINALG))
def test_a_linalg_error_check_joins_the_region_and_its_token_goes(
    checked_linalg_results: dict[str, tuple[torch.export.ExportedProgram, AutopluginResult]],
    name: str,
) -> None:
    from torch.export.graph_signature import InputKind, OutputKind

    from trt_autoplugin.pipeline import decomposed

    ep, result = checked_linalg_results[name]
    _skip_without_linalg_checks(ep)
    # Decomposed, the checked op is linalg_*_ex plus a token-ordered _linalg_check_errors.
    program = decomposed(ep, SnapshotSupport())
    assert any(n.target is torch.ops.higher_order.with_effects for n in program.graph.nodes)
    assert result.report.left_in_graph == ()
    program = result.program
    assert all(n.target is not torch.ops.higher_order.with_effects for n in program.graph.nodes)
    assert all(s.kind is not InputKind.TOKEN for s in program.graph_signature.input_specs)
    assert all(s.kind is not OutputKind.TOKEN for s in program.graph_signature.output_specs)
    (region,) = result.regions
    assert "aten._linalg_check_errors.default" in region.targets
    assert len(program.graph_signature.output_specs) == 1


@pytest.mark.parametrize("name", list(_CHECKED_LINALG))
@given(batch=batch_sizes(max_value=64).filter(lambda b: b >= 1), seed=st.integers(0, 2**31 - 1))
def test_a_rewritten_linalg_program_equals_the_original_and_raises_as_it_does(
    checked_linalg_results: dict[str, tuple[torch.export.ExportedProgram, AutopluginResult]],
    name: str,
    batch: int,
    seed: int,
) -> None:
    ep, result = checked_linalg_results[name]
    _skip_without_linalg_checks(ep)
    x = torch.randn(batch, 3, 3, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(result.program.module()(x), ep.module()(x))
    singular = x.clone()
    singular[batch // 2] = 0
    expected = _raised(_CHECKED_LINALG[name], singular)
    assert expected is not None
    assert _raised(result.program.module(), singular) is expected
    assert _raised(ep.module(), singular) is expected


def test_a_check_on_a_value_tensorrt_computes_stays_in_pytorch() -> None:
    batch = torch.export.Dim("batch", min=1, max=64)
    model = _Apply(_CHECKED_LINALG["inv"])
    ep = torch.export.export(model, (torch.randn(4, 3, 3),), dynamic_shapes=({0: batch},))
    _skip_without_linalg_checks(ep)
    oracle = OpSetSupport(supported=[torch.ops.aten.linalg_inv_ex], base=SnapshotSupport())
    result = autoplugin(ep, support=oracle)
    assert result.regions == ()
    (left,) = result.report.left_in_graph
    assert left.target == "aten._linalg_check_errors.default"
    assert left.reason.startswith("a check that only raises")
    assert left.kind == "idle-check"
    singular = torch.zeros(2, 3, 3)
    assert _raised(result.program.module(), singular) is _raised(model, singular) is not None


class _SparseProduct(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.sparse.mm(a, b)


def test_a_program_torch_cannot_copy_is_one_clear_error() -> None:
    import warnings

    from trt_autoplugin.errors import AutopluginError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sparse CSR is "beta"
        sparse = torch.randn(3, 3).to_sparse_csr()
        ep = torch.export.export(_SparseProduct(), (sparse, torch.randn(3, 3)))
    with pytest.raises(AutopluginError, match="could not copy the program.*decompose=True"):
        autoplugin(ep, support=SnapshotSupport(), decompose=False)
