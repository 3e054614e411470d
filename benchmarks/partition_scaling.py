"""Analysis and outlining time against graph size, ours against torch.fx's partitioner.

Builds real exported graphs of about 1k, 5k and 20k nodes: a stack of residual blocks, each
holding two ops that Torch-TensorRT 2.13 has no converter for, with native ops between them, so a
5,000-node graph has about 700 separate unsupported nodes, scattered: partitioning's hard case. On
each graph it times the pass's stages (``support_report``, ``propose_regions``,
``outline_regions``) and the whole pass (``outline_graph_module``), and, in the same run and on
the same candidate nodes, torch.fx's ``CapabilityBasedPartitioner`` as the reference.

Goal: the whole pass on a 5,000-node graph in under 2 s on a 2-core machine, its time growing
linearly with the graph (`goal` judges it; the JSON's ``goal`` holds the verdict).

Run from the repository root::

    python -m benchmarks.partition_scaling [--sizes 1000 5000 20000] [--repeats N]
        [--out benchmarks/results]

Writes ``partition_scaling.json``, ``.md`` and ``.png`` into ``--out``.
"""

import argparse
import copy
import dataclasses
import gc
import hashlib
import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import torch
import torch.fx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.operator_support import OperatorSupportBase

from trt_autoplugin.outline import outline_regions, unregister_region_ops
from trt_autoplugin.partition import Partition, propose_regions
from trt_autoplugin.pipeline import outline_graph_module
from trt_autoplugin.support import SnapshotSupport, SupportOracle, SupportReport, support_report

GOAL_NODES = 5_000
GOAL_SECONDS = 2.0
# A log-log slope up to this counts as linear growth (timer noise, cache effects).
LINEAR_EXPONENT = 1.2
DEFAULT_SIZES = (1_000, 5_000, 20_000)
DEFAULT_REPEATS = 5
DEFAULT_REFERENCE_BUDGET_S = 120.0
WIDTH = 8
# Per block: 3 parameter placeholders (linear weight and bias, norm scale) and 11 calls (linear,
# gelu, 2 unsupported ops, pow, mean, add, rsqrt, 2 mul, the residual add).
BLOCK_NODES = 14
FIXED_NODES = 2  # the input placeholder and the output node

Tick = Callable[[str], None]


# --- the model ----------------------------------------------------------------------------------


def _logcumsumexp(value: torch.Tensor) -> torch.Tensor:
    return torch.logcumsumexp(value, dim=-1)


# No converter in Torch-TensorRT 2.13, and each has a fake kernel, so each is outlinable.
_UNSUPPORTED: tuple[Callable[[torch.Tensor], torch.Tensor], ...] = (
    torch.special.erfinv,
    torch.lgamma,
    torch.digamma,
    _logcumsumexp,
)


class ResidualBlock(torch.nn.Module):
    """``x + second(rms_norm(first(gelu(linear(x)))))``, ``first`` and ``second`` unsupported."""

    def __init__(self, width: int, index: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(width, width)
        self.scale = torch.nn.Parameter(torch.ones(width))
        self.first = _UNSUPPORTED[(2 * index) % len(_UNSUPPORTED)]
        self.second = _UNSUPPORTED[(2 * index + 1) % len(_UNSUPPORTED)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(torch.nn.functional.gelu(self.linear(x)))
        # RMS norm spelled in native ops: the undecomposed graph's aten.layer_norm/rms_norm have
        # no converter, and would join the unsupported ops around them into larger regions.
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6) * self.scale
        return x + self.second(h)


def block_count(target_nodes: int) -> int:
    """How many residual blocks give an exported graph of about ``target_nodes`` nodes."""
    return max(1, round((target_nodes - FIXED_NODES) / BLOCK_NODES))


def exported_graph(target_nodes: int) -> torch.fx.GraphModule:
    """The graph module of a residual stack of about ``target_nodes`` nodes, exported once.

    The batch dimension is dynamic, as in the built-in examples, so the oracle's dynamic-shape
    checks and the outlined ops' symbolic shapes are part of what is timed.
    """
    torch.manual_seed(0)
    blocks = [ResidualBlock(WIDTH, i) for i in range(block_count(target_nodes))]
    model = torch.nn.Sequential(*blocks).eval()
    inputs = (torch.randn(2, 4, WIDTH),)
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, inputs, dynamic_shapes=({0: batch},))
    return program.graph_module


