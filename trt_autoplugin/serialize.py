"""Saving region bodies and registering them again in another process.

A compiled module with JIT plugins, or a program rewritten by `autoplugin`, calls region ops
``trt_autoplugin::region_<hash>`` that exist only in the process that outlined them. This module
saves each region body with torch.export's own serializer (a JSON graph in a ``.pt2`` archive)
and registers the same ops again on load. Loading executes no stored code: every file goes
through `archive.load_program`'s checks (see ``archive.py``), after its sha256 is checked.

Layout of a saved folder::

    regions.json              {"format": 2, "regions": [{"name", "file", "sha256", ...}, ...]}
    region_<hash>.pt2         one torch.export archive per region body

The hash is the body's content digest: on load the body's digest is recomputed and must equal the
saved name, so the re-registered op is the op the saved program or engine calls. Ops the bodies
call (a user's ``torch.library`` op, for instance) must be registered before loading, as for any
``torch.export.load``. No TensorRT here: `plugin.load_plugins` registers the loaded regions'
plugins.
"""

import dataclasses
import json
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torch.fx
import torch.utils._pytree as pytree
from torch.export.exported_program import ModuleCallEntry, ModuleCallSignature
from torch.export.graph_signature import (
    ExportGraphSignature,
    InputKind,
    InputSpec,
    OutputKind,
    OutputSpec,
    TensorArgument,
)
from torch.fx.experimental.symbolic_shapes import free_symbols

from .archive import file_sha256, parse_json, program_from_bytes, read_regular_file
from .errors import ArchiveError, OutlineError
from .handles import RegistrationHandle
from .outline import NAMESPACE, OutlinedRegion, RegionBody, TensorSpec, register_region_op

logger = logging.getLogger(__name__)

INDEX = "regions.json"
FORMAT = 2  # 2 added each file's sha256
MAX_REGIONS = 10_000
_REGION_NAME = re.compile(r"region_[0-9a-f]{1,64}")
_REGION_FILE = re.compile(r"region_[0-9a-f]{1,64}\.pt2")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True, slots=True)
class LoadedRegion:
    """A region registered again from a saved folder.

    Attributes:
        op: the ``trt_autoplugin::region_<hash>`` op, same name as when saved.
        body: the loaded body.
        plugin: its TensorRT plugin, when `load_plugins` registered one.
    """

    op: torch._ops.OpOverload
    body: RegionBody
    plugin: RegistrationHandle | None = None

    @property
    def name(self) -> str:
        return self.op._schema.name


# --- saving --------------------------------------------------------------------------------------


def body_program(body: RegionBody) -> torch.export.ExportedProgram:
    """The region body wrapped, as is, in an ExportedProgram: user inputs in, user outputs out.

    Not re-traced: re-exporting could decompose or rename ops and change the body's digest. The
    symbols of its symbolic sizes keep their names and ranges.
    """
    gm = _copied(body.graph_module)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    results = list(gm.graph.output_node().args[0])
    signature = ExportGraphSignature(
        input_specs=[
            InputSpec(InputKind.USER_INPUT, TensorArgument(p.name), None) for p in placeholders
        ],
        output_specs=[
            OutputSpec(OutputKind.USER_OUTPUT, TensorArgument(r.name), None) for r in results
        ],
    )
    in_spec = pytree.tree_flatten((tuple(p.meta["val"] for p in placeholders), {}))[1]
    out_spec = pytree.tree_flatten(tuple(results))[1]
    call_graph = [
        ModuleCallEntry("", ModuleCallSignature([], [], in_spec=in_spec, out_spec=out_spec))
    ]
    return torch.export.ExportedProgram(gm, gm.graph, signature, {}, _ranges(gm), call_graph)


