"""Tests for `trt_autoplugin.serialize`: save region bodies, load them in a new process.

The round trip runs a fresh interpreter (``subprocess``): region ops exist there only if
`load_regions` registers them again, under the same names.
"""

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from trt_autoplugin import examples
from trt_autoplugin.errors import OutlineError
from trt_autoplugin.pipeline import AutopluginResult, autoplugin
from trt_autoplugin.plugin import tensorrt_plugin_import_error
from trt_autoplugin.serialize import (
    INDEX,
    body_program,
    load_plugins,
    load_regions,
    save_regions,
)
from trt_autoplugin.support import SnapshotSupport

REPO = Path(__file__).resolve().parents[1]
NAMES = ("custom_op", "distribution", "spectral", "cumulative")


@pytest.fixture(scope="module")
def results() -> dict[str, AutopluginResult]:
    return {n: autoplugin(examples.export_example(n), support=SnapshotSupport()) for n in NAMES}


@pytest.fixture(scope="module")
def saved(results, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every example's regions and rewritten program, saved into one folder."""
    folder = tmp_path_factory.mktemp("saved")
    save_regions([r for result in results.values() for r in result.regions], folder)
    for name, result in results.items():
        torch.export.save(result.program, folder / f"{name}.pt2")
    return folder


def _run_fresh(script: str, *args: str) -> dict:
    """Runs a script in a new interpreter and returns the JSON it prints last."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


_FRESH = """
import json, sys
import torch
from trt_autoplugin import examples
from trt_autoplugin.serialize import load_regions

folder = sys.argv[1]
examples.quantize_rows_op()  # a user op the custom_op region calls: registered, as for any load
before = hasattr(torch.ops.trt_autoplugin, "region_%s" % sys.argv[2])
regions = load_regions(folder)
out = {"existed_before": before, "names": [r.name for r in regions], "outputs": {}, "bodies": {}}
for name in sys.argv[3:]:
    model, inputs, _ = examples.load_example(name)
    got = torch.export.load(f"{folder}/{name}.pt2").module()(*inputs)
    got = got if isinstance(got, tuple) else (got,)
    out["outputs"][name] = [g.tolist() for g in got]
for region in regions:
    args = [torch.ones([3 if not isinstance(d, int) else d for d in s.shape], dtype=s.dtype)
            for s in region.body.input_specs]
    res = region.op(*args)
    res = res if isinstance(res, tuple) else (res,)
    out["bodies"][region.name] = [r.tolist() for r in res]
print(json.dumps(out))
"""


def test_round_trip_in_a_new_process(results, saved: Path) -> None:
    expected_names = list(dict.fromkeys(r.name for res in results.values() for r in res.regions))
    some_hash = expected_names[0].split("_")[-1]
    out = _run_fresh(_FRESH, str(saved), some_hash, *NAMES)
    assert out["existed_before"] is False
    assert out["names"] == expected_names
    for name in NAMES:
        model, inputs, _ = examples.load_example(name)
        expected = model(*inputs)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for got, want in zip(out["outputs"][name], expected, strict=True):
            torch.testing.assert_close(torch.tensor(got, dtype=want.dtype), want)
    regions = {r.name: r for res in results.values() for r in res.regions}
    for name, outputs in out["bodies"].items():
        region = regions[name]
        args = [
            torch.ones([3 if not isinstance(d, int) else d for d in s.shape], dtype=s.dtype)
            for s in region.input_specs
        ]
        want = region.op(*args)
        want = want if isinstance(want, tuple) else (want,)
        for got, w in zip(outputs, want, strict=True):
            torch.testing.assert_close(torch.tensor(got, dtype=w.dtype), w)


def test_index_lists_each_region_once(results, tmp_path: Path) -> None:
    regions = results["distribution"].regions
    save_regions([*regions, *regions, regions[0].body], tmp_path)
    index = json.loads((tmp_path / INDEX).read_text())
    assert [e["name"] for e in index["regions"]] == [r.name.split("::")[1] for r in regions]
    assert {p.name for p in tmp_path.iterdir()} == {INDEX} | {e["file"] for e in index["regions"]}
    entry = index["regions"][0]
    assert entry["input_specs"] == [str(s) for s in regions[0].input_specs]


def test_saving_leaves_the_body_untouched(results, tmp_path: Path) -> None:
    region = results["spectral"].regions[0]
    digest = region.body.digest()
    owner = region.body.graph_module.graph.owning_module
    program = body_program(region.body)
    assert program.graph_module.graph is not region.body.graph_module.graph
    save_regions([region], tmp_path)
    assert region.body.digest() == digest
    assert region.body.graph_module.graph.owning_module is owner


def test_load_in_process_returns_the_same_ops(results, saved: Path) -> None:
    loaded = load_regions(saved)
    by_name = {r.name: r for res in results.values() for r in res.regions}
    for region in loaded:
        assert region.op is by_name[region.name].op
        assert region.body.input_specs == by_name[region.name].input_specs


def test_a_body_that_does_not_match_its_name_is_refused(results, tmp_path: Path) -> None:
    first, second = results["distribution"].regions
    save_regions([first, second], tmp_path)
    index = json.loads((tmp_path / INDEX).read_text())
    index["regions"][0]["file"] = index["regions"][1]["file"]  # lgamma's name, digamma's body
    (tmp_path / INDEX).write_text(json.dumps(index))
    with pytest.raises(OutlineError, match=f"region {first.name} .* loads as"):
        load_regions(tmp_path)


def test_a_path_outside_the_folder_is_refused(results, tmp_path: Path) -> None:
    save_regions(results["distribution"].regions, tmp_path)
    index = json.loads((tmp_path / INDEX).read_text())
    index["regions"][0]["file"] = "../elsewhere.pt2"
    (tmp_path / INDEX).write_text(json.dumps(index))
    with pytest.raises(OutlineError, match="not a plain name"):
        load_regions(tmp_path)


def test_a_missing_or_foreign_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutlineError, match="not a trt_autoplugin region index"):
        load_regions(tmp_path)
    (tmp_path / INDEX).write_text(json.dumps({"format": 99, "regions": []}))
    with pytest.raises(OutlineError, match="format 99"):
        load_regions(tmp_path)


def test_load_plugins_without_tensorrt_registers_ops_and_warns(
    saved: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if tensorrt_plugin_import_error() is None:
        pytest.skip("tensorrt.plugin imports here")
    with caplog.at_level(logging.WARNING, logger="trt_autoplugin.serialize"):
        loaded = load_plugins(saved)
    assert loaded and all(r.plugin is None for r in loaded)
    assert "no TensorRT plugins" in caplog.text


@pytest.mark.tensorrt
def test_load_plugins_registers_every_plugin(saved: Path) -> None:
    from tensorrt.plugin._lib import QDP_REGISTRY

    loaded = load_plugins(saved)
    for region in loaded:
        assert region.plugin is not None and region.name in QDP_REGISTRY
