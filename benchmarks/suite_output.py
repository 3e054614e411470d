"""The suite's outputs: ``suite.json``, ``suite.md`` (tables and a headline), ``suite.png``.

Everything here reads the JSON document `suite.results_document` builds, so the Markdown and the
plot can be regenerated from a saved ``suite.json``::

    python -m benchmarks.suite_output benchmarks/results/suite.json
"""

import json
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

VARIANT_COLUMNS = (
    ("eager", "eager ms"),
    ("eager_outlined", "after pass (decomposed) ms"),
    ("inductor", "Inductor ms"),
    ("torch_tensorrt", "Torch-TRT ms"),
    ("trt_autoplugin_jit", "Torch-TRT + ours, JIT ms"),
    ("trt_autoplugin_aot", "Torch-TRT + ours, AOT ms"),
)
E2E_HEADER = ("model", "batch", *(column for _, column in VARIANT_COLUMNS))
REASON_WIDTH = 90


class Notes:
    """Numbered footnotes: each distinct text once, cited as ``[n]``."""

    def __init__(self) -> None:
        self.texts: dict[str, int] = {}

    def cite(self, text: str) -> str:
        number = self.texts.setdefault(text, len(self.texts) + 1)
        return f"[{number}]"

    def lines(self) -> list[str]:
        return [f"{number}. {text}" for text, number in self.texts.items()]


# --- numbers -------------------------------------------------------------------------------------


