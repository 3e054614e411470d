"""Saving region bodies and registering them again in another process.

A compiled module with JIT plugins, or a program rewritten by `autoplugin`, calls region ops
``trt_autoplugin::region_<hash>`` that exist only in the process that outlined them. This module
saves each region body with torch.export's own serializer (a JSON graph in a ``.pt2`` archive;
never pickle, so loading executes no stored code) and registers the same ops again on load.

Layout of a saved folder::

    regions.json              {"format": 1, "regions": [{"name", "file", "inputs", ...}, ...]}
    region_<hash>.pt2         one torch.export archive per region body

The hash is the body's content digest: on load the body's digest is recomputed and must equal the
saved name, so the re-registered op is the op the saved program or engine calls. Ops the bodies
call (a user's ``torch.library`` op, for instance) must be registered before loading, as for any
``torch.export.load``. No ``torch_tensorrt`` import here; TensorRT is used only by
`load_plugins`, through ``plugin.py``.
"""

import dataclasses
import json
import logging
import os
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

from .errors import OutlineError
from .outline import NAMESPACE, OutlinedRegion, RegionBody, TensorSpec, register_region_op
from .plugin import PluginHandle, register_plugin, tensorrt_plugin_import_error

logger = logging.getLogger(__name__)

INDEX = "regions.json"
FORMAT = 1


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
    plugin: PluginHandle | None = None

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
        "inputs": list(body.inputs),
        "outputs": list(body.outputs),
        "input_specs": [str(s) for s in body.input_specs],
        "output_specs": [str(s) for s in body.output_specs],
    }


# --- loading -------------------------------------------------------------------------------------


def load_regions(path: str | os.PathLike) -> tuple[LoadedRegion, ...]:
    """Loads saved region bodies and registers their ops again, under the same names.

    Call it before ``torch.export.load`` of a program that calls the region ops.

    Args:
        path: a folder written by `save_regions`.

    Returns:
        The registered regions, in index order.

    Raises:
        OutlineError: the index is missing or malformed, a file is missing, or a loaded body's
            digest differs from its saved name (the message names the region).
    """
    folder = Path(path)
    loaded = []
    for entry in _index_entries(folder):
        name = str(entry["name"])
        body = _load_body(folder, entry)
        digest = body.digest()
        if f"region_{digest}" != name:
            raise OutlineError(
                f"region {NAMESPACE}::{name} in {folder} loads as region_{digest}: the file does "
                "not hold the saved computation (edited, or saved by an incompatible version)"
            )
        loaded.append(LoadedRegion(register_region_op(body), body))
    return tuple(loaded)


def load_plugins(path: str | os.PathLike) -> tuple[LoadedRegion, ...]:
    """`load_regions`, then registers each region's TensorRT plugin when TensorRT imports.

    Loading an engine built with the plugins needs them registered first. Without TensorRT the
    ops are still registered (the programs run in PyTorch) and a warning says why no plugin was.

    Raises:
        OutlineError: as `load_regions`.
        PluginError: a region can't be a plugin, or TensorRT refused it.
    """
    regions = load_regions(path)
    missing = tensorrt_plugin_import_error()
    if missing is not None:
        logger.warning(
            "registered %d region ops but no TensorRT plugins: %s", len(regions), missing
        )
        return regions
    return tuple(dataclasses.replace(r, plugin=register_plugin(r.body)) for r in regions)


def _index_entries(folder: Path) -> list[dict[str, Any]]:
    index_path = folder / INDEX
    try:
        index = json.loads(index_path.read_text())
        entries = index["regions"]
        version = index["format"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise OutlineError(f"{index_path} is not a trt_autoplugin region index: {e}") from e
    if version != FORMAT:
        raise OutlineError(f"{index_path} has format {version}; this version reads {FORMAT}")
    return entries


def _load_body(folder: Path, entry: dict[str, Any]) -> RegionBody:
    name = entry.get("name")
    file = str(entry.get("file"))
    if Path(file).name != file:
        raise OutlineError(f"region {name}: file {file!r} is not a plain name inside {folder}")
    try:
        program = torch.export.load(folder / file)
    except (OSError, RuntimeError, KeyError, ValueError, AttributeError) as e:
        raise OutlineError(f"could not load region {NAMESPACE}::{name} from {file}: {e}") from e
    return _body_of(program, entry)


def _body_of(program: torch.export.ExportedProgram, entry: dict[str, Any]) -> RegionBody:
    gm = program.graph_module
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    results = gm.graph.output_node().args[0]
    return RegionBody(
        graph_module=gm,
        inputs=tuple(entry.get("inputs", ())),
        outputs=tuple(entry.get("outputs", ())),
        input_specs=tuple(TensorSpec.of(p.meta["val"]) for p in placeholders),
        output_specs=tuple(TensorSpec.of(r.meta["val"]) for r in results),
    )
