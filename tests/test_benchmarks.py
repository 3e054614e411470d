"""Smoke tests of the benchmarks: the partition-scaling benchmark on a tiny graph, and the suite
(``python -m benchmarks``) in quick CPU mode on two small examples.

Only the shape of the results is checked, never the times (those belong to the benchmark run).
"""

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # pytest puts tests/ on sys.path, not the repository root
    sys.path.insert(0, str(ROOT))

from benchmarks import models as bench_models  # noqa: E402
from benchmarks import partition_scaling, region_bench, suite  # noqa: E402
from trt_autoplugin.outline import unregister_region_ops  # noqa: E402

STAGES = ["support_report", "propose_regions", "outline_regions", "outline_graph_module"]


def test_benchmark_writes_results_for_a_tiny_graph(tmp_path: Path) -> None:
    partition_scaling.run_benchmark(
        [100], repeats=1, out=tmp_path, reference_budget_s=None, show_progress=False
    )

    data = json.loads((tmp_path / "partition_scaling.json").read_text())
    assert {"cpu_count", "platform", "torch_version"} <= data["machine"].keys()
    (size,) = data["sizes"]
    assert abs(size["nodes"] - 100) <= partition_scaling.BLOCK_NODES
    # Two separate unsupported ops per block, each its own region.
    assert size["unsupported"] == size["candidates"] == size["regions"] == 2 * size["blocks"]
    assert size["covered_by_regions"] == size["candidates"]
    for stage in STAGES:
        timing = size["ours"][stage]
        assert len(timing["samples"]) == 1
        assert timing["seconds"] == timing["samples"][0]
    assert size["reference"]["propose_partitions"] is None
    assert size["reference"]["skipped"]
    assert {"goal", "growth", "settings"} <= data.keys()
    assert "| target |" in (tmp_path / "partition_scaling.md").read_text()
    assert (tmp_path / "partition_scaling.png").stat().st_size > 0


# --- the suite (python -m benchmarks), quick, on the CPU --------------------------------------

SMOKE_MODELS = ("distribution", "data_dependent")
MISSING = "needs_a_missing_library"
VARIANTS = {
    "eager",
    "eager_outlined",
    "inductor",
    "torch_tensorrt",
    "trt_autoplugin_jit",
    "trt_autoplugin_aot",
}


@pytest.fixture
def region_ops() -> Iterator[None]:
    """The suite registers region ops; remove them afterwards."""
    yield
    unregister_region_ops()


def _catalog() -> tuple[bench_models.BenchModel, ...]:
    examples = [m for m in bench_models.bench_models() if m.name in SMOKE_MODELS]
    missing = dataclasses.replace(
        examples[0], name=MISSING, library="nowhere", requires=("trt_autoplugin_no_such_module",)
    )
    return (*examples, missing)


def _skipped_with_reason(measurement: dict) -> bool:
    return measurement["status"] == "skipped" and bool(measurement["reason"])


