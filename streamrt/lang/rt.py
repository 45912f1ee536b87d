"""Runtime support for compiled scripts: the few helpers generated code calls besides the core library.

Kept tiny and separate so the names a compiled script can reach are easy to audit: see :func:`support_names`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import CodeType, TracebackType
from typing import Any, Final

from streamrt.errors import Pos, ScriptError, ScriptRuntimeError, ValueLimitError
from streamrt.printer import pr_str
from streamrt.values import Keyword, LList, LSet, Symbol, checked_key, type_name

__all__ = [
    "NOTHING",
    "Recur",
    "case_fail",
    "demangle",
    "destructure_get",
    "destructure_nth",
    "destructure_rest",
    "lookup_target",
    "mangle",
    "runtime_error",
    "support_names",
]

_PY_TYPES = {
    "int": "integer",
    "float": "float",
    "str": "string",
    "NoneType": "nil",
    "bool": "boolean",
    "tuple": "vector",
    "dict": "map",
    "Keyword": "keyword",
    "LList": "list",
    "LSet": "set",
    "Symbol": "symbol",
}


def mangle(name: str) -> str:
    """An injective map from any symbol name to ``[A-Za-z0-9_]+``: ``count-chunks`` -> ``count_2d_chunks``."""
    out = []
    for ch in name:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        else:
            out.append(f"_{ord(ch):x}_")
    return "".join(out)


_DEMANGLE = re.compile(r"_([0-9a-f]+)_")
_PREFIX = re.compile(r"(?:g|c|l[0-9]+)_(.*)\Z")


def demangle(pyname: str) -> str:
    """Undo :func:`mangle` on a generated name (``g_count_2d_chunks`` -> ``count-chunks``)."""
    m = _PREFIX.match(pyname)
    body = m.group(1) if m else pyname
    return _DEMANGLE.sub(lambda m: chr(int(m.group(1), 16)), body)


def destructure_nth(value: Any, i: int) -> Any:
    """Element ``i`` for vector destructuring: nil past the end or on nil (Clojure)."""
    if value is None:
        return None
    if isinstance(value, tuple | list | str):
        return value[i] if i < len(value) else None
    raise ScriptRuntimeError(f"cannot destructure {type_name(value)} {pr_str(value)[:60]} as a vector")


def destructure_rest(value: Any, i: int) -> Any:
    """The rest after ``i`` for ``&`` in vector destructuring: nil when empty."""
    if value is None:
        return None
    if isinstance(value, tuple | list | str):
        rest = tuple(value[i:])
        return rest or None
    raise ScriptRuntimeError(f"cannot destructure {type_name(value)} {pr_str(value)[:60]} as a vector")


def destructure_get(value: Any, key: Any, default: Any) -> Any:
    """Key lookup for map destructuring of something that is not a plain dict."""
    if value is None:
        return default
    if isinstance(value, Mapping):
        return value.get(key, default)
    raise ScriptRuntimeError(f"cannot destructure {type_name(value)} {pr_str(value)[:60]} as a map")


class Recur(tuple[Any, ...]):
    """The values of a ``recur``, on their way back to the top of its loop (:mod:`streamrt.lang.control`)."""

    __slots__ = ()


def case_fail(value: Any) -> Any:
    """A ``case`` without a default found no clause for ``value``."""
    shown = "nil" if value is None else f"{type_name(value)} {pr_str(value)[:60]}"
    raise ScriptRuntimeError(f"case: no clause matches {shown}")


def _script_position(exc: BaseException, filename: str) -> Pos | None:
    """The innermost place in the script's own code that the traceback passes through."""
    found: tuple[CodeType, int, int] | None = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == filename:
            found = (code, tb.tb_lasti, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return None
    code, lasti, lineno = found
    col = 0
    for i, position in enumerate(code.co_positions()):
        if i == lasti // 2:
            if position[0] is not None:
                lineno = position[0]
            col = position[2] or 0
            break
    return Pos(filename, lineno, col + 1)


_EMPTY: dict[Any, Any] = {}

NOTHING: Final = object()
"""What no value is: an inline fast path's test ``(t := x) is not _nothing`` evaluates ``x`` and always holds."""


def keyword_lookup_error(value: Any) -> ScriptRuntimeError:
    """The error for a keyword looked up in ``value``, which is neither a map nor nil nor false."""
    return ScriptRuntimeError(f"cannot look up a keyword in {_a(type_name(value))}: expected a map or nil")


def lookup_target(value: Any) -> Any:
    """What a compiled ``(:k value)`` calls ``.get`` on when ``value`` is falsy in Python (see ``lookup_expr``).

    The fast path is ``(value or lookup_target(value)).get(k, d)``, so a non-empty map never gets here. nil, false
    and empty collections (map, vector, list, string) have no keys: they look up in an empty map. A number is an
    error even when it is ``0`` or ``0.0``, as ``(get 0 :k)`` is.
    """
    if value is None or value is False or isinstance(value, Mapping | str | tuple | LSet):
        return _EMPTY
    raise keyword_lookup_error(value)


_NOT_CALLABLE = re.compile(r"'(\w+)' object is not callable")
_ARGS = re.compile(r"\A([^\s()]+)\(\) (takes|missing) (.*)")
_PARAM = re.compile(r"'(\w+)'")


def _a(kind: str) -> str:
    """``kind`` with its indefinite article: "an integer", "a map"."""
    if kind == "nil":
        return kind
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


def _fn_name(qualname: str) -> str:
    """The language name of a compiled function from its ``__qualname__`` (``g_f.<locals>.<lambda>`` -> ``fn``)."""
    last = qualname.rpartition("<locals>.")[2]
    if last == "<lambda>":
        return "fn"
    return demangle(last) if _PREFIX.match(last) else last


def _param_name(m: re.Match[str]) -> str:
    pyname = m.group(1)
    return f"'{demangle(pyname)}'" if _PREFIX.match(pyname) else "a destructured parameter"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "recursion too deep (a function calls itself without end?)"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, TypeError):
        text = str(exc)
        m = _NOT_CALLABLE.search(text)
        if m:
            return f"cannot call {_a(_PY_TYPES.get(m.group(1), m.group(1)))}: it is not a function"
        m = _ARGS.search(text)
        if m:
            detail = _PARAM.sub(_param_name, m.group(3).replace("positional argument", "argument"))
            return f"wrong number of arguments to {_fn_name(m.group(1))}: {m.group(2)} {detail}"
        if "unhashable type" in text:
            kind = text.rsplit(":", 1)[-1].strip().strip("'")
            return f"a {_PY_TYPES.get(kind, kind)} cannot be used as a map key or set member"
        return text
    if isinstance(exc, AttributeError) and exc.name == "get":
        # a compiled keyword lookup reached a truthy value without .get; exc.obj is that value (Python >= 3.10)
        return keyword_lookup_error(exc.obj).message
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, ValueLimitError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def runtime_error(exc: BaseException, filename: str, lines: Sequence[str]) -> BaseException:
    """Turn any exception escaping compiled code into a :class:`ScriptRuntimeError` located in the script."""
    if isinstance(exc, ScriptError) and exc.pos is not None:
        return exc
    if not isinstance(exc, Exception):
        return exc
    pos = _script_position(exc, filename)
    message = exc.message if isinstance(exc, ScriptError) else _describe(exc)
    src = lines[pos.line - 1] if pos is not None and 0 < pos.line <= len(lines) else None
    err = ScriptRuntimeError(message, pos, src)
    err.__cause__ = exc
    return err


def support_names() -> dict[str, Any]:
    """The non-core names generated code refers to (all start with ``_`` so no user symbol can reach them)."""
    return {
        "_type": type,
        "_dict": dict,
        "_int": int,
        "_bool": bool,
        "_float": float,
        "_str": str,
        "_len": len,
        "_nothing": NOTHING,
        "_tuple": tuple,
        "_Exception": Exception,
        "_E": _EMPTY,
        "_lookup_target": lookup_target,
        "_LList": LList,
        "_LSet": LSet,
        "_key": checked_key,
        "_Symbol": Symbol,
        "_Keyword": Keyword,
        "_d_nth": destructure_nth,
        "_d_rest": destructure_rest,
        "_d_get": destructure_get,
        "_Recur": Recur,
        "_case_fail": case_fail,
    }
