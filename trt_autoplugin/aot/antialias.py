"""``aten._upsample_bilinear2d_aa`` (antialiased bilinear resize) as ops Inductor fuses.

Inductor has no lowering for the antialiased resize that ``F.interpolate(..., antialias=True)``
and torchvision's ``Resize`` export to, so it calls back into ATen. `upsample_bilinear2d_aa`
writes it as a gather over a static window of input taps around each output pixel, weighted
and summed: one Triton kernel, with indirect loads and a reduction over the window. It follows
ATen's CUDA kernel (``upsample_gen2d_aa_out_frame`` in ``native/cuda/UpSampleBilinear2d.cu``
and ``upsample_antialias`` in ``native/cuda/UpSample.cuh``): Pillow's triangle filter stretched
by the scale when downsampling, each output pixel's taps normalized to sum to one.
"""

import math
import struct

import torch
from torch.fx.experimental.symbolic_shapes import is_concrete_int

from ..errors import AotError

# BilinearFilterFunctor::size: the triangle filter's width; its support is half of it.
_INTERP_SIZE = 2


def upsample_bilinear2d_aa(
    input: torch.Tensor,
    output_size: list[int],
    align_corners: bool,
    scales_h: float | None = None,
    scales_w: float | None = None,
) -> torch.Tensor:
    """``aten._upsample_bilinear2d_aa.default`` as a gather, a multiply and a sum.

    Weights, spans and the sum are computed in ATen's accumulate type (float64 for float64,
    float32 otherwise) and the result is rounded once. ATen's CUDA kernel also rounds the
    weights and the horizontal pass to float16/bfloat16 for those dtypes; Inductor would elide
    such casts inside a fused kernel anyway, so here those dtypes are closer to the exact result.

    Args:
        input: ``(N, C, H, W)``; N and C may be symbolic, H and W must be static.
        output_size: ``(out_h, out_w)``, static.
        align_corners: as the op's argument: the scale becomes ``(in - 1) / (out - 1)``.
        scales_h: the op's height scale factor; used, inverted, where given and positive.
        scales_w: the same for the width.

    Returns:
        ``(N, C, out_h, out_w)`` in ``input``'s dtype, contiguous.

    Raises:
        AotError: H, W or the output size is symbolic, which would make the window symbolic.
    """
    in_h, in_w, out_h, out_w = _static_sizes(input, output_size)
    acc = torch.float64 if input.dtype == torch.float64 else torch.float32
    row_index, row_weight, row_again = _taps(in_h, out_h, align_corners, scales_h, acc, input)
    col_index, col_weight, col_again = _taps(in_w, out_w, align_corners, scales_w, acc, input)
    rows, cols = (slice(None), None, slice(None), None), (None, slice(None), None, slice(None))
    # (N, C, out_h, out_w, window_h, window_w): every output pixel's window of input taps.
    gathered = input[:, :, row_index[rows], col_index[cols]].to(acc)
    terms = gathered * row_weight[rows] * col_weight[cols]
    # ATen divides each dim's weights by their total; sum(w_y) * sum(w_x) = sum(w_y * w_x)
    # divides the 2D sum once instead. Summed over the same (N, C, out_h, out_w, window) as the
    # numerator, Inductor fuses both reductions and the division into one kernel; an unrolled
    # total would outgrow the ops Inductor inlines (100) and get a kernel of its own.
    total = (row_again[rows] * col_again[cols]).expand(terms.shape).sum(dim=(-2, -1))
    # Nonzero weights are at least an ulp below 1, so a nonzero total is far above `tiny`; a
    # zero total (no tap in the span) leaves the sum as ATen leaves it, 0.
    total = torch.clamp_min(total, torch.finfo(acc).tiny)
    return (terms.sum(dim=(-2, -1)) / total).to(input.dtype)


def _static_sizes(input: torch.Tensor, output_size: list[int]) -> tuple[int, int, int, int]:
    """``(in_h, in_w, out_h, out_w)`` as Python ints.

    Raises:
        AotError: one of them is symbolic.
    """
    sizes = {"input height": input.shape[2], "input width": input.shape[3]}
    sizes |= {"output height": output_size[0], "output width": output_size[1]}
    symbolic = [name for name, size in sizes.items() if not is_concrete_int(size)]
    if symbolic:
        raise AotError(
            f"antialiased bilinear upsampling needs a static {' and '.join(symbolic)}: the "
            "window of input taps each output pixel sums over is sized by the input and output "
            "sizes, and Inductor's kernel needs it static"
        )
    return tuple(int(s) for s in sizes.values())


