"""Ahead-of-time region kernels: TorchInductor's Triton kernel, as PTX that TensorRT launches.

A JIT plugin calls back into Python on every inference. TensorRT's ``trtp.aot_impl`` instead
takes a compiled kernel and its launch parameters and embeds them in the engine. This module
produces that artifact, an `AotKernel`, for a region whose computation TorchInductor turns into
exactly one Triton kernel and nothing else:

1. Inductor compiles the region body for CUDA with the region's symbolic dims marked dynamic
   (`inductor_code`). Its Python wrapper is read, never executed, by `kernel_plan`: which
   kernel it launches, which region input or output each pointer parameter is, and each scalar
   parameter (element counts) as a sympy expression of the region's input dims. Anything else
   in the wrapper (an extern call such as ``aten.digamma`` or a matmul library, a second kernel,
   a scratch buffer, a strided input) is refused with the line that caused it.
2. The kernel's source is re-emitted with its parameters in TensorRT's order (input pointers,
   then the 32-bit scalars, then output pointers; unused inputs get a dummy pointer) and
   compiled by Triton for the current GPU, once per config (`_tactic_candidates`): Inductor's
   configs, timed on TensorRT's launch path at a large and a small size, then Inductor's
   coordinate-descent tuner from the fastest at each. The large size's winner is the kernel;
   the small size's winner and Inductor's configs ride along as TensorRT tactics, which
   TensorRT times at the engine's own shapes.
3. The launch grid comes from Inductor's own ``GridExpr`` for the kernel's grid type, with the
   element counts substituted, so grid and scalars are expressions TensorRT evaluates for any
   shape in the dynamic range.
4. The artifact, every tactic of it, is checked before it is returned: it is launched exactly
   as TensorRT would (`kernel_launch.launch`: the PTX through the CUDA driver, only TensorRT's
   arguments) on poisoned outputs over several shapes (0, 1, odd sizes and the range's
   maximum), against the eager region. A mismatch in any tactic refuses the kernel.

Every refusal raises `AotError` with the reason; the caller keeps the JIT plugin and reports it.

PyTorch's internals move between releases: the wrapper format, ``GridExpr`` and the heuristics
were verified on torch 2.11.0+cu130 with Triton 3.6.0 (H100). Elsewhere a format this module
doesn't know is refused with the statement it met, never guessed.
"""

import ast
import copy
import dataclasses
import hashlib
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sympy
import torch
from torch.utils._sympy.functions import FloorDiv, PythonMod

from .errors import AotError
from .outline import RegionBody, TensorSpec, run_body
from .shape_expr import IntArithmetic, ShapeArithmetic, SymbolicDim, translate_shapes

logger = logging.getLogger(__name__)

T = TypeVar("T")

VERIFIED_ON = "torch 2.11.0+cu130, Triton 3.6.0 (NVIDIA H100)"

# TensorRT passes every extra kernel argument and grid dim as a 32-bit int (``SymInt32``).
INT32_MAX = 2**31 - 1
# CUDA's grid y and z are at most 65535 blocks.
GRID_YZ_MAX = 65535
# Dynamic shared memory above 48 KiB needs cuFuncSetAttribute before the launch; TensorRT's
# launch parameters have no way to ask for it.
SHARED_MEM_MAX = 48 * 1024
# Where a dynamic dim has no upper bound, the check and the compile hint stop here.
_UNBOUNDED_CHECK_SIZE = 4096
# Configs are compiled for and timed at sizes whose inputs hold about this many bytes; a
# second descent at the small size finds the config for launch-latency-bound profiles.
_TUNING_BYTES = 256 << 20
_SMALL_TUNING_BYTES = 4 << 20
# A timing sample of a config lasts at least this long, in at most this many launches.
_TIMED_SAMPLE_S = 100e-6
_TIMED_CALLS_MAX = 50
# Inputs at the range's maximum are checked only below this many elements per tensor.
_MAX_CHECK_ELEMENTS = 1 << 26

_INDUCTOR_DTYPES = {
    "torch.float32": torch.float32,
    "torch.float16": torch.float16,
    "torch.bfloat16": torch.bfloat16,
    "torch.int8": torch.int8,
    "torch.int32": torch.int32,
    "torch.int64": torch.int64,
    "torch.bool": torch.bool,
}


