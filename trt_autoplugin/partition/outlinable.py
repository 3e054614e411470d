"""What can be outlined: the refusal of a single unsupported node, with its kind and reason.

A node stays in PyTorch when it is not an operator call, has an effect (mutation, randomness, an
effect token), is control flow, returns something a plugin can't, or reads a value a plugin
can't take (`refusal_reason`).
"""

import operator

import torch
import torch.fx
from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols

from ..data_dependent import unbounded_reason
from ..graph import is_tensor_node, target_name
from ..refusal import Refusal, RefusalKind

_BAKEABLE_LEAVES = (
    int,
    float,
    bool,
    str,
    type(None),
    torch.dtype,
    torch.device,
    torch.layout,
    torch.memory_format,
    type(Ellipsis),
)

# Size arithmetic that a region may recompute from its tensor inputs' sizes. ``sym_float`` and
# true division make SymFloats: decomposed ``var_mean`` and batch norm divide a sum by
# ``sym_float(s0 * k)`` under a dynamic batch.
_SYMBOLIC_TARGETS: frozenset[object] = frozenset(
    {
        torch.sym_float,
        operator.truediv,
        torch.ops.aten.sym_size.int,
        torch.ops.aten.sym_numel.default,
        torch.ops.aten.sym_stride.int,
        operator.add,
        operator.sub,
        operator.mul,
        operator.floordiv,
        operator.mod,
        operator.neg,
        torch.sym_max,
        torch.sym_min,
        torch.sym_sum,
    }
)


# Ops whose only effect is to raise on bad values (export wraps them in with_effects, which
# `pipeline.without_check_tokens` unwraps): a region may run one, like eager, on its own values.
CHECK_TARGETS: frozenset[object] = frozenset({torch.ops.aten._linalg_check_errors.default})


