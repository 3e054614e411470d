"""The command line, run as users run it."""

import json
import subprocess
import sys
from pathlib import Path

import torch

from trt_autoplugin import examples
from trt_autoplugin.cli import main
from trt_autoplugin.pipeline import autoplugin
from trt_autoplugin.support import SnapshotSupport


def test_analyze_with_no_argument_shows_a_region_and_a_refusal(tmp_path: Path, capsys) -> None:
    report = tmp_path / "report.json"
    markdown = tmp_path / "report.md"
    assert main(["analyze", "--snapshot", "--json", str(report), "--markdown", str(markdown)]) == 0
    out = capsys.readouterr().out
    assert "Regions outlined into plugins (1)" in out
    assert "masked_select" in out and "data-dependent" in out
    data = json.loads(report.read_text())
    assert len(data["regions"]) == 1 and data["regions"][0]["node_count"] == 1
    assert data["left_in_graph"][0]["target"] == "aten.masked_select.default"
    assert "| masked_select |" in markdown.read_text()


def test_analyze_a_saved_program(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # op names unwrapped, whatever the shapes' widths
    path = tmp_path / "cumulative.pt2"
    torch.export.save(examples.export_example("cumulative"), path)
    assert main(["analyze", "--snapshot", str(path)]) == 0
    assert "logcumsumexp" in capsys.readouterr().out


def test_missing_program_file_is_one_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["analyze", str(tmp_path / "nope.pt2")]) == 1
    assert "no such program file" in capsys.readouterr().out


def test_examples_lists_every_example(capsys) -> None:
    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in examples.example_names())


def test_compile_without_tensorrt_says_what_is_missing() -> None:
    from trt_autoplugin.converter import is_torch_tensorrt_available

    if is_torch_tensorrt_available():
        return  # the real compile path is covered by the tensorrt-marked tests
    done = subprocess.run(
        [sys.executable, "-m", "trt_autoplugin.cli", "compile", "--example", "cumulative"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "needs TensorRT" in done.stdout and "pip install" in done.stdout


def test_analyze_aot_reports_each_regions_implementation(tmp_path: Path, capsys) -> None:
    report = tmp_path / "report.json"
    assert (
        main(["analyze", "--snapshot", "--example", "cumulative", "--aot", "--json", str(report)])
        == 0
    )
    assert "Plugin implementations" in capsys.readouterr().out
    entries = json.loads(report.read_text())["implementations"]
    assert len(entries) == 2
    for entry in entries:
        if torch.cuda.is_available():
            assert entry["implementation"] == "AOT", entry
        else:
            assert entry["implementation"] == "JIT" and "no CUDA device" in entry["reason"]


def test_shapes_in_terminal_tables_are_text_not_markup() -> None:
    """A shape such as float32[s77, 3, 16, 16] is printed whole (rich markup would eat it)."""
    from rich.console import Console

    from trt_autoplugin.report import rich_renderables

    report = autoplugin(examples.export_example("spectral"), support=SnapshotSupport()).report
    console = Console(record=True, width=200)
    for renderable in rich_renderables(report):
        console.print(renderable)
    text = console.export_text()
    for region in report.regions:
        for spec in region.inputs:
            assert spec in text
