"""Real models beyond the built-in examples, for the Torch-TensorRT dryrun and the CPU tests.

Each entry of `MODELS` returns ``(model, example_inputs, dynamic_shapes)``, as
`trt_autoplugin.examples` does; ``runner.py`` imports it for names that are not examples.
"""

from collections.abc import Callable

import torch
from torch import nn
from torch.export import Dim

Model = tuple[nn.Module, tuple[torch.Tensor, ...], tuple[dict[int, Dim], ...]]

# The example batch is 2 or more: export specializes a dim whose sample value is 0 or 1.
BATCH_MAX = 4096


class GlobalFilter(nn.Module):
    """GFNet's global filter: rfft2, times a learned complex ``nn.Parameter``, irfft2.

    Unlike the ``spectral`` example, the weight is complex itself (``dtype=torch.cfloat``), as in
    GFNet and neural-operator code, so the program's state holds a complex parameter.
    """

    def __init__(self, dim: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.complex_weight = nn.Parameter(
            0.02 * torch.randn(size, size // 2 + 1, dim, dtype=torch.cfloat)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, size, size, dim)
        spectrum = torch.fft.rfft2(x, dim=(1, 2), norm="ortho")
        spectrum = spectrum * self.complex_weight
        return torch.fft.irfft2(spectrum, s=(self.size, self.size), dim=(1, 2), norm="ortho")


class GlobalFilterNet(nn.Module):
    """Patch embedding -> one GFNet block (norm, global filter, MLP) -> pooled linear head."""

    def __init__(self, dim: int = 16, size: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, dim, kernel_size=2, stride=2)
        self.norm1 = nn.LayerNorm(dim)
        self.filter = GlobalFilter(dim, size)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.embed(image).permute(0, 2, 3, 1)  # (batch, size, size, dim)
        x = x + self.filter(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return self.head(x.mean(dim=(1, 2)))


def global_filter(*, batch_min: int = 1) -> Model:
    """GFNet-style global filter between real layers; dynamic batch ``[batch_min, 4096]``."""
    torch.manual_seed(0)
    model = GlobalFilterNet().eval()
    image = torch.randn(3, 3, 16, 16)
    return model, (image,), ({0: Dim("batch", min=batch_min, max=BATCH_MAX)},)


class LogSpaceScan(nn.Module):
    """A gated linear recurrence computed as a parallel scan in log space (Heinsen 2023, the
    form Mamba-style layers use off-GPU): ``h_t = a_t * h_{t-1} + b_t`` via ``logcumsumexp``."""

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.gates = nn.Linear(features, 2 * features)
        self.out = nn.Linear(features, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, features)
        log_a, b = self.gates(x).chunk(2, dim=-1)
        log_a = -nn.functional.softplus(log_a)  # decay in (0, 1)
        a_star = torch.cumsum(log_a, dim=1)
        log_h = a_star + torch.logcumsumexp(torch.log(nn.functional.softplus(b)) - a_star, dim=1)
        return self.out(torch.exp(log_h)) + x


class SplineCoupling(nn.Module):
    """A rational-quadratic spline coupling layer (neural spline flows), reduced to its bin
    search: ``searchsorted`` finds each value's bin among learned, monotone knots."""

    def __init__(self, features: int = 8, bins: int = 6) -> None:
        super().__init__()
        self.half = features // 2
        self.widths = nn.Linear(self.half, self.half * bins)
        self.heights = nn.Linear(self.half, self.half * bins)
        self.bins = bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, features), values in (0, 1)
        cond, value = x[:, : self.half], x[:, self.half :].contiguous()
        shape = (x.shape[0], self.half, self.bins)
        widths = torch.softmax(self.widths(cond).reshape(shape), dim=-1)
        heights = torch.softmax(self.heights(cond).reshape(shape), dim=-1)
        knots = nn.functional.pad(torch.cumsum(widths, dim=-1), (1, 0))[..., :-1].contiguous()
        index = torch.searchsorted(knots, value.unsqueeze(-1)).clamp(1, self.bins) - 1
        left = torch.gather(knots, -1, index)
        width = torch.gather(widths, -1, index)
        below = torch.gather(nn.functional.pad(torch.cumsum(heights, -1), (1, 0)), -1, index)
        height = torch.gather(heights, -1, index)
        moved = below + height * (value.unsqueeze(-1) - left) / width
        return torch.cat([cond, moved.squeeze(-1)], dim=-1)


class RotaryAttention(nn.Module):
    """A LLaMA-style attention block with rotary embeddings applied through complex numbers
    (``view_as_complex`` times a complex ``freqs_cis`` buffer). Every op has a converter: a
    control that the pass leaves to Torch-TensorRT's own complex rewrite."""

    def __init__(self, dim: int = 32, heads: int = 4, length: int = 16) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim, bias=False)
        inverse = 1.0 / (10000 ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))
        angles = torch.outer(torch.arange(length).float(), inverse)
        self.register_buffer("freqs_cis", torch.polar(torch.ones_like(angles), angles))

    def _rotated(self, t: torch.Tensor) -> torch.Tensor:  # (batch, length, heads, head_dim)
        pairs = torch.view_as_complex(t.float().reshape(*t.shape[:-1], -1, 2))
        rotated = pairs * self.freqs_cis[None, :, None, :]
        return torch.view_as_real(rotated).flatten(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, length, dim)
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).reshape(batch, length, 3, self.heads, self.head_dim).unbind(2)
        q, k = self._rotated(q), self._rotated(k)
        out = nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        return x + self.proj(out.transpose(1, 2).reshape(batch, length, dim))


