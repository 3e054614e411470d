"""`aot.antialias`: ``aten._upsample_bilinear2d_aa`` as a gather and a sum over a static window,
against ATen's own kernel.

The CPU reference is ATen's CPU kernel, the same filter and spans as its CUDA one, with three
quirks the strategies keep away from: it has no float16/bfloat16 kernel (those compare with the
float64 result rounded once), it returns a constant column when the output width is 1 and the
height is not (the transposed problem is compared instead), and it skips a dim whose sizes are
equal even where a scale factor says otherwise (no scale factors are drawn for such dims).
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from trt_autoplugin.aot.antialias import upsample_bilinear2d_aa
from trt_autoplugin.aot.decompositions import INDUCTOR_DECOMPOSITIONS, inductor_ready
from trt_autoplugin.errors import AotError

aten = torch.ops.aten

# (rtol, atol). float64: the same sums in another order. float32: weights computed as ATen's
# in float32 and a window of at most ~2 * scale taps summed in another order, a few ulp of
# the largest |input| (standard normal inputs). float16/bfloat16: computed in float32 and
# rounded once, against float64 rounded once: within one ulp of the dtype, plus the float32
# part.
TOLERANCES = {
    torch.float64: (1e-12, 1e-12),
    torch.float32: (1e-5, 2e-6),
    torch.float16: (2.0**-10, 2.0**-12),
    torch.bfloat16: (2.0**-7, 2.0**-9),
}


def _reference(x: torch.Tensor, size: tuple[int, int], align_corners: bool) -> torch.Tensor:
    wide = x.double() if x.dtype in (torch.float16, torch.bfloat16) else x
    if size[1] == 1 and size[0] > 1:  # ATen's CPU kernel is wrong here: transpose the problem
        flipped = aten._upsample_bilinear2d_aa(wide.transpose(2, 3), size[::-1], align_corners)
        return flipped.transpose(2, 3).to(x.dtype)
    return aten._upsample_bilinear2d_aa(wide, list(size), align_corners).to(x.dtype)


@given(
    n=st.integers(0, 2),
    c=st.integers(1, 3),
    in_size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    out_size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    align_corners=st.booleans(),
    dtype=st.sampled_from(list(TOLERANCES)),
    seed=st.integers(0, 2**31 - 1),
)
def test_matches_atens_kernel_up_and_down(
    n, c, in_size, out_size, align_corners, dtype, seed
) -> None:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, *in_size, generator=generator, dtype=torch.float64).to(dtype)
    got = upsample_bilinear2d_aa(x, list(out_size), align_corners)
    assert got.shape == (n, c, *out_size) and got.dtype == dtype and got.is_contiguous()
    rtol, atol = TOLERANCES[dtype]
    torch.testing.assert_close(got, _reference(x, out_size, align_corners), rtol=rtol, atol=atol)


@given(
    in_size=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    scales=st.tuples(st.floats(0.2, 5.0), st.floats(0.2, 5.0)),
)
def test_scale_factors_set_the_filter_as_atens(in_size, scales) -> None:
    # As F.interpolate(scale_factor=s, recompute_scale_factor=False) calls it: out = in * s.
    out_size = [max(1, int(i * s)) for i, s in zip(in_size, scales, strict=True)]
    # ATen's CPU kernel ignores a scale for a dim whose sizes are equal; CUDA's doesn't.
    h, w = (s if i != o else None for s, i, o in zip(scales, in_size, out_size, strict=True))
    if out_size[1] == 1 and out_size[0] > 1:
        return  # ATen's CPU kernel is wrong there (module docstring)
    x = torch.randn(1, 2, *in_size, dtype=torch.float64)
    got = upsample_bilinear2d_aa(x, out_size, False, h, w)
    want = aten._upsample_bilinear2d_aa(x, out_size, False, h, w)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_a_symbolic_input_height_is_refused_with_the_reason() -> None:
    class Resize(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.interpolate(x, size=(8, 9), mode="bilinear", antialias=True)

    height = torch.export.Dim("height", min=2, max=64)
    ep = torch.export.export(Resize(), (torch.randn(1, 3, 20, 20),), dynamic_shapes=({2: height},))
    with pytest.raises(AotError, match="needs a static input height"):
        inductor_ready(ep.run_decompositions().graph_module)  # .vec becomes .default


def test_the_decomposition_is_registered_for_inductor() -> None:
    assert INDUCTOR_DECOMPOSITIONS[aten._upsample_bilinear2d_aa.default] is upsample_bilinear2d_aa


# --- on the GPU ----------------------------------------------------------------------------------


class _Preprocess(torch.nn.Module):
    """torchvision's Resize(antialias=True) on a batch of images, then a scale."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        resized = torch.nn.functional.interpolate(
            x, size=self.size, mode="bilinear", antialias=True
        )
        return resized * 2 - 1


@pytest.mark.gpu
@pytest.mark.parametrize(
    ("image", "size"),
    [((240, 320), (96, 128)), ((480, 640), (256, 341))],  # the second: MobileNetV3's resize
)
def test_the_resize_region_gets_one_checked_aot_kernel(image, size) -> None:
    from trt_autoplugin import autoplugin
    from trt_autoplugin.aot import AotKernel
    from trt_autoplugin.aot.build import aot_kernel

    batch = torch.export.Dim("batch", min=1, max=64)
    sample = (torch.randn(2, 3, *image, device="cuda"),)
    ep = torch.export.export(_Preprocess(size).cuda(), sample, dynamic_shapes=({0: batch},))
    regions = [r for r in autoplugin(ep).regions if "_upsample_bilinear2d_aa" in str(r.targets)]
    (region,) = regions
    kernel = aot_kernel(region.body)  # raises AotError with the reason where it stays JIT
    assert isinstance(kernel, AotKernel)
    assert all(t.checked_shapes for t in kernel.tactics())
