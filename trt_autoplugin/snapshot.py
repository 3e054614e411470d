"""The shipped snapshots of Torch-TensorRT's converter registry: which one, and loading it.

One JSON file per supported release ships in ``trt_autoplugin/snapshots/``, written by
``python -m trt_autoplugin.snapshot_build``. :func:`choose_snapshot` picks the release for what is
installed (the torch_tensorrt wheel if present, else torch's minor version), and
:func:`load_snapshot` parses it. ``support.SnapshotSupport`` predicts from it. Pure: nothing here
imports ``torch_tensorrt``.
"""

import ast
import dataclasses
import enum
import functools
import importlib.resources
import importlib.util
import json
import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from .errors import SupportError

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class ConverterEntry:
    """One registered converter for a target, as recorded in a snapshot."""

    validator: str | None
    supports_dynamic_shapes: bool
    requires_output_allocator: bool
    enabled: bool


@dataclasses.dataclass(frozen=True, slots=True)
class OperatorSupportChecks:
    """What ``TorchTensorRTOperatorSupport.is_node_supported`` checks besides the registry.

    Recorded per release by ``snapshot_build.operator_support_checks``: 2.11 checks neither,
    2.12 rejects complex tensors, 2.13 and 2.14 also honor ``fallback_data_dependent_ops``.
    """

    rejects_complex_dtypes: bool
    honors_fallback_data_dependent_ops: bool


@dataclasses.dataclass(frozen=True, slots=True)
class ConverterSnapshot:
    """A Torch-TensorRT release's converter registry and decomposition sets, read from JSON.

    Attributes:
        attention_decompositions: ``ATTENTION_DECOMPOSITION_OPS``, which ``get_decompositions()``
            leaves out of Torch-TensorRT's table unless ``decompose_attention`` (default False).
        cia_keeps_attention: Whether its filter of torch's CompositeImplicitAutograd table
            lets them through, so that torch decomposes them (2.11), or drops them too (2.12 on).
    """

    version: str
    converters: Mapping[str, tuple[ConverterEntry, ...]]
    torch_enabled_decompositions: frozenset[str]
    torch_disabled_decompositions: frozenset[str]
    torch_tensorrt_decompositions: frozenset[str]
    attention_decompositions: frozenset[str]
    cia_keeps_attention: bool
    operator_support: OperatorSupportChecks

    @property
    def default_torch_tensorrt_decompositions(self) -> frozenset[str]:
        """Torch-TensorRT's own decompositions that ``get_decompositions()`` applies by default."""
        return self.torch_tensorrt_decompositions - self.attention_decompositions


