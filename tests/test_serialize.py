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
from hypothesis import given
from strategies import archive_entries, pickle_payload, tampered_indexes, zip_bytes

from trt_autoplugin import examples
from trt_autoplugin.archive import file_sha256
from trt_autoplugin.errors import ArchiveError, AutopluginError
from trt_autoplugin.pipeline import AutopluginResult, autoplugin
from trt_autoplugin.plugin import load_plugins
from trt_autoplugin.probes import tensorrt_plugin_import_error
from trt_autoplugin.serialize import INDEX, body_program, load_regions, save_regions
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
    first_entry, second_entry = index["regions"]
    # lgamma's name, digamma's body (with the body's true sha256: only the name lies)
    index["regions"] = [
        {**first_entry, "file": second_entry["file"], "sha256": second_entry["sha256"]}
    ]
    (tmp_path / INDEX).write_text(json.dumps(index))
    with pytest.raises(ArchiveError, match=f"region {first.name} .* loads as"):
        load_regions(tmp_path)


def test_a_path_outside_the_folder_is_refused(results, tmp_path: Path) -> None:
    save_regions(results["distribution"].regions, tmp_path)
    index = json.loads((tmp_path / INDEX).read_text())
    index["regions"][0]["file"] = "../elsewhere.pt2"
    (tmp_path / INDEX).write_text(json.dumps(index))
    with pytest.raises(ArchiveError, match="not a plain name inside the folder"):
        load_regions(tmp_path)


def test_a_missing_or_foreign_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="not a trt_autoplugin region index"):
        load_regions(tmp_path)
    (tmp_path / INDEX).write_text(json.dumps({"format": 99, "regions": []}))
    with pytest.raises(ArchiveError, match="format 99"):
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


# --- untrusted saved sets ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def distribution_set(results, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The distribution example's two regions, saved: the pristine set tests copy from."""
    return save_regions(results["distribution"].regions, tmp_path_factory.mktemp("pristine"))


