"""The command line: ``trt-autoplugin analyze | examples | compile``.

The only module that prints.
"""

import argparse
import dataclasses
import importlib
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import archive, examples
from .errors import ArchiveError, AutopluginError
from .lowering import implementations
from .outline import NAMESPACE
from .pipeline import autoplugin
from .probes import (
    TORCH_TENSORRT_INSTALL_HINT,
    is_torch_tensorrt_available,
    torch_tensorrt_import_error,
)
from .report import Report, rich_renderables
from .serialize import load_regions
from .support import SnapshotSupport, SupportOracle, default_support

# Shows a region and a data-dependent one, whose output length TensorRT gets from a size tensor.
DEFAULT_EXAMPLE = "data_dependent"

# torch 2.13 warns about its own pytree specs whenever it exports or loads a program: nothing the
# user can act on. Only this warning is silenced, and only while the command runs.
_LEAF_SPEC_WARNING = r"`isinstance\(treespec, LeafSpec\)` is deprecated"

# How torch's deserializer names an op that is not registered in this process.
_UNRESOLVED_OP = re.compile(r"failed to resolve torch\.ops\.(\w+)\.(\w+)(?:\.\w+)? to an operator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trt-autoplugin",
        description="Find what Torch-TensorRT can't convert and outline it into plugins.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser("analyze", help="report regions, graph breaks and reasons")
    _add_program_arguments(analyze)
    _add_registration_arguments(analyze)
    analyze.add_argument("--json", type=Path, help="also write the report as JSON here")
    analyze.add_argument("--markdown", type=Path, help="also write the report as Markdown here")
    analyze.add_argument(
        "--snapshot",
        action="store_true",
        help="predict from the shipped snapshot even where torch_tensorrt imports",
    )
    analyze.add_argument(
        "--min-block-size",
        type=_positive_int,
        default=5,
        help="Torch-TensorRT's min_block_size: engines with fewer ops run in PyTorch (default 5)",
    )
    analyze.add_argument(
        "--no-dryrun",
        action="store_true",
        help="where torch_tensorrt imports, don't run its own dryrun beside the prediction",
    )
    analyze.add_argument(
        "--aot",
        action="store_true",
        help="also build each region's ahead-of-time kernel (needs a CUDA GPU) and report, per "
        "region, AOT or JIT and why",
    )
    commands.add_parser("examples", help="list the built-in examples")
    compile_ = commands.add_parser("compile", help="compile with Torch-TensorRT (needs TensorRT)")
    # The positional is kept so that a .pt2 gets one line saying why not, not argparse's usage.
    _add_program_arguments(compile_, program_help="refused: a .pt2 carries no example inputs")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _add_program_arguments(
    parser: argparse.ArgumentParser, *, program_help: str = "a torch.export .pt2 file"
) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("program", nargs="?", type=Path, help=program_help)
    source.add_argument(
        "--example", choices=examples.example_names(), help="a built-in example model"
    )


def _add_registration_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import",
        dest="imports",
        metavar="MODULE",
        action="append",
        default=[],
        help="import this module first, so the custom ops it registers exist when the program "
        "loads (repeatable; it must be importable: PYTHONPATH=. for one in this folder)",
    )
    parser.add_argument(
        "--regions",
        metavar="DIR",
        type=Path,
        action="append",
        default=[],
        help="register the region ops saved in DIR by trt_autoplugin.save_regions first, so a "
        "program rewritten by autoplugin loads (repeatable)",
    )


def _load_program(args: argparse.Namespace) -> tuple[torch.export.ExportedProgram, str]:
    """The program to analyze and what it is, after the ops it needs are registered."""
    for module in args.imports:
        _import_module(module)
    for folder in args.regions:
        _register_saved_regions(folder)
    if args.program is not None:
        return _load_file(args.program), str(args.program)
    name = args.example or DEFAULT_EXAMPLE
    return examples.export_example(name), f"example '{name}'"


