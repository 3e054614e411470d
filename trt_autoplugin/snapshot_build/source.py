"""The ``torch_tensorrt`` sources a snapshot is read from: a wheel or a directory, never imported.

Also the places in those sources the reader looks at, and the ``unresolved`` record that names
a ``file:line`` of them, which every reading below shares.
"""

import dataclasses
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trt_autoplugin.errors import SupportError
from trt_autoplugin.snapshot import literal_version

PACKAGE = "torch_tensorrt"
CONVERTER_DIR = "dynamo/conversion/"
GROUPS_FILE = "dynamo/lowering/_decomposition_groups.py"
DECOMPOSITIONS_FILE = "dynamo/lowering/_decompositions.py"
PARTITIONER_FILE = "dynamo/partitioning/_global_partitioner.py"
_VERSION_FILE = "_version.py"

JsonObject = dict[str, Any]


def unresolved_record(source: str, expression: str, kind: str, reason: str) -> JsonObject:
    """One entry of a snapshot's ``"unresolved"`` list.

    Args:
        source: ``file:line`` in the package, line 0 where no line applies.
        expression: The source text that could not be resolved.
        kind: ``"converter"``, ``"decomposition"`` or ``"operator_support"``.
        reason: Why it could not be resolved.

    Returns:
        The record, with its keys in the shipped order.
    """
    return {"source": source, "expression": expression, "kind": kind, "reason": reason}


@dataclasses.dataclass(frozen=True, slots=True)
class SourceTree:
    """The Python sources of a ``torch_tensorrt`` package, read but never imported.

    Attributes:
        files: Source text by path relative to the package directory, POSIX style
            (``"dynamo/conversion/aten_ops_converters.py"``).
        version: The package's ``__version__``.
        origin: Where the sources came from (a wheel or directory path), for messages.
    """

    files: Mapping[str, str]
    version: str
    origin: str

    def __post_init__(self) -> None:
        if GROUPS_FILE not in self.files:
            raise SupportError(
                f"{self.origin} is not a {PACKAGE} source tree: it has no {GROUPS_FILE}. "
                "Pass the torch_tensorrt wheel, or the directory it was unzipped into."
            )


def source_tree_from_wheel(path: Path) -> SourceTree:
    """Reads the ``torch_tensorrt`` Python sources out of a wheel without unpacking it.

    Args:
        path: A ``torch_tensorrt-*.whl`` file.

    Returns:
        The package sources.

    Raises:
        SupportError: The file is not a readable wheel or holds no ``torch_tensorrt`` package.
    """
    prefix = f"{PACKAGE}/"
    try:
        with zipfile.ZipFile(path) as wheel:
            files = {
                name.removeprefix(prefix): wheel.read(name).decode("utf-8")
                for name in wheel.namelist()
                if name.startswith(prefix) and name.endswith(".py")
            }
    except (OSError, zipfile.BadZipFile) as e:
        raise SupportError(
            f"cannot read the wheel {path}: {e}. Download it with "
            "`pip download --no-deps torch-tensorrt==VERSION -d DIR`."
        ) from e
    return SourceTree(files=files, version=_version(files, str(path)), origin=str(path))


def source_tree_from_directory(path: Path) -> SourceTree:
    """Reads the ``torch_tensorrt`` Python sources under a directory.

    Args:
        path: The package directory itself, the directory a wheel was unzipped into, or a
            Torch-TensorRT checkout (``py/torch_tensorrt``).

    Returns:
        The package sources.

    Raises:
        SupportError: No ``torch_tensorrt`` package is found there.
    """
    package = _package_directory(path)
    files = {
        file.relative_to(package).as_posix(): file.read_text(encoding="utf-8")
        for file in sorted(package.rglob("*.py"))
    }
    return SourceTree(files=files, version=_version(files, str(package)), origin=str(package))


def _package_directory(path: Path) -> Path:
    for candidate in (path, path / PACKAGE, path / "py" / PACKAGE):
        if (candidate / GROUPS_FILE).is_file():
            return candidate
    raise SupportError(
        f"no {PACKAGE} package under {path}: expected {GROUPS_FILE} in it, in "
        f"{path / PACKAGE} or in {path / 'py' / PACKAGE}."
    )


def _version(files: Mapping[str, str], origin: str) -> str:
    text = files.get(_VERSION_FILE)
    # The same reading as choosing a snapshot by the installed wheel: parsed, never run.
    version = literal_version(text, f"{origin}/{_VERSION_FILE}") if text is not None else None
    if version is not None:
        return version
    raise SupportError(
        f"{origin} has no {PACKAGE}/{_VERSION_FILE} assigning a literal __version__; "
        "pass a built wheel or the directory it was unzipped into."
    )