def _taps(
    in_size: int,
    out_size: int,
    align_corners: bool,
    scale_factor: float | None,
    acc: torch.dtype,
    like: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One dim's taps, each ``(out_size, window)``: the input index (clamped into range), its
    weight before normalizing (0 past the input's edge), and the same weight again, computed
    apart for the normalizing total (see below).

    Follows ``_compute_weights_span`` and ``_compute_weights``: ``center = scale * (i + 0.5)``,
    ``xmin = max(int(center - support + 0.5), 0)``, ``xsize = min(int(center + support + 0.5),
    in) - xmin``, ``w_j = filter((j + (xmin - center) + 0.5) * invscale)``, with the triangle
    filter ``max(0, 1 - |x|)``.
    """
    scale = _rounded(_area_pixel_scale(in_size, out_size, align_corners, scale_factor), acc)
    support = _rounded(_INTERP_SIZE * 0.5 * scale if scale >= 1.0 else _INTERP_SIZE * 0.5, acc)
    invscale = _rounded(1.0 / scale if scale >= 1.0 else 1.0, acc)
    window = _window(in_size, out_size, scale, support, acc)
    center = (torch.arange(out_size, dtype=acc, device=like.device)[:, None] + 0.5) * scale
    # int() truncates toward zero; below zero, xmin is clamped to 0 anyway.
    xmin = torch.clamp_min(torch.trunc(center - support + 0.5), 0)
    j = torch.arange(window, dtype=acc, device=like.device)
    tap = xmin + j
    offset = j + (xmin - center) + 0.5
    if invscale != 1.0:  # exact when 1, and one op fewer: see below
        offset = offset * invscale
    # ATen's span also ends at int(center + support + 0.5); taps past that end but inside the
    # input lie at |offset| >= 1, where the filter is 0, so ending the span at the input's
    # edge alone gives the same weights up to rounding, in fewer ops.
    inside = tap < in_size
    weight = torch.where(inside, torch.clamp_min(1 - offset.abs(), 0), 0.0)
    # The same weights, bit for bit, as a graph CSE can't merge with `weight`: Inductor inlines
    # a node two sums read only up to 30 ops, and stores a bigger one in a kernel of its own.
    again = torch.where(inside, torch.clamp_min(-offset.abs() + 1, 0), 0.0)
    return torch.clamp_max(tap, in_size - 1).to(torch.int64), weight, again


def _area_pixel_scale(
    in_size: int, out_size: int, align_corners: bool, scale_factor: float | None
) -> float:
    """ATen's ``area_pixel_compute_scale``: input pixels per output pixel."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale_factor is not None and scale_factor > 0:
        return 1.0 / scale_factor
    return in_size / out_size


def _rounded(value: float, acc: torch.dtype) -> float:
    """``value`` rounded to ``acc``, as ATen casts a host value or an op's result to it.

    Rounding a Python float result of float32 operands gives float32's own +, -, * and /:
    double rounding is exact for those when the wider type has 2p + 2 bits (53 >= 2 * 24 + 2).
    """
    return struct.unpack("f", struct.pack("f", value))[0] if acc == torch.float32 else value


def _window(in_size: int, out_size: int, scale: float, support: float, acc: torch.dtype) -> int:
    """The widest span, ``max(xsize)`` over the output pixels, in ``acc``'s arithmetic.

    Tighter than ATen's ``ceil(support) * 2 + 1`` buffer (2 taps instead of 3 when upsampling),
    and at least 1. Plain Python, not numpy: Dynamo would trace numpy into the graph.
    """
    widest = 1
    for i in range(out_size):
        center = _rounded(scale * (i + 0.5), acc)
        xmin = max(math.trunc(_rounded(_rounded(center - support, acc) + 0.5, acc)), 0)
        xmax = min(math.trunc(_rounded(_rounded(center + support, acc) + 0.5, acc)), in_size)
        widest = max(widest, xmax - xmin)
    return widest
