"""Built-in example models whose unsupported part is real in Torch-TensorRT 2.13.

Each example is a function returning ``(model, example_inputs, dynamic_shapes)``, ready for
``torch.export.export(model, example_inputs, dynamic_shapes=dynamic_shapes)``. Every example has a
dynamic batch dimension. They serve the command line, the tests and the benchmarks.
"""

from collections.abc import Callable

import torch
from torch import nn
from torch.export import Dim

Example = tuple[nn.Module, tuple[torch.Tensor, ...], tuple[dict[int, Dim], ...]]

# The example inputs use a batch above 1 because export specializes dims whose sample value is 0
# or 1. The dynamic batch starts at 1: Torch-TensorRT raises a minimum of 0 to 1 (with a
# warning), since a TensorRT optimization profile can't hold an empty dim. Tests of the pass alone
# export with ``min_batch=0`` to run the rewritten programs on empty batches too.
_BATCH_MAX = 4096


def _batch(min_batch: int) -> Dim:
    return Dim("batch", min=min_batch, max=_BATCH_MAX)


class SpectralBlock(nn.Module):
    """Conv -> FFT layer (rfft2, learned complex weights, irfft2) -> conv, as in FNO models."""

    def __init__(self, channels: int = 8, size: int = 16, modes: int = 6) -> None:
        super().__init__()
        self.size = size
        self.modes = modes
        self.lift = nn.Conv2d(3, channels, 3, padding=1)
        # Complex weights kept as (..., 2) reals: parameters and state dicts stay real-valued.
        scale = 1.0 / channels
        self.weight = nn.Parameter(scale * torch.randn(channels, modes, modes, 2))
        self.project = nn.Conv2d(channels, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.lift(x))
        spectrum = torch.fft.rfft2(h, norm="ortho")
        kept = spectrum[:, :, : self.modes, : self.modes] * torch.view_as_complex(self.weight)
        filtered = torch.fft.irfft2(kept, s=(self.size, self.size), norm="ortho")
        return self.project(h + filtered)


class GammaHead(nn.Module):
    """A distribution head: Gamma(alpha, beta) parameters and the entropy, via lgamma/digamma."""

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.alpha = nn.Linear(features, 4)
        self.beta = nn.Linear(features, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = nn.functional.softplus(self.alpha(x)) + 1e-3
        beta = nn.functional.softplus(self.beta(x)) + 1e-3
        entropy = (
            alpha - torch.log(beta) + torch.lgamma(alpha) + (1.0 - alpha) * torch.digamma(alpha)
        )
        return alpha / beta, entropy


_QUANTIZE_OP = "trt_autoplugin_examples::quantize_rows"


def quantize_rows_op() -> torch._ops.OpOverload:
    """The example user op ``trt_autoplugin_examples::quantize_rows``, registered on first use.

    It returns two outputs of different dtypes: int8 codes and a float32 scale per row.
    """
    namespace, name = _QUANTIZE_OP.split("::")
    packet = getattr(getattr(torch.ops, namespace), name, None)
    if packet is not None:
        return packet.default

    @torch.library.custom_op(_QUANTIZE_OP, mutates_args=())
    def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale = x.abs().amax(dim=-1, keepdim=True).clamp_min(1e-8) / 127.0
        codes = torch.round(x / scale).clamp(-127, 127).to(torch.int8)
        return codes, scale.to(torch.float32)

    @quantize_rows.register_fake
    def _(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = torch.empty_like(x, dtype=torch.int8)
        scale = x.new_empty((*x.shape[:-1], 1), dtype=torch.float32)
        return codes, scale

    return torch.ops.trt_autoplugin_examples.quantize_rows.default


class QuantizedLinear(nn.Module):
    """Linear -> user custom op (int8 codes + float32 scales) -> dequantize -> linear."""

    def __init__(self, features: int = 32) -> None:
        super().__init__()
        self.quantize = quantize_rows_op()
        self.inner = nn.Linear(features, features)
        self.outer = nn.Linear(features, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        codes, scale = self.quantize(self.inner(x))
        return self.outer(codes.to(torch.float32) * scale)


class MaskedBlock(nn.Module):
    """Keeps only the positive activations (masked_select: a data-dependent output size)."""

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.linear = nn.Linear(features, features)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.special.erfinv(torch.tanh(self.linear(x)) * 0.99)
        kept = torch.masked_select(h, h > 0)
        return h, kept.sum().reshape(1)


class CumulativeBlock(nn.Module):
    """Running log-sum-exp and running maximum along the sequence dim."""

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.linear = nn.Linear(features, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear(x)
        running = torch.logcumsumexp(h, dim=1)
        peak, where = torch.cummax(h, dim=1)
        return running - peak + where.to(h.dtype) * 0.01


def spectral(min_batch: int = 1) -> Example:
    """(a) rfft2 -> learned complex weights -> irfft2 between convolutions."""
    torch.manual_seed(0)
    return SpectralBlock().eval(), (torch.randn(2, 3, 16, 16),), ({0: _batch(min_batch)},)


def distribution(min_batch: int = 1) -> Example:
    """(b) a Gamma distribution head using lgamma and digamma."""
    torch.manual_seed(0)
    return GammaHead().eval(), (torch.randn(3, 16),), ({0: _batch(min_batch)},)


def custom_op(min_batch: int = 1) -> Example:
    """(c) a user-defined torch.library custom op with two outputs of different dtypes."""
    torch.manual_seed(0)
    return QuantizedLinear().eval(), (torch.randn(3, 32),), ({0: _batch(min_batch)},)


def data_dependent(min_batch: int = 1) -> Example:
    """(d) masked_select, whose output size depends on the data: a plugin with a size tensor."""
    torch.manual_seed(0)
    return MaskedBlock().eval(), (torch.randn(3, 16),), ({0: _batch(min_batch)},)


def cumulative(min_batch: int = 1) -> Example:
    """(e) logcumsumexp and cummax along a dim."""
    torch.manual_seed(0)
    return CumulativeBlock().eval(), (torch.randn(3, 10, 16),), ({0: _batch(min_batch)},)


EXAMPLES: dict[str, Callable[..., Example]] = {
    "spectral": spectral,
    "distribution": distribution,
    "custom_op": custom_op,
    "data_dependent": data_dependent,
    "cumulative": cumulative,
}


def example_names() -> tuple[str, ...]:
    """Names of the built-in examples, in the order the CLI lists them."""
    return tuple(EXAMPLES)


def load_example(name: str, *, min_batch: int = 1) -> Example:
    """The example called ``name``.

    Args:
        name: one of `example_names`.
        min_batch: the lower bound of the dynamic batch (1, what Torch-TensorRT accepts; 0 to
            run the pass's output on empty batches).

    Raises:
        KeyError: no example has that name; the message lists the names.
    """
    if name not in EXAMPLES:
        raise KeyError(f"no example named {name!r}; choose one of {', '.join(EXAMPLES)}")
    return EXAMPLES[name](min_batch)


def export_example(name: str, *, min_batch: int = 1) -> torch.export.ExportedProgram:
    """The example called ``name``, exported with its dynamic batch dimension."""
    model, inputs, dynamic_shapes = load_example(name, min_batch=min_batch)
    return torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes)
