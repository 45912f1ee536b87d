"""Printing language values as language text: :func:`pr_str` (``(str ...)``, the REPL, error messages) and
:func:`pr_short` (a bounded prefix for messages).

Printing follows the walking rules of :mod:`streamrt.values`: a collection nested deeper than
:data:`~streamrt.values.MAX_DEPTH` or past its item limit raises :class:`~streamrt.errors.ValueLimitError`. Small
values print by recursion (:data:`FAST_DEPTH`), the rest by an iterative walk that checks both bounds.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from typing import Any, Final

from streamrt.errors import ValueLimitError
from streamrt.values import (
    MAX_DEPTH,
    WALK_LIMIT,
    Keyword,
    LList,
    LSet,
    Symbol,
    print_collections_with,
    too_deep_error,
    too_large_error,
)

__all__ = ["FAST_DEPTH", "long_int_error", "pr_short", "pr_str"]


_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


_PLAIN: Final = re.compile(r'[^"\\\x00-\x1f\x7f]*').fullmatch
"""Text with nothing to escape (most strings): printed between quotes as it is, without a loop per character."""


def _pr_string(s: str) -> str:
    if _PLAIN(s) is not None:
        return '"' + s + '"'
    out = []
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def long_int_error() -> ValueLimitError:
    return ValueLimitError(
        f"an integer of more than {sys.get_int_max_str_digits():,} digits cannot be written as text or JSON "
        "(Python's limit: turning digits into text takes quadratic time)"
    )


def _pr_int(i: int) -> str:
    try:
        return repr(i)
    except ValueError:
        raise long_int_error() from None


def _pr_float(f: float) -> str:
    if math.isnan(f):
        return "##NaN"
    if math.isinf(f):
        return "##Inf" if f > 0 else "##-Inf"
    return repr(f)


def _pr_atom(value: Any, t: type, readably: bool) -> str:
    """A value that holds no other value, printed."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if t is str:
        return _pr_string(value) if readably else str(value)
    if t is int:
        return _pr_int(value)
    if t is float:
        return _pr_float(value)
    if t is Keyword:
        return ":" + str(value.qualified)
    if isinstance(value, Symbol):
        return value.name
    printer = getattr(t, "__streamrt_pr__", None)  # a value type of the language's own above this module
    if printer is not None:
        return printer(value)  # type: ignore[no-any-return]
    if callable(value):
        name = getattr(value, "__streamrt_name__", None) or getattr(value, "__name__", "fn")
        return f"#<fn {name}>"
    return f"#<{type(value).__name__}>"


class _Text(str):
    """A piece of punctuation on the printer's stack (a plain ``str`` there is a value still to print)."""

    __slots__ = ()


class _Close(_Text):
    """The closing bracket of a collection: printing it leaves one level."""

    __slots__ = ()


_SP: Final = _Text(" ")
_COMMA: Final = _Text(", ")
_BRACKETS: Final = {
    "vector": (_Text("["), _Close("]")),
    "list": (_Text("("), _Close(")")),
    "set": (_Text("#{"), _Close("}")),
    "map": (_Text("{"), _Close("}")),
}


def _kind(value: Any, t: type) -> str | None:
    if t is dict:
        return "map"
    if t is LList:
        return "list"
    if t is LSet:
        return "set"
    if t is tuple or isinstance(value, tuple | list):
        return "vector"
    if isinstance(value, Mapping):
        return "map"
    return None


