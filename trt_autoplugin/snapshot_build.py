"""Regenerates the snapshot of Torch-TensorRT's converter registry and decomposition sets.

Run as::

    python -m trt_autoplugin.snapshot_build [--wheel WHEEL | --source DIR] [--output PATH]

With neither ``--wheel`` nor ``--source`` it imports ``torch_tensorrt`` and reads the live
registry. Otherwise it reads the package's Python source with :mod:`ast` and never imports
it: ``torch_tensorrt`` imports ``tensorrt`` at module level and calls
``torch.cuda.current_device()`` in default arguments, so the machines that build snapshots
usually cannot import it.

The static reader mirrors what importing the package would do:

- Converters: every ``dynamo_tensorrt_converter(...)`` call reached at import time in
  ``dynamo/conversion/**/*.py``, files in sorted order (the order ``conversion/__init__.py``
  imports them), stacked decorators bottom-up, ``HIGH`` priority inserted first. Module-level
  ``for`` loops over literal sequences and module-level calls of helper functions that
  register (``replace_inplace_op(aten.add_, aten.add)``) are unrolled with their bindings.
  Registrations under ``if``/``try`` keep the enclosing condition in ``"condition"``.
- An ``OpOverloadPacket`` key stays a packet key, as ``_ConverterRegistry.py`` stores it: the
  registry never expands it, so it matches no ``OpOverload`` node target. Its overloads are
  listed in ``"packet_overloads"``; a packet Torch-TensorRT rejects (three or more overloads,
  or two that are not ``{default, out}``) is reported as unresolved.
- ``torch_enabled``: the keys ``torch._decomp.get_decompositions`` returns for
  ``torch_enabled_decompositions``, as ``ENABLED_TORCH_DECOMPOSITIONS`` holds them: a packet
  becomes those overloads the installed torch has a decomposition for.
- ``torch_tensorrt``: the keys of ``TORCH_TRT_DECOMPOSITIONS``; a packet becomes every overload
  with a dispatcher kernel, as ``torch._decomp.register_decomposition`` does.
- ``attention``: ``ATTENTION_DECOMPOSITION_OPS``, which ``get_decompositions()`` drops from
  ``TORCH_TRT_DECOMPOSITIONS`` unless ``decompose_attention`` (default False); and
  ``cia_keeps_attention``: whether its filter of torch's CompositeImplicitAutograd table lets
  them through (2.11) or drops them too (2.12 on). See :func:`cia_filter_keeps_attention`.
- A key that is a function the package defines with a plain ``def`` (2.11's NCCL converters are
  keyed by ``fuse_distributed_ops.tensorrt_fused_nccl_all_gather_op``) is named by its module
  and name, as the partitioner names a function target.
- ``operator_support``: the checks ``TorchTensorRTOperatorSupport.is_node_supported`` makes
  besides the registry lookup, which changed between releases (see
  :func:`operator_support_checks`).

One wheel serves every Python version: only its ``.py`` files are read (2.11's wheel is cp312,
the later ones cp311). Decomposition keys are resolved against the installed torch, recorded in
``"torch_version_used_to_resolve"``; each release pairs with the torch of its minor version.

Whatever cannot be resolved is listed under ``"unresolved"`` with its ``file:line`` and the
reason, never dropped.
"""

import argparse
import ast
import dataclasses
import functools
import importlib
import inspect
import json
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch._decomp

from trt_autoplugin.errors import SupportError
from trt_autoplugin.snapshot import literal_version

# 2: adds "operator_support" (the checks TorchTensorRTOperatorSupport makes before the lookup).
# 3: adds "decompositions.attention" and "decompositions.cia_keeps_attention" (which attention
#    ops get_decompositions() leaves undecomposed by default).
FORMAT = 3
PACKAGE = "torch_tensorrt"
SNAPSHOT_DIR = Path(__file__).parent / "snapshots"

_CONVERTER_DIR = "dynamo/conversion/"
_GROUPS_FILE = "dynamo/lowering/_decomposition_groups.py"
_DECOMPOSITIONS_FILE = "dynamo/lowering/_decompositions.py"
_VERSION_FILE = "_version.py"
_PARTITIONER_FILE = "dynamo/partitioning/_global_partitioner.py"
_OPERATOR_SUPPORT_CLASS = "TorchTensorRTOperatorSupport"
_SUPPORT_METHOD = "is_node_supported"
_CONVERTER_REGISTRAR = "dynamo_tensorrt_converter"
_DECOMPOSITION_REGISTRAR = "register_torch_trt_decomposition"
_TRT_DECOMPOSITION_TABLE = "TORCH_TRT_DECOMPOSITIONS"
_ENABLED_SET = "torch_enabled_decompositions"
_DISABLED_SET = "torch_disabled_decompositions"
_ATTENTION_SET = "ATTENTION_DECOMPOSITION_OPS"
_GET_DECOMPOSITIONS = "get_decompositions"
_CIA_COLLECTOR = "_collect_all_valid_cia_ops_for_aten_namespace"
# Key expressions are evaluated by importing these modules and nothing else: the static
# reader must not run code from the package it reads.
_IMPORTABLE_ROOTS = frozenset({"torch", "operator", "_operator", "math", "builtins"})
# Deeper alias chains than this are treated as cycles.
_MAX_DEPTH = 16

JsonObject = dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class SourceTree:
    """The Python sources of a ``torch_tensorrt`` package, read but never imported.

    Attributes:
        files: Source text by path relative to the package directory, POSIX style
            (``"dynamo/conversion/aten_ops_converters.py"``).
        version: The package's ``__version__``.
        origin: Where the sources came from (a wheel or directory path), for messages.
    """

    files: Mapping[str, str]
    version: str
    origin: str

    def __post_init__(self) -> None:
        if _GROUPS_FILE not in self.files:
            raise SupportError(
                f"{self.origin} is not a {PACKAGE} source tree: it has no {_GROUPS_FILE}. "
                "Pass the torch_tensorrt wheel, or the directory it was unzipped into."
            )


@dataclasses.dataclass(frozen=True, slots=True)
class _Failure:
    """Why an expression could not be resolved."""

    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Context:
    """Where an expression is evaluated: its module and the loop variables/parameters bound."""

    module: str
    names: Mapping[str, "_Bound | _Failure"] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class _Bound:
    """An unevaluated expression together with the context it must be evaluated in."""

    expr: ast.expr
    context: _Context


