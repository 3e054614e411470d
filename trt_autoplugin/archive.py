"""Loading a ``.pt2`` file (torch.export archive) without running anything stored in it.

`load_program` is the one way trt_autoplugin loads a ``.pt2``: the CLI and `serialize` call it.

What torch 2.13 does, and where it runs stored code (``torch/export/__init__.py`` ``load``,
``torch/export/pt2_archive/_package.py`` ``load_pt2``, ``torch/_export/serde/serialize.py``):

- ``data/sample_inputs/<model>.pt`` (and a legacy ``constants``/``state_dict`` blob) goes through
  ``deserialize_torch_artifact``: ``torch.load(weights_only=True)``, and on *any* failure
  ``torch.load(weights_only=False)``, a full unpickle that can call anything.
- weights or tensor constants whose payload config says ``use_pickle: true`` are loaded with
  ``torch.load(weights_only=False)``; ``custom_obj_*`` constants with the TorchScript unpickler,
  ``opaque_obj_*`` constants with ``pickle.loads``.
- ``data/aotinductor/<model>/`` makes ``load_pt2`` load a compiled shared library.
- every symbolic size ``expr_str`` in ``models/<model>.json`` goes through ``sympy.sympify``,
  which ``eval``\\ s the string (``__import__('os')...`` runs).
- when ``load_pt2`` raises ``RuntimeError``, ``load`` retries the pre-2.8 zip layout, whose
  blobs also go through ``deserialize_torch_artifact``.
- a node target ``torch.<anything>`` resolves to any callable under ``torch`` (``torch.load``
  included), run when the program runs.

The checks here, made on the bytes in memory before torch sees them (torch then reads the same
bytes, from a buffer, so nothing can change in between): only the entries ``torch.export.save``
writes (refusing AOTInductor, ExecuTorch, MTIA, XL-weight and legacy entries, duplicates, and
names that are absolute or hold ``..``); payload configs with ``use_pickle: false`` tensors only;
sample inputs that ``torch.load(weights_only=True)`` loads into a tuple or dict, so torch's own
first attempt on the same bytes succeeds and its ``weights_only=False`` fallback is unreachable
(``torch.load`` ignores ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` when ``weights_only`` is passed);
JSON of bounded nesting and integer size; symbolic expressions of numbers, size symbols, the sympy
functions torch prints and arithmetic only. After loading, every node must call an operator
(OpOverload, higher-order op) or one of the few Python functions export emits.

Why ``torch.load(weights_only=True)`` rather than scanning pickle opcodes: it is exactly the
unpickler torch tries first, with torch's own allowlist of globals, and it looks inside the nested
``torch.save`` zip that holds the pickle; an opcode scan would duplicate that allowlist (sample
inputs legitimately use GLOBAL, REDUCE and BUILD for tensor rebuilds) and drift from it.
"""

import hashlib
import io
import json
import keyword
import logging
import math
import operator
import os
import pickle
import re
import stat
import struct
import tokenize
import zipfile
from collections.abc import Iterator
from typing import Any

import torch
import torch.fx
from torch._export.serde.serialize import _SYM_OPS
from torch._export.verifier import SpecViolationError
from torch.export.pt2_archive import constants as pt2
from torch.export.pt2_archive._package import load_pt2

from .errors import ArchiveError

logger = logging.getLogger(__name__)

_MODEL = "model"  # the program torch.export.save writes and torch.export.load returns
MAX_JSON_DEPTH = 200
MAX_INT_DIGITS = 19  # int64; torch's schema has no wider integer
MAX_EXPRESSION_CHARS = 10_000
MAX_ENTRIES = 100_000
_MAX_INFLATED = 1 << 20  # bytes a compressed entry may inflate to beyond 100x its size

_FIXED_ENTRIES = frozenset(
    {
        pt2.ARCHIVE_FORMAT_PATH,
        pt2.ARCHIVE_VERSION_PATH,
        "byteorder",
        ".data/version",
        ".data/serialization_id",
    }
)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_MODEL_FILE = re.compile(re.escape(pt2.MODELS_DIR) + r"([A-Za-z0-9_][A-Za-z0-9_.-]*)\.json")