class WideValueAttention(nn.Module):
    """Attention whose values are wider than its keys, with ``dropout_p=0.0`` spelled out.

    Torch-TensorRT's attention validator refuses keys and values of different shapes, so
    without the pass the attention runs in PyTorch; ``dropout_p=0.0`` draws nothing, so the
    pass may outline it, although the op is tagged as random."""

    def __init__(self, dim: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qk = nn.Linear(dim, 2 * dim, bias=False)
        self.v = nn.Linear(dim, 2 * dim, bias=False)
        self.proj = nn.Linear(2 * dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, length, dim)
        batch, length, _ = x.shape
        q, k = self.qk(x).reshape(batch, length, 2, self.heads, self.head_dim).unbind(2)
        v = self.v(x).reshape(batch, length, self.heads, 2 * self.head_dim)
        out = nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), dropout_p=0.0
        )
        return x + self.proj(out.transpose(1, 2).reshape(batch, length, -1))


def log_space_scan(*, batch_min: int = 1) -> Model:
    """Log-space parallel scan (logcumsumexp) between linear layers; dynamic batch."""
    torch.manual_seed(0)
    x = torch.randn(3, 12, 16)
    return LogSpaceScan().eval(), (x,), ({0: Dim("batch", min=batch_min, max=BATCH_MAX)},)


def spline_coupling(*, batch_min: int = 1) -> Model:
    """Neural-spline-flow coupling: searchsorted over learned knots; dynamic batch."""
    torch.manual_seed(0)
    x = torch.rand(3, 8)
    return SplineCoupling().eval(), (x,), ({0: Dim("batch", min=batch_min, max=BATCH_MAX)},)


def rotary_attention(*, batch_min: int = 1) -> Model:
    """LLaMA-style rotary attention (complex arithmetic Torch-TensorRT rewrites); dynamic batch."""
    torch.manual_seed(0)
    x = torch.randn(3, 16, 32)
    return RotaryAttention().eval(), (x,), ({0: Dim("batch", min=batch_min, max=BATCH_MAX)},)


def wide_value_attention(*, batch_min: int = 1) -> Model:
    """Attention with values wider than keys and ``dropout_p=0.0``; dynamic batch."""
    torch.manual_seed(0)
    x = torch.randn(3, 16, 32)
    return WideValueAttention().eval(), (x,), ({0: Dim("batch", min=batch_min, max=BATCH_MAX)},)


class SparseKeypoints(nn.Module):
    """Keypoint detection: ``nonzero`` finds the cells whose score passes a threshold (a
    data-dependent count), their features are gathered and weighted by a Bessel-function
    response (``i0e``, which Torch-TensorRT can't convert)."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.score = nn.Conv2d(channels, 1, 3, padding=1)
        self.features = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, channels, h, w)
        scores = torch.sigmoid(self.score(x)).squeeze(1)
        points = torch.nonzero(scores > 0.5)  # (count, 3): batch, row, column
        picked = self.features(x).permute(0, 2, 3, 1)[points[:, 0], points[:, 1], points[:, 2]]
        response = (
            torch.special.i0e(picked) * scores[points[:, 0], points[:, 1], points[:, 2]][:, None]
        )
        return response.sum(0)


class MaskedTokens(nn.Module):
    """Token pruning by boolean-mask indexing: the tokens whose gate is open are kept (a
    data-dependent count) and pass through a log-gamma energy (``lgamma``, no converter)."""

    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.gate = nn.Linear(features, 1)
        self.value = nn.Linear(features, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, tokens, features)
        keep = self.gate(x).squeeze(-1) > 0
        kept = self.value(x)[keep]  # (count, features)
        return torch.lgamma(kept.abs() + 1).mean(0)


def sparse_keypoints(*, batch_min: int = 1) -> Model:
    """nonzero over a score map, then i0e on the gathered features; dynamic batch."""
    torch.manual_seed(0)
    x = torch.randn(3, 8, 12, 12)
    return SparseKeypoints().eval(), (x,), ({0: Dim("batch", min=batch_min, max=BATCH_MAX)},)


def masked_tokens(*, batch_min: int = 1) -> Model:
    """Boolean-mask indexing of tokens, then lgamma; dynamic batch."""
    torch.manual_seed(0)
    x = torch.randn(3, 10, 16)
    return MaskedTokens().eval(), (x,), ({0: Dim("batch", min=batch_min, max=BATCH_MAX)},)


MODELS: dict[str, Callable[[], Model]] = {
    "global_filter": global_filter,
    "log_space_scan": log_space_scan,
    "spline_coupling": spline_coupling,
    "rotary_attention": rotary_attention,
    "wide_value_attention": wide_value_attention,
    "sparse_keypoints": sparse_keypoints,
    "masked_tokens": masked_tokens,
}
