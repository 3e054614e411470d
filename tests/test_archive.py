"""Tests for `trt_autoplugin.archive`: a ``.pt2`` loads only if nothing stored in it would run.

Every attack carries a payload that creates a marker file when unpickled or evaluated; each test
asserts the project's error and that the marker does not exist.
"""

import json
import os
from pathlib import Path

import pytest
import torch
from hypothesis import given
from strategies import (
    PAYLOAD_KINDS,
    archive_entries,
    pickle_payload,
    tampered_archives,
    zip_bytes,
)

from trt_autoplugin import examples
from trt_autoplugin.archive import (
    MAX_JSON_DEPTH,
    expression_refusal,
    file_sha256,
    load_program,
)
from trt_autoplugin.errors import ArchiveError, AutopluginError

MODEL = "models/model.json"
INPUTS = "data/sample_inputs/model.pt"
WEIGHTS = "data/weights/model_weights_config.json"
CONSTANTS = "data/constants/model_constants_config.json"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`torch.export.save` of the cumulative example (weights, dynamic batch, sample inputs)."""
    path = tmp_path_factory.mktemp("pt2") / "cumulative.pt2"
    torch.export.save(examples.export_example("cumulative"), path)
    return path


@pytest.fixture(scope="module")
def entries(saved: Path) -> dict[str, bytes]:
    return archive_entries(saved.read_bytes())


def _write(tmp_path: Path, entries: dict[str, bytes], **changes: bytes) -> Path:
    path = tmp_path / "tampered.pt2"
    path.write_bytes(zip_bytes({**entries, **changes}))
    return path


def _config_with(meta: dict[str, object]) -> bytes:
    return json.dumps({"config": {"c": meta}}).encode()


def test_a_saved_program_loads_and_runs(saved: Path) -> None:
    program = load_program(saved, sha256=file_sha256(saved.read_bytes()))
    model, inputs, _ = examples.load_example("cumulative")
    torch.testing.assert_close(program.module()(*inputs), model(*inputs))
    assert program.example_inputs is not None


def test_torch_itself_runs_a_sample_inputs_payload(entries, tmp_path: Path) -> None:
    """The control: the attack is real on this torch, so the tests below test something."""
    marker = tmp_path / "control"
    path = _write(tmp_path, entries, **{INPUTS: pickle_payload("nested", str(marker))})
    try:
        torch.export.load(path)
    except (RuntimeError, AssertionError, TypeError):
        pass  # torch rejects the loaded object's type only after unpickling it
    assert marker.exists()


@pytest.mark.parametrize("kind", PAYLOAD_KINDS)
def test_a_payload_as_sample_inputs_is_refused(entries, tmp_path: Path, marker, kind) -> None:
    path = _write(tmp_path, entries, **{INPUTS: pickle_payload(kind, str(marker))})
    with pytest.raises(ArchiveError, match=f"{path}.*{INPUTS}.*weights_only=True"):
        load_program(path)


def test_use_pickle_weights_are_refused(entries, tmp_path: Path, marker) -> None:
    config = entries[WEIGHTS].replace(b'"use_pickle": false', b'"use_pickle": true', 1)
    payload = pickle_payload("torch", str(marker))
    path = _write(tmp_path, entries, **{WEIGHTS: config, "data/weights/weight_0": payload})
    with pytest.raises(ArchiveError, match=f"{WEIGHTS}.*use_pickle True"):
        load_program(path)


@pytest.mark.parametrize(
    ("path_name", "kind"),
    [("tensor_0", "torch"), ("custom_obj_0", "torch"), ("opaque_obj_0", "pickle")],
)
def test_pickled_and_object_constants_are_refused(
    entries, tmp_path: Path, marker, path_name: str, kind: str
) -> None:
    config = _config_with({"path_name": path_name, "use_pickle": True, "tensor_meta": None})
    changes = {CONSTANTS: config, f"data/constants/{path_name}": pickle_payload(kind, str(marker))}
    with pytest.raises(ArchiveError, match=f"{CONSTANTS}.*use_pickle"):
        load_program(_write(tmp_path, entries, **changes))
    unpickled_flag = _config_with({"path_name": path_name, "use_pickle": False, "tensor_meta": {}})
    changes[CONSTANTS] = unpickled_flag
    expected = "plain name|not a raw tensor" if path_name != "tensor_0" else "torch could not"
    with pytest.raises(ArchiveError, match=expected):
        load_program(_write(tmp_path, entries, **changes))


def test_a_code_running_size_expression_is_refused(entries, tmp_path: Path, marker) -> None:
    model = json.loads(entries[MODEL])
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    text = json.dumps(model).replace("Symbol('s77', positive=True, integer=True)", code)
    assert code in text
    with pytest.raises(ArchiveError, match=f"{MODEL}.*symbolic expression.*__import__"):
        load_program(_write(tmp_path, entries, **{MODEL: text.encode()}))


@pytest.mark.parametrize(
    "expression",
    [
        "Symbol('s0', positive=True, integer=True)",
        "Add(Mul(Integer(2), Symbol('s0', positive=True, integer=True)), Integer(-1))",
        "FloorDiv(Symbol('u0', integer=True), Integer(3))",
        "s0 + 2*s1 <= 10",
    ],
)
def test_arithmetic_expressions_pass(expression: str) -> None:
    assert expression_refusal(expression) is None


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "eval(chr(49))",
        "Symbol('s0').__class__",
        "getattr(s0, 'x')",
        "Symbol('a b; import os')",
        "[s0 for s0 in s1]",
        "lambda: 1",
        "s0\n" * 2 + "x = 1",
    ],
)
def test_python_in_expressions_is_refused(expression: str) -> None:
    assert expression_refusal(expression) is not None


def test_a_node_calling_a_torch_function_is_refused(entries, tmp_path: Path) -> None:
    text = entries[MODEL].replace(b'"torch.ops.aten.linear.default"', b'"torch.load"', 1)
    assert text != entries[MODEL]
    with pytest.raises(ArchiveError, match="torch.load|could not deserialize"):
        load_program(_write(tmp_path, entries, **{MODEL: text}))


@pytest.mark.parametrize(
    "entry",
    [
        "data/aotinductor/model/model.so",
        "data/weights/model.pt",
        "data/executorch/model.pte",
        "xl_model_weights/model_param_config",
        "serialized_exported_program.json",
    ],
)
def test_entries_torch_save_does_not_write_are_refused(entries, tmp_path: Path, entry) -> None:
    with pytest.raises(ArchiveError, match=f"entry '{entry}' is not one torch.export.save"):
        load_program(_write(tmp_path, entries, **{entry: b"x"}))


@pytest.mark.parametrize("name", ["../evil", "/abs", "archive/a/../../b", "archive//x"])
def test_entries_with_bad_paths_are_refused(entries, tmp_path: Path, name: str) -> None:
    raw = {f"archive/{k}": v for k, v in entries.items()} | {name: b"x"}
    path = tmp_path / "paths.pt2"
    path.write_bytes(zip_bytes(raw, root=""))
    with pytest.raises(ArchiveError, match="absolute, empty or '..' path|outside the archive"):
        load_program(path)


def test_a_duplicated_entry_is_refused(saved: Path, tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "dup.pt2"
    path.write_bytes(saved.read_bytes())
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr(f"cumulative/{INPUTS}", b"")
    with pytest.raises(ArchiveError, match="appears twice"):
        load_program(path)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda data: b"", "is empty"),
        (lambda data: data[: len(data) // 2], "not a zip"),
        (lambda data: b"print('hello')\n", "not a zip"),
        (lambda data: zip_bytes({"readme.txt": b"hi"}), "no 'archive_format'"),
        (lambda data: zip_bytes({}, root=""), "empty zip"),
    ],
    ids=["empty", "truncated", "text", "plain-zip", "empty-zip"],
)
def test_malformed_files_are_refused(saved: Path, tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "bad.pt2"
    path.write_bytes(make(saved.read_bytes()))
    with pytest.raises(ArchiveError, match=f"{path}.*{reason}"):
        load_program(path)


def test_corrupt_bytes_are_refused(saved: Path, tmp_path: Path) -> None:
    data = bytearray(saved.read_bytes())
    start = data.index(b'"graph_module"')
    data[start : start + 40] = b"\xff" * 40
    path = tmp_path / "corrupt.pt2"
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=str(path)):
        load_program(path)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({MODEL: b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)}, "nests"),
        ({MODEL: b'{"x": ' + b"9" * 5000 + b"}"}, "more than 19 digits"),
        ({"archive_version": b"99"}, "archive_version.*'99'"),
        ({"archive_format": b"zip"}, "archive_format"),
        ({MODEL: b"\xff\xfe"}, "not UTF-8"),
        ({MODEL: b"{}"}, "torch could not deserialize"),
    ],
    ids=["deep-json", "huge-int", "version", "format", "binary-json", "empty-program"],
)
def test_malformed_entries_are_refused(entries, tmp_path: Path, change, reason: str) -> None:
    with pytest.raises(ArchiveError, match=reason):
        load_program(_write(tmp_path, entries, **change))


def test_symlinks_directories_and_missing_files_are_refused(saved: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.pt2"
    os.symlink(saved, link)
    with pytest.raises(ArchiveError, match="symlink"):
        load_program(link)
    with pytest.raises(ArchiveError, match="not a regular file|cannot open"):
        load_program(tmp_path)
    with pytest.raises(ArchiveError, match="cannot open"):
        load_program(tmp_path / "missing.pt2")


def test_a_wrong_digest_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "x.pt2"
    path.write_bytes(b"not even a zip")
    with pytest.raises(ArchiveError, match="sha256 is .* expected 00"):
        load_program(path, sha256="00" * 32)


def test_fuzzed_archives_raise_only_project_errors(entries, tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    marker = folder / "marker"

    @given(data=tampered_archives(entries, str(marker)))
    def check(data: bytes) -> None:
        path = folder / "fuzzed.pt2"
        path.write_bytes(data)
        try:
            program = load_program(path)
        except AutopluginError as e:
            assert str(path) in str(e) or "region" in str(e), e
        else:
            # Flipped bytes inside a raw tensor still make a valid program.
            assert isinstance(program, torch.export.ExportedProgram)
        assert not marker.exists(), "a payload ran"

    check()


def test_extra_files_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "extra.pt2"
    torch.export.save(examples.export_example("cumulative"), path, extra_files={"note.txt": "hi"})
    assert isinstance(load_program(path), torch.export.ExportedProgram)


def test_only_operators_are_allowed_as_node_targets() -> None:
    import operator

    from trt_autoplugin.archive import _is_allowed_target

    assert _is_allowed_target(torch.ops.aten.add.Tensor)
    assert _is_allowed_target(operator.getitem)
    assert not _is_allowed_target(torch.load)
    assert not _is_allowed_target(torch.hub.load)
    assert not _is_allowed_target([])


def test_a_zip_bomb_entry_is_refused(entries, tmp_path: Path) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in {**entries, "extra/bomb": b"\0" * (64 << 20)}.items():
            archive.writestr(f"archive/{name}", data)
    path = tmp_path / "bomb.pt2"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ArchiveError, match="extra/bomb' inflates"):
        load_program(path)