def _import_module(name: str) -> None:
    try:
        importlib.import_module(name)
    except Exception as e:  # a user module can fail any way; it is reported, not swallowed
        raise AutopluginError(
            f"--import {name}: {type(e).__name__}: {_first_line(e)} (the module must be "
            "importable by this Python: PYTHONPATH=. for one in the current folder)"
        ) from e


def _register_saved_regions(folder: Path) -> None:
    if not folder.is_dir():
        raise AutopluginError(
            f"--regions {folder}: no such folder (give the folder trt_autoplugin.save_regions "
            "wrote)"
        )
    load_regions(folder)


def _load_file(path: Path) -> torch.export.ExportedProgram:
    if path.is_dir():
        raise AutopluginError(
            f"{path} is a folder, not a .pt2 program file (a folder of saved regions goes to "
            "--regions DIR, with the rewritten program's .pt2 as PROGRAM)"
        )
    if not path.exists():
        raise AutopluginError(f"no such program file: {path}")
    try:
        return archive.load_program(path)
    except ArchiveError as e:
        raise AutopluginError(_load_failure(path, e)) from e


def _load_failure(path: Path, error: ArchiveError) -> str:
    """One line for a program that did not load: for an op nobody registered, which op and how
    to register it; else the archive's own message."""
    match = _UNRESOLVED_OP.search(f"{error} {error.__cause__}")
    if match is None:
        return _first_line(error)
    namespace, name = match.groups()
    if namespace == NAMESPACE:
        fix = (
            "it is a region op that trt_autoplugin outlined in another process: pass --regions "
            "DIR, the folder trt_autoplugin.save_regions wrote for this program"
        )
    else:
        fix = "pass --import MODULE, the Python module that registers it"
    return f"{path}: calls {namespace}::{name}, which is not registered in this process; {fix}"


def _analyze(args: argparse.Namespace, console: Console) -> int:
    outputs = {"JSON": args.json, "Markdown": args.markdown}
    for kind, path in outputs.items():
        if path is not None:
            _check_writable(path, kind)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        # Off a terminal a spinner is noise (and leaves a blank line before an error).
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("exporting", total=2)
        ep, what = _load_program(args)
        progress.update(task, description="decomposing, partitioning, outlining", advance=1)
        oracle: SupportOracle = SnapshotSupport() if args.snapshot else default_support()
        result = autoplugin(ep, support=oracle, min_block_size=args.min_block_size)
        progress.advance(task)
        report = result.report
        if not args.no_dryrun and is_torch_tensorrt_available():
            progress.update(task, description="running Torch-TensorRT's own dryrun")
            report = _with_dryrun(report, ep, args.min_block_size)
        if args.aot:
            progress.update(task, description="compiling and checking AOT kernels")
            _, entries = implementations(result.regions, aot=True)
            report = dataclasses.replace(report, implementations=entries)
    texts = {"JSON": report.to_json, "Markdown": report.to_markdown}
    for kind, path in outputs.items():
        if path is not None:
            _write(path, kind, texts[kind]())
    _print_screen(console, args, report, what)
    return 0


def _check_writable(path: Path, kind: str) -> None:
    """Fails before the analysis, not after it, where the report can't be written."""
    problem = None
    if path.is_dir():
        problem = "it is a folder"
    elif not path.parent.is_dir():
        problem = f"there is no folder {path.parent}"
    elif not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        problem = "permission denied"
    if problem is not None:
        raise AutopluginError(f"can't write the {kind} report to {path}: {problem}")