def test_suite_quick_cpu_writes_json_markdown_and_plot(tmp_path: Path, region_ops: None) -> None:
    config = suite.config_for("cpu", quick=True, models=(*SMOKE_MODELS, MISSING))
    suite.run_suite(config, tmp_path, show_progress=False, catalog=_catalog())

    data = json.loads((tmp_path / "suite.json").read_text())
    assert {"device", "versions", "git", "settings", "copy_bandwidth", "headline"} <= data.keys()
    assert {"name", "driver"} <= data["device"].keys()
    assert {"torch", "triton", "torchvision", "timm", "tensorrt"} <= data["versions"].keys()
    assert "commit" in data["git"]
    assert data["copy_bandwidth"]["skipped"]

    by_name = {m["name"]: m for m in data["models"]}
    assert list(by_name) == [*SMOKE_MODELS, MISSING]
    assert by_name[MISSING]["status"] == "skipped"
    assert "trt_autoplugin_no_such_module" in by_name[MISSING]["reason"]
    for name in SMOKE_MODELS:
        model = by_name[name]
        assert model["status"] == "ok", model["reason"]
        assert model["export_s"] is not None and model["pass_s"] is not None
        assert model["regions"] >= 1
        assert set(model["predicted"]) == {"before", "after"}
    # masked_select's data-dependent size is a size tensor now: nothing stays in the graph.
    assert by_name["data_dependent"]["left_in_graph"] == []

    assert {r["model"] for r in data["regions"]} == set(SMOKE_MODELS)
    for row in data["regions"]:  # every per-region measurement needs CUDA
        assert all(_skipped_with_reason(row[k]) for k in ("eager", "jit", "aot"))
        assert row["bytes"] > 0

    rows = data["end_to_end"]
    for name in SMOKE_MODELS:
        variants = {r["variant"]: r["measurement"] for r in rows if r["model"] == name}
        assert set(variants) == VARIANTS
        assert variants["eager"]["status"] == variants["eager_outlined"]["status"] == "ok"
        others = VARIANTS - {"eager", "eager_outlined"}
        assert all(_skipped_with_reason(variants[v]) for v in others)

    markdown = (tmp_path / "suite.md").read_text()
    assert "## Headline" in markdown and "| model | region op |" in markdown
    assert "## End to end" in markdown and "## The pass (CPU side)" in markdown
    assert (tmp_path / "suite.png").stat().st_size > 0


def test_committed_gpu_results_render_again(tmp_path: Path) -> None:
    """The committed H100 run re-renders from its JSON alone: the AOT tactic column, the
    tactic sentence of the headline and the two-panel plot come from measured fields."""
    from benchmarks import suite_output

    committed = ROOT / "benchmarks" / "results" / "suite.json"
    data = json.loads(committed.read_text())
    (tmp_path / "suite.json").write_text(committed.read_text())
    assert suite_output.main([str(tmp_path / "suite.json")]) == 0

    markdown = (tmp_path / "suite.md").read_text()
    timed = [r for r in data["regions"] if r.get("aot_tactics_gpu_us")]
    assert timed, "the committed run times AOT tactics"
    for row in timed:
        best = min(row["aot_tactics_gpu_us"])
        assert f"(tactic {row['aot_tactics_gpu_us'].index(best) + 1} of " in markdown
    assert "Its fastest tactic at each size" in markdown
    assert (tmp_path / "suite.png").stat().st_size > 0


def _row(target: str, batch: int, eager: float, jit: float, tactics=(), copies=()) -> dict:
    ok = {"status": "ok"}
    return {
        "model": "m",
        "region": target,
        "targets": [target],
        "batch": batch,
        "eager": {**ok, "gpu_microseconds": eager},
        "jit": {**ok, "gpu_microseconds": jit},
        "aot": {"status": "skipped"},
        "aot_tactics_gpu_us": list(tactics),
        "jit_copies": list(copies),
    }


def test_headline_names_slow_jit_regions_with_their_copies_and_slower_aot_kernels() -> None:
    from benchmarks import suite_output

    regions = [
        _row("torchvision.roi_align.default", 2, 10.0, 30.0),  # smallest size: not judged
        _row("torchvision.roi_align.default", 64, 100.0, 108.0, copies=["output 0: no out= form"]),
        _row("aten.lgamma.default", 64, 100.0, 101.0, tactics=[104.0, 103.0]),
        _row("aten.erfinv.default", 64, 100.0, 100.0, tactics=[99.0]),
        _row("aten.cummax.default", 64, 100.0, 106.0),
    ]
    ratios = suite_output._by_region(regions, largest=True)
    slow = suite_output._slow_jit_sentence(ratios)
    assert "roi_align.default 1.08x (output 0: no out= form)" in slow
    assert "cummax.default 1.06x (it copies no output)" in slow
    assert "lgamma" not in slow and "erfinv" not in slow
    slower = suite_output._slower_aot_sentence(regions)
    assert slower == " Slower than eager at the largest size, fastest tactic: lgamma 1.03x."