# --- the artifact --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class AotKernel:
    """A region's ahead-of-time kernel, as ``trtp.aot_impl`` returns it.

    Attributes:
        plugin_id: the region's plugin, ``trt_autoplugin::region_<hash>``.
        kernel_name: the PTX entry.
        ptx: the kernel for ``arch``; its entry takes exactly TensorRT's arguments.
        input_shapes: the region's symbolic input shapes, which `scalars` and `grid` refer to.
        scalars: the extra arguments, passed as int32 after the input pointers.
        grid: blocks in x, y, z.
        block: threads per block (x).
        shared_mem: dynamic shared memory per block, in bytes.
        config: the Inductor config compiled (block sizes, warps, stages).
        arch: compute capability the PTX targets (90 for H100).
        checked_shapes: input shapes the kernel was checked on against the eager region.
        alternatives: the same kernel compiled with other configs, each checked too. They
            are TensorRT tactics 2, 3...: TensorRT times every tactic at the optimization
            profile's shapes when it builds the engine and keeps the fastest, where this
            kernel (tactic 1) is only the fastest at the compile hint.
    """

    plugin_id: str
    kernel_name: str
    ptx: str
    input_shapes: tuple[tuple[SymbolicDim, ...], ...]
    scalars: tuple[SymbolicDim, ...]
    grid: tuple[SymbolicDim, SymbolicDim, SymbolicDim]
    block: int
    shared_mem: int
    config: str
    arch: int
    checked_shapes: tuple[tuple[tuple[int, ...], ...], ...] = ()
    alternatives: tuple["AotKernel", ...] = ()

    def tactics(self) -> tuple["AotKernel", ...]:
        """This kernel, then its alternatives: TensorRT tactic ``t`` is ``tactics()[t - 1]``."""
        return (self, *self.alternatives)

    def for_tactic(self, tactic: int) -> "AotKernel":
        """The kernel TensorRT's ``tactic`` stands for; 0, TensorRT's default, is this one."""
        options = self.tactics()
        if tactic == 0:
            return self
        if not 1 <= tactic <= len(options):
            raise AotError(
                f"{self.plugin_id}: TensorRT asked for tactic {tactic}; the plugin declared "
                f"1 to {len(options)}"
            )
        return options[tactic - 1]

    def launch_dims(
        self, input_dims: Sequence[Sequence[T]], arith: ShapeArithmetic[T]
    ) -> tuple[tuple[T, ...], tuple[T, ...]]:
        """``(grid, scalars)`` in a backend's expressions of the input dims.

        TensorRT: ``input_dims = [desc.shape_expr for desc in inputs]`` and
        `plugin.TrtShapeArithmetic`; concrete shapes: `concrete_launch`.
        """
        grid, scalars = translate_shapes(
            [self.grid, self.scalars], self.input_shapes, input_dims, arith
        )
        # At least one block per grid dim: Triton's launcher skips an empty grid, TensorRT
        # launches it and fails. The clamp is applied here, not in sympy, which drops
        # Max(16*s0, 1) for a symbol it assumes positive, although an export dim can be 0.
        one = arith.constant(1)
        return tuple(arith.max(g, one) for g in grid), scalars

    def concrete_launch(
        self, input_shapes: Sequence[Sequence[int]]
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(grid, scalars)`` for concrete input shapes."""
        return self.launch_dims([list(s) for s in input_shapes], IntArithmetic())


# --- reading Inductor's output (pure) ------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class KernelPlan:
    """What Inductor's wrapper does with its one kernel, in the region's terms.

    Attributes:
        kernel_name: the kernel's name in the wrapper module.
        kernel_source: the kernel module's source (heuristics decorator included).
        inputs: per region input, the kernel parameter that reads it (None: unused).
        outputs: per region output, the kernel parameter that writes it.
        scalars: the kernel's scalar parameters in order, each with its value as an
            expression of the region's input dims.
    """

    kernel_name: str
    kernel_source: str
    inputs: tuple[str | None, ...]
    outputs: tuple[str, ...]
    scalars: tuple[tuple[str, SymbolicDim], ...]


def kernel_plan(
    code: str, input_specs: Sequence[TensorSpec], output_specs: Sequence[TensorSpec]
) -> KernelPlan:
    """Reads Inductor's Python wrapper for a region compiled alone.

    Args:
        code: the wrapper module's source, as ``run_and_get_code`` returns it.
        input_specs: the region's inputs, in the order the compiled function took them.
        output_specs: the region's outputs.

    Returns:
        The plan of its single kernel launch.

    Raises:
        AotError: the wrapper does anything but launch one Triton kernel from the region's
            inputs into fresh contiguous outputs; the message quotes the statement.
    """
    module = ast.parse(code)
    kernels = _kernel_sources(module)
    call = _call_function(module)
    reader = _WrapperReader(kernels, input_specs, output_specs)
    reader.read(call.body)
    return reader.plan()


def _kernel_sources(module: ast.Module) -> dict[str, str]:
    """``{name: source}`` of every ``name = async_compile.triton('name', '''source''', ...)``."""
    sources: dict[str, str] = {}
    for statement in module.body:
        if not isinstance(statement, ast.Assign) or not isinstance(statement.value, ast.Call):
            continue
        function = statement.value.func
        if not (isinstance(function, ast.Attribute) and function.attr == "triton"):
            continue
        arguments = statement.value.args
        if len(arguments) >= 2 and all(isinstance(a, ast.Constant) for a in arguments[:2]):
            sources[str(arguments[0].value)] = str(arguments[1].value)  # type: ignore[attr-defined]
    return sources


def _call_function(module: ast.Module) -> ast.FunctionDef:
    # 2.11 wraps ``call`` in a Runner class; older releases define it at module level.
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef) and node.name == "call":
            if "args" in [a.arg for a in node.args.args]:
                return node
    raise AotError("Inductor's wrapper has no call(args) function: an unknown wrapper format")


class _WrapperReader:
    """Walks the straight-line body of the wrapper's ``call``, accepting a known vocabulary."""

    def __init__(
        self,
        kernels: Mapping[str, str],
        input_specs: Sequence[TensorSpec],
        output_specs: Sequence[TensorSpec],
    ) -> None:
        self.kernels = kernels
        self.input_specs = input_specs
        self.output_specs = output_specs
        self.tensor_args: dict[str, int] = {}
        self.values: dict[str, sympy.Expr] = {}  # wrapper names of sizes -> region dims
        self.pending_symbols: set[str] = set()
        self.buffers: dict[str, str] = {}  # buffer or alias -> the buffer it is
        self.buffer_specs: dict[str, TensorSpec] = {}
        self.launches: list[tuple[str, list[ast.expr]]] = []
        self.returned: list[str] = []

    def read(self, body: Sequence[ast.stmt]) -> None:
        self._bind_arguments(body)
        for statement in body:
            self._statement(statement)

    # -- arguments: ``a, b = args``; sizes from symint arguments and assert_size_stride --

    def _bind_arguments(self, body: Sequence[ast.stmt]) -> None:
        names = _unpacked_args(body)
        asserted = _asserted_shapes(body, set(names))
        tensors = [n for n in names if n in asserted]
        if len(tensors) != len(self.input_specs):
            raise AotError(
                f"Inductor's wrapper takes {len(tensors)} tensors but the region has "
                f"{len(self.input_specs)} inputs (an input was dropped or duplicated)"
            )
        self.tensor_args = {name: index for index, name in enumerate(tensors)}
        self.pending_symbols = {n for n in names if n not in asserted}
        for name, (shape, strides) in asserted.items():
            self._bind_input_dims(name, shape, strides)

    def _bind_input_dims(self, name: str, shape: list[ast.expr], strides: list[ast.expr]) -> None:
        spec = self.input_specs[self.tensor_args[name]]
        if len(shape) != len(spec.shape):
            raise AotError(f"Inductor asserts rank {len(shape)} for {name}, the region has {spec}")
        for index, (dim, region_dim) in enumerate(zip(shape, spec.shape, strict=True)):
            if isinstance(dim, ast.Name) and dim.id not in self.values:
                self.values[dim.id] = sympy.sympify(region_dim)
            elif isinstance(dim, ast.Constant) and not isinstance(region_dim, int):
                raise AotError(
                    f"Inductor specialised dim {index} of input {self.tensor_args[name]} to "
                    f"{dim.value}; the region's dim is {region_dim}"
                )
        self._require_contiguous(name, shape, strides)

    def _require_contiguous(
        self, name: str, shape: list[ast.expr], strides: list[ast.expr]
    ) -> None:
        expected: sympy.Expr = sympy.Integer(1)
        for dim, stride in reversed(list(zip(shape, strides, strict=True))):
            size = self._expression(dim)
            if size != 1 and sympy.simplify(self._expression(stride) - expected) != 0:
                raise AotError(
                    f"Inductor compiled {name} with strides "
                    f"({', '.join(ast.unparse(s) for s in strides)}), not contiguous; TensorRT "
                    "passes contiguous buffers"
                )
            expected = expected * size

    # -- statements --

    def _statement(self, statement: ast.stmt) -> None:
        if isinstance(statement, ast.With):
            for inner in statement.body:
                self._statement(inner)
        elif isinstance(statement, ast.Assign):
            self._assignment(statement)
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            self._call(statement.value, statement)
        elif isinstance(statement, ast.Return):
            self._return(statement)
        elif not isinstance(statement, (ast.Delete, ast.Pass)):
            raise _refusal(statement)

    def _assignment(self, statement: ast.Assign) -> None:
        (target,) = statement.targets
        value = statement.value
        if isinstance(target, ast.Tuple) and _is_name(value, "args"):
            return  # ``a, b = args``, read by _bind_arguments
        if not isinstance(target, ast.Name):
            raise _refusal(statement)
        name = target.id
        if isinstance(value, ast.Name) and value.id in self.pending_symbols:
            if name not in self.values:
                raise AotError(f"size {name} is read from no input dim: {ast.unparse(statement)}")
        elif isinstance(value, ast.Name) and value.id in self.buffers:
            self.buffers[name] = self.buffers[value.id]
        elif _is_call_to(value, "empty_strided_cuda"):
            self._buffer(name, value, statement)  # type: ignore[arg-type]
        elif _is_call_to(value, "get_raw_stream"):
            return
        elif _is_size_call(value):
            self._size(name, value, statement)  # type: ignore[arg-type]
        elif any(_is_foreign_call(n) for n in ast.walk(value)):
            raise _refusal(statement)
        else:
            self.values[name] = self._expression(value, statement)

    def _size(self, name: str, value: ast.Call, statement: ast.stmt) -> None:
        owner = value.func.value  # type: ignore[attr-defined]
        if not isinstance(owner, ast.Name) or owner.id not in self.tensor_args:
            raise _refusal(statement)
        dim = int(value.args[0].value)  # type: ignore[attr-defined]
        self.values[name] = sympy.sympify(self.input_specs[self.tensor_args[owner.id]].shape[dim])

    def _buffer(self, name: str, value: ast.Call, statement: ast.stmt) -> None:
        shape_node, stride_node, dtype_node = value.args[:3]
        if not isinstance(shape_node, ast.Tuple) or not isinstance(stride_node, ast.Tuple):
            raise _refusal(statement)
        dtype = _INDUCTOR_DTYPES.get(ast.unparse(dtype_node))
        if dtype is None:
            raise AotError(f"a buffer of an unsupported dtype: {ast.unparse(statement)}")
        self._require_contiguous(name, shape_node.elts, stride_node.elts)
        shape = tuple(self._expression(d, statement) for d in shape_node.elts)
        self.buffers[name] = name
        self.buffer_specs[name] = TensorSpec(shape, dtype)

    def _call(self, call: ast.Call, statement: ast.stmt) -> None:
        function = ast.unparse(call.func)
        if function in ("assert_size_stride", "assert_alignment", "torch.cuda.set_device"):
            return
        if function == "args.clear":
            return
        if isinstance(call.func, ast.Attribute) and call.func.attr == "run":
            kernel = ast.unparse(call.func.value)
            if kernel not in self.kernels:
                raise _refusal(statement)
            if any(k.arg != "stream" for k in call.keywords):
                raise _refusal(statement)
            self.launches.append((kernel, list(call.args)))
            return
        raise _refusal(statement)

    def _return(self, statement: ast.Return) -> None:
        value = statement.value
        elements = value.elts if isinstance(value, ast.Tuple) else [value]
        for element in elements:
            if isinstance(element, ast.Call) and _is_call_to(element, "reinterpret_tensor"):
                element = self._whole_reinterpretation(element, statement)
            if not isinstance(element, ast.Name) or element.id not in self.buffers:
                raise AotError(
                    f"the compiled region returns {ast.unparse(element)}, not a buffer its "
                    "kernel writes (an output aliases an input or a view)"
                )
            self.returned.append(self.buffers[element.id])

    def _whole_reinterpretation(self, call: ast.Call, statement: ast.stmt) -> ast.expr:
        # reinterpret_tensor(buf, shape, stride, 0) of a contiguous buffer with its own shape
        # is the buffer itself.
        buffer, shape, strides, *offset = call.args
        if offset and ast.unparse(offset[0]) != "0":
            raise _refusal(statement)
        if not isinstance(shape, ast.Tuple) or not isinstance(strides, ast.Tuple):
            raise _refusal(statement)
        self._require_contiguous(ast.unparse(buffer), shape.elts, strides.elts)
        return buffer

    # -- expressions --

    def _expression(self, node: ast.expr, statement: ast.stmt | None = None) -> sympy.Expr:
        try:
            return size_expression(node, self.values)
        except AotError as e:
            where = ast.unparse(statement) if statement is not None else ast.unparse(node)
            raise AotError(f"{e} in {where!r}") from e

    # -- the plan --

    def plan(self) -> KernelPlan:
        if len(self.launches) != 1:
            names = ", ".join(k for k, _ in self.launches) or "none"
            raise AotError(
                f"Inductor emitted {len(self.launches)} Triton kernels ({names}); an AOT plugin "
                "holds exactly one"
            )
        kernel, arguments = self.launches[0]
        source = self.kernels[kernel]
        parameters = [p for p, kind in kernel_parameters(source, kernel) if kind != "constexpr"]
        if len(parameters) != len(arguments):
            raise AotError(
                f"{kernel} takes {len(parameters)} runtime parameters but the wrapper passes "
                f"{len(arguments)}"
            )
        inputs: list[str | None] = [None] * len(self.input_specs)
        written: dict[str, str] = {}
        scalars: list[tuple[str, SymbolicDim]] = []
        for parameter, argument in zip(parameters, arguments, strict=True):
            self._bind(parameter, argument, inputs, written, scalars)
        return KernelPlan(kernel, source, tuple(inputs), self._outputs(written), tuple(scalars))

    def _bind(
        self,
        parameter: str,
        argument: ast.expr,
        inputs: list[str | None],
        written: dict[str, str],
        scalars: list[tuple[str, SymbolicDim]],
    ) -> None:
        if isinstance(argument, ast.Name) and argument.id in self.tensor_args:
            index = self.tensor_args[argument.id]
            if inputs[index] is not None or "out_ptr" in parameter:
                raise AotError(f"kernel parameter {parameter} writes or re-reads input {index}")
            inputs[index] = parameter
        elif isinstance(argument, ast.Name) and argument.id in self.buffers:
            buffer = self.buffers[argument.id]
            if "out_ptr" not in parameter or buffer in written:
                raise AotError(f"buffer {buffer} is read by {parameter} before any kernel wrote it")
            written[buffer] = parameter
        else:
            scalars.append((parameter, _simplified(self._expression(argument))))

    def _outputs(self, written: Mapping[str, str]) -> tuple[str, ...]:
        if len(self.returned) != len(self.output_specs):
            raise AotError(
                f"the compiled region returns {len(self.returned)} values, the region "
                f"{len(self.output_specs)}"
            )
        if len(set(self.returned)) != len(self.returned):
            raise AotError("the compiled region returns one buffer twice")
        extra = set(written) - set(self.returned)
        if extra:
            raise AotError(f"the kernel also writes scratch buffers {sorted(extra)}")
        outputs = []
        for index, (buffer, spec) in enumerate(zip(self.returned, self.output_specs, strict=True)):
            if buffer not in written:
                raise AotError(f"output {index} ({buffer}) is not written by the kernel")
            if self.buffer_specs[buffer].dtype != spec.dtype:
                raise AotError(f"output {index} is {self.buffer_specs[buffer]}, the region {spec}")
            outputs.append(written[buffer])
        return tuple(outputs)


def _unpacked_args(body: Sequence[ast.stmt]) -> list[str]:
    for statement in body:
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Tuple)
            and _is_name(statement.value, "args")
        ):
            return [ast.unparse(e) for e in statement.targets[0].elts]
        if isinstance(statement, ast.Assign) and _is_name(statement.value, "args"):
            return [ast.unparse(statement.targets[0])]
    raise AotError("Inductor's call() does not unpack its arguments: an unknown wrapper format")