# Names allowed in a symbolic expression (torch writes them with sympy's ``srepr``:
# ``Add(Symbol('s0', positive=True, integer=True), Integer(1))``): the functions the deserializer
# hands sympy (ExportedProgramDeserializer.sympy_functions), the sympy classes srepr names, and
# the assumption keywords. Anything else that parses could reach a builtin (``eval``,
# ``getattr``, ``__import__``) through sympify's ``eval``.
_EXPRESSION_NAMES = frozenset(
    """FloorDiv ModularIndexing Where PythonMod Mod CleanDiv CeilToInt FloorToInt CeilDiv LShift
    RShift PowByNatural FloatPow FloatTrueDiv IntTrueDiv IsNonOverlappingAndDenseIndicator
    TruncToFloat TruncToInt RoundToInt RoundDecimal ToFloat Identity
    Add Mul Pow Integer Rational Float Symbol Max Min Abs floor ceiling sqrt
    Equality Unequality LessThan StrictLessThan GreaterThan StrictGreaterThan Eq Ne Lt Le Gt Ge
    And Or Not Xor true false True False BooleanTrue BooleanFalse Infinity NegativeInfinity
    ComplexInfinity NaN oo zoo nan Half One Zero NegativeOne
    positive negative nonnegative nonpositive integer real finite nonzero commutative precision
    """.split()
)
_SIZE_SYMBOL = re.compile(r"[a-z]{1,4}[0-9]+")
# Symbol names and Float digits, quoted: nothing a whitelisted function would evaluate.
_EXPRESSION_STRING = re.compile(r"('|\")[A-Za-z0-9_.+-]{0,40}\1")
_EXPRESSION_OPERATORS = frozenset("+ - * / // % ** ( ) , = < > <= >= == != & | ~".split())

# Python functions a program may call besides operators: torch's own verifier's list (the
# builtins and grad-mode/autocast functions of _check_valid_op in torch/_export/verifier.py)
# and the symbolic ops torch's deserializer knows (_SYM_OPS), nothing else under ``torch``.
_PYTHON_TARGETS = frozenset(
    {
        operator.getitem,
        operator.not_,
        operator.abs,
        math.ceil,
        math.floor,
        math.trunc,
        round,
        abs,
        torch.sym_sum,
        torch._C._set_grad_enabled,
        torch.autograd.grad_mode.set_grad_enabled,
        torch.amp.autocast_mode._enter_autocast,
        torch.amp.autocast_mode._exit_autocast,
        *_SYM_OPS,
    }
)


def load_program(
    path: str | os.PathLike, *, sha256: str | None = None
) -> torch.export.ExportedProgram:
    """Loads a ``.pt2`` written by ``torch.export.save``, refusing anything that would run code.

    Args:
        path: the archive; a regular file (a symlink or directory is refused).
        sha256: the expected hex digest of the file's bytes, checked before anything is parsed.

    Returns:
        The program.

    Raises:
        ArchiveError: the file is missing, not a regular file, not a PT2 archive, malformed, has
            a different digest, holds an entry torch would unpickle or execute, or torch could
            not deserialize it. The message names the file and, where one is at fault, the entry.

    Examples:
        >>> ep = load_program("model.pt2")
    """
    where = os.fspath(path)
    data = read_regular_file(path)
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise ArchiveError(f"{where}: sha256 is {digest}, expected {sha256} (file changed)")
    return program_from_bytes(data, where=where)


