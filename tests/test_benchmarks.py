"""Smoke test of the partition-scaling benchmark: a tiny graph, one repeat, no reference.

Only the shape of the results is checked, never the times (those belong to the benchmark run).
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # pytest puts tests/ on sys.path, not the repository root
    sys.path.insert(0, str(ROOT))

from benchmarks import partition_scaling  # noqa: E402

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
