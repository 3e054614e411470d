"""Coverage over PyTorch's OpInfo database: which ops with no Torch-TensorRT converter the pass
outlines, and whether what it outlines computes what eager computes.

For each OpInfo op (``op_db``), the first sample whose input is a tensor is exported as a small
module (tensor arguments become inputs, the rest is baked in), decomposed with the shipped
snapshot's table, and kept if the snapshot marks a node unsupported. Per op: the unsupported
targets, the regions, what is left in the graph (kind and reason), and whether the rewritten
program (each region run through its body) equals eager. On CUDA also: whether each region run
through `jit_launch` on poisoned, TensorRT-shaped buffers equals eager, and whether an AOT
kernel was built (and checked against eager) or why not.

python -m benchmarks.coverage --device cpu|cuda [--shard I/N] [--limit K] [--ops a,b]
                              [--cache FILE] [--out benchmarks/results] [--quiet]
python -m benchmarks.coverage --merge benchmarks/results/coverage-*.json --out DIR
"""

import argparse
import contextlib
import dataclasses
import gc
import json
import math
import signal
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sympy
import torch
import torch.fx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trt_autoplugin import SnapshotSupport, autoplugin
from trt_autoplugin.graph import target_name
from trt_autoplugin.outline import OutlinedRegion, RegionBody, run_body
from trt_autoplugin.pipeline import decomposed
from trt_autoplugin.pluggable import size_tensors
from trt_autoplugin.support import Verdict, support_report

NOT_RUN_CPU = "not run (needs CUDA)"
NO_REGION = "n/a (no region)"
# Per op, on either device; an AOT build (Inductor and its tuning) takes most of it on CUDA.
OP_TIMEOUT_S = 120
# A check column's value where the outputs equal eager's (else the mismatch or error).
PASS = "equal"


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    """One OpInfo sample as a module's inputs: the tensors, and where each goes in the call."""

    tensors: tuple[torch.Tensor, ...]
    args: tuple[Any, ...]  # the positional arguments, with None where a tensor goes
    kwargs: dict[str, Any]
    slots: tuple[int | str, ...]  # each tensor's position (int) or keyword (str)


class _OpModule(torch.nn.Module):
    """Calls an OpInfo op with the sample's baked arguments and the module's tensor inputs."""

    def __init__(self, fn: Callable[..., Any], sample: Sample) -> None:
        super().__init__()
        self.fn = fn
        self.sample = sample

    def forward(self, *tensors: torch.Tensor) -> Any:
        args = list(self.sample.args)
        kwargs = dict(self.sample.kwargs)
        for slot, tensor in zip(self.sample.slots, tensors, strict=True):
            if isinstance(slot, int):
                args[slot] = tensor
            else:
                kwargs[slot] = tensor
        return self.fn(*args, **kwargs)


class _OpTimeout(BaseException):  # noqa: N818
    """Raised by the alarm; a BaseException, so the per-stage ``except Exception`` lets it
    through to `coverage_row`."""


