"""Finding the registrar calls a module reaches when it is imported.

Decorators stacked on a ``def`` apply bottom-up. Module-level ``for`` loops over literal
sequences and module-level calls of helper functions that register
(``replace_inplace_op(aten.add_, aten.add)``) are unrolled with their bindings. Registrations
under ``if``/``try`` keep the enclosing condition. A registrar call the walk does not reach
(inside a function nobody calls at import) is reported with the reason.
"""

import ast
import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence

from trt_autoplugin.snapshot_build.keys import Key, resolved_key
from trt_autoplugin.snapshot_build.reader import (
    Bound,
    Context,
    Failure,
    StaticReader,
    callee_name,
    module_name,
)
from trt_autoplugin.snapshot_build.source import JsonObject, unresolved_record


@dataclasses.dataclass(frozen=True, slots=True)
class Site:
    """One registrar call reached at import time, with its key still unevaluated."""

    call: ast.Call
    context: Context
    path: str
    function: str
    conditions: tuple[str, ...]
    via: str | None  # "file:line" of the module-level helper call that reached it

    @property
    def source(self) -> str:
        return f"{self.path}:{self.call.lineno}"


def registrar_sites(
    reader: StaticReader, path: str, registrar: str, *, kind: str
) -> tuple[list[Site], list[JsonObject]]:
    """The import-time registrar calls of one file, and records for those never reached.

    Args:
        reader: The reader of the source tree.
        path: The file, relative to the package.
        registrar: The registering function's name (``dynamo_tensorrt_converter``).
        kind: The ``"kind"`` of the unresolved records.

    Returns:
        The calls in the order the import makes them, and the ``unresolved`` records of the
        calls it never makes.
    """
    walker = _SiteWalker(reader, path, registrar)
    sites = list(walker.sites())
    tree = reader.parsed(path)
    unreached = [
        unresolved_record(
            f"{path}:{call.lineno}", ast.unparse(call), kind, _unreached_reason(function)
        )
        for call, function in _unreached_calls(tree.body, registrar, walker.visited, None)
    ]
    return sites, unreached


def keyword_argument(call: ast.Call, name: str) -> ast.expr | None:
    """The expression passed as ``name=`` to the call, if any."""
    return next((k.value for k in call.keywords if k.arg == name), None)


def registered_key(call: ast.Call, parameter: str) -> ast.expr | None:
    """The key argument of a registrar call: its first positional argument or ``parameter=``."""
    if call.args:
        return call.args[0]
    return keyword_argument(call, parameter)


def site_key(reader: StaticReader, site: Site, parameter: str, *, kind: str) -> Key | JsonObject:
    """The site's resolved key, or its ``unresolved`` record of that ``kind``."""
    expr = registered_key(site.call, parameter)
    if expr is None:
        return unresolved_record(site.source, ast.unparse(site.call), kind, "no key argument")
    if any(k.arg is None for k in site.call.keywords):
        return unresolved_record(site.source, ast.unparse(site.call), kind, "options passed as **")
    key = resolved_key(reader, expr, site.context)
    if isinstance(key, Failure):
        return unresolved_record(site.source, ast.unparse(expr), kind, key.reason)
    return key


def _is_registrar_call(node: ast.AST, registrar: str) -> bool:
    return isinstance(node, ast.Call) and callee_name(node.func) == registrar