@dataclasses.dataclass(frozen=True, slots=True)
class _Definition:
    """A function defined by a plain ``def`` at module level in the package.

    Torch-TensorRT 2.11 keys its NCCL converters by such functions
    (``fuse_distributed_ops.tensorrt_fused_nccl_all_gather_op``); 2.12 made them custom ops.
    The registry key is the function object, whose canonical name is its module and name.
    """

    path: str  # "torch_tensorrt.dynamo.lowering.passes.fuse_distributed_ops.tensorrt_fused_..."


# A resolved expression: a dotted path outside the package ("torch.ops.aten.add.Tensor"), a
# function the package defines, or the elements of a literal list/tuple/set.
_Value = str | tuple[_Bound, ...] | _Definition | _Failure
# What a module-level name is bound to: an imported dotted path, an assigned expression, a
# function defined there, or why its value is unknown.
_Binding = str | ast.expr | _Definition | _Failure


@dataclasses.dataclass(frozen=True, slots=True)
class _Key:
    """A registry key resolved to its canonical target string."""

    target: str
    op: object | None  # the torch object, None for an op the installed torch lacks
    packet_overloads: tuple[str, ...] | None


@dataclasses.dataclass(frozen=True, slots=True)
class _Site:
    """One registrar call reached at import time, with its key still unevaluated."""

    call: ast.Call
    context: _Context
    path: str
    function: str
    conditions: tuple[str, ...]
    via: str | None  # "file:line" of the module-level helper call that reached it

    @property
    def source(self) -> str:
        return f"{self.path}:{self.call.lineno}"


# Sources


def source_tree_from_wheel(path: Path) -> SourceTree:
    """Reads the ``torch_tensorrt`` Python sources out of a wheel without unpacking it.

    Args:
        path: A ``torch_tensorrt-*.whl`` file.

    Returns:
        The package sources.

    Raises:
        SupportError: The file is not a readable wheel or holds no ``torch_tensorrt`` package.
    """
    prefix = f"{PACKAGE}/"
    try:
        with zipfile.ZipFile(path) as wheel:
            files = {
                name.removeprefix(prefix): wheel.read(name).decode("utf-8")
                for name in wheel.namelist()
                if name.startswith(prefix) and name.endswith(".py")
            }
    except (OSError, zipfile.BadZipFile) as e:
        raise SupportError(
            f"cannot read the wheel {path}: {e}. Download it with "
            "`pip download --no-deps torch-tensorrt==VERSION -d DIR`."
        ) from e
    return SourceTree(files=files, version=_version(files, str(path)), origin=str(path))


def source_tree_from_directory(path: Path) -> SourceTree:
    """Reads the ``torch_tensorrt`` Python sources under a directory.

    Args:
        path: The package directory itself, the directory a wheel was unzipped into, or a
            Torch-TensorRT checkout (``py/torch_tensorrt``).

    Returns:
        The package sources.

    Raises:
        SupportError: No ``torch_tensorrt`` package is found there.
    """
    package = _package_directory(path)
    files = {
        file.relative_to(package).as_posix(): file.read_text(encoding="utf-8")
        for file in sorted(package.rglob("*.py"))
    }
    return SourceTree(files=files, version=_version(files, str(package)), origin=str(package))


def _package_directory(path: Path) -> Path:
    for candidate in (path, path / PACKAGE, path / "py" / PACKAGE):
        if (candidate / _GROUPS_FILE).is_file():
            return candidate
    raise SupportError(
        f"no {PACKAGE} package under {path}: expected {_GROUPS_FILE} in it, in "
        f"{path / PACKAGE} or in {path / 'py' / PACKAGE}."
    )


def _version(files: Mapping[str, str], origin: str) -> str:
    text = files.get(_VERSION_FILE)
    # The same reading as choosing a snapshot by the installed wheel: parsed, never run.
    version = literal_version(text, f"{origin}/{_VERSION_FILE}") if text is not None else None
    if version is not None:
        return version
    raise SupportError(
        f"{origin} has no {PACKAGE}/{_VERSION_FILE} assigning a literal __version__; "
        "pass a built wheel or the directory it was unzipped into."
    )


def _is_name(expr: ast.expr, name: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == name


# Evaluating expressions without running them


def _module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def _is_in_package(path: str) -> bool:
    return path == PACKAGE or path.startswith(PACKAGE + ".")


class _StaticReader:
    """Parses the modules of a source tree on demand and evaluates names in them."""

    def __init__(self, tree: SourceTree) -> None:
        self.files = tree.files
        self._paths = {_module_name(path): path for path in tree.files}
        self._parsed: dict[str, ast.Module] = {}
        self._scopes: dict[str, dict[str, _Binding]] = {}

    def parsed(self, path: str) -> ast.Module:
        """The module's AST, parsed once."""
        if path not in self._parsed:
            self._parsed[path] = ast.parse(self.files[path], filename=path)
        return self._parsed[path]

    def evaluate(self, expr: ast.expr, context: _Context, depth: int = 0) -> _Value:
        """Resolves an expression to a dotted path outside the package, or literal elements."""
        if depth > _MAX_DEPTH:
            return _Failure(f"alias chain of '{ast.unparse(expr)}' is too deep (a cycle?)")
        if isinstance(expr, ast.Name):
            return self._name(expr.id, context, depth)
        if isinstance(expr, ast.Attribute):
            base = self.evaluate(expr.value, context, depth + 1)
            if isinstance(base, _Failure):
                return base
            if not isinstance(base, str):
                return _Failure(f"attribute '{expr.attr}' of {_described(base)}")
            return self._follow(f"{base}.{expr.attr}", depth + 1)
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            return tuple(_Bound(element, context) for element in expr.elts)
        return _Failure(f"{type(expr).__name__} expressions are not evaluated statically")

    def _name(self, name: str, context: _Context, depth: int) -> _Value:
        if name in context.names:
            bound = context.names[name]
            if isinstance(bound, _Failure):
                return bound
            return self.evaluate(bound.expr, bound.context, depth + 1)
        binding = self.scope(context.module).get(name)
        if binding is None:
            return _Failure(f"'{name}' is not assigned or imported at module level")
        if isinstance(binding, _Definition | _Failure):
            return binding
        if isinstance(binding, str):
            return self._follow(binding, depth + 1)
        return self.evaluate(binding, _Context(context.module), depth + 1)

    def _follow(self, path: str, depth: int) -> _Value:
        """Replaces a leading name defined inside the package by what it is assigned."""
        if not _is_in_package(path):
            return path
        parts = path.split(".")
        modules = [i for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in self._paths]
        if not modules:
            return _Failure(f"'{path}' names no module of the source tree")
        module, rest = ".".join(parts[: modules[-1]]), parts[modules[-1] :]
        if not rest:
            return path
        value = self._name(rest[0], _Context(module), depth + 1)
        if not rest[1:] or isinstance(value, _Failure):
            return value
        if not isinstance(value, str):
            return _Failure(f"attribute '{rest[1]}' of {_described(value)} '{module}.{rest[0]}'")
        return self._follow(".".join([value, *rest[1:]]), depth + 1)

    def scope(self, module: str) -> dict[str, _Binding]:
        """Module-level names: imports as dotted paths, assignments as expressions, plain defs."""
        if module not in self._scopes:
            path = self._paths.get(module)
            tree = self.parsed(path) if path is not None else ast.Module(body=[], type_ignores=[])
            self._scopes[module] = dict(_bindings(tree.body, module, path or ""))
        return self._scopes[module]


def _described(value: _Value) -> str:
    return "the function" if isinstance(value, _Definition) else "the literal"


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
) -> _Definition | _Failure:
    if isinstance(statement, ast.ClassDef):
        return _Failure(f"'{statement.name}' is a class, not an operator or function")
    if statement.decorator_list:
        # A decorated name is bound to whatever the decorator returns (a CustomOpDef for
        # @torch.library.custom_op), which only running it would tell.
        return _Failure(f"'{statement.name}' is a decorated function: its value is unknown")
    return _Definition(f"{module}.{statement.name}")


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