def read_regular_file(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file, opened without following a symlink.

    Raises:
        ArchiveError: the path is missing, a symlink, a directory or another non-regular file.
    """
    where = os.fspath(path)
    # O_NOFOLLOW: a symlink swapped in after the lstat is not followed either; O_NONBLOCK: a
    # FIFO does not block the open (fstat then refuses it).
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{where}: is a symlink; only regular files are loaded")
        if not stat.S_ISREG(mode):
            raise ArchiveError(f"{where}: is not a regular file")
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise ArchiveError(f"{where}: cannot open: {e.strerror or e}") from e
    try:
        # fstat on the opened descriptor: what we read is what we checked.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArchiveError(f"{where}: is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read()
    except OSError as e:
        raise ArchiveError(f"{where}: cannot read: {e.strerror or e}") from e
    finally:
        os.close(fd)


def program_from_bytes(data: bytes, *, where: str) -> torch.export.ExportedProgram:
    """Checks archive bytes (see the module docstring), then deserializes them with torch.

    Args:
        data: the archive's bytes.
        where: the file name used in error messages.

    Raises:
        ArchiveError: as `load_program`.
    """
    check_archive(data, where=where)
    try:
        # load_pt2 is what torch.export.load calls first; calling it directly leaves out
        # load's retry of the pre-2.8 layout (whose blobs go through the weights_only=False
        # fallback) and keeps torch's real error instead of "check the warnings above".
        contents = load_pt2(io.BytesIO(data))
    except (
        RuntimeError,  # RecursionError and torch's SerializeError included
        ValueError,  # UnicodeDecodeError, json and sympy errors included
        TypeError,
        LookupError,
        AttributeError,
        AssertionError,
        ArithmeticError,
        OSError,
        EOFError,
        NotImplementedError,
        zipfile.BadZipFile,
        pickle.UnpicklingError,
        struct.error,
        SpecViolationError,  # torch's verifier, e.g. a node calling torch.load
    ) as e:
        raise ArchiveError(
            f"{where}: torch could not deserialize the program: {_last_line(e)}"
        ) from e
    program = contents.exported_programs.get(_MODEL)
    if program is None:
        raise ArchiveError(f"{where}: holds no program named {_MODEL!r} (models/{_MODEL}.json)")
    _check_targets(program, where)
    return program


def _last_line(error: BaseException) -> str:
    """The line of an error's message that says why (torch's SerializeError appends a whole
    traceback; torch.load's refusal, advice and a link)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    # torch.load's weights_only refusal ends in a documentation link; its reason is this line.
    reasons = [line for line in lines if line.startswith("WeightsUnpickler error:")]
    text = (reasons or lines or [type(error).__name__])[-1]
    return text if len(text) <= 600 else text[:600] + "..."


def check_archive(data: bytes, *, where: str) -> None:
    """Refuses archive bytes holding anything torch would unpickle, execute or misread.

    Raises:
        ArchiveError: names the file, the entry and the reason.
    """
    if not data:
        raise ArchiveError(f"{where}: is empty, not a .pt2 archive")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as e:
        raise ArchiveError(f"{where}: is not a zip archive, so not a .pt2: {e}") from e
    with archive:
        entries = _entries(archive, where)
        reader = _Reader(archive, entries, where)
        _check_header(reader)
        models = [m.group(1) for name in entries if (m := _MODEL_FILE.fullmatch(name))]
        if not models:
            raise ArchiveError(f"{where}: holds no models/<name>.json: not a torch.export archive")
        # extra/ files (torch.export.save's extra_files) are only read as text.
        expected = (
            set(_FIXED_ENTRIES) | {n for n in entries if n.startswith(pt2.EXTRA_DIR)}
        ) & set(entries)
        for model in models:
            expected |= _check_model(reader, model)
        unexpected = sorted(set(entries) - expected)
        if unexpected:
            raise ArchiveError(
                f"{where}: entry {unexpected[0]!r} is not one torch.export.save writes for a "
                "program (AOTInductor, ExecuTorch, legacy or unreferenced data are refused)"
            )


class _Reader:
    """Reads the archive's entries by their name below the root folder, with the file's name
    at hand for errors."""

    def __init__(self, archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], where: str):
        self.archive = archive
        self.entries = entries
        self.where = where

    def has(self, name: str) -> bool:
        return name in self.entries

    def read(self, name: str) -> bytes:
        if name not in self.entries:
            raise ArchiveError(f"{self.where}: entry {name!r} is missing")
        try:
            return self.archive.read(self.entries[name])
        except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError) as e:
            raise ArchiveError(f"{self.where}: entry {name!r} is corrupt: {e}") from e

    def text(self, name: str) -> str:
        try:
            return self.read(name).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ArchiveError(f"{self.where}: entry {name!r} is not UTF-8 text: {e}") from e

    def json(self, name: str) -> Any:
        return parse_json(self.text(name), where=f"{self.where}: entry {name!r}")

    def fail(self, name: str, reason: str) -> ArchiveError:
        return ArchiveError(f"{self.where}: entry {name!r} {reason}")


