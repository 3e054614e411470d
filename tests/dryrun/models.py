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


MODELS: dict[str, Callable[[], Model]] = {
    "global_filter": global_filter,
}
