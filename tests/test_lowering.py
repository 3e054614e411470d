"""Tests for `trt_autoplugin.lowering`: the pass on post-lowering graphs, registration, compile.

On CPU the pass runs on what Torch-TensorRT hands a post-lowering pass: the decomposed
``ExportedProgram.module()`` (parameters as ``get_attr``, fake values in ``meta['val']``), with
the support oracle injected and a settings object carrying the two fields the pass reads. The
``tensorrt`` tests compile the built-in examples for real.
"""

import dataclasses
from collections.abc import Collection

import pytest
import torch
from torch.export import Dim

from trt_autoplugin import examples
from trt_autoplugin.errors import MissingDependencyError
from trt_autoplugin.lowering import (
    compile,
    lowering_pass,
    outline_for_tensorrt,
    register_lowering_pass,
    segment_counts,
    unregister_lowering_pass,
)
from trt_autoplugin.outline import NAMESPACE
from trt_autoplugin.pluggable import executed_ops_reason
from trt_autoplugin.refusal import Implementation, RefusalKind
from trt_autoplugin.support import OpSetSupport, SnapshotSupport


@dataclasses.dataclass(frozen=True)
class Settings:
    """The fields of Torch-TensorRT's CompilationSettings that the pass reads."""

    min_block_size: int = 5
    torch_executed_ops: Collection[object] = ()


def post_lowering_module(name: str, oracle: SnapshotSupport | OpSetSupport) -> tuple:
    """An example as Torch-TensorRT's post-lowering passes see it, plus the eager model/inputs.

    ``check_guards=False``: Torch-TensorRT's ``remove_num_users_is_0_nodes`` drops the unused
    ``_guards_fn`` call before the last pass runs.
    """
    model, inputs, dynamic_shapes = examples.load_example(name)
    ep = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes)
    gm = ep.run_decompositions(oracle.decompositions()).module(check_guards=False)
    return gm, model, inputs


def region_calls(gm: torch.fx.GraphModule) -> list[torch.fx.Node]:
    return [
        n
        for n in gm.graph.nodes
        if n.op == "call_function" and str(n.target).startswith(f"{NAMESPACE}.region_")
    ]


@pytest.mark.parametrize("name", examples.example_names())
def test_pass_outlines_a_post_lowering_module(name: str) -> None:
    oracle = SnapshotSupport()
    gm, model, inputs = post_lowering_module(name, oracle)
    outcome = outline_for_tensorrt(gm, Settings(), oracle=oracle)
    assert outcome.regions
    assert len(region_calls(gm)) == len(outcome.regions)
    for call in region_calls(gm):
        assert "val" in call.meta
    torch.testing.assert_close(gm(*inputs), model(*inputs))


class _Blocks(torch.nn.Module):
    """lgamma and digamma regions around native ops."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.lgamma(x.abs() + 1) * 2
        return torch.digamma(y + 1) - y


class _Interpolate(torch.nn.Module):
    """A region whose output size goes through a float: not a TensorRT shape expression."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.lgamma(torch.nn.functional.interpolate(x.abs() + 1, scale_factor=1.5))
        return y * 2


def _module(model: torch.nn.Module, x: torch.Tensor, dims: tuple) -> torch.fx.GraphModule:
    ep = torch.export.export(model, (x,), dynamic_shapes=dims)
    return ep.module(check_guards=False)


def test_a_region_tensorrt_cant_take_stays_in_the_graph_with_its_reason() -> None:
    x = torch.rand(2, 3, 8)
    gm = _module(_Interpolate(), x, ({2: Dim("length", min=2, max=64)},))
    oracle = OpSetSupport(unsupported=["aten.lgamma", "aten.upsample_nearest1d"])
    outcome = outline_for_tensorrt(gm, Settings(), oracle=oracle)
    assert outcome.regions == () and region_calls(gm) == []
    reasons = {e.node: e.reason for e in outcome.report.left_in_graph}
    assert set(reasons) == {"upsample_nearest1d", "lgamma"}
    assert all("TensorRT shape expression" in r for r in reasons.values())
    assert {e.kind for e in outcome.report.left_in_graph} == {"shape"}
    torch.testing.assert_close(gm(x), _Interpolate()(x))