def _copy_set(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for file in source.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


def _index(folder: Path) -> dict:
    return json.loads((folder / INDEX).read_text())


def _tamper_region(folder: Path, index: int = 0, **changes: bytes) -> str:
    """Rewrites a region file's entries and, as an attacker can, its sha256 in the index."""
    saved = _index(folder)
    entry = saved["regions"][index]
    data = zip_bytes({**archive_entries((folder / entry["file"]).read_bytes()), **changes})
    (folder / entry["file"]).write_bytes(data)
    entry["sha256"] = file_sha256(data)
    (folder / INDEX).write_text(json.dumps(saved))
    return entry["name"]


@pytest.mark.parametrize("kind", ["torch", "pickle", "nested"])
@pytest.mark.parametrize("loader", [load_regions, load_plugins])
def test_a_payload_in_a_region_archive_is_refused(
    distribution_set: Path, tmp_path: Path, marker: Path, kind: str, loader
) -> None:
    folder = _copy_set(distribution_set, tmp_path / "set")
    payload = pickle_payload(kind, str(marker))
    _tamper_region(folder, 1, **{"data/sample_inputs/model.pt": payload})
    with pytest.raises(ArchiveError, match="sample_inputs/model.pt.*weights_only=True"):
        loader(folder)


def test_use_pickle_weights_in_a_region_archive_are_refused(
    distribution_set: Path, tmp_path: Path, marker: Path
) -> None:
    folder = _copy_set(distribution_set, tmp_path / "set")
    config = {"config": {"w": {"path_name": "weight_0", "use_pickle": True, "tensor_meta": None}}}
    _tamper_region(
        folder,
        **{
            "data/weights/model_weights_config.json": json.dumps(config).encode(),
            "data/weights/weight_0": pickle_payload("torch", str(marker)),
        },
    )
    with pytest.raises(ArchiveError, match="use_pickle True"):
        load_regions(folder)


def test_a_wrong_sha256_of_a_later_region_is_refused(results, tmp_path: Path) -> None:
    """load_regions checks every body before registering any op, so this refusal leaves no
    op behind (not observable here: the module fixture registered these ops already)."""
    first, second = results["spectral"].regions[0], results["distribution"].regions[0]
    folder = tmp_path / "set"
    save_regions([first, second], folder)
    saved = _index(folder)
    saved["regions"][1]["sha256"] = "0" * 64
    (folder / INDEX).write_text(json.dumps(saved))
    with pytest.raises(ArchiveError, match="changed since it was saved"):
        load_regions(folder)


def test_a_changed_file_is_refused_before_loading(
    distribution_set: Path, tmp_path: Path, marker: Path
) -> None:
    folder = _copy_set(distribution_set, tmp_path / "set")
    file = folder / _index(folder)["regions"][0]["file"]
    file.write_bytes(pickle_payload("pickle", str(marker)))
    with pytest.raises(ArchiveError, match=f"{file} has sha256 .* the file changed"):
        load_regions(folder)


def test_a_symlinked_region_file_is_refused(distribution_set: Path, tmp_path: Path) -> None:
    folder = _copy_set(distribution_set, tmp_path / "set")
    file = folder / _index(folder)["regions"][0]["file"]
    outside = tmp_path / "outside.pt2"
    outside.write_bytes(file.read_bytes())
    file.unlink()
    os.symlink(outside, file)
    with pytest.raises(ArchiveError, match="resolves outside|symlink"):
        load_regions(folder)
    os.symlink(folder / INDEX, tmp_path / "elsewhere.json")
    (folder / INDEX).unlink()
    os.symlink(tmp_path / "elsewhere.json", folder / INDEX)
    with pytest.raises(ArchiveError, match="symlink"):
        load_regions(folder)


def test_a_format_1_index_asks_to_save_again(distribution_set: Path, tmp_path: Path) -> None:
    folder = _copy_set(distribution_set, tmp_path / "set")
    saved = _index(folder)
    saved["format"] = 1
    (folder / INDEX).write_text(json.dumps(saved))
    with pytest.raises(ArchiveError, match="format 1.*save the regions again"):
        load_regions(folder)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not valid JSON"),
        ("[1, 2]", "expected an object"),
        ('{"format": 2, "regions": {}}', "not a list"),
        ('{"format": 2, "regions": [3]}', "region 0 is a int"),
        ('{"format": 2, "regions": [{"name": 5}]}', "name '5' is not region_"),
        ('{"format": true, "regions": []}', "format True"),
        ('{"format": 2, "regions": ' + "[" * 500 + "]" * 500 + "}", "nests"),
        ('{"format": ' + "9" * 5000 + ', "regions": []}', "more than 19 digits"),
        ("\udcff", "not valid JSON|not a trt_autoplugin"),
    ],
    ids=["empty", "list", "dict-regions", "int-entry", "int-name", "bool", "deep", "huge", "sur"],
)
def test_malformed_indexes_are_refused(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / INDEX).write_text(text, errors="surrogateescape")
    with pytest.raises(ArchiveError, match=reason):
        load_regions(tmp_path)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("file", "/etc/passwd", "not a plain name"),
        ("file", "region_ab/../../x.pt2", "not a plain name"),
        ("sha256", None, "sha256 'None' is not 64 hex"),
        ("inputs", "x", "not a list of node names"),
        ("outputs", [1], "not a list of node names"),
    ],
)
def test_malformed_index_entries_are_refused(
    distribution_set: Path, tmp_path: Path, field: str, value: object, reason: str
) -> None:
    folder = _copy_set(distribution_set, tmp_path / "set")
    saved = _index(folder)
    saved["regions"][0][field] = value
    (folder / INDEX).write_text(json.dumps(saved))
    with pytest.raises(ArchiveError, match=reason):
        load_regions(folder)


def test_fuzzed_indexes_raise_only_project_errors(
    distribution_set: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = _copy_set(distribution_set, tmp_path_factory.mktemp("fuzzed_set"))
    pristine = _index(folder)

    @given(text=tampered_indexes(pristine))
    def check(text: str) -> None:
        (folder / INDEX).write_text(text, errors="surrogatepass")
        try:
            loaded = load_regions(folder)
        except AutopluginError as e:
            assert INDEX in str(e) or "region" in str(e), e
        else:
            assert all(r.name.startswith("trt_autoplugin::region_") for r in loaded)

    check()


def test_fuzzed_region_archives_raise_only_project_errors(
    distribution_set: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from strategies import tampered_archives

    folder = _copy_set(distribution_set, tmp_path_factory.mktemp("fuzzed_archives"))
    marker = folder.parent / "marker"
    pristine = _index(folder)
    entries = archive_entries((folder / pristine["regions"][0]["file"]).read_bytes())

    @given(data=tampered_archives(entries, str(marker)))
    def check(data: bytes) -> None:
        saved = json.loads(json.dumps(pristine))
        (folder / saved["regions"][0]["file"]).write_bytes(data)
        saved["regions"][0]["sha256"] = file_sha256(data)  # the attacker rewrites the index too
        (folder / INDEX).write_text(json.dumps(saved))
        try:
            load_regions(folder)
        except AutopluginError:
            pass
        assert not marker.exists(), "a payload ran"

    check()
