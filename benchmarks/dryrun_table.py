"""Torch-TensorRT's own dryrun numbers across releases, as one Markdown table.

Each input is the JSON that ``tests/test_torch_tensorrt_dryrun.py`` keeps when
``TRT_AUTOPLUGIN_DRYRUN_JSON`` names a file (one run per Torch-TensorRT release)::

    TRT_AUTOPLUGIN_DRYRUN_JSON=benchmarks/results/dryrun-2.13.json \\
        python -m pytest tests/test_torch_tensorrt_dryrun.py
    python -m benchmarks.dryrun_table benchmarks/results/dryrun-*.json \\
        --out benchmarks/results/torch_tensorrt_dryrun.md
"""

import argparse
import json
from collections.abc import Sequence
from pathlib import Path


def _cell(result: dict) -> str:
    if result.get("error"):
        return "fails"
    return f"{result['engines']} / {result['torch_segments']}"


def _prediction(row: dict, which: str) -> str:
    live, snapshot = row["live_prediction"][which], row["snapshot_prediction"][which]
    text = f"{live[0]} / {live[1]}"
    return text if live == snapshot else f"{text} (snapshot {snapshot[0]} / {snapshot[1]})"


def table(runs: Sequence[dict]) -> str:
    """Markdown: per model and min_block_size, each release's engines / PyTorch segments."""
    lines = [
        "# Torch-TensorRT's own dryrun, without and with trt_autoplugin's pass",
        "",
        "Cells are engines / PyTorch segments, from Torch-TensorRT's `dynamo.compile(...,"
        " dryrun=True)` over the import-only TensorRT stand-in (its lowering, converter registry"
        " and partitioner are real; nothing is built). 'fails': Torch-TensorRT raised.",
        "",
    ]
    for run in runs:
        cuda = "CUDA" if run["cuda"] else "CPU"
        lines.append(f"- Torch-TensorRT {run['torch_tensorrt']}: torch {run['torch']}, {cuda}")
    header = "| model | min_block_size |"
    rule = "|---|---|"
    for run in runs:
        version = run["torch_tensorrt"]
        header += f" {version} before | {version} after | predicted before | predicted after |"
        rule += "---|---|---|---|"
    lines += ["", header, rule]
    first = runs[0]
    for name, rows in first["models"].items():
        for size in rows:
            cells = [name, size]
            for run in runs:
                row = run["models"].get(name, {}).get(size)
                if row is None:
                    cells += ["not run"] * 4
                    continue
                cells += [
                    _cell(row["without_pass"]),
                    _cell(row["with_pass"]),
                    _prediction(row, "before"),
                    _prediction(row, "after"),
                ]
            lines.append("| " + " | ".join(cells) + " |")
    failures = [
        f"- {run['torch_tensorrt']}, {name}, min_block_size {size}, {when}: {result['error']}"
        for run in runs
        for name, rows in run["models"].items()
        for size, row in rows.items()
        for when, result in (
            ("without the pass", row["without_pass"]),
            ("with it", row["with_pass"]),
        )
        if result.get("error")
    ]
    if failures:
        lines += ["", "Where Torch-TensorRT failed:", "", *failures]
    lines += _fallback_lines(runs)
    return "\n".join(lines) + "\n"


def _fallback_lines(runs: Sequence[dict]) -> list[str]:
    """With ``fallback_data_dependent_ops=True`` (2.13 on), the pass registered: Torch-TensorRT's
    numbers and the prediction, for the models the runs tried it on."""
    runs = [run for run in runs if run.get("fallback")]
    if not runs:
        return []
    lines = [
        "",
        "## With `fallback_data_dependent_ops=True`",
        "",
        "Ops whose converter needs Torch-TensorRT's output allocator run in PyTorch, and so do",
        "regions with data-dependent outputs (their converters need it too).",
        "",
    ]
    header, rule = "| model | min_block_size |", "|---|---|"
    for run in runs:
        header += f" {run['torch_tensorrt']} with the pass | predicted |"
        rule += "---|---|"
    lines += [header, rule]
    for name, rows in runs[0]["fallback"].items():
        for size in rows:
            cells = [name, size]
            for run in runs:
                row = run["fallback"].get(name, {}).get(size)
                if row is None:
                    cells += ["not run"] * 2
                    continue
                cells += [_cell(row["with_pass"]), _prediction(row, "after")]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="dryrun JSON files, one per release")
    parser.add_argument("--out", type=Path, help="write the table here (else print it)")
    args = parser.parse_args(argv)
    runs = sorted(
        (json.loads(path.read_text()) for path in args.runs),
        key=lambda run: tuple(int(p) for p in run["torch_tensorrt"].split(".")[:2]),
    )
    text = table(runs)
    if args.out:
        args.out.write_text(text)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