@pytest.mark.parametrize(
    "listed",
    [torch.ops.aten.lgamma.default, "torch.ops.aten.lgamma.default", "aten.lgamma.default"],
    ids=["op", "torch-tensorrt-name", "short-name"],
)
def test_torch_executed_ops_stay_in_pytorch(listed: object) -> None:
    x = torch.rand(4, 3)
    gm = _module(_Blocks(), x, ({0: Dim("batch", min=2, max=64)},))
    oracle = OpSetSupport(unsupported=["aten.lgamma", "aten.digamma"])
    outcome = outline_for_tensorrt(gm, Settings(torch_executed_ops={listed}), oracle=oracle)
    assert [r.targets for r in outcome.regions] == [("aten.digamma.default",)]
    (entry,) = outcome.report.left_in_graph
    assert entry.node == "lgamma" and "torch_executed_ops" in entry.reason
    assert entry.kind == "torch-executed-ops"
    torch.testing.assert_close(gm(x), _Blocks()(x))


def test_executed_ops_reason_ignores_other_ops() -> None:
    x = torch.rand(4, 3)
    gm = _module(_Blocks(), x, ({0: Dim("batch", min=2, max=64)},))
    outcome = outline_for_tensorrt(
        gm, Settings(), oracle=OpSetSupport(unsupported=["aten.lgamma", "aten.digamma"])
    )
    for region in outcome.regions:
        assert executed_ops_reason(region.body, {"aten.erf.default", torch.ops.aten.cos}) is None


def _named(name: str):
    def lowering(gm, settings):
        return gm

    lowering.__name__ = name
    return lowering


# Torch-TensorRT's post-lowering passes from `complex_graph_detection` on, as its releases list
# them (2.11-2.13 name the complex rewrite complex_graph_detection, 2.14 complex_lowering_pass).
_RELEASE_PASSES = {
    "2.11": ["constant_fold", "remove_num_users_is_0_nodes", "complex_graph_detection", "x"],
    "2.13": ["constant_fold", "complex_graph_detection", "annotate_fp8_sdpa"],
    "2.14": ["mark_constant_fold_exclusions", "constant_fold", "complex_lowering_pass", "x"],
}


@pytest.mark.parametrize("release", sorted(_RELEASE_PASSES))
def test_the_pass_goes_just_before_the_complex_rewrite(release: str) -> None:
    from trt_autoplugin.lowering import _pass_index

    names = _RELEASE_PASSES[release]
    index = _pass_index([_named(n) for n in names])
    assert index is not None and names[index].startswith("complex_")
    assert names.index("constant_fold") < index
    assert _pass_index([_named("constant_fold")]) is None  # appended where there is no rewrite


def test_segment_counts_reads_torch_tensorrts_submodule_names() -> None:
    module = torch.nn.Module()
    for name in ("_run_on_acc_0", "_run_on_gpu_1", "_run_on_acc_2"):
        module.add_module(name, torch.nn.Identity())
    assert segment_counts(module) == (2, 1)
    assert segment_counts(torch.nn.Sequential(torch.nn.ReLU())) == (0, 1)


def test_without_torch_tensorrt_the_entry_points_say_what_is_missing() -> None:
    from trt_autoplugin.probes import is_torch_tensorrt_available

    if is_torch_tensorrt_available():
        pytest.skip("torch_tensorrt imports here")
    model, inputs, dynamic_shapes = examples.load_example("distribution")
    for call in (
        lambda: compile(model, inputs, dynamic_shapes=dynamic_shapes),
        register_lowering_pass,
        unregister_lowering_pass,
        lambda: lowering_pass(torch.fx.symbolic_trace(model), Settings()),
    ):
        with pytest.raises(MissingDependencyError, match="torch_tensorrt") as info:
            call()
        assert "\n" not in str(info.value)


# --- real Torch-TensorRT (tensorrt) --------------------------------------------------------------

COMPILED_EXAMPLES = [n for n in examples.example_names() if n != "data_dependent"]


def _cuda_example(name: str) -> tuple:
    model, inputs, dynamic_shapes = examples.load_example(name)
    return model.cuda(), tuple(x.cuda() for x in inputs), dynamic_shapes


def _tolerance(dtype: torch.dtype) -> dict[str, float]:
    # TensorRT may pick other kernels (TF32 included) than eager for the native part.
    return {"rtol": 1e-2, "atol": 1e-2} if dtype.is_floating_point else {"rtol": 0, "atol": 0}


def _assert_matches(got: object, expected: object) -> None:
    got = got if isinstance(got, tuple | list) else (got,)
    expected = expected if isinstance(expected, tuple | list) else (expected,)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, **_tolerance(e.dtype))


@pytest.mark.tensorrt
@pytest.mark.gpu
@pytest.mark.parametrize("name", COMPILED_EXAMPLES)
def test_compile_gives_one_engine_and_no_graph_break(name: str) -> None:
    model, inputs, dynamic_shapes = _cuda_example(name)
    result = compile(model, inputs, dynamic_shapes=dynamic_shapes)
    assert (result.report.engines, result.report.graph_breaks) == (1, 0), result.report
    assert result.report.regions
    with torch.no_grad():
        _assert_matches(result.module(*inputs), model(*inputs))


