"""The command line, run as users run it."""

import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from trt_autoplugin import examples
from trt_autoplugin.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_analyze_with_no_argument_shows_regions_and_a_size_tensor(tmp_path: Path, capsys) -> None:
    report = tmp_path / "report.json"
    markdown = tmp_path / "report.md"
    assert main(["analyze", "--snapshot", "--json", str(report), "--markdown", str(markdown)]) == 0
    out = capsys.readouterr().out
    assert "Regions outlined into plugins (2)" in out
    assert "masked_select" in out and "Data-dependent outputs (size tensors)" in out
    data = json.loads(report.read_text())
    assert [r["node_count"] for r in data["regions"]] == [1, 1]
    assert data["left_in_graph"] == []
    (size,) = data["regions"][1]["size_tensors"]
    assert size["upper_bound"] == "16*s77" and "masked_select" in size["source"]
    assert "| 16*s77 | masked_select:" in markdown.read_text()


def test_analyze_a_saved_program(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # op names unwrapped, whatever the shapes' widths
    path = tmp_path / "cumulative.pt2"
    torch.export.save(examples.export_example("cumulative"), path)
    assert main(["analyze", "--snapshot", str(path)]) == 0
    assert "logcumsumexp" in capsys.readouterr().out


def test_missing_program_file_is_one_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["analyze", str(tmp_path / "nope.pt2")]) == 1
    assert "no such program file" in _one_line(capsys)


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line a failed command printed, stdout and stderr together."""
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture(scope="module")
def saved_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("program") / "cumulative.pt2"
    torch.export.save(examples.export_example("cumulative"), path)
    return path


def _empty(folder: Path, good: Path) -> Path:
    (folder / "empty.pt2").write_bytes(b"")
    return folder / "empty.pt2"


def _truncated(folder: Path, good: Path) -> Path:
    data = good.read_bytes()
    (folder / "truncated.pt2").write_bytes(data[: len(data) // 2])
    return folder / "truncated.pt2"


def _corrupt(folder: Path, good: Path) -> Path:
    data = bytearray(good.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 64] = bytes(64)
    (folder / "corrupt.pt2").write_bytes(bytes(data))
    return folder / "corrupt.pt2"


def _text(folder: Path, good: Path) -> Path:
    (folder / "notes.pt2").write_text("a text file renamed to .pt2\n")
    return folder / "notes.pt2"


def _plain_zip(folder: Path, good: Path) -> Path:
    with zipfile.ZipFile(folder / "plain.pt2", "w") as archive:
        archive.writestr("plain/readme.txt", "not a program")
    return folder / "plain.pt2"


def _directory(folder: Path, good: Path) -> Path:
    (folder / "folder.pt2").mkdir()
    return folder / "folder.pt2"


@pytest.mark.parametrize(
    "make", [_empty, _truncated, _corrupt, _text, _plain_zip, _directory], ids=lambda f: f.__name__
)
def test_a_bad_program_file_is_one_line_naming_it(
    make: Callable[[Path, Path], Path], saved_program: Path, tmp_path: Path, capsys
) -> None:
    path = make(tmp_path, saved_program)
    assert main(["analyze", "--snapshot", str(path)]) != 0
    assert str(path) in _one_line(capsys)


@pytest.mark.parametrize("option", ["--json", "--markdown"])
@pytest.mark.parametrize("where", ["no_folder", "a_folder", "dev_full"])
def test_an_unwritable_report_path_is_one_line_naming_it(
    option: str, where: str, tmp_path: Path, capsys
) -> None:
    paths = {
        "no_folder": tmp_path / "missing" / "report",
        "a_folder": tmp_path,
        "dev_full": Path("/dev/full"),  # opens, then every write fails (ENOSPC)
    }
    path = paths[where]
    if where == "dev_full" and not path.exists():
        pytest.skip("no /dev/full on this system")
    args = ["analyze", "--snapshot", "--example", "cumulative", option, str(path)]
    assert main(args) != 0
    assert str(path) in _one_line(capsys)


def test_a_path_with_markup_is_printed_literally(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "a[/b]b[red]"  # '/' makes two folders, 'a[' and 'b]b[red]'
    folder.mkdir(parents=True)
    path = folder / "m[bold]x.pt2"
    path.write_text("not a program")
    assert main(["analyze", "--snapshot", str(path)]) == 1
    assert str(path) in _one_line(capsys)
    assert main(["analyze", "--snapshot", str(folder / "missing[/b].pt2")]) == 1
    assert str(folder / "missing[/b].pt2") in _one_line(capsys)


def test_compile_of_a_pt2_is_one_line(saved_program: Path, capsys) -> None:
    assert main(["compile", str(saved_program)]) != 0
    line = _one_line(capsys)
    assert str(saved_program) in line and "--example" in line


_USER_OPS = """
import torch

LIB = torch.library.Library("trt_autoplugin_cli_test", "DEF")
LIB.define("twice(Tensor x) -> Tensor")


def _twice(x):
    return x * 2


LIB.impl("twice", _twice, "CompositeExplicitAutograd")
torch.library.register_fake("trt_autoplugin_cli_test::twice", _twice, lib=LIB)
"""

_EXPORT_USER_OP = """
import sys
import torch
import cli_test_user_ops  # registers trt_autoplugin_cli_test::twice