class _SiteWalker:
    """Walks a module's statements as its import would run them, yielding registrar calls."""

    def __init__(self, reader: StaticReader, path: str, registrar: str) -> None:
        self._reader = reader
        self._path = path
        self._registrar = registrar
        self._module = module_name(path)
        self._helpers: dict[str, ast.FunctionDef] = {}
        self._active: tuple[str, ...] = ()
        self.visited: set[ast.Call] = set()

    def sites(self) -> Iterator[Site]:
        """The registrar calls of the module, in the order the import runs them."""
        body = self._reader.parsed(self._path).body
        yield from self._statements(body, Context(self._module), (), None)

    def _statements(
        self,
        statements: Sequence[ast.stmt],
        context: Context,
        conditions: tuple[str, ...],
        via: str | None,
    ) -> Iterator[Site]:
        for statement in statements:
            yield from self._statement(statement, context, conditions, via)

    def _statement(
        self, statement: ast.stmt, context: Context, conditions: tuple[str, ...], via: str | None
    ) -> Iterator[Site]:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if isinstance(statement, ast.FunctionDef) and not self._active:
                self._helpers[statement.name] = statement
            # Decorators are applied bottom-up, so the lowest one registers first.
            for decorator in reversed(statement.decorator_list):
                if _is_registrar_call(decorator, self._registrar):
                    yield self._site(decorator, context, statement.name, conditions, via)
        elif isinstance(statement, (ast.Expr, ast.Assign)):
            yield from self._call(statement.value, context, conditions, via)
        elif isinstance(statement, ast.For):
            yield from self._loop(statement, context, conditions, via)
        elif isinstance(statement, ast.If):
            test = ast.unparse(statement.test)
            yield from self._statements(statement.body, context, (*conditions, test), via)
            otherwise = (*conditions, f"not ({test})")
            yield from self._statements(statement.orelse, context, otherwise, via)
        elif isinstance(statement, ast.Try):
            yield from self._try(statement, context, conditions, via)
        elif isinstance(statement, ast.With):
            yield from self._statements(statement.body, context, conditions, via)

    def _site(
        self,
        call: ast.Call,
        context: Context,
        function: str,
        conditions: tuple[str, ...],
        via: str | None,
    ) -> Site:
        self.visited.add(call)
        return Site(call, context, self._path, function, conditions, via)

    def _call(
        self, expr: ast.expr, context: Context, conditions: tuple[str, ...], via: str | None
    ) -> Iterator[Site]:
        if not isinstance(expr, ast.Call):
            return
        if isinstance(expr.func, ast.Call) and _is_registrar_call(expr.func, self._registrar):
            # dynamo_tensorrt_converter(key, ...)(function): the decorator written as a call.
            function = ast.unparse(expr.args[0]) if expr.args else "?"
            yield self._site(expr.func, context, function, conditions, via)
            return
        helper = self._helpers.get(callee_name(expr.func) or "")
        if helper is None or helper.name in self._active:
            return
        names = _parameter_bindings(helper, expr, context)
        self._active = (*self._active, helper.name)
        try:
            here = via or f"{self._path}:{expr.lineno}"
            inner = Context(self._module, names)
            yield from self._statements(helper.body, inner, conditions, here)
        finally:
            self._active = self._active[:-1]

    def _loop(
        self, loop: ast.For, context: Context, conditions: tuple[str, ...], via: str | None
    ) -> Iterator[Site]:
        iterable = self._reader.evaluate(loop.iter, context)
        if not isinstance(iterable, tuple):
            reason = iterable.reason if isinstance(iterable, Failure) else "not a literal"
            failure = Failure(f"loop over '{ast.unparse(loop.iter)}': {reason}")
            names = {name: failure for name in _target_names(loop.target)}
            yield from self._statements(loop.body, _extend(context, names), conditions, via)
            return
        for element in iterable:
            names = _unpacked(self._reader, loop.target, element)
            yield from self._statements(loop.body, _extend(context, names), conditions, via)

    def _try(
        self, statement: ast.Try, context: Context, conditions: tuple[str, ...], via: str | None
    ) -> Iterator[Site]:
        tried = "; ".join(ast.unparse(s) for s in statement.body)
        yield from self._statements(statement.body, context, conditions, via)
        for handler in statement.handlers:
            caught = (*conditions, f"exception from: {tried}")
            yield from self._statements(handler.body, context, caught, via)
        succeeded = (*conditions, f"no exception from: {tried}")
        yield from self._statements(statement.orelse, context, succeeded, via)
        yield from self._statements(statement.finalbody, context, conditions, via)


def _extend(context: Context, names: Mapping[str, Bound | Failure]) -> Context:
    return Context(context.module, {**context.names, **names})


def _target_names(target: ast.expr) -> list[str]:
    return [node.id for node in ast.walk(target) if isinstance(node, ast.Name)]


def _unpacked(reader: StaticReader, target: ast.expr, element: Bound) -> dict[str, Bound | Failure]:
    """Binds a loop target (a name or a tuple of names) to one element of the iterable."""
    if isinstance(target, ast.Name):
        return {target.id: element}
    if isinstance(target, (ast.Tuple, ast.List)):
        value = reader.evaluate(element.expr, element.context)
        if isinstance(value, tuple) and len(value) == len(target.elts):
            names: dict[str, Bound | Failure] = {}
            for part, item in zip(target.elts, value, strict=True):
                names.update(_unpacked(reader, part, item))
            return names
    failure = Failure(f"cannot unpack '{ast.unparse(element.expr)}' into '{ast.unparse(target)}'")
    return {name: failure for name in _target_names(target)}


def _parameter_bindings(
    function: ast.FunctionDef, call: ast.Call, context: Context
) -> dict[str, Bound | Failure]:
    """Binds a helper's parameters to the arguments of one call of it, then to defaults."""
    arguments = function.args
    positional = [a.arg for a in [*arguments.posonlyargs, *arguments.args]]
    names: dict[str, Bound | Failure] = {}
    defaults = arguments.defaults
    for name, default in zip(positional[len(positional) - len(defaults) :], defaults, strict=True):
        names[name] = Bound(default, Context(context.module))
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        if default is not None:
            names[argument.arg] = Bound(default, Context(context.module))
    for name, value in zip(positional, call.args, strict=False):
        names[name] = Bound(value, context)
    for keyword in call.keywords:
        if keyword.arg is not None:
            names[keyword.arg] = Bound(keyword.value, context)
    return names


def _unreached_calls(
    statements: Iterable[ast.AST], registrar: str, visited: set[ast.Call], function: str | None
) -> Iterator[tuple[ast.Call, str | None]]:
    """Registrar calls the walk did not reach, with the function they sit in, if any."""
    for node in statements:
        if isinstance(node, ast.Call) and _is_registrar_call(node, registrar):
            if node not in visited:
                yield node, function
        inner = node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
        yield from _unreached_calls(ast.iter_child_nodes(node), registrar, visited, inner)


def _unreached_reason(function: str | None) -> str:
    if function is not None:
        return (
            f"registered inside '{function}()', which the module does not call at import "
            "time: it registers at runtime, when called"
        )
    return "not reached by the static reader (unsupported statement)"