_SNAPSHOT_PREFIX = "torch_tensorrt-"
_VERSION_PATTERN = re.compile(r"\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def _release(version: str) -> tuple[int, int, int] | None:
    """``(major, minor, micro)`` of a version string, ignoring any pre/dev/local suffix."""
    match = _VERSION_PATTERN.match(version)
    if match is None:
        return None
    major, minor, micro = match.groups()
    return int(major), int(minor or 0), int(micro or 0)


def snapshot_versions() -> tuple[str, ...]:
    """Torch-TensorRT versions for which a snapshot ships in this package, oldest first."""
    folder = importlib.resources.files("trt_autoplugin") / "snapshots"
    names = [
        p.name
        for p in folder.iterdir()
        if p.name.startswith(_SNAPSHOT_PREFIX) and p.name.endswith(".json")
    ]
    versions = [n.removeprefix(_SNAPSHOT_PREFIX).removesuffix(".json") for n in names]
    return tuple(sorted(versions, key=lambda v: (_release(v) or (0, 0, 0), v)))


@functools.cache
def load_snapshot(version: str) -> ConverterSnapshot:
    """The shipped snapshot for a Torch-TensorRT version.

    Args:
        version: One of :func:`snapshot_versions` ("2.13.0").

    Raises:
        SupportError: no snapshot for that version, or the file is malformed.
    """
    resource = importlib.resources.files("trt_autoplugin") / "snapshots"
    path = resource / f"{_SNAPSHOT_PREFIX}{version}.json"
    if not path.is_file():
        raise SupportError(
            f"no converter snapshot for Torch-TensorRT {version}; shipped: "
            f"{', '.join(snapshot_versions()) or 'none'}. Regenerate one with "
            "`python -m trt_autoplugin.snapshot_build --wheel torch_tensorrt-<version>.whl`."
        )
    return snapshot_from_json(json.loads(path.read_text()))


def snapshot_from_json(data: Mapping[str, Any]) -> ConverterSnapshot:
    """Parses the snapshot format written by ``trt_autoplugin.snapshot_build``.

    Raises:
        SupportError: a field is missing or malformed, or the snapshot predates format 3 (no
            ``operator_support``, or no attention fields) or could not find the partitioner's
            checks or ``get_decompositions``' filter of the CIA table.
    """
    try:
        converters = {
            target: tuple(
                ConverterEntry(
                    validator=entry.get("validator"),
                    supports_dynamic_shapes=bool(entry.get("supports_dynamic_shapes", False)),
                    requires_output_allocator=bool(entry.get("requires_output_allocator", False)),
                    enabled=entry.get("enabled", True) is not False,
                )
                for entry in entries
            )
            for target, entries in data["converters"].items()
        }
        decompositions = data["decompositions"]
        return ConverterSnapshot(
            version=str(data["torch_tensorrt_version"]),
            converters=converters,
            torch_enabled_decompositions=frozenset(decompositions["torch_enabled"]),
            torch_disabled_decompositions=frozenset(decompositions["torch_disabled"]),
            torch_tensorrt_decompositions=frozenset(decompositions["torch_tensorrt"]),
            attention_decompositions=frozenset(decompositions["attention"]),
            cia_keeps_attention=_cia_keeps_attention(data),
            operator_support=_operator_support(data),
        )
    except (KeyError, TypeError, AttributeError) as e:
        raise SupportError(f"malformed converter snapshot: missing or bad field {e}") from e


def _operator_support(data: Mapping[str, Any]) -> OperatorSupportChecks:
    checks = data.get("operator_support")
    if checks is None:
        raise SupportError(
            f"the snapshot of Torch-TensorRT {data.get('torch_tensorrt_version')} (format "
            f"{data.get('format')}) does not record TorchTensorRTOperatorSupport's checks, which "
            "differ between releases; regenerate it with `python -m "
            "trt_autoplugin.snapshot_build --wheel torch_tensorrt-<version>.whl`."
        )
    return OperatorSupportChecks(
        rejects_complex_dtypes=bool(checks["rejects_complex_dtypes"]),
        honors_fallback_data_dependent_ops=bool(checks["honors_fallback_data_dependent_ops"]),
    )


def _cia_keeps_attention(data: Mapping[str, Any]) -> bool:
    keeps = data["decompositions"].get("cia_keeps_attention")
    if keeps is None:
        raise SupportError(
            f"the snapshot of Torch-TensorRT {data.get('torch_tensorrt_version')} (format "
            f"{data.get('format')}) does not record whether get_decompositions() lets torch "
            "decompose the attention ops, which differs between releases; regenerate it with "
            "`python -m trt_autoplugin.snapshot_build --wheel torch_tensorrt-<version>.whl`."
        )
    return bool(keeps)


# --- which snapshot -----------------------------------------------------------------------------


class SnapshotRule(enum.Enum):
    """Which rule chose the snapshot."""

    REQUESTED = "requested"  # SnapshotSupport(version=...)
    TORCH_TENSORRT = "torch_tensorrt"  # the installed torch_tensorrt's own version
    TORCH_MINOR = "torch_minor"  # the release of the installed torch's minor version
    OLDER_RELEASE = "older_release"  # the newest release not newer than torch
    NEWEST = "newest"  # torch predates every snapshot


@dataclasses.dataclass(frozen=True, slots=True)
class SnapshotChoice:
    """A shipped snapshot's version and why it was chosen (``because`` is for the report)."""

    version: str
    rule: SnapshotRule
    because: str

    def __post_init__(self) -> None:
        if not self.version or not self.because:
            raise SupportError(f"a snapshot choice needs a version and a reason, not {self!r}")


def choose_snapshot(
    shipped: Collection[str], *, torch_version: str, torch_tensorrt_version: str | None
) -> SnapshotChoice:
    """Which shipped snapshot predicts for this installation. Pure: versions in, choice out.

    In order: (a) the installed torch_tensorrt's release, if a snapshot ships for it; (b) the
    release of torch's minor version (each Torch-TensorRT 2.N needs torch 2.N, so torch 2.13.x
    picks 2.13.0); (c) the newest release not newer than torch, else the newest. Versions
    compare by ``major.minor.micro``: local, dev and pre-release suffixes are ignored.

    Args:
        shipped: The versions with a snapshot (:func:`snapshot_versions`).
        torch_version: ``torch.__version__``.
        torch_tensorrt_version: The installed torch_tensorrt's version, None if not installed.

    Raises:
        SupportError: no snapshot ships at all.

    Examples:
        >>> choose_snapshot(["2.11.0", "2.13.0"], torch_version="2.13.1+cu130",
        ...                 torch_tensorrt_version=None).because
        'chosen by torch 2.13.1+cu130'
    """
    releases = {v: r for v in shipped if (r := _release(v)) is not None}
    if not releases:
        raise SupportError(f"no parseable converter snapshot ships in trt_autoplugin: {shipped}")
    ordered = sorted(releases, key=lambda v: (releases[v], v))
    installed = _release(torch_tensorrt_version) if torch_tensorrt_version else None
    exact = [v for v in ordered if releases[v] == installed]
    if exact:
        because = f"chosen by the installed torch_tensorrt {torch_tensorrt_version}"
        return SnapshotChoice(exact[-1], SnapshotRule.TORCH_TENSORRT, because)
    missing = (
        f"; none ships for the installed torch_tensorrt {torch_tensorrt_version}"
        if torch_tensorrt_version
        else ""
    )
    torch_release = _release(torch_version) or (0, 0, 0)
    same_minor = [v for v in ordered if releases[v][:2] == torch_release[:2]]
    if same_minor:
        because = f"chosen by torch {torch_version}{missing}"
        return SnapshotChoice(same_minor[-1], SnapshotRule.TORCH_MINOR, because)
    older = [v for v in ordered if releases[v][:2] <= torch_release[:2]]
    if older:
        because = f"newest not newer than torch {torch_version}, which has none{missing}"
        return SnapshotChoice(older[-1], SnapshotRule.OLDER_RELEASE, because)
    because = f"newest; torch {torch_version} predates every snapshot{missing}"
    return SnapshotChoice(ordered[-1], SnapshotRule.NEWEST, because)


def installed_torch_version() -> str:
    """The installed torch's version (a seam for tests: they replace this, not torch)."""
    return str(torch.__version__)


def installed_torch_tensorrt_version() -> str | None:
    """The installed torch_tensorrt's ``__version__``, read without importing it.

    Importing ``torch_tensorrt`` loads TensorRT, which is what the snapshot stands in for, so
    its ``_version.py`` is found with ``importlib.util.find_spec`` and parsed, never run.

    Returns:
        The version, or None if torch_tensorrt is not installed or its ``_version.py`` assigns
        no literal ``__version__``.
    """
    try:
        spec = importlib.util.find_spec("torch_tensorrt")
    except (ImportError, ValueError):
        # ValueError: a torch_tensorrt module without __spec__ was put in sys.modules.
        return None
    if spec is None:
        return None
    for location in spec.submodule_search_locations or ():
        path = Path(location) / "_version.py"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as e:
            logger.warning("cannot read %s (%s); choosing the snapshot by torch", path, e)
            return None
        return literal_version(text, str(path))
    return None


def literal_version(text: str, origin: str) -> str | None:
    """The string literal assigned to ``__version__`` in a module's source, if any."""
    try:
        statements = ast.parse(text, filename=origin).body
    except SyntaxError:
        logger.warning("cannot parse %s; ignoring the torch_tensorrt version in it", origin)
        return None
    for statement in statements:
        if (
            isinstance(statement, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in statement.targets)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        ):
            return statement.value.value
    return None


def default_snapshot_choice() -> SnapshotChoice:
    """The snapshot :func:`choose_snapshot` picks for what is installed here."""
    return choose_snapshot(
        snapshot_versions(),
        torch_version=installed_torch_version(),
        torch_tensorrt_version=installed_torch_tensorrt_version(),
    )


def _overloads_named(names: Iterable[str]) -> list[torch._ops.OpOverload]:
    found = []
    for name in names:
        parts = name.split(".")
        if len(parts) != 3:
            continue
        namespace, op_name, overload = parts
        packet = getattr(getattr(torch.ops, namespace, None), op_name, None)
        op = getattr(packet, overload, None) if packet is not None else None
        if isinstance(op, torch._ops.OpOverload):
            found.append(op)
    return found


def snapshot_decompositions(snapshot: ConverterSnapshot) -> dict[Any, Callable[..., Any]]:
    """Torch-TensorRT's default decomposition table, rebuilt offline from a snapshot.

    As ``get_decompositions()`` builds it with its defaults: ``{**ENABLED_TORCH_DECOMPOSITIONS,
    **cia_filtered, **trt_decomps}``, where ``cia_filtered`` is every CompositeImplicitAutograd
    op of the aten namespace minus the disabled set (and minus the attention ops from 2.12 on),
    and ``trt_decomps`` is Torch-TensorRT's own table minus the attention ops. Those need
    TensorRT to import, so their ops are not decomposed offline, though they override the other
    two; the oracle counts them as native instead (they lower to converted ops).
    """
    from torch._export.utils import (
        _collect_all_valid_cia_ops_for_aten_namespace,
        _get_decomp_for_cia,
    )

    by_torch_tensorrt = snapshot.default_torch_tensorrt_decompositions
    enabled = [
        op
        for op in _overloads_named(snapshot.torch_enabled_decompositions)
        if str(op) not in by_torch_tensorrt
    ]
    table: dict[Any, Callable[..., Any]] = dict(torch._decomp.get_decompositions(enabled))
    cia_skipped = snapshot.torch_disabled_decompositions | by_torch_tensorrt
    if not snapshot.cia_keeps_attention:
        cia_skipped |= snapshot.attention_decompositions
    for op in _collect_all_valid_cia_ops_for_aten_namespace():
        if str(op) not in cia_skipped:
            table[op] = _get_decomp_for_cia(op)
    return table
