"""Why lgamma's AOT kernel trails ATen's at 1 GiB, and which Triton config or formulation closes
the gap: float32 lgamma over 2**27 elements (512 MiB read, 512 MiB written) on the GPU.

Timed, each with `aot.launch.device_seconds` (the one GPU timing function of the library):

* copy: ``y.copy_(x)``, the floor a kernel that reads and writes these bytes can reach;
* eager: ``torch.lgamma(x, out=y)`` (ATen's vectorized CUDA kernel, CUDA's ``lgammaf``);
* Triton, one element per lane per block: ``libdevice.lgamma`` over XBLOCK x num_warps configs,
  the grid Inductor's pointwise kernel uses (one block per XBLOCK elements);
* Triton, grid-stride: a fixed grid of ``waves`` blocks per multiprocessor looping over the
  tensor, as ATen's kernels do;
* each of those with the CUDA toolkit's libdevice instead of the one Triton bundles, where the
  toolkit's is found.

Every kernel's output is compared with eager's (max difference in float32 ulps) before timing.
Inputs: ``positive`` is the distribution example's domain (``softplus(randn) + 1e-3``, what the
suite's lgamma region reads), ``normal`` is standard normal (half of it negative: lgammaf's
reflection branch, several times the work). ``--blocks`` sweeps block sizes and warps of the
blocked layout alone, with Triton's libdevice.

    python -m benchmarks.lgamma_configs --distribution positive --blocks --out benchmarks/results
"""

import argparse
import glob
import json
import math
import statistics
from pathlib import Path
from typing import Any

import torch

from trt_autoplugin.aot.launch import device_seconds

ELEMENTS = 2**27
BLOCKS = (1024, 2048, 4096)
WARPS = (4, 8)
WAVES = (4,)
BLOCKS_WIDE = (256, 512, 1024, 2048, 4096)
WARPS_WIDE = (2, 4, 8, 16)


def _kernels() -> tuple[Any, Any]:
    import triton
    import triton.language as tl
    from triton.language.extra.cuda import libdevice

    @triton.jit
    def blocked(x_ptr, y_ptr, n, XBLOCK: tl.constexpr):
        offsets = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)
        mask = offsets < n
        x = tl.load(x_ptr + offsets, mask=mask)
        tl.store(y_ptr + offsets, libdevice.lgamma(x), mask=mask)

    @triton.jit
    def strided(x_ptr, y_ptr, n, XBLOCK: tl.constexpr):
        step = tl.num_programs(0) * XBLOCK
        for start in range(tl.program_id(0) * XBLOCK, n, step):
            offsets = start + tl.arange(0, XBLOCK)
            mask = offsets < n
            x = tl.load(x_ptr + offsets, mask=mask)
            tl.store(y_ptr + offsets, libdevice.lgamma(x), mask=mask)

    return blocked, strided


def toolkit_libdevice() -> str | None:
    """The CUDA toolkit's libdevice bitcode, if the machine has one (pip's nvidia wheels or
    /usr/local/cuda)."""
    patterns = ("/usr/local/cuda*/nvvm/libdevice/libdevice.10.bc",)
    import site

    roots = [*site.getsitepackages(), site.getusersitepackages()]
    patterns += tuple(f"{r}/nvidia/**/libdevice.10.bc" for r in roots)
    for pattern in patterns:
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            return found[0]
    return None


def _ulps(got: torch.Tensor, want: torch.Tensor) -> float:
    finite = torch.isfinite(want)
    if not torch.equal(torch.isfinite(got), finite):
        return math.inf
    if not finite.any():
        return 0.0
    magnitude = want[finite].abs()
    spacing = torch.nextafter(magnitude, torch.full_like(magnitude, math.inf)) - magnitude
    return float((torch.abs(got[finite] - want[finite]) / spacing).max())


