"""graph.py: names, descriptions and symbolic shapes of FX nodes, on real exported programs."""

import operator

import sympy
import torch
from torch.export import Dim

from trt_autoplugin.graph import (
    describe_node,
    has_complex_values,
    is_tensor_node,
    symbolic_dim,
    symbolic_shape,
    target_name,
    tensor_values,
)


class _Block(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(x)
        return torch.fft.irfft(spectrum * 2, n=x.shape[-1]) + torch.lgamma(x.abs() + 1)


def _program() -> torch.export.ExportedProgram:
    return torch.export.export(_Block(), (torch.randn(3, 8),), dynamic_shapes=({0: Dim("b")},))


def test_target_names_are_canonical() -> None:
    assert target_name(torch.ops.aten.add.Tensor) == "aten.add.Tensor"
    assert target_name(torch.ops.aten.add) == "aten.add"
    assert target_name(operator.getitem) == "_operator.getitem"
    assert target_name("x") == "x"


def test_a_node_is_described_by_name_target_and_the_users_line() -> None:
    (lgamma,) = [n for n in _program().graph.nodes if n.target is torch.ops.aten.lgamma.default]
    text = describe_node(lgamma)
    assert text.startswith("node 'lgamma' (aten.lgamma.default) at ")
    assert "test_graph.py" in text and "forward" in text


def test_complex_values_are_seen_on_the_node_or_its_inputs() -> None:
    graph = _program().graph
    nodes = {n.name: n for n in graph.nodes}
    spectrum = next(n for n in graph.nodes if is_tensor_node(n) and n.meta["val"].is_complex())
    (user,) = spectrum.users
    assert has_complex_values(spectrum)  # its output is complex
    assert has_complex_values(user)  # its input is
    assert not has_complex_values(nodes["lgamma"])
    assert is_tensor_node(nodes["lgamma"]) and not is_tensor_node(nodes["output"])


def test_symbolic_shapes_keep_symbols_and_fold_integers() -> None:
    program = _program()
    (x,) = [n for n in program.graph.nodes if n.op == "placeholder"]
    batch, width = symbolic_shape(x.meta["val"])
    assert isinstance(batch, sympy.Symbol) and width == 8 and isinstance(width, int)
    assert symbolic_dim(5) == 5
    assert tensor_values((x.meta["val"], [x.meta["val"], 3])) == [x.meta["val"]] * 2