def _flat_values(value: object) -> list[object]:
    if isinstance(value, list | tuple):
        return [v for item in value for v in _flat_values(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _flat_values(item)]
    if isinstance(value, slice):
        return [value.start, value.stop, value.step]
    return [value]


def _output_reason(node: torch.fx.Node) -> Refusal | None:
    if node.target in CHECK_TARGETS and not node.users:
        return None  # returns nothing; it raises inside the plugin
    value = node.meta.get("val")
    if value is None and "val" not in node.meta:
        return Refusal(
            RefusalKind.NO_FAKE_KERNEL,
            "no fake/meta value: the op has no fake kernel, so its output shapes are unknown "
            "(register one with torch.library.register_fake)",
            node.name,
        )
    leaves = _flat_values(value) if isinstance(value, list | tuple) else [value]
    if not leaves or not all(isinstance(v, torch.Tensor) for v in leaves):
        kind = type(value).__name__
        message = f"returns a non-tensor value ({kind}); a plugin's outputs are tensors"
        if any(user.op == "output" for user in node.users):
            message = (
                f"a program output that is a non-tensor value ({kind}, a scalar such as "
                "x.item()); a plugin can only return tensors, so it stays in PyTorch"
            )
        return Refusal(RefusalKind.NON_TENSOR_OUTPUT, message, node.name)
    # A data-dependent size becomes a size tensor of the plugin if it has an upper bound.
    return unbounded_reason(node)


def _schema_reason(node: torch.fx.Node) -> Refusal | None:
    target = node.target
    if node.op != "call_function":
        message = f"a {node.op} node, not an operator call"
        return Refusal(RefusalKind.NOT_AN_OPERATOR, message, node.name)
    if target is torch.ops.higher_order.with_effects:
        return _effect_reason(node)
    if isinstance(target, torch._ops.HigherOrderOperator):
        message = f"higher-order operator {target.name()} (control flow) can't be one plugin"
        return Refusal(RefusalKind.CONTROL_FLOW, message, node.name)
    if isinstance(target, torch._ops.OpOverload):
        if target._schema.is_mutable:
            message = "mutates an input in place; a plugin's inputs are read-only"
            return Refusal(RefusalKind.MUTATION, message, node.name)
        if torch.Tag.nondeterministic_seeded in target.tags and not is_inert_randomness(node):
            message = "draws random numbers; a plugin would not reproduce PyTorch's random stream"
            return Refusal(RefusalKind.RANDOMNESS, message, node.name)
    return None


def _effect_reason(node: torch.fx.Node) -> Refusal:
    # with_effects(token, op, *args): export threads a token through an op with a side effect
    # (a checked linalg op's _linalg_check_errors raises) to keep it in order.
    effect = node.args[1] if len(node.args) > 1 else None
    name = target_name(effect) if isinstance(effect, torch._ops.OpOverload) else str(effect)
    message = (
        f"an effect-token call (with_effects) of {name}: export orders its side effect with a "
        "token threaded through the program's inputs and outputs, which a plugin can't carry"
    )
    return Refusal(RefusalKind.EFFECT_TOKEN, message, node.name)


def _schema_arguments(node: torch.fx.Node) -> dict[str, object]:
    """The node's arguments by schema name, defaults filled in."""
    schema = node.target._schema  # type: ignore[union-attr]
    values: dict[str, object] = {}
    for i, argument in enumerate(schema.arguments):
        if i < len(node.args) and not argument.kwarg_only:
            values[argument.name] = node.args[i]
        elif argument.name in node.kwargs:
            values[argument.name] = node.kwargs[argument.name]
        elif argument.has_default_value():
            values[argument.name] = argument.default_value
    return values


def is_inert_randomness(node: torch.fx.Node) -> bool:
    """Whether a random op's call can draw nothing: dropout with probability 0 or train False.

    ``scaled_dot_product_attention`` and its decomposed forms are tagged
    ``nondeterministic_seeded`` for their ``dropout_p``, and ``dropout``/``native_dropout`` for
    ``p``; a call whose probability is 0, or with ``train=False``, is deterministic, so it may
    go into a plugin. Arguments are read by schema name; a symbolic probability is not inert.
    """
    if not isinstance(node.target, torch._ops.OpOverload):
        return False
    arguments = _schema_arguments(node)
    if "dropout_p" in arguments:
        return _is_literal(arguments["dropout_p"], 0)
    if "dropout" not in node.target.name():
        return False
    return _is_literal(arguments.get("train"), False) or _is_literal(arguments.get("p"), 0)


def _is_literal(value: object, expected: float | bool) -> bool:
    # bool is an int, so compare types too: train=0 is not train=False, p=False is not p=0.
    if isinstance(expected, bool):
        return value is expected
    return isinstance(value, int | float) and not isinstance(value, bool) and value == expected


def _argument_reason(node: torch.fx.Node) -> Refusal | None:
    for value in _flat_values((node.args, node.kwargs)):
        if isinstance(value, torch.fx.Node):
            reason = _input_node_reason(node, value)
            if reason is not None:
                return reason
        elif not isinstance(value, _BAKEABLE_LEAVES):
            message = f"argument of type {type(value).__name__} can't be baked into a plugin"
            return Refusal(RefusalKind.UNBAKEABLE_ARGUMENT, message, node.name)
    return None


def _input_node_reason(node: torch.fx.Node, arg: torch.fx.Node) -> Refusal | None:
    value = arg.meta.get("val")
    if isinstance(value, torch.Tensor | tuple | list) or arg.target is operator.getitem:
        return None
    if isinstance(value, torch.SymInt | torch.SymFloat | torch.SymBool | int | float | bool):
        if is_recomputable_symbol(arg):
            return None  # the region reads it off a tensor's size, data-dependent or not
        if free_unbacked_symbols(value):
            message = f"reads the data-dependent value {arg.name} ({value})"
            return Refusal(RefusalKind.DATA_DEPENDENT_INPUT, message, node.name)
        message = f"reads the symbolic value {arg.name}, which the plugin can't recompute"
        return Refusal(RefusalKind.SYMBOLIC_INPUT, message, node.name)
    message = f"reads {arg.name}, whose value ({type(value).__name__}) is not a tensor"
    return Refusal(RefusalKind.NON_TENSOR_INPUT, message, node.name)


def is_recomputable_symbol(node: torch.fx.Node) -> bool:
    """Whether a SymInt or SymFloat node is size arithmetic over tensors, so a region can
    recompute it."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if current in seen or is_tensor_node(current):
            continue
        seen.add(current)
        if current.op != "call_function" or current.target not in _SYMBOLIC_TARGETS:
            return False
        stack.extend(current.all_input_nodes)
    return True


def refusal_reason(node: torch.fx.Node) -> Refusal | None:
    """Why an unsupported node can't go into a plugin, or None when it can."""
    return _schema_reason(node) or _output_reason(node) or _argument_reason(node)
