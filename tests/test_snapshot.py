"""The shipped snapshots: each loads, and the one chosen matches what is installed."""

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import installed_versions, release_versions

from trt_autoplugin import autoplugin, snapshot
from trt_autoplugin.errors import SupportError
from trt_autoplugin.snapshot import (
    SnapshotRule,
    choose_snapshot,
    default_snapshot_choice,
    installed_torch_tensorrt_version,
    load_snapshot,
    snapshot_decompositions,
    snapshot_from_json,
    snapshot_versions,
)
from trt_autoplugin.support import SnapshotSupport

SUPPORTED = ("2.11.0", "2.12.0", "2.13.0", "2.14.0")


def _release(version: str) -> tuple[int, int, int]:
    parsed = snapshot._release(version)
    assert parsed is not None, version
    return parsed


# Loading


def test_every_supported_release_ships_oldest_first() -> None:
    assert snapshot_versions() == SUPPORTED


@pytest.mark.parametrize("version", SUPPORTED)
def test_each_shipped_snapshot_loads(version: str) -> None:
    loaded = load_snapshot(version)
    assert loaded.version == version
    assert "aten.add.Tensor" in loaded.converters
    assert "aten._softmax.default" in loaded.torch_disabled_decompositions
    assert loaded.torch_tensorrt_decompositions


def test_operator_support_checks_per_release() -> None:
    # Read from each release's TorchTensorRTOperatorSupport.is_node_supported: 2.12 added the
    # complex-dtype check, 2.13 the fallback_data_dependent_ops one.
    checks = {v: load_snapshot(v).operator_support for v in SUPPORTED}
    assert [c.rejects_complex_dtypes for c in checks.values()] == [False, True, True, True]
    assert [c.honors_fallback_data_dependent_ops for c in checks.values()] == [
        False,
        False,
        True,
        True,
    ]


def test_attention_decompositions_per_release() -> None:
    # get_decompositions() drops ATTENTION_DECOMPOSITION_OPS from Torch-TensorRT's own table
    # unless decompose_attention; only 2.11 lets torch's CIA table decompose them instead.
    sdpa = "aten.scaled_dot_product_attention.default"
    for version in SUPPORTED:
        loaded = load_snapshot(version)
        assert sdpa in loaded.attention_decompositions
        assert sdpa in loaded.torch_tensorrt_decompositions
        assert sdpa not in loaded.default_torch_tensorrt_decompositions
        # The set names overloads: the packet's other overload keeps its decomposition.
        quantized = "aten._scaled_dot_product_flash_attention.quantized"
        assert quantized in loaded.default_torch_tensorrt_decompositions
    keeps = [load_snapshot(v).cia_keeps_attention for v in SUPPORTED]
    assert keeps == [True, False, False, False]