def _entries(archive: zipfile.ZipFile, where: str) -> dict[str, zipfile.ZipInfo]:
    """Entries by name below the archive's one root folder (torch's reader strips it)."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ArchiveError(f"{where}: has {len(infos)} entries, more than {MAX_ENTRIES}")
    if not infos:
        raise ArchiveError(f"{where}: is an empty zip, not a .pt2 archive")
    root = infos[0].filename.split("/", 1)[0]
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        _check_entry_name(name, where)
        first, _, rest = name.partition("/")
        if first != root or not rest:
            raise ArchiveError(
                f"{where}: entry {name!r} is outside the archive's root folder {root!r}"
            )
        # torch.export.save stores entries uncompressed; a compressed one may be a zip bomb.
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > _MAX_INFLATED + (
            100 * info.compress_size
        ):
            raise ArchiveError(f"{where}: entry {name!r} inflates {info.file_size} bytes")
        # Duplicates: zipfile would check one copy while torch's reader loads another.
        if rest in entries:
            raise ArchiveError(f"{where}: entry {name!r} appears twice")
        entries[rest] = info
    return entries


def _check_entry_name(name: str, where: str) -> None:
    parts = name.split("/")
    if (
        name.startswith(("/", "\\"))
        or "\\" in name
        or "\x00" in name
        or re.match(r"[A-Za-z]:", name)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ArchiveError(f"{where}: entry {name!r} has an absolute, empty or '..' path")


def _check_header(reader: _Reader) -> None:
    for name, value in (
        (pt2.ARCHIVE_FORMAT_PATH, pt2.ARCHIVE_FORMAT_VALUE),
        (pt2.ARCHIVE_VERSION_PATH, pt2.ARCHIVE_VERSION_VALUE),
    ):
        if not reader.has(name):
            raise ArchiveError(
                f"{reader.where}: has no {name!r} entry: not a torch.export archive "
                "(or one saved before torch 2.8; save it again)"
            )
        found = reader.text(name)
        if found != value:
            raise reader.fail(name, f"is {found[:40]!r}; this torch reads {value!r}")


def _check_model(reader: _Reader, model: str) -> set[str]:
    """Checks one model's entries; returns the names they cover."""
    model_file = pt2.MODELS_FILENAME_FORMAT.format(model)
    check_expressions(reader.json(model_file), where=f"{reader.where}: entry {model_file!r}")
    inputs = pt2.SAMPLE_INPUTS_FILENAME_FORMAT.format(model)
    _check_sample_inputs(reader, inputs)
    weights = pt2.WEIGHTS_CONFIG_FILENAME_FORMAT.format(model)
    constants = pt2.CONSTANTS_CONFIG_FILENAME_FORMAT.format(model)
    covered = {model_file, inputs, weights, constants}
    covered |= _check_payload_config(reader, weights, pt2.WEIGHTS_DIR, pt2.WEIGHT_FILENAME_PREFIX)
    covered |= _check_payload_config(
        reader, constants, pt2.CONSTANTS_DIR, pt2.TENSOR_CONSTANT_FILENAME_PREFIX
    )
    return covered


def _check_sample_inputs(reader: _Reader, name: str) -> None:
    data = reader.read(name)
    if not data:
        return  # torch reads an empty entry as "no sample inputs" without unpickling
    try:
        # Torch's first attempt, on the same bytes: if it succeeds here it succeeds there, and
        # the weights_only=False retry never runs.
        loaded = torch.load(io.BytesIO(data), weights_only=True)
    except Exception as e:  # noqa: BLE001 - mirrors torch's own ``except Exception`` fallback
        # Whatever makes this attempt fail makes torch's fail, and torch then retries with
        # weights_only=False; so any failure at all refuses the file.
        raise reader.fail(
            name,
            "is not loadable with torch.load(weights_only=True); torch would unpickle it with "
            f"weights_only=False, which can run code: {_last_line(e)}",
        ) from e
    if not isinstance(loaded, tuple | dict):
        raise reader.fail(name, f"holds a {type(loaded).__name__}, not sample inputs")


def _check_payload_config(reader: _Reader, config_name: str, folder: str, prefix: str) -> set[str]:
    """Checks a weights or constants config: raw tensors only; returns the entries it names."""
    config = reader.json(config_name)
    payloads = config.get("config") if isinstance(config, dict) else None
    if not isinstance(payloads, dict):
        raise reader.fail(config_name, 'is not {"config": {...}}')
    covered = set()
    for fqn, meta in payloads.items():
        what = f"payload {fqn!r}"
        if not isinstance(meta, dict):
            raise reader.fail(config_name, f"{what} is not an object")
        if meta.get("use_pickle") is not False:
            raise reader.fail(
                config_name,
                f"{what} has use_pickle {meta.get('use_pickle')!r}: torch would unpickle it with "
                "weights_only=False, which can run code (only raw tensors are loaded)",
            )
        path_name = meta.get("path_name")
        if not isinstance(path_name, str) or not _PLAIN_NAME.fullmatch(path_name):
            raise reader.fail(config_name, f"{what} has path_name {path_name!r}, not a plain name")
        if not path_name.startswith(prefix):
            raise reader.fail(
                config_name,
                f"{what} is {path_name!r}, not a raw tensor ({prefix}*): custom and opaque "
                "objects are unpickled, which can run code",
            )
        if not isinstance(meta.get("tensor_meta"), dict):
            raise reader.fail(config_name, f"{what} has no tensor_meta")
        covered.add(folder + path_name)
    return covered