# Resolving keys with the installed torch


def _key_for_path(path: str) -> _Key | _Failure:
    root, *attributes = path.split(".")
    if root not in _IMPORTABLE_ROOTS:
        return _Failure(f"'{path}' is outside the modules the reader may import")
    value: object = importlib.import_module(root)
    for attribute in attributes:
        try:
            value = getattr(value, attribute)
        except (AttributeError, RuntimeError):
            return _missing_op_key(path)
    return _key_for_object(value)


def _missing_op_key(path: str) -> _Key | _Failure:
    # Ops of other libraries (torch.ops.tensorrt.*, registered by Torch-TensorRT or modelopt
    # at import) are absent here, but an overload's canonical string needs no torch object.
    parts = path.split(".")
    if parts[:2] == ["torch", "ops"] and len(parts) == 5:
        return _Key(target=".".join(parts[2:]), op=None, packet_overloads=None)
    return _Failure(f"'{path}' does not exist in torch {torch.__version__}")


def _key_for_object(value: object) -> _Key | _Failure:
    if isinstance(value, torch._ops.OpOverload):
        return _Key(target=str(value), op=value, packet_overloads=None)
    if isinstance(value, torch._ops.OpOverloadPacket):
        return _Key(target=str(value), op=value, packet_overloads=tuple(value.overloads()))
    module, name = getattr(value, "__module__", None), getattr(value, "__name__", None)
    if callable(value) and module and name:
        return _Key(target=f"{module}.{name}", op=value, packet_overloads=None)
    return _Failure(f"{value!r} is neither an operator nor a function")


def _key(reader: _StaticReader, expr: ast.expr, context: _Context) -> _Key | _Failure:
    value = reader.evaluate(expr, context)
    if isinstance(value, _Failure):
        return value
    if isinstance(value, tuple):
        return _Failure("a literal sequence is not a registry key")
    if isinstance(value, _Definition):
        # The function object is the key; the partitioner names it module.name, as
        # _key_for_object does for a live one. Not a torch op, so known_to_torch is false.
        return _Key(target=value.path, op=None, packet_overloads=None)
    return _key_for_path(value)


def _rejected_packet_reason(key: _Key) -> str | None:
    """Why ``dynamo_tensorrt_converter`` raises AssertionError for a packet key, if it does."""
    overloads = key.packet_overloads
    if overloads is None:
        return None
    if len(overloads) >= 3 or (len(overloads) == 2 and "out" not in overloads):
        return (
            f"packet key with overloads {list(overloads)}: Torch-TensorRT raises AssertionError "
            "at import (it accepts one overload or exactly default and out)"
        )
    return None


# Finding the registrar calls reached at import time


def _callee_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def _is_registrar_call(node: ast.AST, registrar: str) -> bool:
    return isinstance(node, ast.Call) and _callee_name(node.func) == registrar


