"""Exception types: one root, one subclass per pipeline stage."""

import os

import torch
import torch.fx

_TORCH_DIR = os.path.dirname(torch.__file__)


class AutopluginError(Exception):
    """Root of every error trt_autoplugin raises."""


class SupportError(AutopluginError):
    """The support oracle could not answer (missing snapshot, bad settings)."""


class DecompositionError(AutopluginError):
    """Torch failed to decompose the program as Torch-TensorRT would before conversion."""


class PartitionError(AutopluginError):
    """The region search met a graph it cannot partition."""


class OutlineError(AutopluginError):
    """A region could not become a custom op."""


class ShapeTranslationError(AutopluginError):
    """A symbolic shape has no TensorRT shape-expression equivalent."""


class PluginError(AutopluginError):
    """A region could not become a TensorRT plugin or converter."""


class AotError(AutopluginError):
    """A region can't get an ahead-of-time kernel; it stays a JIT plugin (the message says why)."""


class ArchiveError(AutopluginError):
    """A ``.pt2`` file or saved region set is malformed, or holds something that would run code."""


class MissingDependencyError(AutopluginError):
    """An optional dependency (TensorRT, Torch-TensorRT, a GPU) is not available."""


def describe_node(node: torch.fx.Node) -> str:
    """Names a node for an error message: its name, op target and the user's source line."""
    target = node.target if isinstance(node.target, str) else _qualified_name(node.target)
    where = source_line(node)
    return f"node '{node.name}' ({target})" + (f" at {where}" if where else "")


def source_line(node: torch.fx.Node) -> str | None:
    """The innermost user frame of the node's stack trace, as 'file:line in fn', if recorded."""
    trace = node.meta.get("stack_trace")
    if not trace:
        return None
    lines = trace.strip().splitlines()
    frames = [line.strip() for line in lines if line.strip().startswith("File")]
    if not frames:
        return None
    # The innermost frame outside torch itself is the user's line (a conv's trace ends in
    # torch/nn/modules/conv.py, which tells the user nothing).
    user_frames = [f for f in frames if _TORCH_DIR not in f]
    last = (user_frames or frames)[-1]
    parts = [p.strip() for p in last.split(",")]
    try:
        path = parts[0].split('"')[1]
        line = parts[1].split()[1]
        fn = parts[2].split()[1] if len(parts) > 2 else "?"
    except IndexError:
        return last
    return f"{path}:{line} in {fn}"


def _qualified_name(target: object) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", None) or repr(target)
    return f"{module}.{name}" if module else name
