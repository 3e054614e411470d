"""Evaluating names in the ``torch_tensorrt`` sources without running them.

:class:`StaticReader` parses modules on demand and follows module-level imports and assignments
to a dotted path outside the package (``torch.ops.aten.add.Tensor``), a function the package
defines, or the elements of a literal sequence; what it cannot follow is a :class:`Failure`
with the reason.
"""

import ast
import dataclasses
from collections.abc import Iterable, Iterator, Mapping

from trt_autoplugin.snapshot_build.source import PACKAGE, SourceTree

# Deeper alias chains than this are treated as cycles.
MAX_DEPTH = 16


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """Why an expression could not be resolved."""

    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """Where an expression is evaluated: its module and the loop variables/parameters bound."""

    module: str
    names: Mapping[str, "Bound | Failure"] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class Bound:
    """An unevaluated expression together with the context it must be evaluated in."""

    expr: ast.expr
    context: Context


@dataclasses.dataclass(frozen=True, slots=True)
class Definition:
    """A function defined by a plain ``def`` at module level in the package.

    Torch-TensorRT 2.11 keys its NCCL converters by such functions
    (``fuse_distributed_ops.tensorrt_fused_nccl_all_gather_op``); 2.12 made them custom ops.
    The registry key is the function object, whose canonical name is its module and name.
    """

    path: str  # "torch_tensorrt.dynamo.lowering.passes.fuse_distributed_ops.tensorrt_fused_..."


# A resolved expression: a dotted path outside the package ("torch.ops.aten.add.Tensor"), a
# function the package defines, or the elements of a literal list/tuple/set.
Value = str | tuple[Bound, ...] | Definition | Failure
# What a module-level name is bound to: an imported dotted path, an assigned expression, a
# function defined there, or why its value is unknown.
_Binding = str | ast.expr | Definition | Failure


def is_name(expr: ast.expr, name: str) -> bool:
    """Whether ``expr`` is the bare name ``name``."""
    return isinstance(expr, ast.Name) and expr.id == name


def callee_name(expr: ast.expr) -> str | None:
    """The last name of a called expression: ``f`` for ``f(...)`` and ``m.f(...)``."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def module_name(path: str) -> str:
    """The dotted module name of a file of the package (``torch_tensorrt.dynamo.conversion``)."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def _is_in_package(path: str) -> bool:
    return path == PACKAGE or path.startswith(PACKAGE + ".")


class StaticReader:
    """Parses the modules of a source tree on demand and evaluates names in them."""

    def __init__(self, tree: SourceTree) -> None:
        self.files = tree.files
        self._paths = {module_name(path): path for path in tree.files}
        self._parsed: dict[str, ast.Module] = {}
        self._scopes: dict[str, dict[str, _Binding]] = {}

    def parsed(self, path: str) -> ast.Module:
        """The module's AST, parsed once."""
        if path not in self._parsed:
            self._parsed[path] = ast.parse(self.files[path], filename=path)
        return self._parsed[path]

    def evaluate(self, expr: ast.expr, context: Context, depth: int = 0) -> Value:
        """Resolves an expression to a dotted path outside the package, or literal elements."""
        if depth > MAX_DEPTH:
            return Failure(f"alias chain of '{ast.unparse(expr)}' is too deep (a cycle?)")
        if isinstance(expr, ast.Name):
            return self._name(expr.id, context, depth)
        if isinstance(expr, ast.Attribute):
            base = self.evaluate(expr.value, context, depth + 1)
            if isinstance(base, Failure):
                return base
            if not isinstance(base, str):
                return Failure(f"attribute '{expr.attr}' of {_described(base)}")
            return self._follow(f"{base}.{expr.attr}", depth + 1)
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            return tuple(Bound(element, context) for element in expr.elts)
        return Failure(f"{type(expr).__name__} expressions are not evaluated statically")

    def _name(self, name: str, context: Context, depth: int) -> Value:
        if name in context.names:
            bound = context.names[name]
            if isinstance(bound, Failure):
                return bound
            return self.evaluate(bound.expr, bound.context, depth + 1)
        binding = self.scope(context.module).get(name)
        if binding is None:
            return Failure(f"'{name}' is not assigned or imported at module level")
        if isinstance(binding, Definition | Failure):
            return binding
        if isinstance(binding, str):
            return self._follow(binding, depth + 1)
        return self.evaluate(binding, Context(context.module), depth + 1)

    def _follow(self, path: str, depth: int) -> Value:
        """Replaces a leading name defined inside the package by what it is assigned."""
        if not _is_in_package(path):
            return path
        parts = path.split(".")
        modules = [i for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in self._paths]
        if not modules:
            return Failure(f"'{path}' names no module of the source tree")
        module, rest = ".".join(parts[: modules[-1]]), parts[modules[-1] :]
        if not rest:
            return path
        value = self._name(rest[0], Context(module), depth + 1)
        if not rest[1:] or isinstance(value, Failure):
            return value
        if not isinstance(value, str):
            return Failure(f"attribute '{rest[1]}' of {_described(value)} '{module}.{rest[0]}'")
        return self._follow(".".join([value, *rest[1:]]), depth + 1)

    def scope(self, module: str) -> dict[str, _Binding]:
        """Module-level names: imports as dotted paths, assignments as expressions, plain defs."""
        if module not in self._scopes:
            path = self._paths.get(module)
            tree = self.parsed(path) if path is not None else ast.Module(body=[], type_ignores=[])
            self._scopes[module] = dict(_bindings(tree.body, module, path or ""))
        return self._scopes[module]


def _described(value: Value) -> str:
    return "the function" if isinstance(value, Definition) else "the literal"


def _bindings(
    statements: Iterable[ast.stmt], module: str, path: str
) -> Iterator[tuple[str, _Binding]]:
    for statement in statements:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    yield alias.asname, alias.name
                else:
                    root = alias.name.split(".")[0]
                    yield root, root
        elif isinstance(statement, ast.ImportFrom):
            base = _imported_module(statement, module, path)
            for alias in statement.names:
                if alias.name != "*":
                    yield alias.asname or alias.name, f"{base}.{alias.name}"
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    yield target.id, statement.value
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield statement.name, _definition(statement, module)
        elif isinstance(statement, (ast.If, ast.Try, ast.With)):
            # Names bound under a condition count: the condition is recorded on the entries
            # that are registered under it, not on the names they use.
            yield from _bindings(_child_statements(statement), module, path)


def _definition(
    statement: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, module: str
) -> Definition | Failure:
    if isinstance(statement, ast.ClassDef):
        return Failure(f"'{statement.name}' is a class, not an operator or function")
    if statement.decorator_list:
        # A decorated name is bound to whatever the decorator returns (a CustomOpDef for
        # @torch.library.custom_op), which only running it would tell.
        return Failure(f"'{statement.name}' is a decorated function: its value is unknown")
    return Definition(f"{module}.{statement.name}")


def _child_statements(statement: ast.If | ast.Try | ast.With) -> list[ast.stmt]:
    if isinstance(statement, ast.If):
        return [*statement.body, *statement.orelse]
    if isinstance(statement, ast.Try):
        handlers = [s for handler in statement.handlers for s in handler.body]
        return [*statement.body, *handlers, *statement.orelse, *statement.finalbody]
    return list(statement.body)


def _imported_module(statement: ast.ImportFrom, module: str, path: str) -> str:
    if statement.level == 0:
        return statement.module or ""
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    for _ in range(statement.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{statement.module}" if statement.module else package
