"""The command line: ``trt-autoplugin analyze | examples | compile``.

The only module that prints.
"""

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import examples
from .converter import is_torch_tensorrt_available
from .errors import AutopluginError
from .lowering import implementations
from .pipeline import autoplugin
from .report import Report, rich_renderables
from .support import SnapshotSupport, SupportOracle, default_support

# Shows both paths: a region outlined and a data-dependent node refused with its reason.
DEFAULT_EXAMPLE = "data_dependent"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trt-autoplugin",
        description="Find what Torch-TensorRT can't convert and outline it into plugins.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser("analyze", help="report regions, graph breaks and reasons")
    _add_program_arguments(analyze)
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
    _add_program_arguments(compile_)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _add_program_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("program", nargs="?", type=Path, help="a torch.export .pt2 file")
    source.add_argument(
        "--example", choices=examples.example_names(), help="a built-in example model"
    )


def _load_program(args: argparse.Namespace) -> tuple[torch.export.ExportedProgram, str]:
    if args.program is not None:
        if not args.program.is_file():
            raise AutopluginError(f"no such program file: {args.program}")
        return torch.export.load(args.program), str(args.program)
    name = args.example or DEFAULT_EXAMPLE
    return examples.export_example(name), f"example '{name}'"


def _analyze(args: argparse.Namespace, console: Console) -> int:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
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
    console.print(f"[bold]trt_autoplugin[/bold] analysis of {what}")
    for renderable in rich_renderables(report):
        console.print(renderable)
    if args.json:
        args.json.write_text(report.to_json())
    if args.markdown:
        args.markdown.write_text(report.to_markdown())
    return 0


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
        console.print(f"[bold]{name}[/bold]  {doc}")
    return 0


def _compile(args: argparse.Namespace, console: Console) -> int:
    from . import converter

    reason = converter.torch_tensorrt_import_error()
    if reason is not None:
        console.print(f"trt-autoplugin compile needs TensorRT: {reason}; {converter.INSTALL_HINT}")
        return 2
    from . import lowering

    name = args.example or DEFAULT_EXAMPLE
    if args.program is not None:
        raise AutopluginError("compile takes --example NAME: a .pt2 file carries no example inputs")
    model, inputs, dynamic_shapes = examples.load_example(name)
    model, inputs = model.cuda().eval(), tuple(x.cuda() for x in inputs)
    with console.status(f"compiling example '{name}' with Torch-TensorRT"):
        result = lowering.compile(model, inputs, dynamic_shapes=dynamic_shapes)
    expected, got = model(*inputs), result.module(*inputs)
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3)
    report = result.report
    console.print(
        f"example '{name}': {report.engines} TensorRT engine(s), {report.graph_breaks} graph "
        f"break(s), {len(result.regions)} plugin region(s); outputs match eager"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trt-autoplugin`` console script."""
    args = _parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "examples":
            return _examples(console)
        if args.command == "analyze":
            return _analyze(args, console)
        return _compile(args, console)
    except AutopluginError as e:
        console.print(f"[red]error:[/red] {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