def _asserted_shapes(
    body: Sequence[ast.stmt], arguments: set[str]
) -> dict[str, tuple[list[ast.expr], list[ast.expr]]]:
    """``{argument: (shape, strides)}`` from ``assert_size_stride(arg, shape, strides)``."""
    shapes: dict[str, tuple[list[ast.expr], list[ast.expr]]] = {}
    for statement in body:
        if not (
            isinstance(statement, ast.Expr) and _is_call_to(statement.value, "assert_size_stride")
        ):
            continue
        target, shape, strides = statement.value.args[:3]  # type: ignore[attr-defined]
        if isinstance(target, ast.Name) and target.id in arguments:
            if isinstance(shape, ast.Tuple) and isinstance(strides, ast.Tuple):
                shapes[target.id] = (shape.elts, strides.elts)
    return shapes


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_call_to(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Call) and ast.unparse(node.func) == name


def _is_size_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "size"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
    )


def _is_foreign_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and ast.unparse(node.func) not in ("max", "min")


def _refusal(statement: ast.stmt) -> AotError:
    text = ast.unparse(statement)
    extern = re.search(r"(torch\.ops\.[\w.]+|extern_kernels\.\w+|aten\.[\w.]+)", text)
    what = (
        f"an extern call to {extern.group(1)}" if extern else "a statement this reader doesn't know"
    )
    return AotError(f"Inductor's wrapper makes {what}: {text!r}")