def test_missing_library_is_named() -> None:
    missing = _catalog()[-1]
    reason = bench_models.missing_requirement(missing)
    assert reason is not None and "trt_autoplugin_no_such_module" in reason


def test_mismatch_catches_unwritten_poison_and_wrong_values() -> None:
    want = [torch.arange(6.0).reshape(2, 3), torch.arange(4, dtype=torch.int64)]
    got = [w.clone() for w in want]
    assert region_bench.mismatch(got, want) is None

    region_bench.poison(got[0])
    assert "poison" in region_bench.mismatch(got, want)

    got = [w.clone() for w in want]
    region_bench.poison(got[1])
    assert got[1].view(torch.uint8).eq(0x7F).all()
    assert region_bench.mismatch(got, want) is not None


def test_batch_ladder_and_rotation() -> None:
    assert suite.batch_ladder(4096, quick=False) == [16, 256, 4096]
    assert suite.batch_ladder(3, quick=True) == [2, 3]
    l2 = 50 << 20
    assert region_bench.rotated_count(1 << 30, l2) == 1
    assert region_bench.rotated_count(10 << 20, l2) == 10
    assert region_bench.rotated_count(1, l2) == region_bench.MAX_COPIES


def test_committed_dryrun_table_is_the_committed_runs(tmp_path: Path) -> None:
    """The dryrun table in benchmarks/results is what the committed per-release runs render to,
    and each run's predictions equal Torch-TensorRT's numbers wherever it gave numbers."""
    from benchmarks import dryrun_table

    results = ROOT / "benchmarks" / "results"
    runs = sorted(results.glob("dryrun-*.json"))
    assert {p.stem for p in runs} >= {"dryrun-2.11", "dryrun-2.13", "dryrun-2.14"}
    out = tmp_path / "table.md"
    assert dryrun_table.main([*map(str, runs), "--out", str(out)]) == 0
    assert out.read_text() == (results / "torch_tensorrt_dryrun.md").read_text()
    for path in runs:
        run = json.loads(path.read_text())
        for name, rows in run["models"].items():
            for row in rows.values():
                with_pass = row["with_pass"]
                measured = [with_pass["engines"], with_pass["torch_segments"]]
                known = name == "rotary_attention" and run["torch_tensorrt"] == "2.14.0"
                assert known or row["live_prediction"]["after"] == measured, (path.name, name)


# --- coverage over PyTorch's OpInfo database (python -m benchmarks.coverage) ------------------

COVERAGE_OPS = ("lgamma", "erfinv", "digamma", "masked_select", "cummax")


def _coverage_rows(path: Path) -> dict[str, dict]:
    return {row["op"]: row for row in json.loads(path.read_text())["rows"]}


def _coverage_run(out: Path, device: str) -> tuple[dict[str, dict], str]:
    """`COVERAGE_OPS` through the command line: the rows by op, and the Markdown page."""
    from benchmarks import coverage

    ops = ",".join(COVERAGE_OPS)
    assert coverage.main(["--device", device, "--ops", ops, "--quiet", "--out", str(out)]) == 0
    stem = out / f"coverage-{device}-0-of-1"
    rows = _coverage_rows(stem.with_suffix(".json"))
    assert set(rows) == set(COVERAGE_OPS)
    return rows, stem.with_suffix(".md").read_text()


def test_coverage_outlines_each_op_and_its_body_equals_eager(
    tmp_path: Path, region_ops: None
) -> None:
    from benchmarks import coverage

    rows, page = _coverage_run(tmp_path, "cpu")
    for name, row in rows.items():
        assert row["status"] == "in scope", row
        assert f"aten.{name}.default" in row["unsupported"]
        assert row["regions"] == 1 and row["left_in_graph"] == []
        assert row["body"] == coverage.PASS
        assert row["jit"] == row["aot"] == coverage.NOT_RUN_CPU
    assert "| in scope | 5 |" in page
    assert "| outlined (of 5 in scope) | 5 |" in page
    assert "| body equals eager (of 5 in scope) | 5 |" in page
    assert "| jit equals eager (of 5 in scope) | not run |" in page
    assert "await a GPU run" in page