def _print(value: Any, readably: bool, limit: int, width: int) -> str:
    """Print a collection without recursion, counting the items walked; stop once ``width`` characters are out."""
    out: list[str] = []
    emit = out.append
    written = 0
    walked = 0
    level = 0
    stack: list[Any] = [value]
    pop = stack.pop
    push = stack.append
    extend = stack.extend
    while stack:
        x = pop()
        t = type(x)
        if t is _Text:
            piece: str = x
        elif t is _Close:
            level -= 1
            piece = x
        elif t is str:
            piece = _pr_string(x) if readably else x
        elif t is int:
            piece = _pr_int(x)
        elif t is Keyword:
            piece = ":" + x.qualified
        else:
            kind = _kind(x, t)
            if kind is None:
                piece = _pr_atom(x, t, readably)
            else:
                if level >= MAX_DEPTH:
                    raise too_deep_error()
                level += 1
                n = len(x)
                walked += n
                if walked > limit:
                    raise too_large_error(limit)
                opening, closing = _BRACKETS[kind]
                push(closing)
                if n:
                    if kind == "map":
                        # pushed in reverse: value, " ", key, ", ", value, " ", key, ...
                        parts: list[Any] = [_COMMA] * (4 * n - 1)
                        entries = list(x.items())[::-1]
                        parts[0::4] = [v for _, v in entries]
                        parts[1::4] = [_SP] * n
                        parts[2::4] = [k for k, _ in entries]
                    else:
                        parts = [_SP] * (2 * n - 1)
                        parts[0::2] = list(x)[::-1]
                    extend(parts)
                piece = opening
        emit(piece)
        if width:
            written += len(piece)
            if written > width:
                return "".join(out)
    return "".join(out)


FAST_DEPTH: Final = 32
"""How deep the printers' recursive fast path goes. Most values are small and shallow, and for them a recursive
printer is about twice as fast as the iterative walk; at this depth (far from Python's stack limit) or past the
walk's item limit the fast path gives up and the iterative walk prints the value from the start, with its checks."""


class _GiveUp(Exception):
    """A fast path met a value it leaves to the iterative walk: deeper than :data:`FAST_DEPTH`, or too large."""


def _pr_fast(x: Any, kind: str, readably: bool, level: int, budget: list[int]) -> str:
    """Print a collection by recursion, at most :data:`FAST_DEPTH` deep and ``budget[0]`` items walked."""
    if level >= FAST_DEPTH:
        raise _GiveUp
    budget[0] -= len(x)
    if budget[0] < 0:
        raise _GiveUp
    level += 1
    parts: list[str] = []
    emit = parts.append
    for item in x.items() if kind == "map" else x:
        for v in item if kind == "map" else (item,):
            t = type(v)
            if t is str:
                emit(_pr_string(v) if readably else v)
            elif t is int:
                emit(_pr_int(v))
            elif t is Keyword:
                emit(":" + v.qualified)
            elif t is float:
                emit(_pr_float(v))
            else:
                inner = _kind(v, t)
                emit(
                    _pr_atom(v, t, readably) if inner is None else _pr_fast(v, inner, readably, level, budget)
                )
    opening, closing = _BRACKETS[kind]
    if kind == "map":
        return opening + ", ".join([f"{parts[i]} {parts[i + 1]}" for i in range(0, len(parts), 2)]) + closing
    return opening + " ".join(parts) + closing


def pr_str(value: Any, readably: bool = True, *, limit: int = WALK_LIMIT) -> str:
    """Print a value as language text; ``readably=False`` prints strings bare (as ``str`` does).

    A collection nested deeper than :data:`MAX_DEPTH` or past ``limit`` items raises
    :class:`~streamrt.errors.ValueLimitError`. Small values print by recursion (:data:`FAST_DEPTH`), others by a
    walk without recursion.
    """
    t = type(value)
    if t is str:
        return _pr_string(value) if readably else value
    kind = _kind(value, t)
    if kind is None:
        return _pr_atom(value, t, readably)
    try:
        return _pr_fast(value, kind, readably, 0, [limit])
    except _GiveUp:
        return _print(value, readably, limit, 0)


def pr_short(value: Any, width: int = 60) -> str:
    """At most ``width`` characters of ``pr_str(value)`` (ending in ``...`` when cut), for messages: printing stops
    there, so a huge or self-sharing value costs no more than its first ``width`` characters."""
    t = type(value)
    try:
        if _kind(value, t) is None:
            text = _pr_string(value) if t is str else _pr_atom(value, t, True)
        else:
            text = _print(value, True, WALK_LIMIT, width)
    except ValueLimitError:
        return "#<value too large to print>"
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


print_collections_with(pr_str)