def measure(distribution: str, blocks_only: bool) -> dict[str, Any]:
    blocked, strided = _kernels()
    generator = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(ELEMENTS, device="cuda", generator=generator)
    if distribution == "positive":
        x = torch.nn.functional.softplus(x) + 1e-3
    y = torch.empty_like(x)
    want = torch.lgamma(x)
    floor_s = device_seconds(lambda: y.copy_(x))
    eager_s = device_seconds(lambda: torch.lgamma(x, out=y))
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    libraries: dict[str, dict[str, str] | None] = {"bundled": None}
    toolkit = toolkit_libdevice()
    if toolkit and not blocks_only:
        libraries["toolkit"] = {"libdevice": toolkit}
    rows = []
    for library, extern in libraries.items():
        for block in BLOCKS_WIDE if blocks_only else BLOCKS:
            for warps in WARPS_WIDE if blocks_only else WARPS:
                options = {"XBLOCK": block, "num_warps": warps}
                if extern:
                    options["extern_libs"] = extern
                grids = [("blocked", blocked, (triton_cdiv(ELEMENTS, block),))]
                if not blocks_only:
                    grids += [(f"strided x{w}", strided, (sms * w,)) for w in WAVES]
                for layout, kernel, grid in grids:

                    def run(kernel=kernel, grid=grid, options=options) -> None:
                        kernel[grid](x, y, ELEMENTS, **options)

                    y.fill_(math.nan)
                    run()
                    ulps = _ulps(y, want)
                    seconds = device_seconds(run)
                    rows.append(
                        {
                            "libdevice": library,
                            "layout": layout,
                            "XBLOCK": block,
                            "num_warps": warps,
                            "us": seconds * 1e6,
                            "of_floor": floor_s / seconds,
                            "vs_eager": seconds / eager_s,
                            "max_ulps_from_eager": ulps,
                        }
                    )
    rows.sort(key=lambda r: r["us"])
    return {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": __import__("triton").__version__,
        "elements": ELEMENTS,
        "distribution": distribution,
        "toolkit_libdevice": toolkit,
        "copy_us": floor_s * 1e6,
        "eager_us": eager_s * 1e6,
        "eager_of_floor": floor_s / eager_s,
        "median_config_vs_eager": statistics.median(r["vs_eager"] for r in rows),
        "rows": rows,
    }


_DISTRIBUTIONS = {
    "positive": "softplus(randn) + 1e-3 (the distribution example's domain)",
    "normal": "standard normal (half negative: the reflection branch)",
}


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def markdown(document: dict[str, Any]) -> str:
    lines = [
        "# lgamma at 1 GiB: Triton configs and libdevices against ATen",
        "",
        f"{document['device']}, torch {document['torch']}, Triton {document['triton']}; "
        f"{document['elements']:,} float32 elements (512 MiB read + 512 MiB written), "
        f"inputs {_DISTRIBUTIONS[document['distribution']]}. Times are device medians "
        "(`aot.launch.device_seconds`).",
        "",
        f"- copy floor: {document['copy_us']:.0f} µs; eager `torch.lgamma(out=)`: "
        f"{document['eager_us']:.0f} µs ({document['eager_of_floor']:.0%} of the floor).",
        f"- toolkit libdevice: {document['toolkit_libdevice'] or 'not found'}.",
        "",
        "| libdevice | layout | XBLOCK | warps | µs | % of floor | / eager | max ulps from eager |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in document["rows"]:
        lines.append(
            f"| {r['libdevice']} | {r['layout']} | {r['XBLOCK']} | {r['num_warps']} | "
            f"{r['us']:.0f} | {r['of_floor']:.0%} | {r['vs_eager']:.3f}x | "
            f"{r['max_ulps_from_eager']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lgamma_configs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--distribution", choices=tuple(_DISTRIBUTIONS), default="positive")
    parser.add_argument("--blocks", action="store_true", help="blocked layout, more configs")
    args = parser.parse_args()
    document = measure(args.distribution, args.blocks)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"lgamma_configs-{args.distribution}"
    (args.out / f"{stem}.json").write_text(json.dumps(document, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(document))
    print(markdown(document)[:3000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