class _SiteWalker:
    """Walks a module's statements as its import would run them, yielding registrar calls."""

    def __init__(self, reader: _StaticReader, path: str, registrar: str) -> None:
        self._reader = reader
        self._path = path
        self._registrar = registrar
        self._module = _module_name(path)
        self._helpers: dict[str, ast.FunctionDef] = {}
        self._active: tuple[str, ...] = ()
        self.visited: set[ast.Call] = set()

    def sites(self) -> Iterator[_Site]:
        """The registrar calls of the module, in the order the import runs them."""
        yield from self._statements(self._reader.parsed(self._path).body, self._root(), (), None)

    def _root(self) -> _Context:
        return _Context(self._module)

    def _statements(
        self,
        statements: Sequence[ast.stmt],
        context: _Context,
        conditions: tuple[str, ...],
        via: str | None,
    ) -> Iterator[_Site]:
        for statement in statements:
            yield from self._statement(statement, context, conditions, via)

    def _statement(
        self, statement: ast.stmt, context: _Context, conditions: tuple[str, ...], via: str | None
    ) -> Iterator[_Site]:
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
        context: _Context,
        function: str,
        conditions: tuple[str, ...],
        via: str | None,
    ) -> _Site:
        self.visited.add(call)
        return _Site(call, context, self._path, function, conditions, via)

    def _call(
        self, expr: ast.expr, context: _Context, conditions: tuple[str, ...], via: str | None
    ) -> Iterator[_Site]:
        if not isinstance(expr, ast.Call):
            return
        if isinstance(expr.func, ast.Call) and _is_registrar_call(expr.func, self._registrar):
            # dynamo_tensorrt_converter(key, ...)(function): the decorator written as a call.
            function = ast.unparse(expr.args[0]) if expr.args else "?"
            yield self._site(expr.func, context, function, conditions, via)
            return
        helper = self._helpers.get(_callee_name(expr.func) or "")
        if helper is None or helper.name in self._active:
            return
        names = _parameter_bindings(helper, expr, context)
        self._active = (*self._active, helper.name)
        try:
            here = via or f"{self._path}:{expr.lineno}"
            inner = _Context(self._module, names)
            yield from self._statements(helper.body, inner, conditions, here)
        finally:
            self._active = self._active[:-1]

    def _loop(
        self, loop: ast.For, context: _Context, conditions: tuple[str, ...], via: str | None
    ) -> Iterator[_Site]:
        iterable = self._reader.evaluate(loop.iter, context)
        if not isinstance(iterable, tuple):
            reason = iterable.reason if isinstance(iterable, _Failure) else "not a literal"
            failure = _Failure(f"loop over '{ast.unparse(loop.iter)}': {reason}")
            names = {name: failure for name in _target_names(loop.target)}
            yield from self._statements(loop.body, _extend(context, names), conditions, via)
            return
        for element in iterable:
            names = _unpacked(self._reader, loop.target, element)
            yield from self._statements(loop.body, _extend(context, names), conditions, via)

    def _try(
        self, statement: ast.Try, context: _Context, conditions: tuple[str, ...], via: str | None
    ) -> Iterator[_Site]:
        tried = "; ".join(ast.unparse(s) for s in statement.body)
        yield from self._statements(statement.body, context, conditions, via)
        for handler in statement.handlers:
            caught = (*conditions, f"exception from: {tried}")
            yield from self._statements(handler.body, context, caught, via)
        succeeded = (*conditions, f"no exception from: {tried}")
        yield from self._statements(statement.orelse, context, succeeded, via)
        yield from self._statements(statement.finalbody, context, conditions, via)


def _extend(context: _Context, names: Mapping[str, _Bound | _Failure]) -> _Context:
    return _Context(context.module, {**context.names, **names})


def _target_names(target: ast.expr) -> list[str]:
    return [node.id for node in ast.walk(target) if isinstance(node, ast.Name)]


def _unpacked(
    reader: _StaticReader, target: ast.expr, element: _Bound
) -> dict[str, _Bound | _Failure]:
    """Binds a loop target (a name or a tuple of names) to one element of the iterable."""
    if isinstance(target, ast.Name):
        return {target.id: element}
    if isinstance(target, (ast.Tuple, ast.List)):
        value = reader.evaluate(element.expr, element.context)
        if isinstance(value, tuple) and len(value) == len(target.elts):
            names: dict[str, _Bound | _Failure] = {}
            for part, item in zip(target.elts, value, strict=True):
                names.update(_unpacked(reader, part, item))
            return names
    failure = _Failure(f"cannot unpack '{ast.unparse(element.expr)}' into '{ast.unparse(target)}'")
    return {name: failure for name in _target_names(target)}


def _parameter_bindings(
    function: ast.FunctionDef, call: ast.Call, context: _Context
) -> dict[str, _Bound | _Failure]:
    """Binds a helper's parameters to the arguments of one call of it, then to defaults."""
    arguments = function.args
    positional = [a.arg for a in [*arguments.posonlyargs, *arguments.args]]
    names: dict[str, _Bound | _Failure] = {}
    defaults = arguments.defaults
    for name, default in zip(positional[len(positional) - len(defaults) :], defaults, strict=True):
        names[name] = _Bound(default, _Context(context.module))
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        if default is not None:
            names[argument.arg] = _Bound(default, _Context(context.module))
    for name, value in zip(positional, call.args, strict=False):
        names[name] = _Bound(value, context)
    for keyword in call.keywords:
        if keyword.arg is not None:
            names[keyword.arg] = _Bound(keyword.value, context)
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


# Converters


def _registered_key(call: ast.Call, parameter: str) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == parameter), None)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _substituted(expr: ast.expr, context: _Context) -> ast.expr:
    """The expression a loop variable or helper parameter stands for, else the expression."""
    for _ in range(_MAX_DEPTH):
        if not isinstance(expr, ast.Name):
            break
        bound = context.names.get(expr.id)
        if not isinstance(bound, _Bound):
            break
        expr, context = bound.expr, bound.context
    return expr


def _flag(call: ast.Call, name: str, context: _Context, *, default: bool) -> bool | str:
    """A boolean option: its literal value, or its source text when it is not a literal."""
    expr = _keyword(call, name)
    if expr is None:
        return default
    expr = _substituted(expr, context)
    if isinstance(expr, ast.Constant) and isinstance(expr.value, bool):
        return expr.value
    return ast.unparse(expr)


def _priority(call: ast.Call, context: _Context) -> str:
    expr = _keyword(call, "priority")
    if expr is None:
        return "STANDARD"
    expr = _substituted(expr, context)
    name = _callee_name(expr)
    return name if name in ("HIGH", "STANDARD") else ast.unparse(expr)


def _validator(call: ast.Call, context: _Context) -> str | None:
    expr = _keyword(call, "capability_validator")
    if expr is None:
        return None
    expr = _substituted(expr, context)
    if isinstance(expr, ast.Constant) and expr.value is None:
        return None
    return expr.id if isinstance(expr, ast.Name) else ast.unparse(expr)


def _converter_entry(site: _Site, key: _Key) -> JsonObject:
    call, context = site.call, site.context
    return {
        "validator": _validator(call, context),
        "supports_dynamic_shapes": _flag(call, "supports_dynamic_shapes", context, default=False),
        "requires_output_allocator": _flag(
            call, "requires_output_allocator", context, default=False
        ),
        "requires_native_multidevice": _flag(
            call, "requires_native_multidevice", context, default=False
        ),
        "priority": _priority(call, context),
        "enabled": _flag(call, "enabled", context, default=True),
        "source": site.source,
        "function": site.function,
        "condition": " and ".join(site.conditions) or None,
        "via": site.via,
        "packet_overloads": list(key.packet_overloads) if key.packet_overloads else None,
        "known_to_torch": key.op is not None,
    }