def test_coverage_merge_of_two_shards_is_their_union(tmp_path: Path, region_ops: None) -> None:
    from benchmarks import coverage

    ops = ",".join(COVERAGE_OPS[:3])
    shards = []
    for shard in ("0/2", "1/2"):
        cache = tmp_path / f"cache-{shard[0]}.json"
        args = ["--ops", ops, "--shard", shard, "--cache", str(cache), "--quiet"]
        assert coverage.main([*args, "--out", str(tmp_path)]) == 0
        shards.append(tmp_path / f"coverage-cpu-{shard[0]}-of-2.json")
    first, second = (_coverage_rows(path) for path in shards)
    assert len(first) == 2 and len(second) == 1 and not set(first) & set(second)
    # Run again, a shard's cache gives its finished rows back as they were (their times too).
    cached = ["--ops", ops, "--shard", "0/2", "--cache", str(tmp_path / "cache-0.json")]
    assert coverage.main([*cached, "--quiet", "--out", str(tmp_path / "again")]) == 0
    assert _coverage_rows(tmp_path / "again" / "coverage-cpu-0-of-2.json") == first

    merged_args = ["--merge", *map(str, shards), "--out", str(tmp_path / "merged")]
    assert coverage.main(merged_args) == 0
    merged = json.loads((tmp_path / "merged" / "coverage.json").read_text())
    assert {row["op"]: row for row in merged["rows"]} == first | second
    assert merged["header"]["shards"] == ["0/2", "1/2"]
    assert merged["totals"]["in_scope"] == merged["totals"]["body_equals_eager"] == 3
    assert "| in scope | 3 |" in (tmp_path / "merged" / "coverage.md").read_text()


def test_coverage_stops_at_its_budget_and_a_second_run_goes_on(
    tmp_path: Path, region_ops: None
) -> None:
    from benchmarks import coverage

    ops = ",".join(COVERAGE_OPS[:2])
    cache = tmp_path / "cache.json"
    args = ["--ops", ops, "--cache", str(cache), "--quiet"]
    assert coverage.main([*args, "--budget", "0", "--out", str(tmp_path / "first")]) == 0
    first = json.loads((tmp_path / "first" / "coverage-cpu-0-of-1.json").read_text())
    assert first["rows"] == [] and first["header"]["unfinished"] == 2
    page = (tmp_path / "first" / "coverage-cpu-0-of-1.md").read_text()
    assert "2 OpInfo entries were not reached" in page
    # One op done, then a budgeted run picks up from the cache with the other.
    assert coverage.main([*args[:-1], "--shard", "0/2", "--quiet", "--out", str(tmp_path)]) == 0
    assert coverage.main([*args, "--out", str(tmp_path / "second")]) == 0
    second = json.loads((tmp_path / "second" / "coverage-cpu-0-of-1.json").read_text())
    assert {r["op"] for r in second["rows"]} == set(COVERAGE_OPS[:2])
    assert second["header"]["unfinished"] == 0


@pytest.mark.gpu
def test_coverage_on_cuda_launches_jit_on_poisoned_buffers(
    tmp_path: Path, region_ops: None
) -> None:
    from benchmarks import coverage

    rows, page = _coverage_run(tmp_path, "cuda")
    for row in rows.values():
        assert row["body"] == row["jit"] == coverage.PASS, row
        aot = row["aot"]
        assert aot["built"] + len(aot["refusals"]) == row["regions"] == 1, row
    # masked_select's output is data-dependent: AOT kernels can't write an extent.
    assert rows["masked_select"]["aot"]["built"] == 0
    assert "| jit equals eager (of 5 in scope) | 5 |" in page