def _copied(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    # The program takes ownership of the graph it is given; the body keeps its own. Node meta
    # (fake values included) is shared, not deep-copied.
    graph = torch.fx.Graph()
    graph.output(graph.graph_copy(gm.graph, {}))
    return torch.fx.GraphModule(torch.nn.Module(), graph, class_name="RegionBody")


def _ranges(gm: torch.fx.GraphModule) -> dict[Any, Any]:
    """The value range of every size symbol in the body's fake values, from their ShapeEnv."""
    ranges: dict[Any, Any] = {}
    for node in gm.graph.nodes:
        for value in pytree.tree_leaves(node.meta.get("val")):
            if not isinstance(value, torch.Tensor | torch.SymInt):
                continue
            sizes = value.shape if isinstance(value, torch.Tensor) else (value,)
            for size in sizes:
                if isinstance(size, torch.SymInt):
                    shape_env = size.node.shape_env
                    for symbol in free_symbols(size):
                        ranges[symbol] = shape_env.var_to_range[symbol]
    return ranges


def _bodies(regions: Iterable[OutlinedRegion | RegionBody]) -> dict[str, RegionBody]:
    bodies: dict[str, RegionBody] = {}
    for region in regions:
        body = region.body if isinstance(region, OutlinedRegion) else region
        bodies.setdefault(f"region_{body.digest()}", body)
    return bodies


def save_regions(regions: Iterable[OutlinedRegion | RegionBody], path: str | os.PathLike) -> Path:
    """Saves region bodies into a folder, one torch.export archive each plus an index.

    Args:
        regions: outlined regions (or bare bodies); duplicates are saved once.
        path: the folder, created if needed. Existing files of the same names are replaced.

    Returns:
        The folder.

    Raises:
        OutlineError: a body can't be serialized (names the region).

    Examples:
        >>> result = autoplugin(ep)
        >>> save_regions(result.regions, "model_regions")
        >>> torch.export.save(result.program, "model.pt2")
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    entries = [_save_body(name, body, folder) for name, body in _bodies(regions).items()]
    index = {"format": FORMAT, "namespace": NAMESPACE, "torch": torch.__version__}
    index["regions"] = entries
    (folder / INDEX).write_text(json.dumps(index, indent=2) + "\n")
    return folder


def _save_body(name: str, body: RegionBody, folder: Path) -> dict[str, Any]:
    file = f"{name}.pt2"
    try:
        torch.export.save(body_program(body), folder / file)
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as e:
        raise OutlineError(f"could not serialize region {NAMESPACE}::{name}: {e}") from e
    return {
        "name": name,
        "file": file,
        "sha256": file_sha256((folder / file).read_bytes()),
        "inputs": list(body.inputs),
        "outputs": list(body.outputs),
        "input_specs": [str(s) for s in body.input_specs],
        "output_specs": [str(s) for s in body.output_specs],
    }


# --- loading -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _IndexEntry:
    """One region of a checked index."""

    name: str
    file: str
    sha256: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def load_regions(path: str | os.PathLike) -> tuple[LoadedRegion, ...]:
    """Loads saved region bodies and registers their ops again, under the same names.

    Call it before ``torch.export.load`` of a program that calls the region ops. Nothing stored
    runs: the index is checked, each file's sha256 is checked on its bytes, then the file is
    loaded through `archive.load_program` (no unpickling). Every body is loaded and checked
    before any op is registered, so a bad set registers nothing.

    Args:
        path: a folder written by `save_regions`.

    Returns:
        The registered regions, in index order.

    Raises:
        ArchiveError: the index is missing or malformed, a file is missing, a symlink, outside
            the folder, changed since saving, or not a safe torch.export archive, or a loaded
            body's digest differs from its saved name (the message names the region).
        OutlineError: a region op could not be registered.
    """
    folder = Path(path)
    bodies = [_checked_body(folder, entry) for entry in _index_entries(folder)]
    return tuple(LoadedRegion(register_region_op(body), body) for body in bodies)


def _index_entries(folder: Path) -> list[_IndexEntry]:
    index_path = folder / INDEX
    where = str(index_path)
    try:
        text = read_regular_file(index_path).decode("utf-8")
    except (ArchiveError, UnicodeDecodeError) as e:
        raise ArchiveError(f"{where} is not a trt_autoplugin region index: {e}") from e
    index = parse_json(text, where=where)
    if not isinstance(index, dict) or "format" not in index or "regions" not in index:
        raise ArchiveError(
            f"{where} is not a trt_autoplugin region index: expected an object with "
            '"format" and "regions"'
        )
    version = index["format"]
    if version != FORMAT or isinstance(version, bool):
        raise ArchiveError(
            f"{where} has format {str(version)[:40]}; this version reads {FORMAT} "
            "(format 1 had no file digests: save the regions again)"
        )
    regions = index["regions"]
    if not isinstance(regions, list) or len(regions) > MAX_REGIONS:
        raise ArchiveError(f'{where}: "regions" is not a list of at most {MAX_REGIONS} entries')
    entries = [_index_entry(raw, f"{where}: region {i}") for i, raw in enumerate(regions)]
    names = [e.name for e in entries]
    if len(set(names)) != len(names) or len({e.file for e in entries}) != len(entries):
        raise ArchiveError(f"{where}: lists a region name or file twice")
    return entries


def _index_entry(raw: Any, where: str) -> _IndexEntry:
    if not isinstance(raw, dict):
        raise ArchiveError(f"{where} is a {type(raw).__name__}, not an object")
    name, file, sha256 = raw.get("name"), raw.get("file"), raw.get("sha256")
    if not isinstance(name, str) or not _REGION_NAME.fullmatch(name):
        raise ArchiveError(f"{where}: name {str(name)[:80]!r} is not region_<hex digest>")
    if not isinstance(file, str) or not _REGION_FILE.fullmatch(file):
        raise ArchiveError(
            f"{where} ({name}): file {str(file)[:80]!r} is not a plain name inside the folder "
            "(region_<hex>.pt2)"
        )
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ArchiveError(f"{where} ({name}): sha256 {str(sha256)[:80]!r} is not 64 hex digits")
    return _IndexEntry(
        name, file, sha256, _names(raw, "inputs", where), _names(raw, "outputs", where)
    )


def _names(raw: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ArchiveError(f'{where}: "{key}" is not a list of node names')
    return tuple(value)


def _checked_body(folder: Path, entry: _IndexEntry) -> RegionBody:
    """Reads a region file (no symlink, inside the folder), checks its sha256 on the raw bytes,
    loads it without unpickling, and checks the body's digest against its name."""
    path = folder / entry.file
    if path.resolve().parent != folder.resolve():
        raise ArchiveError(f"region {entry.name}: {path} resolves outside {folder}")
    data = read_regular_file(path)
    digest = file_sha256(data)
    if digest != entry.sha256:
        raise ArchiveError(
            f"region {NAMESPACE}::{entry.name}: {path} has sha256 {digest}, the index says "
            f"{entry.sha256}: the file changed since it was saved"
        )
    body = _body_of(program_from_bytes(data, where=str(path)), entry, path)
    try:
        body_digest = body.digest()
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as e:
        raise ArchiveError(f"region {NAMESPACE}::{entry.name}: {path}: no digest: {e}") from e
    if f"region_{body_digest}" != entry.name:
        raise ArchiveError(
            f"region {NAMESPACE}::{entry.name} in {folder} loads as region_{body_digest}: the "
            "file does not hold the saved computation (edited, or saved by an incompatible "
            "version)"
        )
    return body


def _body_of(program: torch.export.ExportedProgram, entry: _IndexEntry, path: Path) -> RegionBody:
    gm = program.graph_module
    try:
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        results = tuple(gm.graph.output_node().args[0])
        return RegionBody(
            graph_module=gm,
            inputs=entry.inputs,
            outputs=entry.outputs,
            input_specs=tuple(TensorSpec.of(p.meta["val"]) for p in placeholders),
            output_specs=tuple(TensorSpec.of(r.meta["val"]) for r in results),
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as e:
        raise ArchiveError(
            f"region {NAMESPACE}::{entry.name}: {path} is not a region body "
            f"(tensors in, a tuple of tensors out): {e}"
        ) from e