def _unresolved(source: str, expression: str, kind: str, reason: str) -> JsonObject:
    return {"source": source, "expression": expression, "kind": kind, "reason": reason}


def _site_key(reader: _StaticReader, site: _Site, parameter: str) -> _Key | JsonObject:
    """The site's resolved key, or its ``unresolved`` record."""
    kind = "converter" if parameter == "key" else "decomposition"
    expr = _registered_key(site.call, parameter)
    if expr is None:
        return _unresolved(site.source, ast.unparse(site.call), kind, "no key argument")
    if any(k.arg is None for k in site.call.keywords):
        return _unresolved(site.source, ast.unparse(site.call), kind, "options passed as **")
    key = _key(reader, expr, site.context)
    if isinstance(key, _Failure):
        return _unresolved(site.source, ast.unparse(expr), kind, key.reason)
    return key


def _walk(reader: _StaticReader, path: str, registrar: str) -> tuple[list[_Site], list[JsonObject]]:
    """The import-time registrar calls of one file, and records for those never reached."""
    walker = _SiteWalker(reader, path, registrar)
    sites = list(walker.sites())
    kind = "converter" if registrar == _CONVERTER_REGISTRAR else "decomposition"
    tree = reader.parsed(path)
    unreached = [
        _unresolved(f"{path}:{call.lineno}", ast.unparse(call), kind, _unreached_reason(function))
        for call, function in _unreached_calls(tree.body, registrar, walker.visited, None)
    ]
    return sites, unreached


def _converter_files(files: Iterable[str]) -> list[str]:
    return sorted(p for p in files if p.startswith(_CONVERTER_DIR) and p.endswith(".py"))


def _static_converters(reader: _StaticReader) -> tuple[JsonObject, list[JsonObject]]:
    """Converter entries by target in registry order, and the registrations not resolved."""
    registry: dict[str, list[JsonObject]] = {}
    unresolved: list[JsonObject] = []
    for path in _converter_files(reader.files):
        sites, unreached = _walk(reader, path, _CONVERTER_REGISTRAR)
        unresolved.extend(unreached)
        for site in sites:
            key = _site_key(reader, site, "key")
            if isinstance(key, dict):
                unresolved.append(key)
            elif (reason := _rejected_packet_reason(key)) is not None:
                expr = _registered_key(site.call, "key")
                expression = ast.unparse(expr) if expr is not None else key.target
                unresolved.append(_unresolved(site.source, expression, "converter", reason))
            else:
                _insert(registry, key.target, _converter_entry(site, key))
    return dict(sorted(registry.items())), unresolved


def _insert(registry: dict[str, list[JsonObject]], target: str, entry: JsonObject) -> None:
    # As dynamo_tensorrt_converter does: HIGH goes first, everything else is appended.
    entries = registry.setdefault(target, [])
    if entry["priority"] == "HIGH":
        entries.insert(0, entry)
    else:
        entries.append(entry)


# Decompositions


def _group_keys(
    reader: _StaticReader, name: str, *, path: str = _GROUPS_FILE
) -> tuple[list[tuple[_Key, str, str]], list[JsonObject]]:
    """The resolved elements of a set literal at module level in ``path``.

    Returns:
        ``(key, source, expression)`` per resolved element, and the unresolved records.
    """
    context = _Context(_module_name(path))
    elements = reader.evaluate(ast.Name(id=name, ctx=ast.Load()), context)
    if not isinstance(elements, tuple):
        reason = elements.reason if isinstance(elements, _Failure) else "not a set literal"
        return [], [_unresolved(f"{path}:0", name, "decomposition", reason)]
    resolved: list[tuple[_Key, str, str]] = []
    unresolved: list[JsonObject] = []
    for element in elements:
        source, expression = f"{path}:{element.expr.lineno}", ast.unparse(element.expr)
        key = _key(reader, element.expr, element.context)
        if isinstance(key, _Failure):
            unresolved.append(_unresolved(source, expression, "decomposition", key.reason))
        elif key.op is None:
            reason = f"'{key.target}' is not an operator of torch {torch.__version__}"
            unresolved.append(_unresolved(source, expression, "decomposition", reason))
        else:
            resolved.append((key, source, expression))
    return resolved, unresolved


def _enabled_decompositions(reader: _StaticReader) -> tuple[list[str], list[JsonObject]]:
    keys, unresolved = _group_keys(reader, _ENABLED_SET)
    targets: set[str] = set()
    for key, source, expression in keys:
        # ENABLED_TORCH_DECOMPOSITIONS is get_decompositions(torch_enabled_decompositions):
        # a packet keeps the overloads torch decomposes, an op torch cannot decompose is
        # ignored. Record those, since the set names them.
        found = torch._decomp.get_decompositions([key.op])  # type: ignore[list-item]
        if not found:
            reason = f"torch {torch.__version__} has no decomposition for it, so it is ignored"
            unresolved.append(_unresolved(source, expression, "decomposition", reason))
        targets.update(str(op) for op in found)
    return sorted(targets), unresolved


def _disabled_decompositions(reader: _StaticReader) -> tuple[list[str], list[JsonObject]]:
    keys, unresolved = _group_keys(reader, _DISABLED_SET)
    # get_decompositions filters with `op not in torch_disabled_decompositions`, which an
    # OpOverload never is when the set holds its packet.
    reason = "a packet in the disabled set matches no OpOverload, so it disables nothing"
    targets, packets = _overload_targets(keys, reason)
    return targets, unresolved + packets


def _attention_decompositions(reader: _StaticReader) -> tuple[list[str], list[JsonObject]]:
    """The overloads in ``ATTENTION_DECOMPOSITION_OPS``; none where the release has no such set."""
    if _ATTENTION_SET not in reader.scope(_module_name(_DECOMPOSITIONS_FILE)):
        return [], []
    keys, unresolved = _group_keys(reader, _ATTENTION_SET, path=_DECOMPOSITIONS_FILE)
    # Filtered with `k not in ATTENTION_DECOMPOSITION_OPS` like the disabled set.
    reason = "a packet in the attention set matches no OpOverload, so it keeps nothing"
    targets, packets = _overload_targets(keys, reason)
    return targets, unresolved + packets