class Model(torch.nn.Module):
    def forward(self, x):
        return torch.ops.trt_autoplugin_cli_test.twice(torch.relu(x)) + 1


torch.export.save(torch.export.export(Model(), (torch.randn(4, 8),)), sys.argv[1])
"""


def _run_python(script: str, *args: str, path: Path | None = None) -> None:
    """Runs a script in a new interpreter: ops registered there do not exist here."""
    paths = [str(REPO), *([str(path)] if path else []), os.environ.get("PYTHONPATH", "")]
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.fixture
def user_op_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A module registering a user op, importable from tmp_path; its library is destroyed
    and the module forgotten afterwards."""
    (tmp_path / "cli_test_user_ops.py").write_text(_USER_OPS)
    yield tmp_path
    module = sys.modules.pop("cli_test_user_ops", None)
    if module is not None:
        module.LIB._destroy()


def test_import_makes_a_program_with_a_user_op_analyzable(
    user_op_module: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    program = user_op_module / "user_op.pt2"
    _run_python(_EXPORT_USER_OP, str(program), path=user_op_module)
    assert main(["analyze", "--snapshot", str(program)]) == 1
    line = _one_line(capsys)
    assert str(program) in line and "trt_autoplugin_cli_test::twice" in line
    assert "--import" in line
    monkeypatch.syspath_prepend(str(user_op_module))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["analyze", "--snapshot", "--import", "cli_test_user_ops", str(program)]) == 0
    assert "trt_autoplugin_cli_test.twice" in capsys.readouterr().out


def test_an_import_that_fails_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "cli_test_broken_ops.py").write_text("raise ValueError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("cli_test_no_such_module", "cli_test_broken_ops"):
        assert main(["analyze", "--snapshot", "--import", module]) == 1
        line = _one_line(capsys)
        assert f"--import {module}" in line
    sys.modules.pop("cli_test_broken_ops", None)


_SAVE_REWRITTEN = """
import sys
import torch
import trt_autoplugin
from trt_autoplugin.support import SnapshotSupport


class Model(torch.nn.Module):
    # A chain of unsupported ops no other test outlines: its region op (named by content) is
    # registered nowhere but in this process.
    def forward(self, x):
        chain = torch.special.erfinv(torch.lgamma(torch.special.erfinv(torch.tanh(x) * 0.5)))
        return torch.relu(chain) + x


ep = torch.export.export(Model(), (torch.randn(4, 8),))
result = trt_autoplugin.autoplugin(ep, support=SnapshotSupport())
trt_autoplugin.save_regions(result.regions, sys.argv[2])
torch.export.save(result.program, sys.argv[1])
"""


def test_regions_make_a_rewritten_program_analyzable(tmp_path: Path, capsys) -> None:
    program, regions = tmp_path / "rewritten.pt2", tmp_path / "regions"
    _run_python(_SAVE_REWRITTEN, str(program), str(regions))
    assert main(["analyze", "--snapshot", str(program)]) == 1
    line = _one_line(capsys)
    assert str(program) in line and "trt_autoplugin::region_" in line and "--regions" in line
    assert main(["analyze", "--snapshot", "--regions", str(regions), str(program)]) == 0
    assert "trt_autoplugin analysis of" in capsys.readouterr().out
    assert main(["analyze", "--snapshot", "--regions", str(tmp_path / "nope"), str(program)]) == 1
    assert str(tmp_path / "nope") in _one_line(capsys)


def test_the_first_screen_explains_itself(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["analyze", "--snapshot"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # lines rejoined, wherever rich wrapped
    assert "example 'data_dependent', the default" in out  # what ran
    assert "snapshot of Torch-TensorRT" in out  # which oracle
    assert "predicted))" not in out
    assert "engines are what Torch-TensorRT compiles" in out  # what the numbers mean
    assert "PyTorch segments the graph breaks" in out
    assert "min_block_size 5" in out and "'before' has none here" in out
    for next_step in ("trt-autoplugin examples", "--example NAME", "--min-block-size N"):
        assert next_step in out
    assert "--json FILE" in out and "--markdown FILE" in out and "compile" in out


def test_the_leaf_spec_warning_is_filtered(saved_program: Path, capsys) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["analyze", "--snapshot", str(saved_program)]) == 0
        warnings.warn("other warnings still show", FutureWarning, stacklevel=1)
    messages = [str(w.message) for w in caught]
    assert not any("LeafSpec" in m for m in messages), messages
    assert "other warnings still show" in messages


def test_examples_lists_every_example(capsys) -> None:
    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in examples.example_names())


def test_compile_without_tensorrt_says_what_is_missing() -> None:
    from trt_autoplugin.probes import torch_tensorrt_import_error

    missing = torch_tensorrt_import_error()
    if missing is None:
        pytest.skip("torch_tensorrt imports here, so nothing is missing to report")
    done = subprocess.run(
        [sys.executable, "-m", "trt_autoplugin.cli", "compile", "--example", "cumulative"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.strip()]
    # What is missing: "torch_tensorrt is not installed", or why it does not import.
    assert "needs TensorRT" in line and missing in line and "torch_tensorrt" in line
    # The install hint, its [tensorrt] extra not eaten as rich markup.
    assert "pip install 'trt-autoplugin[tensorrt]'" in line


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
            assert entry["kind"] == "environment", entry