@contextlib.contextmanager
def _time_box(seconds: int) -> Iterator[None]:
    """Raises `_OpTimeout` in the main thread after ``seconds`` (between Python bytecodes)."""

    def expire(signum: int, frame: object) -> None:
        raise _OpTimeout(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def op_key(op: Any) -> str:
    """An OpInfo's unique name: its name, with its variant after a dot."""
    return f"{op.name}.{op.variant_test_name}" if op.variant_test_name else op.name


def op_infos(names: Sequence[str] | None = None) -> list[Any]:
    """The OpInfo entries, in ``op_db`` order (only ``names`` when given)."""
    from torch.testing._internal.common_methods_invocations import op_db

    if names is None:
        return list(op_db)
    wanted = set(names)
    return [op for op in op_db if op_key(op) in wanted or op.name in wanted]


# The sample dtype: float32 where the op takes it, else the first of these it takes.
DTYPES = (torch.float32, torch.int64, torch.int32, torch.bool, torch.complex64, torch.float64)


def sample_dtype(op: Any, device: str) -> torch.dtype | None:
    """The dtype of the op's sample: float32 if it supports it, else the first it supports."""
    supported = op.supported_dtypes(device)
    return next((dtype for dtype in DTYPES if dtype in supported), None)


def first_sample(op: Any, device: str, dtype: torch.dtype) -> Sample | str:
    """The first sample whose input is a tensor, as a `Sample`, or why there is none."""
    samples = op.sample_inputs(device, dtype)
    try:
        sample = next((s for s in samples if isinstance(s.input, torch.Tensor)), None)
    finally:
        # Closed now: left to the garbage collector, a generator's cleanup can run inside a
        # later op's export trace and fail there.
        getattr(samples, "close", lambda: None)()
        gc.collect()  # the generators it wraps sit in reference cycles
    if sample is None:
        return "no sample whose input is a tensor"
    return _as_sample(sample)


def _as_sample(sample: Any) -> Sample:
    """The sample with its tensors taken out as inputs; every other argument is baked in."""
    positional = (sample.input, *sample.args)
    tensors, slots = [], []
    args = list(positional)
    for index, value in enumerate(positional):
        if isinstance(value, torch.Tensor):
            tensors.append(value)
            slots.append(index)
            args[index] = None
    kwargs = dict(sample.kwargs)
    for key, value in sample.kwargs.items():
        if isinstance(value, torch.Tensor):
            tensors.append(value)
            slots.append(key)
            kwargs[key] = None
    return Sample(tuple(tensors), tuple(args), kwargs, tuple(slots))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]


def _flat_tensors(value: Any) -> list[torch.Tensor]:
    leaves = torch.utils._pytree.tree_leaves(value)
    return [leaf for leaf in leaves if isinstance(leaf, torch.Tensor)]


def _compare(got: Any, want: Any) -> str:
    """``PASS``, or the first line of the mismatch."""
    got_flat, want_flat = _flat_tensors(got), _flat_tensors(want)
    if len(got_flat) != len(want_flat):
        return f"mismatch: {len(got_flat)} outputs, eager gives {len(want_flat)}"
    try:
        for g, w in zip(got_flat, want_flat, strict=True):
            torch.testing.assert_close(g, w, equal_nan=True, check_device=False)
    except AssertionError as e:
        return "mismatch: " + _first_line(e).removeprefix("AssertionError: ")
    return PASS


Launch = Callable[[RegionBody, list[torch.Tensor]], Sequence[torch.Tensor]]


class _RegionInterpreter(torch.fx.Interpreter):
    """Runs a rewritten program with each region op replaced by ``launch(body, inputs)``."""

    def __init__(self, gm: torch.fx.GraphModule, regions: Sequence[OutlinedRegion], launch: Launch):
        super().__init__(gm)
        self.bodies = {r.op: r.body for r in regions}
        self.launch = launch

    def call_function(self, target: Any, args: Any, kwargs: Any) -> Any:
        if target not in self.bodies:
            return super().call_function(target, args, kwargs)
        results = tuple(self.launch(self.bodies[target], [a.contiguous() for a in args]))
        return results[0] if len(results) == 1 else results


def checked(result: Any, inputs: Sequence[torch.Tensor], launch: Launch, want: Any) -> str:
    """``PASS`` if the rewritten program, each region run by ``launch``, gives ``want``; else
    the first line of the mismatch or error."""
    interpreter = _RegionInterpreter(result.program.module(), result.regions, launch)
    try:
        got = interpreter.run(*[x.clone() for x in inputs])
    except Exception as e:  # noqa: BLE001 (any failure of the op is the finding)
        return "error: " + _first_line(e)
    return _compare(got, want)


# --- the JIT launch on poisoned, TensorRT-shaped buffers (CUDA) ----------------------------------