def _write(path: Path, kind: str, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as e:
        raise AutopluginError(
            f"can't write the {kind} report to {path}: {e.strerror or _first_line(e)}"
        ) from e


def _print_screen(console: Console, args: argparse.Namespace, report: Report, what: str) -> None:
    """The report, with what ran above it and how to read it and what to try next below it."""
    console.print(f"[bold]trt_autoplugin[/bold] analysis of {escape(_description(args, what))}")
    for renderable in rich_renderables(report):
        console.print(renderable)
    size = args.min_block_size
    zero = " ('before' has none here: no block reaches it)" if report.before.tensorrt == 0 else ""
    console.print(
        "[bold]Reading it:[/bold] engines are what Torch-TensorRT compiles, PyTorch segments the "
        "graph breaks between them; 'before' is the program as given, 'after' with the regions "
        f"outlined into plugins. Torch-TensorRT's min_block_size {size}: a block of fewer than "
        f"{size} convertible ops runs in PyTorch, not as an engine{zero}; --min-block-size N "
        "changes it."
    )
    console.print(
        "[bold]Next:[/bold] trt-autoplugin examples lists the models for --example NAME; analyze "
        "PROGRAM.pt2 (--import MODULE for your own ops); --json FILE / --markdown FILE save this "
        "report; trt-autoplugin compile --example NAME builds the engine (TensorRT, GPU)."
    )


def _description(args: argparse.Namespace, what: str) -> str:
    if args.program is not None:
        return what
    name = args.example or DEFAULT_EXAMPLE
    doc = (examples.EXAMPLES[name].__doc__ or "").strip().splitlines()[0]
    doc = doc.split(") ", 1)[1] if doc.startswith("(") and ") " in doc else doc
    default = "" if args.example else ", the default"
    return f"{what}{default}: {doc}"


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "")


def _with_dryrun(report: Report, ep: torch.export.ExportedProgram, min_block_size: int) -> Report:
    """The report with Torch-TensorRT's own dryrun numbers, or why they are absent."""
    from .lowering import torch_tensorrt_dryrun

    try:
        dryrun = torch_tensorrt_dryrun(ep, min_block_size=min_block_size)
    except (AutopluginError, RuntimeError, ValueError, TypeError, AttributeError) as e:
        reason = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
        return dataclasses.replace(report, torch_tensorrt_dryrun_error=reason)
    return dataclasses.replace(report, torch_tensorrt_dryrun=dryrun)


def _examples(console: Console) -> int:
    for name in examples.example_names():
        doc = (examples.EXAMPLES[name].__doc__ or "").strip().splitlines()[0]
        console.print(f"[bold]{name}[/bold]  {escape(doc)}")
    return 0


def _compile(args: argparse.Namespace, console: Console) -> int:
    if args.program is not None:
        raise AutopluginError(
            f"compile takes --example NAME, not {args.program}: a .pt2 file carries no example "
            "inputs to check the engine with (analyze takes a .pt2)"
        )
    reason = torch_tensorrt_import_error()
    if reason is not None:
        hint = TORCH_TENSORRT_INSTALL_HINT
        console.print(
            escape(f"trt-autoplugin compile needs TensorRT: {reason}; {hint}"),
            soft_wrap=True,
        )
        return 2
    from . import lowering

    name = args.example or DEFAULT_EXAMPLE
    model, inputs, dynamic_shapes = examples.load_example(name)
    model, inputs = model.cuda().eval(), tuple(x.cuda() for x in inputs)
    with console.status(escape(f"compiling example '{name}' with Torch-TensorRT")):
        result = lowering.compile(model, inputs, dynamic_shapes=dynamic_shapes)
    expected, got = model(*inputs), result.module(*inputs)
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3)
    report = result.report
    console.print(
        escape(
            f"example '{name}': {report.engines} TensorRT engine(s), {report.graph_breaks} graph "
            f"break(s), {len(result.regions)} plugin region(s); outputs match eager"
        )
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trt-autoplugin`` console script.

    Bad input (a missing, corrupt or untrusted file, an op nobody registered, an unwritable
    output) is one line on stderr and exit status 1, never a traceback.
    """
    args = _parser().parse_args(argv)
    console = Console()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_LEAF_SPEC_WARNING, category=FutureWarning)
        try:
            return _run(args, console)
        except AutopluginError as e:
            # soft_wrap: one line, however long the paths in it.
            errors = Console(stderr=True, soft_wrap=True)
            errors.print(f"[red]error:[/red] {escape(_first_line(e))}")
            return 1


def _run(args: argparse.Namespace, console: Console) -> int:
    if args.command == "examples":
        return _examples(console)
    if args.command == "analyze":
        return _analyze(args, console)
    return _compile(args, console)


if __name__ == "__main__":
    sys.exit(main())