class _Attention(torch.nn.Module):
    """Scaled dot-product attention between ops that convert."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.nn.functional.scaled_dot_product_attention(x.sin(), x, x)
        return out.cos()


@pytest.fixture(scope="module")
def attention_program() -> torch.export.ExportedProgram:
    batch = torch.export.Dim("batch", min=1, max=8)
    x = torch.randn(2, 4, 8, 16)
    return torch.export.export(_Attention(), (x,), dynamic_shapes=({0: batch},))


def _targets(ep: torch.export.ExportedProgram) -> set[str]:
    return {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}


# What Torch-TensorRT 2.11's dryrun reports for tests/dryrun/models.py's rotary_attention at
# min_block_size 1 without the pass (2 engines around 1 PyTorch segment): torch decomposes SDPA
# into _scaled_dot_product_flash_attention_for_cpu on a CPU export, which has no converter, and
# getitem_validator rejects the getitem on it. 2.12 on keep SDPA for its converter. With the pass
# the CPU op is outlined: it is tagged as random, but its dropout_p is 0, so it draws nothing
# (predicted; not yet checked against 2.11's own dryrun).
@pytest.mark.parametrize(
    ("version", "attention", "segments", "outlined"),
    [
        ("2.11.0", "aten._scaled_dot_product_flash_attention_for_cpu.default", (2, 1), (1, 0)),
        ("2.12.0", "aten.scaled_dot_product_attention.default", (1, 0), (1, 0)),
        ("2.13.0", "aten.scaled_dot_product_attention.default", (1, 0), (1, 0)),
        ("2.14.0", "aten.scaled_dot_product_attention.default", (1, 0), (1, 0)),
    ],
)
def test_attention_per_release(
    attention_program: torch.export.ExportedProgram,
    version: str,
    attention: str,
    segments: tuple[int, int],
    outlined: tuple[int, int],
) -> None:
    table = snapshot_decompositions(load_snapshot(version))
    targets = _targets(attention_program.run_decompositions(table))
    assert attention in targets
    sdpa = "aten.scaled_dot_product_attention.default"
    assert (sdpa in targets) == (attention == sdpa)
    report = autoplugin(
        attention_program, support=SnapshotSupport(version=version), min_block_size=1
    ).report
    assert (report.before.tensorrt, report.before.pytorch) == segments
    assert (report.after.tensorrt, report.after.pytorch) == outlined


def test_unknown_version_lists_the_shipped_ones() -> None:
    with pytest.raises(SupportError, match="2.11.0, 2.12.0, 2.13.0, 2.14.0"):
        load_snapshot("2.10.0")


def test_a_snapshot_without_operator_support_is_refused() -> None:
    path = Path(snapshot.__file__).parent / "snapshots" / "torch_tensorrt-2.13.0.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["operator_support"]
    data["format"] = 1
    with pytest.raises(SupportError, match="regenerate"):
        snapshot_from_json(data)
    with pytest.raises(SupportError, match="malformed"):
        snapshot_from_json({**data, "operator_support": {"rejects_complex_dtypes": True}})


def test_a_snapshot_without_the_attention_fields_is_refused() -> None:
    path = Path(snapshot.__file__).parent / "snapshots" / "torch_tensorrt-2.13.0.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["format"] = 2
    del data["decompositions"]["cia_keeps_attention"]
    with pytest.raises(SupportError, match="attention ops.*regenerate"):
        snapshot_from_json(data)
    del data["decompositions"]["attention"]
    with pytest.raises(SupportError, match="malformed.*attention"):
        snapshot_from_json(data)


# Choosing: the pure rule


@given(
    shipped=st.lists(release_versions(), min_size=1, max_size=6, unique=True),
    torch_version=installed_versions(),
    torch_tensorrt_version=st.none() | installed_versions(),
)
def test_choice_follows_the_rules(
    shipped: list[str], torch_version: str, torch_tensorrt_version: str | None
) -> None:
    choice = choose_snapshot(
        shipped, torch_version=torch_version, torch_tensorrt_version=torch_tensorrt_version
    )
    chosen, torch_release = _release(choice.version), _release(torch_version)
    releases = [_release(v) for v in shipped]
    assert choice.version in shipped
    installed = _release(torch_tensorrt_version) if torch_tensorrt_version else None
    if installed in releases:
        assert (choice.rule, chosen) == (SnapshotRule.TORCH_TENSORRT, installed)
        assert torch_tensorrt_version in choice.because
        return
    assert torch_version in choice.because
    same_minor = [r for r in releases if r[:2] == torch_release[:2]]
    older = [r for r in releases if r[:2] < torch_release[:2]]
    if same_minor:
        assert (choice.rule, chosen) == (SnapshotRule.TORCH_MINOR, max(same_minor))
    elif older:
        assert (choice.rule, chosen) == (SnapshotRule.OLDER_RELEASE, max(older))
    else:
        assert (choice.rule, chosen) == (SnapshotRule.NEWEST, max(releases))


@given(
    shipped=st.lists(release_versions(), min_size=1, max_size=6, unique=True),
    torch_version=release_versions(),
    suffix=st.sampled_from(["+cpu", "+cu130", "a0+git1a2b3c4", ".dev20260101"]),
    torch_tensorrt_version=st.none() | installed_versions(),
    data=st.data(),
)
def test_choice_ignores_suffixes_and_order(
    shipped: list[str],
    torch_version: str,
    suffix: str,
    torch_tensorrt_version: str | None,
    data: st.DataObject,
) -> None:
    plain = choose_snapshot(
        shipped, torch_version=torch_version, torch_tensorrt_version=torch_tensorrt_version
    )
    shuffled = data.draw(st.permutations(shipped))
    local = choose_snapshot(
        shuffled,
        torch_version=torch_version + suffix,
        torch_tensorrt_version=torch_tensorrt_version,
    )
    assert (local.version, local.rule) == (plain.version, plain.rule)


@pytest.mark.parametrize(
    ("torch_version", "torch_tensorrt_version", "expected", "because"),
    [
        ("2.13.0+cpu", None, "2.13.0", "chosen by torch 2.13.0+cpu"),
        ("2.13.1+cu130", None, "2.13.0", "chosen by torch 2.13.1+cu130"),
        ("2.13.0", "2.11.0", "2.11.0", "chosen by the installed torch_tensorrt 2.11.0"),
        ("2.12.0", "2.12.0+cu128", "2.12.0", "chosen by the installed torch_tensorrt 2.12.0+cu128"),
        ("2.14.1", "2.10.0", "2.14.0", "none ships for the installed torch_tensorrt 2.10.0"),
        ("2.15.0.dev20260301", None, "2.14.0", "newest not newer than torch 2.15.0.dev20260301"),
        ("2.9.1", None, "2.14.0", "torch 2.9.1 predates every snapshot"),
    ],
)
def test_concrete_choices(
    torch_version: str, torch_tensorrt_version: str | None, expected: str, because: str
) -> None:
    choice = choose_snapshot(
        SUPPORTED, torch_version=torch_version, torch_tensorrt_version=torch_tensorrt_version
    )
    assert choice.version == expected
    assert because in choice.because


def test_no_snapshot_at_all_raises() -> None:
    with pytest.raises(SupportError, match="no parseable"):
        choose_snapshot([], torch_version="2.13.0", torch_tensorrt_version=None)


# Choosing: reading what is installed


@pytest.fixture
def fake_torch_tensorrt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A torch_tensorrt package on sys.path whose import would fail, as without TensorRT."""
    package = tmp_path / "torch_tensorrt"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('no TensorRT here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "torch_tensorrt", raising=False)
    yield package
    assert "torch_tensorrt" not in sys.modules, "the version was read by importing the package"


def test_installed_version_is_read_without_import(fake_torch_tensorrt: Path) -> None:
    (fake_torch_tensorrt / "_version.py").write_text(
        '__version__ = "2.11.0"\n__cuda_version__ = "13.0"\n'
    )
    assert installed_torch_tensorrt_version() == "2.11.0"
    choice = default_snapshot_choice()
    assert (choice.version, choice.rule) == ("2.11.0", SnapshotRule.TORCH_TENSORRT)


def test_installed_version_without_a_literal_is_ignored(fake_torch_tensorrt: Path) -> None:
    (fake_torch_tensorrt / "_version.py").write_text("__version__ = compute()\n")
    assert installed_torch_tensorrt_version() is None


def test_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "torch_tensorrt" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(snapshot, "installed_torch_version", lambda: "2.12.1+cu128")
    assert installed_torch_tensorrt_version() is None
    choice = default_snapshot_choice()
    assert (choice.version, choice.rule) == ("2.12.0", SnapshotRule.TORCH_MINOR)
    assert choice.because == "chosen by torch 2.12.1+cu128"