def _poisoned(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """A buffer full of garbage: NaN for floats, 0x7F bytes otherwise."""
    if dtype.is_floating_point or dtype.is_complex:
        return torch.full(tuple(shape), math.nan, dtype=dtype, device="cuda")
    count = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    raw = torch.full((count,), 0x7F, dtype=torch.uint8, device="cuda")
    return raw.view(dtype).reshape(tuple(shape))


def jit_outputs(body: RegionBody, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """The body's outputs as `jit_launch` writes them into poisoned buffers on its own stream:
    data-dependent outputs flat at the eager size, then read back in the extents it wrote."""
    from trt_autoplugin.jit import CudaBuffer, OutputAddress, jit_launch

    expected = run_body(body, inputs)
    extents = [s.extent for s in size_tensors(body)]
    dynamic = [any(sympy.sympify(d) in extents for d in spec.shape) for spec in body.output_specs]
    data = [
        _poisoned((e.numel(),) if dd else e.shape, e.dtype)
        for e, dd in zip(expected, dynamic, strict=True)
    ]
    sizes = [_poisoned((1,), torch.int32) for _ in extents]
    handed: list[object] = [
        OutputAddress(t.data_ptr(), t.dtype) if dd else t
        for t, dd in zip(data, dynamic, strict=True)
    ]
    handed += [OutputAddress(s.data_ptr(), torch.int32) for s in sizes]
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())

    def buffer(t: object) -> object:
        if not isinstance(t, torch.Tensor):
            return t
        return CudaBuffer(t.data_ptr(), tuple(t.shape), tuple(t.stride()), t.dtype)

    jit_launch(body, [buffer(x) for x in inputs], [buffer(h) for h in handed], stream.cuda_stream)
    stream.synchronize()
    _check_extents(body, extents, sizes, expected)
    return [
        t[: e.numel()].view(e.shape) if dd else t
        for t, e, dd in zip(data, expected, dynamic, strict=True)
    ]


def _check_extents(
    body: RegionBody, extents: Sequence[object], sizes: Sequence[torch.Tensor], expected: Any
) -> None:
    for extent, written in zip(extents, sizes, strict=True):
        for spec, want in zip(body.output_specs, expected, strict=True):
            dims = [i for i, d in enumerate(spec.shape) if sympy.sympify(d) == extent]
            if dims and int(written.item()) != want.shape[dims[0]]:
                raise ValueError(
                    f"size tensor {extent} is {int(written.item())}, eager gives "
                    f"{want.shape[dims[0]]}"
                )


def _aot_cell(regions: Sequence[OutlinedRegion]) -> dict[str, Any]:
    """AOT kernels built and checked against eager, and the refusals, as compiling decides
    (`lowering.implementations`: data-dependent regions are refused before Inductor runs)."""
    from trt_autoplugin.lowering import implementations

    _, entries = implementations(regions, aot=True)
    refusals = [
        {"kind": e.kind, "message": e.reason.message[:300]} for e in entries if e.reason is not None
    ]
    return {"built": len(entries) - len(refusals), "refusals": refusals}


# --- one op --------------------------------------------------------------------------------------


def _unsupported_targets(ep: torch.export.ExportedProgram, oracle: SnapshotSupport) -> list[str]:
    verdicts = support_report(ep.graph_module, oracle).verdicts
    nodes = {n.name: n for n in ep.graph.nodes}
    targets = {
        target_name(nodes[name].target): None
        for name, v in verdicts.items()
        # getitem of an unsupported op's tuple is unsupported too; the scope is about operators.
        if v.verdict is Verdict.UNSUPPORTED
        and isinstance(nodes[name].target, torch._ops.OpOverload)
    }
    return list(targets)


def _outlined(op: Any, sample: Sample, device: str, oracle: SnapshotSupport) -> dict[str, Any]:
    """The row of an op with a sample: scope, outlining and the checks."""
    module = _OpModule(op.op, sample)
    try:
        ep = torch.export.export(module, tuple(x.clone() for x in sample.tensors))
    except Exception as e:  # noqa: BLE001
        return {"status": "export failed", "reason": _first_line(e)}
    try:
        program = decomposed(ep, oracle)
        unsupported = _unsupported_targets(program, oracle)
    except Exception as e:  # noqa: BLE001
        return {"status": "decomposition failed", "reason": _first_line(e)}
    row: dict[str, Any] = {"unsupported": unsupported}
    if not unsupported:
        return {**row, "status": "out of scope"}
    try:
        result = autoplugin(program, support=oracle, decompose=False, min_block_size=1)
    except Exception as e:  # noqa: BLE001
        return {**row, "status": "pass failed", "reason": _first_line(e)}
    row |= {
        "status": "in scope",
        "regions": len(result.regions),
        "region_targets": sorted({t for r in result.regions for t in r.targets}),
        "left_in_graph": [
            {"target": e.target, "kind": e.kind, "reason": e.reason[:300]}
            for e in result.report.left_in_graph
        ],
    }
    return row | _checks(op, sample, device, result)


def _checks(op: Any, sample: Sample, device: str, result: Any) -> dict[str, Any]:
    if not result.regions:
        return {"body": NO_REGION, "jit": NO_REGION, "aot": NO_REGION}
    try:
        want = _OpModule(op.op, sample)(*[x.clone() for x in sample.tensors])
    except Exception as e:  # noqa: BLE001
        error = "eager failed: " + _first_line(e)
        return {"body": error, "jit": error, "aot": error}
    cells = {"body": checked(result, sample.tensors, run_body, want)}
    if device != "cuda":
        return cells | {"jit": NOT_RUN_CPU, "aot": NOT_RUN_CPU}
    cells["jit"] = checked(result, sample.tensors, jit_outputs, want)
    try:
        cells["aot"] = _aot_cell(result.regions)
    except Exception as e:  # noqa: BLE001
        cells["aot"] = "error: " + _first_line(e)
    return cells


def coverage_row(
    op: Any, device: str, oracle: SnapshotSupport, *, timeout_s: int = OP_TIMEOUT_S
) -> dict[str, Any]:
    """One op's row (a JSON object); failures, and running past ``timeout_s``, are recorded
    with their first line."""
    start = time.perf_counter()
    row: dict[str, Any] = {"op": op_key(op)}
    try:
        with _time_box(timeout_s):
            dtype = sample_dtype(op, device)
            row["dtype"] = str(dtype).removeprefix("torch.")
            sample = "no supported dtype" if dtype is None else first_sample(op, device, dtype)
            if isinstance(sample, str):
                row |= {"status": "no sample", "reason": sample}
            else:
                row |= _outlined(op, sample, device, oracle)
    except _OpTimeout as e:
        row |= {"status": "timeout", "reason": str(e)}
    except Exception as e:  # noqa: BLE001
        row |= {"status": "error", "reason": _first_line(e)}
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


# --- the run and its files -----------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    shard = int(index), int(count)
    if not 0 <= shard[0] < shard[1]:
        raise argparse.ArgumentTypeError(f"--shard {text}: expected I/N with 0 <= I < N")
    return shard


def run_coverage(
    *,
    device: str,
    shard: tuple[int, int] = (0, 1),
    ops: Sequence[str] | None = None,
    limit: int | None = None,
    cache: Path | None = None,
    timeout_s: int = OP_TIMEOUT_S,
    budget_s: float | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """The coverage document of one shard (rows of finished ops in ``cache`` are reused).

    With ``budget_s``, no op is started once that many seconds have passed: the document holds
    the ops finished so far (``header["unfinished"]`` counts the rest), and a later run with the
    same cache picks up where this one stopped.
    """
    from trt_autoplugin.outline import unregister_region_ops

    selected = op_infos(ops)[shard[0] :: shard[1]][:limit]
    done = _read_rows(cache) if cache is not None and cache.exists() else {}
    oracle = SnapshotSupport()
    rows = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), disable=not show_progress) as progress:
        task = progress.add_task("ops", total=len(selected))
        started = time.monotonic()
        for op in selected:
            if budget_s is not None and time.monotonic() - started > budget_s:
                break
            progress.update(task, description=op_key(op))
            row = done.get(op_key(op)) or coverage_row(op, device, oracle, timeout_s=timeout_s)
            rows.append(row)
            done[row["op"]] = row
            unregister_region_ops()
            if cache is not None:
                cache.write_text(json.dumps(list(done.values()), indent=1))
            progress.advance(task)
    return {
        "header": {**_header(device, shard), "unfinished": len(selected) - len(rows)},
        "rows": rows,
    }