# --- timing -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Timing:
    """The median of a few ``time.perf_counter`` samples, in seconds, and the samples."""

    seconds: float
    samples: tuple[float, ...]

    @staticmethod
    def of(samples: Sequence[float]) -> "Timing":
        return Timing(statistics.median(samples), tuple(samples))


@dataclasses.dataclass(frozen=True, slots=True)
class PassTimes:
    """Our pass: each stage, and the whole of ``outline_graph_module``.

    The whole pass also predicts Torch-TensorRT's segments before and after and builds the
    report, so it is more than the sum of the three stages.
    """

    support_report: Timing
    propose_regions: Timing
    outline_regions: Timing
    outline_graph_module: Timing


@dataclasses.dataclass(frozen=True, slots=True)
class ReferenceTimes:
    """``CapabilityBasedPartitioner`` on the same candidates; None where it was not timed."""

    propose_partitions: Timing | None
    fuse_partitions: Timing | None
    partitions: int | None
    how: str
    skipped: str | None = None
    predicted_s: float | None = None
    time_limit_s: float | None = None  # set when run once under a limit


@dataclasses.dataclass(frozen=True, slots=True)
class SizeResult:
    """Everything measured on one graph."""

    target_nodes: int
    nodes: int
    blocks: int
    unsupported: int
    candidates: int
    covered_by_regions: int
    regions: int
    repeats: int
    export_s: float
    ours: PassTimes
    reference: ReferenceTimes


