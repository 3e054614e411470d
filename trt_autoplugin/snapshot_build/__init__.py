"""Regenerates the snapshot of Torch-TensorRT's converter registry and decomposition sets.

Run as::

    python -m trt_autoplugin.snapshot_build [--wheel WHEEL | --source DIR] [--output PATH]

With neither ``--wheel`` nor ``--source`` it imports ``torch_tensorrt`` and reads the live
registry (:mod:`.live`). Otherwise it reads the package's Python source with :mod:`ast` and never
imports it: ``torch_tensorrt`` imports ``tensorrt`` at module level and calls
``torch.cuda.current_device()`` in default arguments, so the machines that build snapshots
usually cannot import it.

The static reader mirrors what importing the package would do, one module a step, each only
importing those above it in this list:

- :mod:`.source`: the sources, from a wheel or a directory.
- :mod:`.reader`: names evaluated without running them. A key that is a function the package
  defines with a plain ``def`` (2.11's NCCL converters are keyed by
  ``fuse_distributed_ops.tensorrt_fused_nccl_all_gather_op``) is named by its module and name,
  as the partitioner names a function target.
- :mod:`.keys`: keys resolved with the installed torch; an ``OpOverloadPacket`` key stays a packet.
- :mod:`.sites`: the registrar calls an import reaches, loops and helper calls unrolled,
  conditions kept.
- :mod:`.converters`: ``dynamo_tensorrt_converter`` entries, in registry order.
- :mod:`.decompositions`: the sets ``get_decompositions()`` combines, and whether its filter of
  torch's CompositeImplicitAutograd table keeps the attention ops.
- :mod:`.operator_support`: the checks ``TorchTensorRTOperatorSupport.is_node_supported``
  makes besides the registry lookup, which changed between releases.
- :mod:`.live`: the same entries from an imported package; :mod:`.build` assembles either
  snapshot; :mod:`.cli` writes it.

One wheel serves every Python version: only its ``.py`` files are read (2.11's wheel is cp312,
the later ones cp311). Decomposition keys are resolved against the installed torch, recorded in
``"torch_version_used_to_resolve"``; each release pairs with the torch of its minor version.

Whatever cannot be resolved is listed under ``"unresolved"`` with its ``file:line`` and the
reason, never dropped.
"""

from trt_autoplugin.snapshot_build.build import (
    FORMAT,
    build_snapshot,
    import_snapshot,
    static_snapshot,
)
from trt_autoplugin.snapshot_build.cli import (
    SNAPSHOT_DIR,
    main,
    snapshot_path,
    snapshot_text,
    summary,
)
from trt_autoplugin.snapshot_build.decompositions import cia_filter_keeps_attention
from trt_autoplugin.snapshot_build.live import live_converters
from trt_autoplugin.snapshot_build.operator_support import operator_support_checks
from trt_autoplugin.snapshot_build.source import (
    PACKAGE,
    JsonObject,
    SourceTree,
    source_tree_from_directory,
    source_tree_from_wheel,
)

__all__ = [
    "FORMAT",
    "PACKAGE",
    "SNAPSHOT_DIR",
    "JsonObject",
    "SourceTree",
    "build_snapshot",
    "cia_filter_keeps_attention",
    "import_snapshot",
    "live_converters",
    "main",
    "operator_support_checks",
    "snapshot_path",
    "snapshot_text",
    "source_tree_from_directory",
    "source_tree_from_wheel",
    "static_snapshot",
    "summary",
]