def _overload_targets(
    keys: Iterable[tuple[_Key, str, str]], packet_reason: str
) -> tuple[list[str], list[JsonObject]]:
    """The overloads of a set tested with ``op not in``, and records for the packets in it."""
    targets: list[str] = []
    unresolved: list[JsonObject] = []
    for key, source, expression in keys:
        if key.packet_overloads is not None:
            unresolved.append(_unresolved(source, expression, "decomposition", packet_reason))
        else:
            targets.append(key.target)
    return sorted(set(targets)), unresolved


def _registered_overloads(op: object) -> list[str]:
    """What ``torch._decomp.register_decomposition`` keys a decomposition of ``op`` under."""
    if isinstance(op, torch._ops.OpOverloadPacket):
        # ``op_overloads()`` is newer than torch 2.11; ``overloads()`` names them in every release.
        candidates = [getattr(op, name) for name in op.overloads()]
    elif isinstance(op, torch._ops.OpOverload):
        candidates = [op]
    else:
        return []
    # Like torch, skip overloads without a dispatcher entry (TorchScript-only ones).
    return [str(o) for o in candidates if torch._C._dispatch_has_kernel(o.name())]


def _trt_decompositions(reader: _StaticReader) -> tuple[list[str], list[JsonObject]]:
    if _DECOMPOSITIONS_FILE not in reader.files:
        return [], [
            _unresolved(f"{_DECOMPOSITIONS_FILE}:0", "", "decomposition", "file is missing")
        ]
    sites, unresolved = _walk(reader, _DECOMPOSITIONS_FILE, _DECOMPOSITION_REGISTRAR)
    targets: set[str] = set()
    for site in sites:
        registry = _keyword(site.call, "registry")
        if registry is None or not _is_name(registry, _TRT_DECOMPOSITION_TABLE):
            reason = f"registers into a table other than {_TRT_DECOMPOSITION_TABLE}"
            unresolved.append(
                _unresolved(site.source, ast.unparse(site.call), "decomposition", reason)
            )
            continue
        key = _site_key(reader, site, "aten_op")
        overloads = [] if isinstance(key, dict) else _registered_overloads(key.op)
        if isinstance(key, dict):
            unresolved.append(key)
        elif not overloads:
            reason = f"no overload of '{key.target}' has a kernel in torch {torch.__version__}"
            expression = ast.unparse(_registered_key(site.call, "aten_op") or site.call)
            unresolved.append(_unresolved(site.source, expression, "decomposition", reason))
        targets.update(overloads)
    return sorted(targets), unresolved


def cia_filter_keeps_attention(text: str | None) -> tuple[bool | None, list[JsonObject]]:
    """Whether ``get_decompositions()`` lets torch decompose the attention ops by default.

    It returns ``{**ENABLED_TORCH_DECOMPOSITIONS, **cia_filtered, **trt_decomps}``, where
    ``trt_decomps`` lacks ``ATTENTION_DECOMPOSITION_OPS`` unless ``decompose_attention``. 2.11
    filters torch's CompositeImplicitAutograd table by the disabled set only, so torch decomposes
    ``aten.scaled_dot_product_attention`` (on a CPU export into
    ``_scaled_dot_product_flash_attention_for_cpu``, which has no converter); 2.12 added
    ``and decomp not in ATTENTION_DECOMPOSITION_OPS``, which leaves it to its converter.
    The comprehension over the table that the loop over
    ``_collect_all_valid_cia_ops_for_aten_namespace()`` fills is read for that test.

    Args:
        text: The source of ``dynamo/lowering/_decompositions.py``, None if absent.

    Returns:
        True if the CIA filter does not exclude ``ATTENTION_DECOMPOSITION_OPS``, or None and the
        ``unresolved`` record saying why the filter was not found.
    """
    function = _module_function(text, _DECOMPOSITIONS_FILE, _GET_DECOMPOSITIONS)
    table = _cia_table(function) if function is not None else None
    filters = _comprehensions_over(function, table) if function and table else []
    if function is None or not filters:
        line = function.lineno if function is not None else 0
        reason = f"no filter of the {_CIA_COLLECTOR}() table found in {_GET_DECOMPOSITIONS}"
        record = _unresolved(
            f"{_DECOMPOSITIONS_FILE}:{line}", _GET_DECOMPOSITIONS, "decomposition", reason
        )
        return None, [record]
    return not any(_tests_not_in(f, _ATTENTION_SET) for f in filters), []


def _module_function(text: str | None, path: str, name: str) -> ast.FunctionDef | None:
    if text is None:
        return None
    for statement in ast.parse(text, filename=path).body:
        if isinstance(statement, ast.FunctionDef) and statement.name == name:
            return statement
    return None


def _cia_table(function: ast.FunctionDef) -> str | None:
    """The name of the dict ``for op in _collect_all_valid_cia_ops_for_aten_namespace()`` fills."""
    for loop in ast.walk(function):
        if not (
            isinstance(loop, ast.For)
            and isinstance(loop.iter, ast.Call)
            and _callee_name(loop.iter.func) == _CIA_COLLECTOR
        ):
            continue
        for statement in loop.body:
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                        return target.value.id
    return None


def _comprehensions_over(function: ast.FunctionDef, table: str) -> list[ast.DictComp]:
    return [
        node
        for node in ast.walk(function)
        if isinstance(node, ast.DictComp) and any(_is_name(g.iter, table) for g in node.generators)
    ]


def _tests_not_in(comprehension: ast.DictComp, name: str) -> bool:
    """Whether the comprehension's conditions drop the elements of ``name`` (``x not in name``)."""
    tests = [test for generator in comprehension.generators for test in generator.ifs]
    return any(
        isinstance(op, ast.NotIn) and _is_name(comparator, name)
        for test in tests
        for node in ast.walk(test)
        if isinstance(node, ast.Compare)
        for op, comparator in zip(node.ops, node.comparators, strict=True)
    )


# The partitioner's own checks