@pytest.mark.tensorrt
@pytest.mark.gpu
@pytest.mark.parametrize("name", COMPILED_EXAMPLES)
def test_registered_pass_makes_plain_torch_tensorrt_compile_one_engine(name: str) -> None:
    import torch_tensorrt
    from torch_tensorrt.dynamo.lowering.passes._aten_lowering_pass import (
        ATEN_POST_LOWERING_PASSES,
    )

    model, inputs, dynamic_shapes = _cuda_example(name)
    ep = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes)
    count = len(ATEN_POST_LOWERING_PASSES.passes)
    handle = register_lowering_pass()
    try:
        register_lowering_pass()  # idempotent
        assert len(ATEN_POST_LOWERING_PASSES.passes) == count + 1
        assert ATEN_POST_LOWERING_PASSES.passes[-1] is lowering_pass
        module = torch_tensorrt.dynamo.compile(ep, inputs=list(inputs))
    finally:
        handle.destroy()
    assert len(ATEN_POST_LOWERING_PASSES.passes) == count
    assert segment_counts(module) == (1, 0)
    with torch.no_grad():
        _assert_matches(module(*inputs), model(*inputs))


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_compile_of_the_data_dependent_example_still_matches_eager() -> None:
    """Whatever Torch-TensorRT does with masked_select, the erfinv region is a plugin."""
    model, inputs, dynamic_shapes = _cuda_example("data_dependent")
    result = compile(model, inputs, dynamic_shapes=dynamic_shapes)
    assert result.report.regions and result.report.engines >= 1
    with torch.no_grad():
        _assert_matches(result.module(*inputs), model(*inputs))


def test_implementations_say_why_a_region_stays_jit() -> None:
    from trt_autoplugin import autoplugin, examples
    from trt_autoplugin.lowering import implementations
    from trt_autoplugin.support import SnapshotSupport

    regions = autoplugin(examples.export_example("cumulative"), support=SnapshotSupport()).regions
    kernels, entries = implementations(regions, aot=False)
    assert kernels == (None,) * len(regions)
    assert [e.op for e in entries] == [r.name for r in regions]
    assert {e.implementation for e in entries} == {Implementation.JIT}
    assert all(str(e.reason) == "AOT kernels were not requested" for e in entries)
    assert {e.reason.kind for e in entries} == {RefusalKind.NOT_REQUESTED}
    if not torch.cuda.is_available():
        _, entries = implementations(regions, aot=True)
        assert all("no CUDA device" in e.reason.message for e in entries)
        assert {e.reason.kind for e in entries} == {RefusalKind.ENVIRONMENT}


def test_jit_entries_say_which_outputs_are_copied_and_why() -> None:
    from trt_autoplugin import autoplugin, examples
    from trt_autoplugin.lowering import implementations
    from trt_autoplugin.support import SnapshotSupport

    copies = {}
    for name in ("cumulative", "custom_op", "data_dependent"):
        regions = autoplugin(examples.export_example(name), support=SnapshotSupport()).regions
        _, entries = implementations(regions, aot=False)
        copies.update({r.targets[0]: e.copies for r, e in zip(regions, entries, strict=True)})
    assert copies["aten.logcumsumexp.default"] == ()  # written in place by logcumsumexp.out
    assert copies["aten.cummax.default"] == ()
    custom = [c for t, c in copies.items() if t.startswith("trt_autoplugin_examples")][0]
    assert len(custom) == 2 and all("has no out= form" in c for c in custom)
    assert "data-dependent outputs" in copies["aten.masked_select.default"][0]


def test_repeated_region_ops_build_one_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeated blocks outline to one region op (one plugin): its kernel is built once."""
    from trt_autoplugin import autoplugin, examples, lowering
    from trt_autoplugin.support import SnapshotSupport

    regions = autoplugin(examples.export_example("cumulative"), support=SnapshotSupport()).regions
    built = []

    def counted(body):
        built.append(body.digest())
        return real(body)

    real = lowering.aot_or_reason
    monkeypatch.setattr(lowering, "aot_or_reason", counted)
    kernels, entries = lowering.implementations([*regions, *regions], aot=True)
    assert sorted(built) == sorted(r.body.digest() for r in regions)
    assert len(entries) == 2 * len(regions)
    assert entries[: len(regions)] == entries[len(regions) :]
