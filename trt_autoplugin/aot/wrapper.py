"""Reading Inductor's generated Python wrapper for a region compiled alone (pure).

The wrapper is parsed, never executed. `kernel_plan` accepts a known vocabulary of statements
(argument unpacking, size and stride asserts, ``empty_strided_cuda`` outputs, one Triton
kernel's ``.run``) and refuses anything else (an extern call such as ``aten.digamma`` or a matmul
library, a second kernel, a scratch buffer, a strided input) with the statement that caused it.
"""

import ast
import re
from collections.abc import Mapping, Sequence

import sympy
import torch

from ..errors import AotError
from ..outline import TensorSpec
from ..shape_expr import SymbolicDim
from .expressions import size_expression
from .kernel import KernelPlan
from .triton_source import kernel_parameters

_INDUCTOR_DTYPES = {
    "torch.float32": torch.float32,
    "torch.float16": torch.float16,
    "torch.bfloat16": torch.bfloat16,
    "torch.int8": torch.int8,
    "torch.int32": torch.int32,
    "torch.int64": torch.int64,
    "torch.bool": torch.bool,
}


class SeveralKernelsError(AotError):
    """Inductor split the region into several kernels (it stored an intermediate between them)."""


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
    if len(kernels) > 1:
        # Before reading: an intermediate buffer between them (maybe padded, not contiguous)
        # would otherwise be the refusal, and hide that Inductor split the region.
        raise SeveralKernelsError(
            f"Inductor emitted {len(kernels)} Triton kernels ({', '.join(kernels)}); an AOT "
            "plugin holds exactly one"
        )
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
        elif _is_call_to(value, "reinterpret_tensor"):
            self._reinterpretation(name, value, statement)  # type: ignore[arg-type]
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

    def _reinterpretation(self, name: str, value: ast.Call, statement: ast.stmt) -> None:
        """``b = reinterpret_tensor(a, shape, stride, 0)``: the whole of buffer ``a``, contiguous,
        in another shape of the same size (Inductor's ``amax(keepdim=True)`` output of a
        reduction buffer), is buffer ``a``."""
        source = value.args[0] if value.args else None
        if not isinstance(source, ast.Name) or source.id not in self.buffers:
            raise _refusal(statement)
        buffer = self.buffers[source.id]
        self._whole_reinterpretation(value, statement)
        shape = [self._expression(d, statement) for d in value.args[1].elts]  # type: ignore[attr-defined]
        if sympy.simplify(sympy.Mul(*shape) - sympy.Mul(*self.buffer_specs[buffer].shape)) != 0:
            raise AotError(f"a reinterpretation of part of {buffer}: {ast.unparse(statement)}")
        self.buffers[name] = buffer

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
            raise SeveralKernelsError(
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