def operator_support_checks(text: str | None) -> tuple[JsonObject | None, list[JsonObject]]:
    """What ``TorchTensorRTOperatorSupport.is_node_supported`` checks besides the registry.

    The releases differ here, not only in their converters: 2.11 asks the registry and
    ``torch_executed_ops`` only; 2.12 first rejects any node that produces or reads a complex
    tensor (``_has_complex_dtype``); 2.13 and 2.14 then also send nodes whose converter needs
    an output allocator to PyTorch when ``fallback_data_dependent_ops`` is set (a setting 2.13
    added). The snapshot oracle reads these flags instead of assuming one release's behaviour.
    The method is read for the names it uses, so a renamed helper still counts if its name
    says "complex".

    Args:
        text: The source of ``dynamo/partitioning/_global_partitioner.py``, None if absent.

    Returns:
        ``{"source", "rejects_complex_dtypes", "honors_fallback_data_dependent_ops"}``, or None
        and the ``unresolved`` record saying why the method was not found.
    """
    method = _support_method(text)
    if method is None:
        where = f"{_PARTITIONER_FILE}:0"
        reason = f"no {_OPERATOR_SUPPORT_CLASS}.{_SUPPORT_METHOD} found"
        return None, [_unresolved(where, _SUPPORT_METHOD, "operator_support", reason)]
    names = {node.id for node in ast.walk(method) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(method) if isinstance(node, ast.Attribute)}
    checks = {
        "source": f"{_PARTITIONER_FILE}:{method.lineno}",
        "rejects_complex_dtypes": any("complex" in name.lower() for name in names),
        "honors_fallback_data_dependent_ops": "fallback_data_dependent_ops" in names,
    }
    return checks, []


def _support_method(text: str | None) -> ast.FunctionDef | None:
    if text is None:
        return None
    for statement in ast.parse(text, filename=_PARTITIONER_FILE).body:
        if isinstance(statement, ast.ClassDef) and statement.name == _OPERATOR_SUPPORT_CLASS:
            for member in statement.body:
                if isinstance(member, ast.FunctionDef) and member.name == _SUPPORT_METHOD:
                    return member
    return None


# Snapshots


def _snapshot(
    version: str,
    origin: str,
    converters: JsonObject,
    decompositions: Mapping[str, Any],
    operator_support: JsonObject | None,
    unresolved: list[JsonObject],
) -> JsonObject:
    return {
        "format": FORMAT,
        "torch_tensorrt_version": version,
        "generated_from": origin,
        "torch_version_used_to_resolve": torch.__version__,
        "converters": converters,
        "decompositions": {
            "torch_enabled": decompositions["torch_enabled"],
            "torch_disabled": decompositions["torch_disabled"],
            "torch_tensorrt": decompositions["torch_tensorrt"],
            "attention": decompositions["attention"],
            "cia_keeps_attention": decompositions["cia_keeps_attention"],
        },
        "operator_support": operator_support,
        "unresolved": unresolved,
    }


def static_snapshot(tree: SourceTree) -> JsonObject:
    """Builds the snapshot by reading the package's source, without importing it.

    Args:
        tree: The ``torch_tensorrt`` sources, from :func:`source_tree_from_wheel` or
            :func:`source_tree_from_directory`.

    Returns:
        The snapshot as a JSON-ready dict, ``"generated_from": "static"``.

    Examples:
        >>> tree = source_tree_from_wheel(Path("torch_tensorrt-2.13.0-cp311-....whl"))
        >>> static_snapshot(tree)["converters"]["aten.sort.default"][0]["validator"]
        'sort_validator'
    """
    reader = _StaticReader(tree)
    converters, unresolved = _static_converters(reader)
    decompositions: dict[str, Any] = {}
    for name, build in (
        ("torch_enabled", _enabled_decompositions),
        ("torch_disabled", _disabled_decompositions),
        ("torch_tensorrt", _trt_decompositions),
        ("attention", _attention_decompositions),
    ):
        decompositions[name], gaps = build(reader)
        unresolved.extend(gaps)
    keeps, gaps = cia_filter_keeps_attention(tree.files.get(_DECOMPOSITIONS_FILE))
    decompositions["cia_keeps_attention"] = keeps
    unresolved.extend(gaps)
    operator_support, gaps = operator_support_checks(tree.files.get(_PARTITIONER_FILE))
    unresolved.extend(gaps)
    unresolved.sort(key=_source_order)
    return _snapshot(
        tree.version, "static", converters, decompositions, operator_support, unresolved
    )


def _source_order(record: JsonObject) -> tuple[str, int]:
    path, _, line = record["source"].rpartition(":")
    return (path, int(line)) if line.isdigit() else (record["source"], 0)


def import_snapshot() -> JsonObject:
    """Builds the snapshot from the live registry of an importable ``torch_tensorrt``.

    ``ConverterSupport`` does not keep the priority, so ``"priority"`` is null here (the
    entries' order still reflects it), and ``"condition"`` is null: import already decided.

    Returns:
        The snapshot as a JSON-ready dict, ``"generated_from": "import"``.

    Raises:
        SupportError: ``torch_tensorrt`` cannot be imported.
    """
    try:
        import torch_tensorrt
        from torch_tensorrt.dynamo.conversion import _ConverterRegistry as registry
        from torch_tensorrt.dynamo.lowering import _decomposition_groups as groups
        from torch_tensorrt.dynamo.lowering import _decompositions  # (importing fills the table)
    except (ImportError, OSError, RuntimeError) as e:
        raise SupportError(
            f"cannot import torch_tensorrt ({e}); pass --wheel or --source to read its source "
            "statically instead."
        ) from e
    package = Path(torch_tensorrt.__file__).parent
    default = registry.ConverterSupport.__dataclass_fields__["capability_validator"].default
    converters = live_converters(registry.DYNAMO_ATEN_CONVERTERS, default, package)
    disabled = [_key_for_object(op) for op in groups.torch_disabled_decompositions]
    attention = getattr(_decompositions, _ATTENTION_SET, ())
    keeps, unresolved = cia_filter_keeps_attention(_package_text(package, _DECOMPOSITIONS_FILE))
    decompositions = {
        "torch_enabled": sorted({str(op) for op in groups.ENABLED_TORCH_DECOMPOSITIONS}),
        "torch_disabled": sorted({k.target for k in disabled if isinstance(k, _Key)}),
        "torch_tensorrt": sorted({str(op) for op in groups.TORCH_TRT_DECOMPOSITIONS}),
        # A packet in the set matches no OpOverload key, as in the static reading.
        "attention": sorted({str(op) for op in attention if isinstance(op, torch._ops.OpOverload)}),
        "cia_keeps_attention": keeps,
    }
    operator_support, gaps = operator_support_checks(_package_text(package, _PARTITIONER_FILE))
    unresolved.extend(gaps)
    return _snapshot(
        torch_tensorrt.__version__,
        "import",
        converters,
        decompositions,
        operator_support,
        unresolved,
    )