def repeats_for(target_nodes: int, repeats: int) -> int:
    """Fewer repeats for bigger graphs, so a run stays within minutes on 2 cores."""
    if target_nodes <= 2_500:
        return repeats
    if target_nodes <= 10_000:
        return max(1, (repeats + 1) // 2)
    return 1


def _seconds(run: Callable[[], object]) -> float:
    gc.collect()  # garbage of earlier runs is collected outside the timed region
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _fresh_copy(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    # Outlining mutates the graph and registers ops: every sample starts as a new process would.
    unregister_region_ops()
    return copy.deepcopy(gm)


def _measure(
    make_run: Callable[[], Callable[[], object]], repeats: int, tick: Tick, label: str
) -> Timing:
    """Times ``make_run()()`` ``repeats`` times; ``make_run`` does the untimed preparation."""
    samples = []
    for i in range(repeats):
        tick(f"{label} ({i + 1}/{repeats})")
        run = make_run()
        samples.append(_seconds(run))
    return Timing.of(samples)


def time_pass(
    gm: torch.fx.GraphModule, oracle: SupportOracle, repeats: int, tick: Tick
) -> tuple[PassTimes, SupportReport, Partition]:
    """Times each stage of the pass and the whole pass on ``gm`` (which is left unchanged)."""
    report = support_report(gm, oracle)
    partition = propose_regions(gm, report)
    support = _measure(lambda: lambda: support_report(gm, oracle), repeats, tick, "support")
    propose = _measure(lambda: lambda: propose_regions(gm, report), repeats, tick, "partition")

    def outline_run() -> Callable[[], object]:
        graph = _fresh_copy(gm)
        return lambda: outline_regions(graph, partition.regions)

    def whole_run() -> Callable[[], object]:
        graph = _fresh_copy(gm)
        return lambda: outline_graph_module(graph, oracle)

    outline = _measure(outline_run, repeats, tick, "outline")
    whole = _measure(whole_run, repeats, tick, "whole pass")
    unregister_region_ops()
    return PassTimes(support, propose, outline, whole), report, partition


# --- the reference: torch.fx's CapabilityBasedPartitioner ---------------------------------------


class CandidateSupport(OperatorSupportBase):
    """'Supported' for exactly our outlinable unsupported nodes: both partitioners group the
    same candidate set."""

    def __init__(self, names: frozenset[str]) -> None:
        super().__init__()
        self.names = names

    def is_node_supported(
        self, submodules: Mapping[str, torch.nn.Module], node: torch.fx.Node
    ) -> bool:
        return node.name in self.names


def outlinable_nodes(report: SupportReport, partition: Partition) -> frozenset[str]:
    """The unsupported nodes the pass may outline: unsupported and not refused."""
    return frozenset(report.unsupported()) - frozenset(partition.refused)


def _reference_sample(gm: torch.fx.GraphModule, names: frozenset[str]) -> tuple[float, float, int]:
    partitioner = CapabilityBasedPartitioner(
        copy.deepcopy(gm), CandidateSupport(names), allows_single_node_partition=True
    )
    gc.collect()
    start = time.perf_counter()
    partitions = partitioner.propose_partitions()
    proposed = time.perf_counter()
    partitioner.fuse_partitions(partitions)
    return proposed - start, time.perf_counter() - proposed, len(partitions)


def _reference_child(gm: torch.fx.GraphModule, names: frozenset[str], sender: Connection) -> None:
    # Runs in a forked child, which owns its copy of gm; each result is sent as soon as known
    # so that a propose time survives a fuse that runs past the limit.
    partitioner = CapabilityBasedPartitioner(
        gm, CandidateSupport(names), allows_single_node_partition=True
    )
    gc.collect()
    start = time.perf_counter()
    partitions = partitioner.propose_partitions()
    sender.send(("propose_partitions", time.perf_counter() - start, len(partitions)))
    start = time.perf_counter()
    partitioner.fuse_partitions(partitions)
    sender.send(("fuse_partitions", time.perf_counter() - start, len(partitions)))


def _received_within(receiver: Connection, budget_s: float) -> list[tuple[str, float, int]]:
    messages: list[tuple[str, float, int]] = []
    deadline = time.monotonic() + budget_s
    while len(messages) < 2:
        left = deadline - time.monotonic()
        if left <= 0 or not receiver.poll(left):
            break
        try:
            messages.append(receiver.recv())
        except EOFError:  # the child died; what it sent before is kept
            break
    return messages


def _reference_bounded(
    gm: torch.fx.GraphModule, names: frozenset[str], budget_s: float, predicted_s: float
) -> ReferenceTimes:
    """One reference run in a forked child, stopped after ``budget_s``."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_reference_child, args=(gm, names, sender), daemon=True)
    child.start()
    sender.close()
    messages = _received_within(receiver, budget_s)
    if child.is_alive():
        child.kill()
    child.join()
    times = {name: Timing.of([seconds]) for name, seconds, _ in messages}
    how = f"once, in a forked child stopped after {budget_s:.3g} s"
    skipped = None
    if len(messages) < 2:
        unfinished = "fuse_partitions" if messages else "propose_partitions"
        skipped = (
            f"{unfinished} did not finish within {budget_s:.3g} s and was stopped; the growth "
            f"between the smaller sizes predicted {predicted_s:.3g} s for propose + fuse"
        )
    partitions = messages[0][2] if messages else None
    return ReferenceTimes(
        times.get("propose_partitions"),
        times.get("fuse_partitions"),
        partitions,
        how,
        skipped,
        predicted_s,
        budget_s,
    )


def predicted_reference_s(history: Sequence[tuple[int, float]], nodes: int) -> float | None:
    """Propose + fuse time extrapolated along the growth between the last two measured sizes.

    With one measured size the growth is taken as quadratic, which understates it: the
    reference grows faster than that on these graphs.
    """
    if not history:
        return None
    last_nodes, last_s = history[-1]
    exponent = 2.0
    if len(history) >= 2 and history[-2][0] != last_nodes and history[-2][1] > 0:
        previous_nodes, previous_s = history[-2]
        exponent = max(1.0, math.log(last_s / previous_s) / math.log(last_nodes / previous_nodes))
    return last_s * (nodes / last_nodes) ** exponent


def time_reference(
    gm: torch.fx.GraphModule,
    names: frozenset[str],
    repeats: int,
    *,
    budget_s: float,
    predicted_s: float | None,
) -> ReferenceTimes:
    """Times the reference in process, or once under a time limit where it would overrun."""
    if predicted_s is not None and predicted_s > budget_s:
        return _reference_bounded(gm, names, budget_s, predicted_s)
    if predicted_s is not None and predicted_s > 0:
        repeats = max(1, min(repeats, int(budget_s // predicted_s)))
    samples = [_reference_sample(gm, names) for _ in range(repeats)]
    return ReferenceTimes(
        Timing.of([s[0] for s in samples]),
        Timing.of([s[1] for s in samples]),
        samples[0][2],
        f"in process, median of {repeats}",
        None,
        predicted_s,
    )


def _skipped_reference(reason: str) -> ReferenceTimes:
    return ReferenceTimes(None, None, None, "not run", reason)


# --- one size, all sizes ------------------------------------------------------------------------


def measure_size(
    target_nodes: int,
    *,
    repeats: int,
    reference_budget_s: float | None,
    reference_history: list[tuple[int, float]],
    tick: Tick,
) -> SizeResult:
    """Exports one graph and times the pass and (unless the budget is None) the reference."""
    tick(f"export ~{target_nodes:,} nodes")
    start = time.perf_counter()
    gm = exported_graph(target_nodes)
    export_s = time.perf_counter() - start
    nodes = len(gm.graph.nodes)
    ours, report, partition = time_pass(gm, SnapshotSupport(), repeats, tick)
    names = outlinable_nodes(report, partition)
    tick("CapabilityBasedPartitioner")
    if reference_budget_s is None:
        reference = _skipped_reference("disabled (--no-reference)")
    else:
        predicted = predicted_reference_s(reference_history, nodes)
        reference = time_reference(
            gm, names, repeats, budget_s=reference_budget_s, predicted_s=predicted
        )
        total = reference_total_s(reference)
        if total is not None and reference.time_limit_s is None:
            reference_history.append((nodes, total))
    return SizeResult(
        target_nodes=target_nodes,
        nodes=nodes,
        blocks=block_count(target_nodes),
        unsupported=len(report.unsupported()),
        candidates=len(names),
        covered_by_regions=sum(len(r.nodes) for r in partition.regions),
        regions=len(partition.regions),
        repeats=repeats,
        export_s=export_s,
        ours=ours,
        reference=reference,
    )


def machine() -> dict[str, Any]:
    """The machine the numbers come from."""
    return {
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def source_digest() -> str:
    """A hash of the trt_autoplugin modules this process loaded: which code the numbers
    belong to (the package is edited while benchmarks run, and may not be committed yet)."""
    files = {
        module.__file__
        for name, module in sys.modules.items()
        if name.split(".")[0] == "trt_autoplugin" and getattr(module, "__file__", None)
    }
    digest = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _exponent(a: float, b: float, nodes_a: int, nodes_b: int) -> float | None:
    if a <= 0 or b <= 0 or nodes_a == nodes_b:
        return None
    return math.log(b / a) / math.log(nodes_b / nodes_a)


def growth(sizes: Sequence[SizeResult]) -> dict[str, list[dict[str, Any]]]:
    """Log-log slopes between consecutive sizes (1 is linear, 2 quadratic)."""
    series: dict[str, Callable[[SizeResult], float | None]] = {
        "support_report": lambda s: s.ours.support_report.seconds,
        "propose_regions": lambda s: s.ours.propose_regions.seconds,
        "outline_regions": lambda s: s.ours.outline_regions.seconds,
        "outline_graph_module": lambda s: s.ours.outline_graph_module.seconds,
        "reference_propose_partitions": lambda s: _seconds_or_none(s.reference.propose_partitions),
        "reference_fuse_partitions": lambda s: _seconds_or_none(s.reference.fuse_partitions),
    }
    result: dict[str, list[dict[str, Any]]] = {}
    for name, value in series.items():
        steps = []
        for a, b in zip(sizes, sizes[1:], strict=False):
            va, vb = value(a), value(b)
            if va is not None and vb is not None:
                slope = _exponent(va, vb, a.nodes, b.nodes)
                steps.append({"from_nodes": a.nodes, "to_nodes": b.nodes, "exponent": slope})
        result[name] = steps
    return result


def _seconds_or_none(timing: Timing | None) -> float | None:
    return None if timing is None else timing.seconds


def goal(sizes: Sequence[SizeResult], steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Whether the whole pass meets the goal (the module docstring's) on the size nearest 5,000
    nodes: under ``GOAL_SECONDS``, every growth exponent at most ``LINEAR_EXPONENT``."""
    near = [s for s in sizes if abs(s.nodes - GOAL_NODES) <= GOAL_NODES // 10]
    exponents = [s["exponent"] for s in steps if s["exponent"] is not None]
    linear = all(e <= LINEAR_EXPONENT for e in exponents) if exponents else None
    seconds = near[0].ours.outline_graph_module.seconds if near else None
    fast = None if seconds is None else seconds < GOAL_SECONDS
    return {
        "nodes": GOAL_NODES,
        "seconds": GOAL_SECONDS,
        "measured_nodes": near[0].nodes if near else None,
        "measured_seconds": seconds,
        "under_time": fast,
        "linear_exponent_limit": LINEAR_EXPONENT,
        "linear": linear,
        "met": None if fast is None or linear is None else fast and linear,
    }


def run_benchmark(
    sizes: Sequence[int],
    *,
    repeats: int = DEFAULT_REPEATS,
    out: Path,
    reference_budget_s: float | None = DEFAULT_REFERENCE_BUDGET_S,
    show_progress: bool = True,
    console: Console | None = None,
) -> tuple[dict[str, Any], list[SizeResult]]:
    """Runs the benchmark and writes ``partition_scaling.{json,md,png}`` into ``out``.

    Args:
        sizes: target node counts; each becomes one exported graph.
        repeats: samples per stage on small graphs (fewer on big ones, see ``repeats_for``).
        out: the results folder (created if missing).
        reference_budget_s: the reference's time limit per size; None skips the reference.
        show_progress: show a ``rich`` progress bar.
        console: where the progress bar and the summary go.

    Returns:
        The JSON document as written, and the results it was made from.
    """
    console = console or Console()
    # The pass is imported with this module, so the loaded code is what is on disk now.
    source = source_digest()
    ordered = sorted(sizes)
    plan = [(n, repeats_for(n, repeats)) for n in ordered]
    history: list[tuple[int, float]] = []
    results = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
    columns += (MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not show_progress) as progress:
        task = progress.add_task("starting", total=sum(4 * r + 2 for _, r in plan))
        for target, size_repeats in plan:

            def tick(text: str, target: int = target) -> None:
                progress.update(task, description=f"~{target:,} nodes: {text}", advance=1)

            result = measure_size(
                target,
                repeats=size_repeats,
                reference_budget_s=reference_budget_s,
                reference_history=history,
                tick=tick,
            )
            results.append(result)
    data = results_dict(results, repeats=repeats, reference_budget_s=reference_budget_s)
    data["settings"]["trt_autoplugin_source_sha256"] = source
    write_results(data, results, out)
    return data, results


def results_dict(
    results: Sequence[SizeResult], *, repeats: int, reference_budget_s: float | None
) -> dict[str, Any]:
    """The JSON document."""
    steps = growth(results)
    return {
        "benchmark": "partition_scaling",
        "issue": 3,
        "machine": machine(),
        "settings": {
            "timer": "time.perf_counter",
            "statistic": "median",
            "repeats": repeats,
            "oracle": SnapshotSupport().description,
            "graph": (
                f"torch.export of a stack of residual blocks (width {WIDTH}, dynamic batch), "
                "not decomposed; per block 2 ops without a converter (special_erfinv, lgamma, "
                "digamma, logcumsumexp in turn) between native ops"
            ),
            "reference": (
                "CapabilityBasedPartitioner(gm, op_support, allows_single_node_partition=True)"
                " with op_support true for exactly our outlinable unsupported nodes"
            ),
            "reference_budget_s": reference_budget_s,
            "garbage_collection": "collected before each sample, enabled while timing",
        },
        "goal": goal(results, steps["outline_graph_module"]),
        "growth": steps,
        "sizes": [dataclasses.asdict(r) for r in results],
    }


# --- output -------------------------------------------------------------------------------------


def _fmt(timing: Timing | None) -> str:
    if timing is None:
        return "—"
    return f"{timing.seconds:.3f}" if timing.seconds < 10 else f"{timing.seconds:.1f}"


def _reference_cells(reference: ReferenceTimes) -> tuple[str, str, str]:
    propose = _fmt(reference.propose_partitions)
    fuse = _fmt(reference.fuse_partitions)
    if reference.time_limit_s is not None:
        limit = f"{reference.time_limit_s:.3g} s"
        propose = propose if reference.propose_partitions is not None else f"> {limit}"
        fuse = fuse if reference.fuse_partitions is not None else "not reached"
    partitions = "—" if reference.partitions is None else str(reference.partitions)
    return propose, fuse, partitions


TABLE_HEADER = (
    "target",
    "nodes",
    "unsupported",
    "regions",
    "repeats",
    "support_report s",
    "propose_regions s",
    "outline_regions s",
    "whole pass s",
    "ref. propose_partitions s",
    "ref. fuse_partitions s",
    "ref. partitions",
)


def table_rows(results: Sequence[SizeResult]) -> list[tuple[str, ...]]:
    """One row per size, as in ``TABLE_HEADER``."""
    rows = []
    for r in results:
        rows.append(
            (
                f"{r.target_nodes:,}",
                f"{r.nodes:,}",
                f"{r.unsupported:,}",
                f"{r.regions:,}",
                str(r.repeats),
                _fmt(r.ours.support_report),
                _fmt(r.ours.propose_regions),
                _fmt(r.ours.outline_regions),
                _fmt(r.ours.outline_graph_module),
                *_reference_cells(r.reference),
            )
        )
    return rows


def markdown(data: Mapping[str, Any], results: Sequence[SizeResult]) -> str:
    """The Markdown summary: machine, table, goal, growth and notes."""
    m = data["machine"]
    lines = [
        "# Partition scaling: analysis and outlining time against graph size",
        "",
        f"Machine: {m['cpus_available']} of {m['cpu_count']} CPUs available, {m['platform']}, "
        f"Python {m['python']}, torch {m['torch_version']}. Oracle: {data['settings']['oracle']}.",
        f"Graph: {data['settings']['graph']}.",
        "Times are medians of `time.perf_counter` samples, in seconds (garbage collected "
        "before each sample, collector enabled while timing, as in real use). The whole pass "
        "is `outline_graph_module`: the three stages plus the predicted segments and the "
        "report. trt_autoplugin modules loaded: sha256 "
        f"{data['settings']['trt_autoplugin_source_sha256']}.",
        "",
        "| " + " | ".join(TABLE_HEADER) + " |",
        "|" + "|".join("---:" for _ in TABLE_HEADER) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    lines += ["", *_goal_lines(data["goal"]), "", "Growth (log-log slope; 1 is linear):", ""]
    for name, steps in data["growth"].items():
        text = ", ".join(
            f"{s['from_nodes']:,}→{s['to_nodes']:,}: {s['exponent']:.2f}"
            for s in steps
            if s["exponent"] is not None
        )
        lines.append(f"- `{name}`: {text or '—'}")
    notes = [
        f"- ~{r.target_nodes:,} nodes: reference {r.reference.how}; {r.reference.skipped}"
        for r in results
        if r.reference.skipped is not None
    ]
    if notes:
        lines += ["", "Reference not fully timed:", "", *notes]
    return "\n".join(lines) + "\n"


def _goal_lines(goal_data: Mapping[str, Any]) -> list[str]:
    if goal_data["measured_seconds"] is None:
        return [f"Goal ({GOAL_NODES:,} nodes in < {GOAL_SECONDS} s): no size near it measured."]
    verdict = {True: "met", False: "NOT met", None: "undecided"}[goal_data["met"]]
    linear = {True: "linear", False: "superlinear", None: "unknown"}[goal_data["linear"]]
    return [
        f"Goal ({GOAL_NODES:,} nodes in < {GOAL_SECONDS:g} s, linear growth): **{verdict}**: "
        f"{goal_data['measured_seconds']:.3f} s at {goal_data['measured_nodes']:,} nodes; "
        f"growth of the whole pass {linear} (limit: slope {LINEAR_EXPONENT})."
    ]


def write_plot(results: Sequence[SizeResult], path: Path) -> None:
    """Log-log plot of time against node count, ours and the reference, with a linear guide."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = [r.nodes for r in results]
    figure, axes = plt.subplots(figsize=(7, 5))
    whole = [r.ours.outline_graph_module.seconds for r in results]
    analysis = [r.ours.support_report.seconds + r.ours.propose_regions.seconds for r in results]
    outline = [r.ours.outline_regions.seconds for r in results]
    axes.plot(nodes, whole, "o-", color="tab:blue", label="trt_autoplugin: whole pass")
    axes.plot(nodes, analysis, "s--", color="tab:cyan", label="support_report + propose_regions")
    axes.plot(nodes, outline, "d--", color="tab:purple", label="outline_regions")
    _plot_reference(axes, results)
    guide = [whole[0] * n / nodes[0] for n in nodes]
    axes.plot(nodes, guide, ":", color="grey", label="linear growth (from the smallest size)")
    axes.plot([GOAL_NODES], [GOAL_SECONDS], "*", color="green", markersize=14, label="goal")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("nodes in the exported graph")
    axes.set_ylabel("seconds (median)")
    axes.set_title("Analysis and outlining time against graph size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def reference_total_s(reference: ReferenceTimes) -> float | None:
    """propose + fuse, where both were timed."""
    if reference.propose_partitions is None or reference.fuse_partitions is None:
        return None
    return reference.propose_partitions.seconds + reference.fuse_partitions.seconds


def _plot_reference(axes: Any, results: Sequence[SizeResult]) -> None:
    timed = [(r.nodes, reference_total_s(r.reference)) for r in results]
    points = [(n, t) for n, t in timed if t is not None]
    if points:
        label = "CapabilityBasedPartitioner: propose + fuse"
        axes.plot(*zip(*points, strict=True), "o-", color="tab:red", label=label)
    for r in results:
        limit = r.reference.time_limit_s
        if limit is None or r.reference.skipped is None:
            continue
        # A lower bound: the run was stopped at the limit.
        axes.plot([r.nodes], [limit], "^", color="tab:red", markersize=10)
        axes.annotate(
            f"> {limit:.3g} s (stopped)",
            (r.nodes, limit),
            textcoords="offset points",
            xytext=(-115, -4),
            fontsize="small",
            color="tab:red",
        )


def write_results(data: Mapping[str, Any], results: Sequence[SizeResult], out: Path) -> None:
    """Writes the JSON, Markdown and PNG files."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "partition_scaling.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / "partition_scaling.md").write_text(markdown(data, results))
    write_plot(results, out / "partition_scaling.png")


SHORT_HEADER = (
    "target",
    "nodes",
    "unsup.",
    "regions",
    "rep.",
    "support",
    "partition",
    "outline",
    "whole",
    "ref.propose",
    "ref.fuse",
    "ref.parts",
)


def summary_table(results: Sequence[SizeResult]) -> Table:
    """The results as a ``rich`` table (the columns of ``TABLE_HEADER``, shorter names)."""
    table = Table(title="partition scaling (seconds, medians)")
    for name in SHORT_HEADER:
        table.add_column(name, justify="right", no_wrap=True)
    for row in table_rows(results):
        table.add_row(*row)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.partition_scaling``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--reference-budget",
        type=float,
        default=DEFAULT_REFERENCE_BUDGET_S,
        help="seconds the reference may take per size before it is run once and stopped",
    )
    parser.add_argument("--no-reference", action="store_true", help="skip the reference")
    args = parser.parse_args(argv)
    # Not a terminal (a log file): wide enough for the whole summary table.
    console = Console() if Console().is_terminal else Console(width=140)
    budget = None if args.no_reference else args.reference_budget
    data, results = run_benchmark(
        args.sizes, repeats=args.repeats, out=args.out, reference_budget_s=budget, console=console
    )
    console.print(summary_table(results))
    console.print(" ".join(_goal_lines(data["goal"])))
    console.print(f"results written to {args.out}/partition_scaling.{{json,md,png}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