def _read_rows(path: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(path.read_text())
    rows = data["rows"] if isinstance(data, dict) else data
    return {row["op"]: row for row in rows}


def _header(device: str, shard: tuple[int, int]) -> dict[str, Any]:
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    return {
        "device": device,
        "device_name": name,
        "torch": torch.__version__,
        "oracle": SnapshotSupport().description,
        "shards": [f"{shard[0]}/{shard[1]}"],
    }


def merged(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The union of shard documents: each op once (the later file wins), in op_db order.

    Raises:
        ValueError: the documents come from different devices.
    """
    devices = sorted({d["header"]["device"] for d in documents})
    if len(devices) > 1:
        raise ValueError(f"shards of different devices ({', '.join(devices)}): merge each apart")
    rows: dict[str, dict[str, Any]] = {}
    for document in documents:
        rows |= {row["op"]: row for row in document["rows"]}
    order = {op_key(op): i for i, op in enumerate(op_infos())}
    header = dict(documents[0]["header"])
    header["shards"] = sorted({s for d in documents for s in d["header"]["shards"]})
    header["unfinished"] = sum(d["header"].get("unfinished", 0) for d in documents)
    ordered = sorted(rows.values(), key=lambda r: order.get(r["op"], len(order)))
    return {"header": header, "rows": ordered}


def totals(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The counts the Markdown reports: in scope, outlined, checks passed, refusal kinds."""
    in_scope = [r for r in rows if r["status"] == "in scope"]
    kinds = Counter(e["kind"] for r in in_scope for e in r["left_in_graph"])
    aot = [r["aot"] for r in in_scope if isinstance(r.get("aot"), dict)]
    aot_kinds = Counter(f["kind"] for a in aot for f in a["refusals"])
    return {
        "ops": len(rows),
        "statuses": dict(Counter(r["status"] for r in rows)),
        "in_scope": len(in_scope),
        "outlined": sum(1 for r in in_scope if r["regions"] > 0),
        "fully_outlined": sum(1 for r in in_scope if r["regions"] > 0 and not r["left_in_graph"]),
        "body_equals_eager": sum(1 for r in in_scope if r["body"] == PASS),
        "jit_equals_eager": sum(1 for r in in_scope if r["jit"] == PASS),
        "aot_built": sum(1 for a in aot if a["built"] > 0 and not a["refusals"]),
        "left_in_graph_kinds": dict(kinds.most_common()),
        "aot_refusal_kinds": dict(aot_kinds.most_common()),
    }


def _cell(value: Any) -> str:
    if isinstance(value, dict):  # the AOT cell
        kinds = ", ".join(sorted({f["kind"] for f in value["refusals"]}))
        return f"{value['built']} built" + (f"; refused: {kinds}" if kinds else "")
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(document: dict[str, Any]) -> str:
    """The Markdown page: header, totals, refusal kinds, and one row per in-scope op."""
    header, rows = document["header"], document["rows"]
    total = totals(rows)
    gpu = header["device"] == "cuda"
    lines = [
        "# Coverage over PyTorch's OpInfo database",
        "",
        f"Device: {header['device_name']} ({header['device']}); torch {header['torch']}; "
        f"support: {header['oracle']}; shards {', '.join(header['shards'])}. One sample per op "
        "(the first whose input is a tensor; float32 where the op takes it, else the dtype "
        "named). `python -m benchmarks.coverage`. Body: the rewritten program, each region "
        "run through its body, against eager (`assert_close`, NaN equal to NaN); ops with "
        "uninitialized outputs (`empty`...) can't match.",
    ]
    if not gpu:
        lines += ["", "The JIT and AOT columns need CUDA: they await a GPU run."]
    if header.get("unfinished"):
        lines += [
            "",
            f"{header['unfinished']} OpInfo entries were not reached within the run's time "
            "budget (`--budget`); a run with the same `--cache` goes on from there.",
        ]
    lines += ["", "## Totals", "", "| | ops |", "|---|---|"]
    lines += [f"| OpInfo entries | {total['ops']} |"]
    lines += [f"| {status} | {count} |" for status, count in total["statuses"].items()]
    for key in ("outlined", "fully_outlined", "body_equals_eager", "jit_equals_eager", "aot_built"):
        value = total[key] if gpu or key not in ("jit_equals_eager", "aot_built") else "not run"
        lines.append(f"| {key.replace('_', ' ')} (of {total['in_scope']} in scope) | {value} |")
    lines += ["", "## Left in the graph, by kind (nodes)", "", "| kind | nodes |", "|---|---|"]
    lines += [f"| {k} | {n} |" for k, n in total["left_in_graph_kinds"].items()] or ["| none | |"]
    if gpu:
        lines += ["", "## AOT refusals, by kind (regions)", "", "| kind | regions |", "|---|---|"]
        lines += [f"| {k} | {n} |" for k, n in total["aot_refusal_kinds"].items()] or ["| none | |"]
    lines += ["", "## In scope", ""]
    lines += _table(
        ("op", "dtype", "unsupported", "regions", "left in graph", "body", "JIT", "AOT"),
        [_in_scope_cells(r) for r in rows if r["status"] == "in scope"],
    )
    failed = [r for r in rows if r["status"] not in ("in scope", "out of scope")]
    lines += ["", f"## Not analysed ({len(failed)}): no sample, or export or the pass failed", ""]
    lines += _table(
        ("op", "status", "reason"), [(r["op"], r["status"], r["reason"]) for r in failed]
    )
    return "\n".join(lines) + "\n"


def _in_scope_cells(row: dict[str, Any]) -> tuple[Any, ...]:
    left = "; ".join(f"{e['target']} ({e['kind']})" for e in row["left_in_graph"])
    unsupported = ", ".join(row["unsupported"])
    cells = (row["op"], row["dtype"], unsupported, row["regions"], left or "-")
    return (*cells, row["body"], row["jit"], row["aot"])


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def write_results(document: dict[str, Any], out: Path, stem: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    document = {**document, "totals": totals(document["rows"])}
    (out / f"{stem}.json").write_text(json.dumps(document, indent=1) + "\n")
    (out / f"{stem}.md").write_text(markdown(document))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coverage", description=__doc__)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--shard", type=parse_shard, default=(0, 1), help="I/N")
    parser.add_argument("--limit", type=int, default=None, help="at most K ops of the shard")
    parser.add_argument("--ops", default=None, help="comma-separated OpInfo names")
    parser.add_argument("--cache", type=Path, default=None, help="JSON of finished ops")
    parser.add_argument("--op-timeout", type=int, default=OP_TIMEOUT_S, help="seconds per op")
    parser.add_argument("--budget", type=float, default=None, help="seconds before no op starts")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--merge", type=Path, nargs="+", default=None, help="shard files")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    # Deep-copying programs warns about pytree's LeafSpec, OpInfo samples about deprecations.
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.merge:
        document = merged([json.loads(p.read_text()) for p in args.merge])
        write_results(document, args.out, "coverage")
        return 0
    document = run_coverage(
        device=args.device,
        shard=args.shard,
        ops=args.ops.split(",") if args.ops else None,
        limit=args.limit,
        cache=args.cache,
        timeout_s=args.op_timeout,
        budget_s=args.budget,
        show_progress=not args.quiet,
    )
    index, count = args.shard
    write_results(document, args.out, f"coverage-{args.device}-{index}-of-{count}")
    if not args.quiet:
        Console().print(totals(document["rows"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