def _simplified(expression: sympy.Expr) -> SymbolicDim:
    return int(expression) if expression.is_Integer else expression


_BINARY = {ast.Add: sympy.Add, ast.Mult: sympy.Mul}


def size_expression(node: ast.expr, values: Mapping[str, sympy.Expr]) -> sympy.Expr:
    """A sympy expression for an integer size expression in Inductor's printed Python.

    Only ints, known names, ``+ - * // %``, unary minus and ``max``/``min`` calls are read;
    anything else raises. This is how saved and generated expressions are read back without
    ``eval``.

    Raises:
        AotError: the expression uses anything else, or an unknown name.
    """
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sympy.Integer(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise AotError(f"unknown size {node.id!r}")
        return values[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = size_expression(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _binary(node, values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        function = {"max": sympy.Max, "min": sympy.Min}.get(node.func.id)
        if function is not None and node.args:
            return function(*(size_expression(a, values) for a in node.args))
    raise AotError(f"a size expression this reader doesn't know: {ast.unparse(node)!r}")


def _binary(node: ast.BinOp, values: Mapping[str, sympy.Expr]) -> sympy.Expr:
    left = size_expression(node.left, values)
    right = size_expression(node.right, values)
    if isinstance(node.op, ast.Add):
        return left + right
    if isinstance(node.op, ast.Sub):
        return left - right
    if isinstance(node.op, ast.Mult):
        return left * right
    if isinstance(node.op, ast.FloorDiv):
        if right.is_Integer and right < 0:
            # floor(a / -k) == -ceil(a / k): Inductor's ceil-division idiom -(a // -k).
            k = -right
            return -FloorDiv(left + k - 1, k)
        return FloorDiv(left, right)
    if isinstance(node.op, ast.Mod):
        return PythonMod(left, right)
    raise AotError(f"a size expression this reader doesn't know: {ast.unparse(node)!r}")


# --- the kernel's source (pure) ------------------------------------------------------------------


def kernel_parameters(source: str, kernel_name: str) -> list[tuple[str, str]]:
    """``[(parameter, type)]`` of a kernel, from ``triton_meta['signature']`` in its source.

    Types are Triton's: ``'*fp32'``, ``'i32'``, ``'constexpr'``...

    Raises:
        AotError: the source has no such kernel or no literal signature.
    """
    meta = _decorator_literal(source, kernel_name, "triton_meta", "signature")
    if not isinstance(meta, dict):
        raise AotError(f"{kernel_name} has no literal triton_meta signature")
    function = _kernel_function(ast.parse(source), kernel_name)
    names = [a.arg for a in function.args.args]
    if names != list(meta):
        raise AotError(f"{kernel_name}'s parameters {names} differ from its signature {list(meta)}")
    return [(name, str(meta[name])) for name in names]


def kernel_attributes(source: str, kernel_name: str) -> dict[tuple[int, ...], list[list[Any]]]:
    """The compiler hints Inductor attached per parameter (``tt.divisibility``...)."""
    configs = _decorator_literal(source, kernel_name, "triton_meta", "configs")
    return dict(configs[0]) if configs else {}


def kernel_constants(source: str, kernel_name: str) -> dict[str, Any]:
    """Parameters Inductor specialised to constants (``triton_meta['constants']``)."""
    return dict(_decorator_literal(source, kernel_name, "triton_meta", "constants") or {})


def _kernel_function(module: ast.Module, kernel_name: str) -> ast.FunctionDef:
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == kernel_name:
            return node
    raise AotError(f"the kernel source defines no {kernel_name}")


def _decorator_literal(source: str, kernel_name: str, keyword: str, key: str) -> Any:
    """One literal entry of a dict keyword of the kernel's heuristics decorator."""
    function = _kernel_function(ast.parse(source), kernel_name)
    for decorator in function.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        for item in decorator.keywords:
            if item.arg != keyword or not isinstance(item.value, ast.Dict):
                continue
            for k, v in zip(item.value.keys, item.value.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == key:
                    try:
                        return ast.literal_eval(v)
                    except ValueError as e:
                        raise AotError(f"{kernel_name}: {keyword}[{key!r}] is not a literal") from e
    return None


def retargeted_source(source: str, kernel_name: str, order: Sequence[str]) -> str:
    """The kernel module's source with the kernel's parameters in ``order`` and plain
    ``@triton.jit``; parameters in ``order`` that the kernel lacks are added (unused pointers).

    Inductor's heuristics decorator is dropped: its autotuning and launcher are what TensorRT
    replaces.
    """
    module = ast.parse(source)
    function = _kernel_function(module, kernel_name)
    existing = {a.arg: a for a in function.args.args}
    constexprs = [a for a in function.args.args if a.arg not in order]
    function.args.args = [existing.get(name, ast.arg(arg=name)) for name in order] + constexprs
    function.decorator_list = [ast.Attribute(ast.Name("triton", ast.Load()), "jit", ast.Load())]
    return ast.unparse(ast.fix_missing_locations(module))


# --- the launch grid (pure) ----------------------------------------------------------------------


def launch_grid(
    grid_type: str, config: Mapping[str, int], numels: Mapping[str, sympy.Expr]
) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    """Inductor's grid for a kernel of ``grid_type`` under ``config``, over the numels.

    Uses Inductor's own ``GridExpr`` classes. An empty grid (numel 0) stays 0 here;
    `AotKernel.launch_dims` raises every dim to at least 1.

    Raises:
        AotError: an unknown grid type, one that needs precomputed values, or an expression
            this module can't read.
    """
    from torch._inductor.runtime import triton_heuristics

    grid_class = getattr(triton_heuristics, grid_type, None)
    if grid_type not in ("Grid1D", "Grid2D", "Grid3D") or grid_class is None:
        raise AotError(f"Inductor grid type {grid_type} is not supported by AOT plugins")
    grid = grid_class(inductor_meta={"grid_type": grid_type}, mode="python")
    grid.generate(dict(config))
    if grid.prefix:
        raise AotError(f"Inductor grid {grid_type} needs precomputed values {grid.prefix}")
    values = {**{k: sympy.Integer(v) for k, v in config.items()}, **numels}
    dims = []
    for text in (grid.x_grid, grid.y_grid, grid.z_grid):
        expression = size_expression(ast.parse(str(text), mode="eval").body, values)
        dims.append(expression)
    return dims[0], dims[1], dims[2]


# --- compiling with Inductor (needs CUDA and Triton) ---------------------------------------------


def environment_reason() -> str | None:
    """Why AOT kernels can't be built in this process, or None."""
    if not torch.cuda.is_available():
        return "AOT kernels are compiled by TorchInductor for CUDA: no CUDA device here"
    if torch._guards.TracingContext.try_get() is not None:
        # Under torch.compile(backend="tensorrt") the pass runs inside Dynamo's backend call,
        # where a nested Inductor compile (and its dynamo.reset) would corrupt the outer one.
        return (
            "the pass runs inside a torch.compile backend, where a nested Inductor compile is "
            "unsafe; compile with torch_tensorrt.dynamo.compile or trt_autoplugin.compile"
        )
    try:
        import triton  # noqa: F401
        from torch._inductor.runtime import triton_heuristics  # noqa: F401
        from torch._inductor.utils import run_and_get_code  # noqa: F401
    except ImportError as e:
        return f"AOT kernels need Triton and TorchInductor: {e}"
    from .kernel_launch import driver_import_error

    return driver_import_error()


def symbol_ranges(body: RegionBody) -> dict[sympy.Symbol, tuple[int, int | None]]:
    """``{symbol: (lower, upper or None)}`` of the region's input dims, from its ShapeEnv."""
    ranges: dict[sympy.Symbol, tuple[int, int | None]] = {}
    for node in body.graph_module.graph.find_nodes(op="placeholder"):
        value = node.meta.get("val")
        for size in getattr(value, "shape", ()):
            if not isinstance(size, torch.SymInt):
                continue
            expression = size.node.expr
            env = size.node.shape_env
            for symbol in expression.free_symbols:
                bounds = env.var_to_range.get(symbol)
                upper = None if bounds is None or not bounds.upper.is_finite else int(bounds.upper)
                ranges[symbol] = (0, upper)
    for spec in body.input_specs:
        for dim in spec.shape:
            for symbol in getattr(dim, "free_symbols", ()):
                ranges.setdefault(symbol, (0, None))
    return ranges


def compile_hints(
    ranges: Mapping[sympy.Symbol, tuple[int, int | None]],
    specs: Sequence[TensorSpec] = (),
    *,
    budget_bytes: int = _TUNING_BYTES,
) -> dict[sympy.Symbol, int]:
    """A concrete value per symbol to compile and tune with.

    Large, because Inductor derives its configs from these sizes and `_tactic_candidates`
    times them there: the top of the range, halved until the inputs ``specs`` hold at most
    ``budget_bytes``. Distinct, so duck sizing merges no dims the region keeps apart. Never 0
    or 1, which Dynamo specialises.
    """
    ordered = sorted(ranges.items(), key=lambda kv: str(kv[0]))
    tops = {s: _UNBOUNDED_CHECK_SIZE if upper is None else upper for s, (_, upper) in ordered}
    while _input_bytes(specs, tops) > budget_bytes and max(tops.values(), default=2) > 2:
        tops = {s: max(v // 2, 2) for s, v in tops.items()}
    hints = {}
    for offset, (symbol, (_, upper)) in enumerate(ordered):
        value = tops[symbol] - offset if tops[symbol] - offset >= 2 else 2 + offset
        hints[symbol] = value if upper is None else max(min(value, upper), 2)
    return hints


def _input_bytes(specs: Sequence[TensorSpec], values: Mapping[sympy.Symbol, int]) -> int:
    shapes = concrete_shapes(specs, values)
    return sum(_numel(s) * spec.dtype.itemsize for s, spec in zip(shapes, specs, strict=True))


def concrete_shapes(
    specs: Sequence[TensorSpec], values: Mapping[sympy.Symbol, int]
) -> list[tuple[int, ...]]:
    """The specs' shapes with each symbol replaced by its value."""
    return [
        tuple(d if isinstance(d, int) else int(sympy.sympify(d).subs(values)) for d in spec.shape)
        for spec in specs
    ]


def inductor_code(body: RegionBody, hints: Mapping[sympy.Symbol, int]) -> str:
    """Inductor's wrapper code for the body compiled for CUDA, dynamic in the region's dims.

    Raises:
        AotError: Dynamo or Inductor failed, or the body compiled into more than one graph.
    """
    import torch._inductor.config
    from torch._inductor.utils import run_and_get_code

    inputs = _random_inputs(body.input_specs, concrete_shapes(body.input_specs, hints), "cuda", 0)
    ranges = symbol_ranges(body)
    for tensor, spec in zip(inputs, body.input_specs, strict=True):
        for index, dim in enumerate(spec.shape):
            if isinstance(dim, sympy.Symbol):
                upper = ranges.get(dim, (0, None))[1]
                torch._dynamo.mark_dynamic(tensor, index, min=0, max=upper)
            elif not isinstance(dim, int):
                # A derived dim (2*s0) gets a symbol of its own; the wrapper's sizes are then
                # read back as the region's expression (_bind_input_dims).
                torch._dynamo.mark_dynamic(tensor, index)
    compiled = torch.compile(body.graph_module, backend="inductor", fullgraph=True)
    # A cache hit would skip code generation, and with it the code this module reads.
    no_cache = {"fx_graph_cache": False, "fx_graph_remote_cache": False}
    try:
        with torch._inductor.config.patch(no_cache):
            _, codes = run_and_get_code(compiled, *inputs)
    except Exception as e:  # noqa: BLE001 - any Dynamo/Inductor failure keeps the region JIT
        raise AotError(
            f"TorchInductor could not compile the region: {type(e).__name__}: {e}"
        ) from e
    if len(codes) != 1:
        raise AotError(f"TorchInductor split the region into {len(codes)} graphs")
    return codes[0]


def _random_inputs(
    specs: Sequence[TensorSpec], shapes: Sequence[tuple[int, ...]], device: str, seed: int
) -> list[torch.Tensor]:
    """Random inputs; even seeds draw floats in (-1, 1) (erfinv's domain), odd ones N(0, 9)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    tensors = []
    for spec, shape in zip(specs, shapes, strict=True):
        if spec.dtype.is_floating_point and seed % 2 == 0:
            value = torch.rand(shape, device=device, generator=generator) * 2 - 1
        elif spec.dtype.is_floating_point:
            value = torch.randn(shape, device=device, generator=generator) * 3
        elif spec.dtype == torch.bool:
            value = torch.rand(shape, device=device, generator=generator) > 0.5
        else:
            value = torch.randint(-100, 100, shape, device=device, generator=generator)
        tensors.append(value.to(spec.dtype))
    return tensors


# --- building the artifact -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Candidate:
    name: str
    ptx: str
    grid: tuple[sympy.Expr, sympy.Expr, sympy.Expr]
    block: int
    shared_mem: int
    config: str


def aot_kernel(body: RegionBody, *, check_shapes: int = 8) -> AotKernel:
    """Compiles a region into a checked ahead-of-time kernel for the current GPU.

    Args:
        body: the region body.
        check_shapes: how many shape cases to check against eager (0, 1, odd sizes, the hint
            and the range's maximum come first).

    Returns:
        The kernel, its launch expressions and the shapes it was checked on.

    Raises:
        AotError: why the region stays a JIT plugin (no CUDA/Triton, several kernels, an extern
            call, unbounded scalars, a failed check...).
    """
    reason = environment_reason()
    if reason is not None:
        raise AotError(reason)
    ranges = symbol_ranges(body)
    reason = _index_inputs_reason(body)
    if reason is not None:
        raise AotError(reason)
    hints = compile_hints(ranges, body.input_specs)
    plan = kernel_plan(inductor_code(body, hints), body.input_specs, body.output_specs)
    _check_int32_bounds(plan, ranges)
    cases = check_cases(ranges, hints)[: max(check_shapes, 1)]
    small = compile_hints(ranges, body.input_specs, budget_bytes=_SMALL_TUNING_BYTES)
    tuning = [hints] if small == hints else [hints, small]
    kernels = [
        dataclasses.replace(kernel, checked_shapes=check_against_eager(kernel, body, cases))
        for kernel in (
            _unchecked_kernel(c, plan, body) for c in _tactic_candidates(plan, body, tuning)
        )
    ]
    first, *alternatives = kernels
    logger.info(
        "AOT kernel %s for %s (%s; %d tactics)",
        first.kernel_name,
        first.plugin_id,
        first.config,
        len(kernels),
    )
    return dataclasses.replace(first, alternatives=tuple(alternatives))


def aot_or_reason(body: RegionBody) -> "AotKernel | str":
    """The region's checked AOT kernel, or the reason it stays a JIT plugin."""
    try:
        return aot_kernel(body)
    except AotError as e:
        logger.info("region %s stays JIT: %s", body.digest(), e)
        return str(e)


# Ops that read an integer input as positions into another tensor.
_INDEXING = ("index", "gather", "scatter", "embedding", "take", "roi", "nms")


def _index_inputs_reason(body: RegionBody) -> str | None:
    """Why a region with integer index inputs gets no AOT kernel, or None.

    The kernel is checked on random inputs (`check_against_eager`); random integers as indices
    run out of bounds, and an out-of-bounds index on the GPU is a device-side assert that
    leaves the CUDA context unusable for the rest of the process.
    """
    for node in body.graph_module.graph.find_nodes(op="placeholder"):
        value = node.meta.get("val")
        if value is None or value.dtype.is_floating_point or value.dtype == torch.bool:
            continue
        for user in node.users:
            name = str(user.target)
            if any(word in name for word in _INDEXING):
                return (
                    f"integer input {node.name} is read as indices by {name}; the kernel can't be "
                    "checked on random values (an out-of-bounds index faults the CUDA context)"
                )
    return None


def _arch() -> int:
    major, minor = torch.cuda.get_device_capability()
    return major * 10 + minor


def _check_int32_bounds(
    plan: KernelPlan, ranges: Mapping[sympy.Symbol, tuple[int, int | None]]
) -> None:
    """Every scalar must fit int32 at the top of the range (they grow with the dims)."""
    unbounded = sorted(str(s) for s, (_, upper) in ranges.items() if upper is None)
    if unbounded and plan.scalars:
        raise AotError(
            f"dims {', '.join(unbounded)} have no upper bound, and TensorRT passes kernel "
            "arguments as int32: export with a bounded Dim (max=...) to allow an AOT kernel"
        )
    top = {s: upper for s, (_, upper) in ranges.items()}
    for name, value in plan.scalars:
        largest = int(sympy.sympify(value).subs(top))
        if largest > INT32_MAX:
            raise AotError(f"kernel argument {name} = {value} reaches {largest} > int32 max")


def check_cases(
    ranges: Mapping[sympy.Symbol, tuple[int, int | None]], hints: Mapping[sympy.Symbol, int]
) -> list[dict[sympy.Symbol, int]]:
    """Symbol values to check a kernel on: 0, 1, small odd sizes, the compile hint, the top of
    the range; symbols are offset from each other so no two dims coincide by accident."""
    if not ranges:
        return [{}]
    cases = []
    for base in (0, 1, 3, 7, 33, 257, None, "top"):
        case = {}
        for offset, (symbol, (_, upper)) in enumerate(
            sorted(ranges.items(), key=lambda kv: str(kv[0]))
        ):
            top = _UNBOUNDED_CHECK_SIZE if upper is None else upper
            if base is None:
                value = hints[symbol]
            elif base == "top":
                value = top
            else:
                value = int(base) + (2 * offset if base > 1 else 0)
            case[symbol] = min(value, top)
        if case not in cases:
            cases.append(case)
    return cases


def _config_compiler(plan: KernelPlan, tuned: Any) -> Callable[[Any], _Candidate]:
    """Compiles the kernel in TensorRT's parameter order for one Triton config."""
    import triton
    from torch._inductor.codecache import PyCodeCache
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    parameters = kernel_parameters(plan.kernel_source, plan.kernel_name)
    types = dict(parameters)
    order = _trt_order(plan)
    grid_type = tuned.inductor_meta.get("grid_type", "?")
    retargeted = getattr(
        PyCodeCache.load(retargeted_source(plan.kernel_source, plan.kernel_name, order)),
        plan.kernel_name,
    )
    signature = {name: _retargeted_type(name, types, plan) for name in order}
    signature.update({name: "constexpr" for name, kind in parameters if kind == "constexpr"})
    attributes = _remapped_attributes(plan, parameters, list(signature))
    constants = kernel_constants(plan.kernel_source, plan.kernel_name)
    numels = {name: sympy.sympify(value) for name, value in plan.scalars}
    declared = {name for name, kind in parameters if kind == "constexpr"}

    def compiled(config: Any) -> _Candidate:
        # Persistent reductions fix R0_BLOCK in the body; only declared constexprs are passed.
        constexprs = {k: v for k, v in {**constants, **config.kwargs}.items() if k in declared}
        source = ASTSource(
            fn=retargeted, signature=signature, constexprs=constexprs, attrs=attributes
        )
        options = {"num_warps": config.num_warps, "num_stages": config.num_stages}
        binary = triton.compile(source, target=GPUTarget("cuda", _arch(), 32), options=options)
        return _candidate(binary, plan, grid_type, config, numels)

    return compiled


def _tactic_candidates(
    plan: KernelPlan, body: RegionBody, cases: Sequence[Mapping[sympy.Symbol, int]]
) -> list[_Candidate]:
    """The configs to ship as TensorRT tactics, the fastest at ``cases[0]`` first.

    At each case, Inductor's own configs are timed on TensorRT's launch path (device time:
    TensorRT launches from C++), then Inductor's coordinate-descent tuner walks from the
    fastest (block sizes and warps halved and doubled) until nothing improves. The winners come
    first, then Inductor's configs, because at the shapes of another optimization profile
    another may win; TensorRT times them all there.
    """
    tuned = _autotuner(plan)
    compiled = _config_compiler(plan, tuned)
    built: dict[str, _Candidate] = {}

    def candidate(config: Any) -> _Candidate:
        key = describe_config(config)
        if key not in built:
            built[key] = compiled(config)
        return built[key]

    inductor_configs = _configs(tuned, plan)
    for config in inductor_configs:
        candidate(config)  # an Inductor config that can't be built refuses the region
    winners, seconds = [], []
    for case in cases:
        times = _ConfigTimes(_launch_timer(plan, body, case), candidate)
        fastest = min(inductor_configs, key=times)
        winners.append(describe_config(_descended(tuned, times, fastest)))
        seconds.append(times.cache)
        logger.info("%s at %s: %s", plan.kernel_name, dict(case), times.ranking())
    inductor_keys = sorted({describe_config(c) for c in inductor_configs}, key=seconds[0].get)
    return [built[key] for key in dict.fromkeys([*winners, *inductor_keys])]


class _ConfigTimes:
    """Device seconds per config at one case, each config timed once."""

    def __init__(self, timer: Callable[[_Candidate], float], candidate: Callable[..., Any]):
        self.cache: dict[str, float] = {}
        self._timer = timer
        self._candidate = candidate

    def __call__(self, config: Any) -> float:
        key = describe_config(config)
        if key not in self.cache:
            self.cache[key] = self._timer(self._candidate(config))
        return self.cache[key]

    def ranking(self) -> str:
        ranked = sorted(self.cache, key=self.cache.__getitem__)
        return ", ".join(f"[{key}] {self.cache[key] * 1e6:.1f} us" for key in ranked)


def _descended(tuned: Any, times: _ConfigTimes, start: Any) -> Any:
    """Inductor's coordinate descent from ``start`` over ``times``; ``start`` where this
    Inductor has no tuner. Configs that fail to compile (or to fit TensorRT's launch) are
    skipped by the tuner."""
    tuner = getattr(tuned, "coordesc_tuner", None)
    if tuner is None:
        return start
    tuner = copy.copy(tuner)
    tuner.cached_benchmark_results = {}  # its timings of another case must not be reused
    return tuner.autotune(times, copy.deepcopy(start), times(start))


def _launch_timer(
    plan: KernelPlan, body: RegionBody, case: Mapping[sympy.Symbol, int]
) -> Callable[[_Candidate], float]:
    """Device seconds of one launch of a candidate, as TensorRT launches it, at ``case``."""
    from .kernel_launch import device_seconds, launch

    shapes = concrete_shapes(body.input_specs, case)
    inputs = _random_inputs(body.input_specs, shapes, "cuda", 1)
    outputs = _empty_outputs(body, inputs)
    stream = torch.cuda.current_stream().cuda_stream

    def seconds(candidate: _Candidate) -> float:
        kernel = _unchecked_kernel(candidate, plan, body)

        def run() -> None:
            launch(kernel, inputs, outputs, stream)

        once = device_seconds(run, repeats=1)
        # Several launches per sample where one is short, so event resolution doesn't decide.
        calls = max(1, min(_TIMED_CALLS_MAX, math.ceil(_TIMED_SAMPLE_S / max(once, 1e-7))))
        return device_seconds(run, calls=calls)

    return seconds


def describe_config(config: Any) -> str:
    """A Triton config as text: its block sizes, warps and stages."""
    text = ", ".join(f"{k}={v}" for k, v in config.kwargs.items())
    return f"{text}, num_warps={config.num_warps}, num_stages={config.num_stages}"


def _autotuner(plan: KernelPlan) -> Any:
    """A fresh copy of Inductor's autotuner object for the kernel, configs not yet pruned.

    The module Inductor ran is cached by source hash, and running it kept only the winning
    config; a comment makes the source, and so the module, new.
    """
    from torch._inductor.codecache import PyCodeCache

    fresh = plan.kernel_source + "\n# trt_autoplugin: every config\n"
    return getattr(PyCodeCache.load(fresh), plan.kernel_name)


def _configs(tuned: Any, plan: KernelPlan) -> list[Any]:
    configs = getattr(tuned, "configs", None)
    if not configs:
        configs = [launcher.config for launcher in getattr(tuned, "launchers", None) or ()]
    if not configs:
        raise AotError(f"Inductor's autotuner for {plan.kernel_name} exposes no configs")
    return list(configs)


def _trt_order(plan: KernelPlan) -> list[str]:
    inputs = [p if p is not None else f"unused_input_{i}" for i, p in enumerate(plan.inputs)]
    return inputs + [name for name, _ in plan.scalars] + list(plan.outputs)


def _retargeted_type(name: str, types: Mapping[str, str], plan: KernelPlan) -> str:
    if name not in types:
        return "*i8"  # an input the kernel never reads: TensorRT still passes its pointer
    if name in dict(plan.scalars):
        return "i32"  # TensorRT's SymInt32; the bounds were checked (_check_int32_bounds)
    return types[name]


def _remapped_attributes(
    plan: KernelPlan, parameters: Sequence[tuple[str, str]], order: Sequence[str]
) -> dict[tuple[int, ...], list[list[Any]]]:
    old = [name for name, _ in parameters]
    remapped = {}
    for (index, *rest), hints in kernel_attributes(plan.kernel_source, plan.kernel_name).items():
        if rest:
            continue
        remapped[(order.index(old[index]),)] = hints
    return remapped


def _candidate(
    compiled: Any,
    plan: KernelPlan,
    grid_type: str,
    config: Any,
    numels: Mapping[str, sympy.Expr],
) -> _Candidate:
    metadata = compiled.metadata
    for scratch in ("global_scratch_size", "profile_scratch_size"):
        if getattr(metadata, scratch, 0):
            raise AotError(
                f"{plan.kernel_name} needs Triton {scratch.removesuffix('_size')} memory"
            )
    if metadata.shared > SHARED_MEM_MAX:
        raise AotError(
            f"{plan.kernel_name} needs {metadata.shared} bytes of dynamic shared memory, above "
            "the 48 KiB a launch gets without cuFuncSetAttribute, which TensorRT doesn't call"
        )
    expected = len(plan.inputs) + len(plan.scalars) + len(plan.outputs)
    ptx = trimmed_ptx(compiled.asm["ptx"], metadata.name, expected)
    grid = launch_grid(grid_type, config.kwargs, numels)
    return _Candidate(
        metadata.name, ptx, grid, 32 * metadata.num_warps, metadata.shared, describe_config(config)
    )


_ENTRY = re.compile(r"\.entry\s+(?P<name>\w+)\s*\((?P<params>[^)]*)\)", re.S)


def entry_parameters(ptx: str, name: str) -> list[str]:
    """The parameter names of a PTX entry."""
    for match in _ENTRY.finditer(ptx):
        if match.group("name") == name:
            return re.findall(r"\.param\s+[^,]*?\s(\w+)\s*(?:,|$)", match.group("params").strip())
    raise AotError(f"the PTX has no entry {name}")


def trimmed_ptx(ptx: str, name: str, expected: int) -> str:
    """The PTX with the entry's trailing unused parameters removed, so it takes exactly
    TensorRT's ``expected`` arguments.

    Triton 3.x appends hidden scratch-pointer parameters (global and profile scratch) to every
    entry. TensorRT passes only inputs, extra args and outputs; the driver would read pointers
    past the end of its argument array. They are dropped when nothing reads them.

    Raises:
        AotError: fewer parameters than expected, or a surplus one is read by the kernel.
    """
    parameters = entry_parameters(ptx, name)
    if len(parameters) < expected:
        raise AotError(f"{name} takes {len(parameters)} parameters, TensorRT passes {expected}")
    surplus = parameters[expected:]
    match = next(m for m in _ENTRY.finditer(ptx) if m.group("name") == name)
    rest = ptx[match.end() :]
    used = [p for p in surplus if re.search(rf"\[{re.escape(p)}\]", rest)]
    if used:
        raise AotError(f"{name} reads its hidden parameters {used}, which TensorRT won't pass")
    if not surplus:
        return ptx
    declarations = [d.strip() for d in match.group("params").split(",")][:expected]
    header = f".entry {name}(\n\t" + ",\n\t".join(declarations) + "\n)"
    return ptx[: match.start()] + header + rest


def _unchecked_kernel(candidate: _Candidate, plan: KernelPlan, body: RegionBody) -> AotKernel:
    from .plugin import plugin_id

    return AotKernel(
        plugin_id(body),
        candidate.name,
        candidate.ptx,
        tuple(s.shape for s in body.input_specs),
        tuple(value for _, value in plan.scalars),
        candidate.grid,
        candidate.block,
        candidate.shared_mem,
        candidate.config,
        _arch(),
    )


def _empty_outputs(body: RegionBody, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    from .shape_expr import infer_output_shapes

    shapes = infer_output_shapes(
        [s.shape for s in body.output_specs],
        [s.shape for s in body.input_specs],
        [tuple(x.shape) for x in inputs],
    )
    return [
        torch.empty(shape, dtype=spec.dtype, device="cuda")
        for shape, spec in zip(shapes, body.output_specs, strict=True)
    ]


# --- checking against eager ----------------------------------------------------------------------

# (rtol, atol). Inductor computes a fp16/bf16 chain in fp32 and rounds once, eager rounds after
# every op: a few units in the last place apart (fp16 ulp is 2**-10 relative, bf16 2**-7).
_TOLERANCES = {
    torch.float32: (1e-5, 1e-5),
    torch.float16: (5e-3, 5e-3),
    torch.bfloat16: (4e-2, 4e-2),
}


def poison(tensor: torch.Tensor, seed: int) -> None:
    """Fills a buffer with values no kernel computes by accident: NaN (floats) or 0x7F bytes."""
    if tensor.dtype.is_floating_point and seed % 2 == 0:
        tensor.fill_(float("nan"))
    else:
        tensor.view(torch.uint8).fill_(0x7F)


def check_against_eager(
    kernel: AotKernel, body: RegionBody, cases: Sequence[Mapping[sympy.Symbol, int]]
) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Launches the kernel as TensorRT would on poisoned outputs and compares with eager.

    Returns:
        The input shapes checked (cases too large to allocate are skipped).

    Raises:
        AotError: an output differs, names the shape and the largest difference.
    """
    from .kernel_launch import launch

    checked = []
    for seed, case in enumerate(cases):
        shapes = concrete_shapes(body.input_specs, case)
        if any(_numel(s) > _MAX_CHECK_ELEMENTS for s in shapes):
            continue
        inputs = _random_inputs(body.input_specs, shapes, "cuda", seed)
        outputs = _empty_outputs(body, inputs)
        for out in outputs:
            poison(out, seed)
        try:
            expected = run_body(body, inputs)
        except RuntimeError:
            continue  # eager can't run this shape (nor can the original program)
        launch(kernel, inputs, outputs, torch.cuda.current_stream().cuda_stream)
        torch.cuda.synchronize()
        for index, (got, want) in enumerate(zip(outputs, expected, strict=True)):
            _compare(kernel, index, shapes, got, want)
        checked.append(tuple(shapes))
    if not checked:
        raise AotError("no check case fits in memory")
    return tuple(checked)


def _numel(shape: Sequence[int]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def _compare(
    kernel: AotKernel,
    index: int,
    shapes: Sequence[tuple[int, ...]],
    got: torch.Tensor,
    want: torch.Tensor,
) -> None:
    rtol, atol = _TOLERANCES.get(want.dtype, (0.0, 0.0))
    try:
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol, equal_nan=True)
    except AssertionError as e:
        summary = " ".join(str(e).split())[:300]
        raise AotError(
            f"AOT kernel {kernel.kernel_name} ({kernel.config}) differs from the eager region on "
            f"output {index} for input shapes {list(shapes)}: {summary}"
        ) from e


def ptx_digest(ptx: str) -> str:
    """A short content hash of a kernel's PTX (module caches key on it)."""
    return hashlib.sha256(ptx.encode()).hexdigest()[:16]
