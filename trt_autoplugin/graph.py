"""What every stage needs to say about FX nodes: target names, node descriptions for messages,
tensor values and their symbolic shapes. Below every stage; imports only torch and sympy.
"""

import os

import sympy
import torch
import torch.fx

# The project's custom-op namespace: region ops are ``trt_autoplugin::region_<hash>``.
REGION_NAMESPACE = "trt_autoplugin"

# torch's own frames in a stack trace say nothing about the user's model.
_TORCH_DIR = os.path.dirname(torch.__file__)

SymbolicDim = int | sympy.Expr


def target_name(target: object) -> str:
    """Canonical name of a node target: 'aten.add.Tensor' or '_operator.getitem'."""
    if isinstance(target, torch._ops.OpOverload | torch._ops.OpOverloadPacket):
        return str(target)
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", None) or repr(target)
    return f"{module}.{name}" if module else name


def describe_node(node: torch.fx.Node) -> str:
    """Names a node for an error message: its name, op target and the user's source line."""
    where = source_line(node)
    return f"node '{node.name}' ({target_name(node.target)})" + (f" at {where}" if where else "")


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


def tensor_values(value: object) -> list[torch.Tensor]:
    """The tensors in a node's value (``meta['val']``), through lists and tuples."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, list | tuple):
        return [v for item in value for v in tensor_values(item)]
    return []


def is_tensor_node(node: torch.fx.Node) -> bool:
    """Whether the node's value is a single tensor."""
    return isinstance(node.meta.get("val"), torch.Tensor)


def has_complex_values(node: torch.fx.Node) -> bool:
    """Whether the node or one of its inputs carries a complex tensor (TensorRT has none)."""
    values = tensor_values(node.meta.get("val"))
    for arg in node.all_input_nodes:
        values.extend(tensor_values(arg.meta.get("val")))
    return any(v.dtype.is_complex for v in values)


def symbolic_dim(size: int | torch.SymInt) -> SymbolicDim:
    """A size as an int, or the SymInt's sympy expression (an int when it folds to one)."""
    if not isinstance(size, torch.SymInt):
        return int(size)
    expr = size.node.expr
    return int(expr) if expr.is_Integer else expr


def symbolic_shape(value: torch.Tensor) -> tuple[SymbolicDim, ...]:
    """The shape of a (fake) tensor as ints and sympy expressions, one entry per dim."""
    return tuple(symbolic_dim(size) for size in value.shape)