def parse_json(text: str, *, where: str) -> Any:
    """Parses JSON with bounded nesting and integers no wider than int64.

    Args:
        text: the JSON.
        where: what the text is, for error messages ("file: entry 'x'").

    Raises:
        ArchiveError: the text is not JSON, nests deeper than `MAX_JSON_DEPTH`, or holds an
            integer of more than `MAX_INT_DIGITS` digits.
    """
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ArchiveError(f"{where}: JSON nests {depth} deep, more than {MAX_JSON_DEPTH}")
    try:
        return json.loads(text, parse_int=_bounded_int)
    except (ValueError, RecursionError) as e:
        raise ArchiveError(f"{where}: is not valid JSON: {e}") from e


def json_depth(text: str) -> int:
    """The deepest bracket nesting in JSON text, strings skipped (checked before parsing, as
    the parser and torch's dataclass conversion recurse once per level)."""
    depth = deepest = 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer {literal[:24]}... has more than {MAX_INT_DIGITS} digits")
    return int(literal)


def check_expressions(tree: Any, *, where: str) -> None:
    """Checks every symbolic expression (``expr_str``) in a serialized program.

    Torch parses them with ``sympy.sympify``, which evaluates Python: only numbers, size
    symbols (``s0``, ``u3``), quoted symbol names, the names in `_EXPRESSION_NAMES` and
    arithmetic pass.

    Raises:
        ArchiveError: an expression holds anything else (names it).
    """
    for expression in _expression_strings(tree):
        reason = expression_refusal(expression)
        if reason is not None:
            raise ArchiveError(f"{where}: symbolic expression {expression[:80]!r} {reason}")


def _expression_strings(tree: Any) -> Iterator[Any]:
    # Iterative: depth is bounded already, but a stack keeps this independent of it.
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr_str":
                    yield value
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)


def expression_refusal(expression: Any) -> str | None:
    """Why a symbolic expression string is refused, or None when it is plain arithmetic."""
    if not isinstance(expression, str):
        return "is not a string"
    if len(expression) > MAX_EXPRESSION_CHARS:
        return f"is longer than {MAX_EXPRESSION_CHARS} characters"
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(expression).readline))
    except (tokenize.TokenError, SyntaxError, ValueError) as e:
        return f"does not tokenize: {e}"
    for token in tokens:
        reason = _token_refusal(token)
        if reason is not None:
            return reason
    return None


def _token_refusal(token: tokenize.TokenInfo) -> str | None:
    kind, text = token.type, token.string
    if kind in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
        return None
    if kind == tokenize.NUMBER:
        if len(text) > MAX_INT_DIGITS + 2 or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
            return f"has number {text[:24]!r}: only short decimal literals are allowed"
        return None
    if kind == tokenize.NAME:
        if text in _EXPRESSION_NAMES or (
            _SIZE_SYMBOL.fullmatch(text) and not keyword.iskeyword(text)
        ):
            return None
        return f"names {text!r}, not a size symbol or a known sympy function"
    if kind == tokenize.STRING:
        if _EXPRESSION_STRING.fullmatch(text):
            return None
        return f"has string {text[:24]!r}: only symbol names and decimal digits are allowed"
    if kind == tokenize.OP and text in _EXPRESSION_OPERATORS:
        return None
    return f"has {text!r}: sympy would evaluate it as Python"


def _check_targets(program: torch.export.ExportedProgram, where: str) -> None:
    """Every call_function node must call an operator, not ``torch.<any callable>``."""
    for module in program.graph_module.modules():
        if not isinstance(module, torch.fx.GraphModule):
            continue
        for node in module.graph.nodes:
            if node.op in ("call_module", "call_method"):
                raise ArchiveError(
                    f"{where}: node {node.name!r} is a {node.op}; export never writes one"
                )
            if node.op != "call_function" or _is_allowed_target(node.target):
                continue
            raise ArchiveError(
                f"{where}: node {node.name!r} calls {node.target!r}, not an operator: refused "
                "(the program would call it when run)"
            )


def _is_allowed_target(target: object) -> bool:
    if isinstance(target, torch._ops.OpOverload | torch._ops.HigherOrderOperator):
        return True
    try:
        return target in _PYTHON_TARGETS
    except TypeError:  # an unhashable target is no function of ours
        return False


def file_sha256(data: bytes) -> str:
    """The hex sha256 of bytes (the digest `load_program` checks)."""
    return hashlib.sha256(data).hexdigest()
