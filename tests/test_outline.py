"""Outlining complex state: parameters, buffers and constants enter region ops as real views."""

import copy

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import batch_sizes
from torch import nn
from torch.export import Dim
from torch.export.graph_signature import InputKind

from trt_autoplugin import autoplugin
from trt_autoplugin.errors import OutlineError
from trt_autoplugin.outline import NAMESPACE, outline_regions, real_view
from trt_autoplugin.partition import Region, propose_regions
from trt_autoplugin.support import OpSetSupport, SnapshotSupport, support_report

_ORACLE = SnapshotSupport()


class _ComplexState(nn.Module):
    """An FFT filter reading a complex parameter, buffer, non-persistent buffer and constant."""

    def __init__(self, channels: int, length: int, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        modes = length // 2 + 1

        def complex_values() -> torch.Tensor:
            return torch.randn(channels, modes, dtype=torch.cfloat, generator=generator)

        self.length = length
        self.weight = nn.Parameter(complex_values())
        self.register_buffer("gain", complex_values())
        self.register_buffer("shift", complex_values(), persistent=False)
        self.phase = complex_values()  # a plain attribute: export lifts it as a constant
        self.lift = nn.Linear(length, length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, channels, length)
        spectrum = torch.fft.rfft(self.lift(x), norm="ortho")
        filtered = spectrum * self.weight * self.gain + self.shift * self.phase
        return torch.relu(torch.fft.irfft(filtered, n=self.length, norm="ortho")) + x


def _exported(model: nn.Module, channels: int, length: int) -> torch.export.ExportedProgram:
    # Example batch 2: export specializes a dim whose sample value is 0 or 1.
    x = torch.randn(2, channels, length)
    return torch.export.export(model, (x,), dynamic_shapes=({0: Dim("batch", min=0, max=64)},))


def _eager_or_error(model: nn.Module, x: torch.Tensor) -> torch.Tensor | Exception:
    try:
        return model(x)
    except RuntimeError as e:  # MKL's FFT rejects an empty batch on the CPU: then both must fail
        return e


def _assert_same_bits(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    assert torch.equal(a.view(torch.int32), b.view(torch.int32))


def _region_inputs(gm: torch.fx.GraphModule) -> list[torch.fx.Node]:
    return [
        arg
        for node in gm.graph.nodes
        if getattr(node.target, "namespace", None) == NAMESPACE
        for arg in node.all_input_nodes
    ]


@given(
    channels=st.integers(1, 4),
    length=st.integers(2, 12),
    batch=batch_sizes(max_value=64),  # _exported: Dim("batch", min=0, max=64)
    seed=st.integers(0, 2**31 - 1),
)
def test_complex_state_enters_as_real_views_and_outputs_equal_eager(
    channels: int, length: int, batch: int, seed: int
) -> None:
    model = _ComplexState(channels, length, seed).eval()
    ep = _exported(model, channels, length)
    result = autoplugin(ep, support=_ORACLE)
    assert len(result.regions) == 1
    (region,) = result.regions
    assert {"aten._fft_r2c.default", "aten._fft_c2r.default"} <= set(region.targets)
    assert all(not s.dtype.is_complex for s in (*region.input_specs, *region.output_specs))
    x = torch.randn(batch, channels, length, generator=torch.Generator().manual_seed(seed))
    expected = _eager_or_error(model, x)
    if isinstance(expected, Exception):
        with pytest.raises(type(expected)):
            result.program.module()(x)
        return
    torch.testing.assert_close(result.program.module()(x), expected)


def test_program_state_is_rewritten_in_place_with_the_same_bits() -> None:
    model = _ComplexState(3, 8).eval()
    ep = _exported(model, 3, 8)
    program = autoplugin(ep, support=_ORACLE).program
    state = {**program.state_dict, **program.constants}
    for key in ("weight", "gain", "shift", "phase"):
        _assert_same_bits(state[key], torch.view_as_real(getattr(model, key).detach()))
    assert isinstance(program.state_dict["weight"], nn.Parameter)
    assert set(program.state_dict) == set(ep.state_dict)
    assert set(program.constants) == set(ep.constants)
    assert program.graph_signature.input_specs == ep.graph_signature.input_specs
    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    for spec in program.graph_signature.input_specs:
        if spec.kind is not InputKind.USER_INPUT:
            value = placeholders[spec.arg.name].meta["val"]
            assert tuple(value.shape) == tuple(state[spec.target].shape), spec
            assert value.dtype == torch.float32, spec
    assert all(not a.meta["val"].dtype.is_complex for a in _region_inputs(program.graph_module))
    # The caller's program is untouched.
    assert ep.state_dict["weight"].dtype == torch.complex64


def test_a_complex_attribute_read_by_get_attr_gets_a_real_attribute() -> None:
    """The lowering pass's view: a post-lowering GraphModule reads its state with get_attr."""
    model = _ComplexState(2, 6).eval()
    gm = _exported(model, 2, 6).run_decompositions(_ORACLE.decompositions()).module()
    partition = propose_regions(gm, support_report(gm, _ORACLE))
    assert len(partition.regions) == 1
    _, _, real_values = outline_regions(gm, partition.regions)
    assert real_values == {}  # nothing for a caller to store: the attributes are on gm
    inputs = _region_inputs(gm)
    targets = {n.target for n in inputs if n.op == "get_attr"}
    assert targets == {"weight_as_real", "gain_as_real", "shift_as_real", "phase_as_real"}
    assert isinstance(gm.weight_as_real, nn.Parameter)
    assert "gain_as_real" in gm.state_dict() and "shift_as_real" not in gm.state_dict()
    assert "shift_as_real" in dict(gm.named_buffers())
    for name in ("weight", "gain", "shift", "phase"):
        _assert_same_bits(getattr(gm, f"{name}_as_real"), torch.view_as_real(getattr(model, name)))
    complex_reads = [n for n in gm.graph.nodes if n.op == "get_attr" and n.meta["val"].is_complex()]
    assert complex_reads == []  # the complex get_attrs only the region read are gone
    x = torch.randn(3, 2, 6)
    torch.testing.assert_close(gm(x), model(x))


def test_a_frozen_complex_constant_gets_a_real_attribute() -> None:
    """Torch-TensorRT's constant_fold turns ``view_as_complex(weight)`` into a complex get_attr."""

    class Spectral(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(4, 5, 2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            spectrum = torch.fft.rfft(x) * torch.view_as_complex(self.weight)
            return torch.fft.irfft(spectrum, n=8) * 2

    model = Spectral().eval()
    gm = _exported(model, 4, 8).run_decompositions(_ORACLE.decompositions()).module()
    _fold_view_as_complex(gm)
    partition = propose_regions(gm, support_report(gm, _ORACLE))
    (region,) = partition.regions
    assert "_frozen_param0" in region.inputs
    outline_regions(gm, partition.regions)
    (real,) = [n for n in _region_inputs(gm) if n.op == "get_attr"]
    assert real.target == "_frozen_param0_as_real"
    _assert_same_bits(gm._frozen_param0_as_real, model.weight.detach())
    x = torch.randn(3, 4, 8)
    torch.testing.assert_close(gm(x), model(x))


def _fold_view_as_complex(gm: torch.fx.GraphModule) -> None:
    (node,) = [n for n in gm.graph.nodes if n.target is torch.ops.aten.view_as_complex.default]
    source = node.args[0]
    gm.register_buffer("_frozen_param0", torch.view_as_complex(getattr(gm, source.target)))
    with gm.graph.inserting_before(node):
        frozen = gm.graph.get_attr("_frozen_param0")
    frozen.meta["val"] = node.meta["val"]
    node.replace_all_uses_with(frozen)
    gm.graph.erase_node(node)
    gm.graph.erase_node(source)
    gm.recompile()


def test_a_parameter_shared_by_two_chains_and_a_native_user_is_made_real_once() -> None:
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(5, dtype=torch.cfloat))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            first = torch.fft.irfft(torch.fft.rfft(x) * self.weight, n=8)
            second = torch.fft.irfft(torch.fft.rfft(x.exp()) * self.weight, n=8)
            # view_as_real of the parameter alone: a chain Torch-TensorRT rewrites natively.
            return first + second + torch.view_as_real(self.weight).sum()

    model = Shared().eval()
    ep = _exported(model, 3, 8)
    result = autoplugin(ep, support=_ORACLE)
    assert len(result.regions) == 2
    _assert_same_bits(result.program.state_dict["weight"], torch.view_as_real(model.weight))
    x = torch.randn(4, 3, 8)
    torch.testing.assert_close(result.program.module()(x), model(x))


@given(
    shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
    values=st.lists(st.floats(width=32), min_size=2 * 64, max_size=2 * 64),
    parameter=st.booleans(),
)
def test_real_view_keeps_every_bit(shape: list[int], values: list[float], parameter: bool) -> None:
    count = 1
    for d in shape:
        count *= d
    value = torch.view_as_complex(torch.tensor(values[: 2 * count]).reshape(*shape, 2))
    value = nn.Parameter(value, requires_grad=False) if parameter else value
    real = real_view(value)
    assert isinstance(real, nn.Parameter) == parameter
    assert real.dtype == torch.float32 and tuple(real.shape) == (*shape, 2)
    _assert_same_bits(real, torch.view_as_real(value.detach()))
    _assert_same_bits(torch.view_as_real(torch.view_as_complex(real)), real)


def test_a_complex_program_input_is_refused_with_its_name() -> None:
    class ComplexInput(nn.Module):
        def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
            return torch.fft.irfft(spectrum * 2, n=8).relu()

    z = torch.randn(2, 5, dtype=torch.cfloat)
    ep = torch.export.export(ComplexInput(), (z,))
    result = autoplugin(ep, support=_ORACLE)
    assert result.regions == ()
    reasons = {e.target: e.reason for e in result.report.left_in_graph}
    assert "spectrum, a complex program input" in reasons["aten.mul.Tensor"]
    assert "torch.view_as_real(spectrum)" in reasons["aten.mul.Tensor"]
    assert "aten._fft_c2r.default" in reasons
    torch.testing.assert_close(result.program.module()(z), ComplexInput()(z))


def test_outlining_a_complex_program_input_raises_before_changing_the_graph() -> None:
    class ComplexInput(nn.Module):
        def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
            return torch.fft.irfft(spectrum * 2, n=8)

    gm = torch.export.export(ComplexInput(), (torch.randn(2, 5, dtype=torch.cfloat),)).graph_module
    names = [n.name for n in gm.graph.nodes if n.op == "call_function"]
    before = str(gm.graph)
    region = Region(tuple(names), ("spectrum",), (names[-1],))
    with pytest.raises(OutlineError, match="reads node 'spectrum'.*not a parameter"):
        outline_regions(gm, [region])
    assert str(gm.graph) == before


class _Centre(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - torch.var_mean(x, dim=(0, 2), keepdim=True)[1]


@pytest.fixture(scope="module")
def centre_program() -> torch.export.ExportedProgram:
    # With a dynamic batch, var_mean's decomposition divides a sum by sym_float(s0 * 5).
    ep = torch.export.export(
        _Centre(), (torch.randn(4, 8, 5),), dynamic_shapes=({0: Dim("batch", min=1, max=64)},)
    )
    return ep.run_decompositions(SnapshotSupport().decompositions())


@given(batch=batch_sizes(max_value=64).filter(lambda b: b >= 1))
def test_a_sym_float_only_regions_read_is_recomputed_inside_and_erased(
    centre_program: torch.export.ExportedProgram, batch: int
) -> None:
    gm = copy.deepcopy(centre_program).graph_module
    assert any(n.target is torch.sym_float for n in gm.graph.nodes)
    oracle = OpSetSupport(unsupported=[torch.ops.prims.div.default], base=SnapshotSupport())
    partition = propose_regions(gm, support_report(gm, oracle))
    (region,), _, _ = outline_regions(gm, partition.regions, recomputed=partition.recomputed)
    assert all(n.target is not torch.sym_float for n in gm.graph.nodes)
    x = torch.randn(batch, 8, 5)
    inputs = [x.sum(dim=(0, 2), keepdim=True), x]
    (real,) = region.body.graph_module(*inputs)
    torch.testing.assert_close(real, inputs[0] / (batch * 5))
    torch.testing.assert_close(region.op(*inputs), real)
    with torch._subclasses.FakeTensorMode() as mode:
        fake = region.op(*[mode.from_tensor(t) for t in inputs])
    assert (fake.shape, fake.dtype) == (real.shape, real.dtype)