def _package_text(package: Path, path: str) -> str | None:
    file = package / path
    return file.read_text(encoding="utf-8") if file.is_file() else None


def live_converters(
    registry: Mapping[object, Sequence[Any]], default_validator: object, package: Path
) -> JsonObject:
    """Converter entries from a live ``DYNAMO_ATEN_CONVERTERS``-shaped mapping.

    Args:
        registry: Target to its ``ConverterSupport`` list, in registry order.
        default_validator: ``ConverterSupport``'s default ``capability_validator``, which
            stands for "no validator".
        package: The ``torch_tensorrt`` package directory, to make sources relative.

    Returns:
        Entries by canonical target, sorted by target.
    """
    converters: dict[str, list[JsonObject]] = {}
    for target, supports in registry.items():
        key = _key_for_object(target)
        name = key.target if isinstance(key, _Key) else str(target)
        packet = key.packet_overloads if isinstance(key, _Key) else None
        converters[name] = [_live_entry(s, default_validator, package, packet) for s in supports]
    return dict(sorted(converters.items()))


def _live_entry(
    support: Any, default_validator: object, package: Path, packet: tuple[str, ...] | None
) -> JsonObject:
    implementation = inspect.unwrap(support.converter_implementation)
    validator = support.capability_validator
    return {
        "validator": None if validator is default_validator else _callable_name(validator),
        "supports_dynamic_shapes": support.supports_dynamic_shapes,
        "requires_output_allocator": support.requires_output_allocator,
        "requires_native_multidevice": getattr(support, "requires_native_multidevice", False),
        "priority": None,
        "enabled": True,
        "source": _live_source(implementation, package),
        "function": getattr(implementation, "__name__", repr(implementation)),
        "condition": None,
        "via": None,
        "packet_overloads": list(packet) if packet else None,
        "known_to_torch": True,
    }


def _callable_name(function: Callable[..., Any]) -> str:
    if isinstance(function, functools.partial):
        arguments = [repr(a) for a in function.args]
        arguments += [f"{k}={v!r}" for k, v in function.keywords.items()]
        return f"{_callable_name(function.func)}({', '.join(arguments)})"
    return getattr(function, "__name__", None) or type(function).__name__


def _live_source(function: Callable[..., Any], package: Path) -> str | None:
    try:
        file = Path(inspect.getsourcefile(function) or "")
        line = function.__code__.co_firstlineno
    except (TypeError, AttributeError):
        return None
    if file.is_relative_to(package):
        file = file.relative_to(package)
    return f"{file.as_posix()}:{line}"


def build_snapshot(*, wheel: Path | None = None, source: Path | None = None) -> JsonObject:
    """Builds the snapshot from a wheel, a source directory, or the importable package.

    Args:
        wheel: A ``torch_tensorrt`` wheel to read statically.
        source: A ``torch_tensorrt`` source directory to read statically.

    Returns:
        The snapshot; imported from the live registry when neither is given.

    Raises:
        SupportError: Both are given, the sources cannot be read, or (neither given)
            ``torch_tensorrt`` cannot be imported.
    """
    if wheel is not None and source is not None:
        raise SupportError("pass either a wheel or a source directory, not both")
    if wheel is not None:
        return static_snapshot(source_tree_from_wheel(wheel))
    if source is not None:
        return static_snapshot(source_tree_from_directory(source))
    return import_snapshot()


def snapshot_path(version: str) -> Path:
    """Where the snapshot of a Torch-TensorRT version is shipped."""
    return SNAPSHOT_DIR / f"torch_tensorrt-{version}.json"


def snapshot_text(snapshot: JsonObject) -> str:
    """The snapshot serialized as it is shipped: indented JSON with a final newline."""
    return json.dumps(snapshot, indent=2) + "\n"


def summary(snapshot: JsonObject, output: Path) -> str:
    """A one-line account of a written snapshot."""
    converters = snapshot["converters"]
    entries = [e for target_entries in converters.values() for e in target_entries]
    with_validator = sum(e["validator"] is not None for e in entries)
    decompositions = snapshot["decompositions"]
    return (
        f"wrote {output} ({snapshot['generated_from']}): {len(converters)} converter targets, "
        f"{len(entries)} entries, {with_validator} with validators; decompositions "
        f"{len(decompositions['torch_enabled'])} torch-enabled, "
        f"{len(decompositions['torch_disabled'])} torch-disabled, "
        f"{len(decompositions['torch_tensorrt'])} torch_tensorrt, "
        f"{_attention_summary(decompositions)}; "
        f"operator support {_checks_summary(snapshot['operator_support'])}; "
        f"{len(snapshot['unresolved'])} unresolved"
    )


def _attention_summary(decompositions: JsonObject) -> str:
    keeps = decompositions["cia_keeps_attention"]
    fate = {True: "torch decomposes", False: "converters take", None: "unknown CIA filter for"}
    return f"{fate[keeps]} {len(decompositions['attention'])} attention ops"


def _checks_summary(checks: JsonObject | None) -> str:
    if checks is None:
        return "not found"
    complex_ = "rejects" if checks["rejects_complex_dtypes"] else "ignores"
    fallback = "honors" if checks["honors_fallback_data_dependent_ops"] else "has no"
    return f"{complex_} complex dtypes, {fallback} fallback_data_dependent_ops"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trt_autoplugin.snapshot_build",
        description="Regenerate the Torch-TensorRT converter and decomposition snapshot.",
    )
    origin = parser.add_mutually_exclusive_group()
    origin.add_argument("--wheel", type=Path, help="torch_tensorrt wheel to read statically")
    origin.add_argument("--source", type=Path, help="torch_tensorrt source directory")
    parser.add_argument("--output", type=Path, help="default: the shipped snapshot path")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the script; returns its exit status."""
    arguments = _parser().parse_args(argv)
    try:
        snapshot = build_snapshot(wheel=arguments.wheel, source=arguments.source)
    except SupportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    output = arguments.output or snapshot_path(snapshot["torch_tensorrt_version"])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(snapshot_text(snapshot), encoding="utf-8")
    print(summary(snapshot, output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