def _us(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def _ms(seconds_or_us: float | None, *, from_us: bool = True) -> str:
    if seconds_or_us is None:
        return "—"
    ms = seconds_or_us / 1000 if from_us else seconds_or_us * 1000
    return f"{ms:.3f}" if ms < 10 else f"{ms:,.1f}"


def _bytes(value: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value} B"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def _short(text: str, width: int = REASON_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell(measurement: Mapping[str, Any], notes: Notes, *, jit_prefix: bool = False) -> str:
    """A timed value in µs (per call / GPU), or the status with a footnote on its reason."""
    status = measurement["status"]
    if status == "ok":
        gpu = measurement.get("gpu_microseconds")
        per_call = _us(measurement["microseconds"])
        return per_call if gpu is None else f"{per_call} / {_us(gpu)}"
    reason = measurement.get("reason") or "no reason recorded"
    if status == "skipped" and jit_prefix and reason.startswith("JIT: "):
        return f"JIT: {_short(reason[5:], 60)} {notes.cite(reason[5:])}"
    return f"{status} {notes.cite(reason)}"


# --- Markdown ------------------------------------------------------------------------------------

REGION_HEADER = (
    "model",
    "region op",
    "ops",
    "nodes",
    "batch",
    "bytes",
    "eager µs (call / GPU)",
    "JIT µs (call / GPU)",
    "JIT overhead µs",
    "AOT µs (call / GPU)",
    "AOT best tactic, GPU µs",
    "floor µs",
    "% of floor, GPU time (eager / JIT / AOT)",
)


def region_rows(data: Mapping[str, Any], notes: Notes) -> list[tuple[str, ...]]:
    rows = []
    for r in data["regions"]:
        percents = " / ".join(
            _percent(r[k].get("percent_of_floor")) for k in ("eager", "jit", "aot")
        )
        rows.append(
            (
                r["model"],
                _region_name(r),
                ", ".join(_op_name(t) for t in r["targets"]),
                str(r["nodes"]),
                f"{r['batch']:,}",
                _bytes(r["bytes"]),
                _cell(r["eager"], notes),
                _cell(r["jit"], notes),
                _us(r["jit_overhead_us"]),
                _cell(r["aot"], notes, jit_prefix=True),
                _best_tactic(r.get("aot_tactics_gpu_us") or ()),
                _us(r["floor_us"]),
                percents,
            )
        )
    return rows


def _best_tactic(times: Sequence[float]) -> str:
    if not times:
        return "—"
    best = min(range(len(times)), key=times.__getitem__)
    return f"{_us(times[best])} (tactic {best + 1} of {len(times)})"


def _op_name(target: str) -> str:
    return target.removeprefix("aten.").removesuffix(".default")


def _region_name(row: Mapping[str, Any]) -> str:
    copies = row["copies_in_model"]
    return f"`{row['region']}`" + (f" ×{copies}" if copies > 1 else "")


def e2e_rows(data: Mapping[str, Any], notes: Notes) -> list[tuple[str, ...]]:
    grouped: dict[tuple[str, int], dict[str, Mapping[str, Any]]] = {}
    for row in data["end_to_end"]:
        grouped.setdefault((row["model"], row["batch"]), {})[row["variant"]] = row
    rows = []
    for (model, batch), variants in grouped.items():
        cells = [model, f"{batch:,}"]
        for variant, _ in VARIANT_COLUMNS:
            row = variants.get(variant)
            cells.append(_e2e_cell(row, notes) if row is not None else "—")
        rows.append(tuple(cells))
    return rows


def _e2e_cell(row: Mapping[str, Any], notes: Notes) -> str:
    measurement = row["measurement"]
    if measurement["status"] != "ok":
        return _cell(measurement, notes)
    text = _ms(measurement["microseconds"])
    if row.get("engines") is not None:
        text += f" ({row['engines']} eng., {row['graph_breaks']} breaks)"
    return text


PASS_HEADER = (
    "model",
    "library",
    "nodes",
    "regions (distinct)",
    "left in graph",
    "export s",
    "autoplugin s",
    "engines / breaks before",
    "after (predicted)",
    "status",
)


def pass_rows(data: Mapping[str, Any], notes: Notes) -> list[tuple[str, ...]]:
    rows = []
    for m in data["models"]:
        predicted = m.get("predicted") or {}
        before, after = predicted.get("before"), predicted.get("after")
        status = m["status"] if m["status"] == "ok" else f"{m['status']} {notes.cite(m['reason'])}"
        regions = "—" if m["regions"] is None else f"{m['regions']} ({m['distinct_regions']})"
        rows.append(
            (
                m["name"],
                m["library"],
                "—" if m["nodes"] is None else str(m["nodes"]),
                regions,
                str(len(m["left_in_graph"])) if m["nodes"] is not None else "—",
                "—" if m["export_s"] is None else f"{m['export_s']:.2f}",
                "—" if m["pass_s"] is None else f"{m['pass_s']:.2f}",
                _segments(before),
                _segments(after),
                status,
            )
        )
    return rows


def _segments(segments: Mapping[str, int] | None) -> str:
    if not segments:
        return "—"
    return f"{segments['tensorrt']} / {segments['pytorch']}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def markdown(data: Mapping[str, Any]) -> str:
    """The Markdown report: headline, machine, the three tables and their footnotes."""
    notes = Notes()
    device, versions, settings = data["device"], data["versions"], data["settings"]
    lines = ["# Benchmark suite: what the pass buys", "", "## Headline", ""]
    lines += [f"- {line}" for line in data["headline"]]
    lines += [
        "",
        "## Machine",
        "",
        f"{device['name']} (driver {device['driver']}); {data['machine']['platform']}, "
        f"Python {data['machine']['python']}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f". Commit {data['git']['commit']}"
        + (" (work tree modified)" if data["git"].get("dirty") else "")
        + f", trt_autoplugin sources sha256 {data['trt_autoplugin_source_sha256']}. "
        f"Mode: {'quick' if settings['quick'] else 'full'}, device {settings['device']}, "
        f"largest region target {_bytes(settings['target_bytes'])}. Oracle: {settings['oracle']}.",
        "",
        _bandwidth_line(data),
        "",
        "## Per region",
        "",
        "Times are medians per call. "
        + " ".join(n[0].upper() + n[1:] + "." for n in settings["notes"]),
        "",
    ]
    lines += _table(REGION_HEADER, region_rows(data, notes)) if data["regions"] else ["none"]
    lines += ["", "## End to end", ""]
    lines += _table(E2E_HEADER, e2e_rows(data, notes))
    lines += ["", "## The pass (CPU side)", ""]
    lines += _table(PASS_HEADER, pass_rows(data, notes))
    lines += ["", *_aot_lines(data, notes)]
    if notes.texts:
        lines += ["", "## Notes (reasons and errors)", "", *notes.lines()]
    return "\n".join(lines) + "\n"


def _bandwidth_line(data: Mapping[str, Any]) -> str:
    bandwidth = data["copy_bandwidth"]
    if "skipped" in bandwidth:
        return f"Copy bandwidth: not measured ({bandwidth['skipped']})."
    return (
        f"Copy bandwidth: {bandwidth['bytes_per_second'] / 1e12:.2f} TB/s (1 GiB `dst.copy_(src)`,"
        f" bytes read + written, {bandwidth['method']})."
    )


def _aot_lines(data: Mapping[str, Any], notes: Notes) -> list[str]:
    lines = ["## AOT kernels per distinct region", ""]
    rows = []
    for m in data["models"]:
        for a in m.get("aot", []):
            verdict = a["kernel"] or f"{a['status']} {notes.cite(a['reason'] or '')}"
            compile_s = "—" if a["compile_s"] is None else f"{a['compile_s']:.1f}"
            rows.append((m["name"], f"`{a['region']}`", verdict, a["config"] or "—", compile_s))
    if not rows:
        return [*lines, "none built (no CUDA, or no regions)"]
    return lines + _table(("model", "region op", "kernel or status", "config", "build s"), rows)


# --- headline ------------------------------------------------------------------------------------


def headline(data: Mapping[str, Any]) -> list[str]:
    """A few sentences for the README, from the numbers (nothing estimated)."""
    lines = [_pass_sentence(data)]
    lines += _region_sentences(data)
    lines += _e2e_sentences(data)
    return lines


def _pass_sentence(data: Mapping[str, Any]) -> str:
    done = [m for m in data["models"] if m["status"] == "ok"]
    skipped = [m["name"] for m in data["models"] if m["status"] != "ok"]
    if not done:
        return "No model ran: " + ", ".join(skipped)
    times = [m["pass_s"] for m in done if m["pass_s"] is not None]
    regions = sum(m["regions"] or 0 for m in done)
    before = sum(m["predicted"]["before"]["pytorch"] for m in done if m["predicted"])
    after = sum(m["predicted"]["after"]["pytorch"] for m in done if m["predicted"])
    text = (
        f"The pass rewrote {len(done)} models into {regions} region ops in "
        f"{min(times):.2f}–{max(times):.2f} s each (autoplugin on the CPU side); predicted "
        f"PyTorch segments (graph breaks) went from {before} to {after} in total."
    )
    if skipped:
        text += f" Not run: {', '.join(skipped)} (see the pass table)."
    return text


def _ok(rows: Iterable[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    return [r for r in rows if r[key]["status"] == "ok"]


def _region_sentences(data: Mapping[str, Any]) -> list[str]:
    regions = data["regions"]
    if not regions:
        return ["No region was measured."]
    measured = _ok(regions, "jit")
    if not measured:
        reasons = {r["jit"].get("reason") for r in regions}
        return [f"Per-region timings not measured: {'; '.join(sorted(r for r in reasons if r))}."]
    smallest = _by_region(measured, largest=False)
    overheads = [r["jit_overhead_us"] for r in smallest if r["jit_overhead_us"] is not None]
    lines = [
        f"{data['device']['name']}: at each region's smallest size, where the host dominates, "
        f"the JIT plugin's launch (what TensorRT calls) costs {statistics.median(overheads):.0f}"
        f" µs per call more than eager PyTorch (median over {len(overheads)} regions; "
        f"{min(overheads):.0f} to {max(overheads):.0f} µs)."
    ]
    largest = [
        r
        for r in _by_region(measured, largest=True)
        if r["eager"]["status"] == "ok" and r["eager"].get("gpu_microseconds")
    ]
    ratios = {
        r["targets"][0]: r["jit"]["gpu_microseconds"] / r["eager"]["gpu_microseconds"]
        for r in largest
    }
    if ratios:
        worst = max(ratios, key=ratios.__getitem__)
        lines.append(
            f"At each region's largest size the JIT plugin takes "
            f"{statistics.median(ratios.values()):.2f}x eager's GPU time (median; worst "
            f"{worst} {ratios[worst]:.2f}x). Outputs an out= op can produce are written in "
            "place; the others are copied (the report's implementations table says which)."
            + _slow_jit_sentence(largest)
        )
    lines.append(_floor_sentence(data))
    aot = [a for m in data["models"] for a in m.get("aot", [])]
    built = [a for a in aot if a["status"] == "ok"]
    lines.append(
        f"AOT kernels: {len(built)} of {len(aot)} distinct regions compiled into one checked "
        "kernel; the others stay JIT, with the reason in the AOT table." + _aot_ratio(regions)
    )
    failed = sum(1 for r in regions for k in ("jit", "aot") if r[k]["status"] == "failed")
    checked = sum(1 for r in regions for k in ("jit", "aot") if r[k]["status"] != "skipped")
    lines.append(
        f"Correctness: {checked} JIT/AOT configurations checked against eager on poisoned "
        f"outputs before timing; {failed} failed (recorded, not timed)."
    )
    return lines


def _aot_ratio(regions: Sequence[Mapping[str, Any]]) -> str:
    ratios = [
        r["aot"]["gpu_microseconds"] / r["eager"]["gpu_microseconds"]
        for r in regions
        if r["aot"]["status"] == "ok"
        and r["eager"]["status"] == "ok"
        and r["eager"].get("gpu_microseconds")
        and r["aot"].get("gpu_microseconds")
    ]
    if not ratios:
        return ""
    text = (
        f" Where one exists, the AOT kernel takes {statistics.median(ratios):.2f}x eager's GPU "
        f"time (median over {len(ratios)} configurations; {min(ratios):.2f}x to "
        f"{max(ratios):.2f}x; below 1 is faster)."
    )
    best = [
        min(r["aot_tactics_gpu_us"]) / r["eager"]["gpu_microseconds"]
        for r in regions
        if r.get("aot_tactics_gpu_us") and r["eager"].get("gpu_microseconds")
    ]
    if best:
        text += (
            " Its fastest tactic at each size (TensorRT's pick, were that size the engine's "
            f"profile): {statistics.median(best):.2f}x ({min(best):.2f}x to {max(best):.2f}x)."
        )
    return text + _slower_aot_sentence(regions)


def _slower_aot_sentence(regions: Sequence[Mapping[str, Any]]) -> str:
    """The AOT kernels whose fastest tactic is slower than eager at the region's largest size."""
    slower = []
    for r in _by_region(regions, largest=True):
        times = r.get("aot_tactics_gpu_us")
        if times and r["eager"].get("gpu_microseconds"):
            ratio = min(times) / r["eager"]["gpu_microseconds"]
            if ratio > 1.0:
                slower.append(f"{_op_name(r['targets'][0])} {ratio:.2f}x")
    if not slower:
        return ""
    return f" Slower than eager at the largest size, fastest tactic: {', '.join(slower)}."


def _by_region(rows: Iterable[Mapping[str, Any]], *, largest: bool) -> list[Mapping[str, Any]]:
    """Each region's row at its largest (or smallest) batch."""
    chosen: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in rows:
        key = (r["model"], r["region"])
        kept = chosen.get(key)
        if kept is None or (r["batch"] > kept["batch"]) == largest:
            chosen[key] = r
    return list(chosen.values())


# A JIT region slower than eager by more than this at its largest size is named in the headline
# with why it copies its outputs (or that it copies none).
SLOW_JIT_RATIO = 1.05


def _slow_jit_sentence(largest: Sequence[Mapping[str, Any]]) -> str:
    """Each region whose JIT GPU time passes `SLOW_JIT_RATIO` of eager's, with its copies."""
    parts = []
    for r in largest:
        ratio = r["jit"]["gpu_microseconds"] / r["eager"]["gpu_microseconds"]
        if ratio > SLOW_JIT_RATIO:
            if "jit_copies" not in r:
                copies = ["its copies were not recorded"]
            else:
                copies = r["jit_copies"] or ["it copies no output"]
            parts.append(f"{r['targets'][0]} {ratio:.2f}x ({'; '.join(copies)})")
    if not parts:
        return ""
    return f" Above {SLOW_JIT_RATIO:.2f}x: " + ", ".join(parts) + "."


def _floor_sentence(data: Mapping[str, Any]) -> str:
    largest = _by_region(data["regions"], largest=True)
    parts = []
    for label, key in (("eager", "eager"), ("JIT", "jit"), ("AOT", "aot")):
        values = [r[key]["percent_of_floor"] for r in largest]
        values = [v for v in values if v is not None]
        if values:
            parts.append(f"{label} {statistics.median(values):.0f}%")
    return (
        "At each region's largest size, the median share of the copy bandwidth reached (GPU "
        "time): " + (", ".join(parts) if parts else "none measured") + "."
    )


def _e2e_sentences(data: Mapping[str, Any]) -> list[str]:
    rows = data["end_to_end"]
    skipped = {
        r["measurement"]["reason"]
        for r in rows
        if r["variant"].startswith(("torch_tensorrt", "trt_autoplugin"))
        and r["measurement"]["status"] == "skipped"
    }
    lines = []
    speedups = _inductor_speedups(rows)
    if speedups:
        lines.append(
            f"End to end, torch.compile (Inductor) against eager: median speedup "
            f"{statistics.median(speedups):.2f}x over {len(speedups)} model × batch rows."
        )
    if skipped:
        lines.append("Torch-TensorRT rows not run: " + "; ".join(sorted(skipped)) + ".")
    return lines


def _inductor_speedups(rows: Sequence[Mapping[str, Any]]) -> list[float]:
    eager = {
        (r["model"], r["batch"]): r["measurement"]["microseconds"]
        for r in rows
        if r["variant"] == "eager" and r["measurement"]["status"] == "ok"
    }
    speedups = []
    for r in rows:
        key = (r["model"], r["batch"])
        if r["variant"] == "inductor" and r["measurement"]["status"] == "ok" and key in eager:
            speedups.append(eager[key] / r["measurement"]["microseconds"])
    return speedups


# --- the plot ------------------------------------------------------------------------------------

MARKERS = (("eager", "o", "tab:blue"), ("jit", "s", "tab:orange"), ("aot", "^", "tab:green"))


def write_plot(data: Mapping[str, Any], path: Path) -> None:
    """Left: region time against bytes moved, log-log, with the copy-bandwidth floor as a line.
    Right: each AOT kernel's GPU time over eager's against bytes, tactic 1 and the fastest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    aot_rows = [r for r in data["regions"] if r.get("aot_tactics_gpu_us")]
    columns = 2 if aot_rows else 1
    figure, panels = plt.subplots(1, columns, figsize=(8 * columns, 5.5), squeeze=False)
    _plot_times(data, panels[0][0])
    if aot_rows:
        _plot_aot_ratios(data, aot_rows, panels[0][1])
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _plot_times(data: Mapping[str, Any], axes: Any) -> None:
    measured = [r for r in data["regions"] if r["eager"]["status"] == "ok"]
    for key, marker, color in MARKERS:
        rows = _ok(measured, key)
        points = [(r["bytes"], r[key]["gpu_microseconds"]) for r in rows]
        label = {"eager": "eager (run_body)", "jit": "JIT (jit_launch)", "aot": "AOT kernel"}[key]
        if points:
            axes.plot(
                *zip(*points, strict=True),
                marker,
                color=color,
                label=f"{label}, GPU time",
                alpha=0.8,
                linestyle="none",
            )
        if key == "jit" and rows:
            calls = [(r["bytes"], r[key]["microseconds"]) for r in rows]
            axes.plot(
                *zip(*calls, strict=True),
                marker,
                color=color,
                fillstyle="none",
                label=f"{label}, per call (host included)",
                alpha=0.8,
                linestyle="none",
            )
    bandwidth = data["copy_bandwidth"]
    if measured and "bytes_per_second" in bandwidth:
        low = min(r["bytes"] for r in measured) / 2
        high = max(r["bytes"] for r in measured) * 2
        rate = bandwidth["bytes_per_second"]
        axes.plot(
            [low, high],
            [low / rate * 1e6, high / rate * 1e6],
            "-",
            color="grey",
            label=f"copy-bandwidth floor ({rate / 1e12:.2f} TB/s)",
        )
    if measured:
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.legend(fontsize="small")
    else:
        axes.text(
            0.5,
            0.5,
            f"no region timed on {data['device']['name']}\n(see suite.md)",
            ha="center",
            va="center",
            transform=axes.transAxes,
        )
    axes.set_xlabel("bytes moved by the region (inputs + outputs)")
    axes.set_ylabel("µs (median)")
    axes.set_title(f"Outlined regions on {data['device']['name']}")
    axes.grid(True, which="both", alpha=0.3)


def _plot_aot_ratios(data: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], axes: Any) -> None:
    by_region: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row["eager"].get("gpu_microseconds"):
            by_region.setdefault(_plot_label(row), []).append(row)
    for label, series in by_region.items():
        series = sorted(series, key=lambda r: r["bytes"])
        sizes = [r["bytes"] for r in series]
        eager = [r["eager"]["gpu_microseconds"] for r in series]
        first = [r["aot_tactics_gpu_us"][0] / e for r, e in zip(series, eager, strict=True)]
        best = [min(r["aot_tactics_gpu_us"]) / e for r, e in zip(series, eager, strict=True)]
        (line,) = axes.plot(sizes, first, "^-", label=f"{label}: tactic 1")
        axes.plot(sizes, best, "v--", color=line.get_color(), label=f"{label}: fastest tactic")
    axes.axhline(1.0, color="grey", linewidth=1)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("bytes moved by the region (inputs + outputs)")
    axes.set_ylabel("AOT GPU time / eager GPU time (below 1: faster)")
    axes.set_title("AOT kernels against eager PyTorch")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="x-small")


def _plot_label(row: Mapping[str, Any]) -> str:
    ops = [_op_name(t) for t in row["targets"] if not t.startswith("_operator")]
    return f"{', '.join(ops)} ({row['model']})"


def write_results(data: Mapping[str, Any], out: Path) -> None:
    """Writes ``suite.json``, ``suite.md`` and ``suite.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "suite.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    (out / "suite.md").write_text(markdown(data))
    write_plot(data, out / "suite.png")


# --- the terminal --------------------------------------------------------------------------------


def rich_tables(data: Mapping[str, Any]) -> list[Any]:
    """The pass and end-to-end tables and the headline, for ``rich.console.Console.print``."""
    from rich.table import Table

    notes = Notes()
    tables: list[Any] = []
    for title, header, rows in (
        ("The pass", PASS_HEADER, pass_rows(data, notes)),
        ("Per region (µs)", REGION_HEADER, region_rows(data, notes)),
        ("End to end (ms)", E2E_HEADER, e2e_rows(data, notes)),
    ):
        table = Table(title=title)
        for name in header:
            table.add_column(name, overflow="fold")
        for row in rows:
            table.add_row(*row)
        tables.append(table)
    tables.append("\n".join(f"• {line}" for line in data["headline"]))
    return tables


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerates ``suite.md`` and ``suite.png`` beside a saved ``suite.json``."""
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else Path("benchmarks/results/suite.json")
    data = json.loads(path.read_text())
    data["headline"] = headline(data)
    (path.parent / "suite.md").write_text(markdown(data))
    write_plot(data, path.parent / "suite.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
