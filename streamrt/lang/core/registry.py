"""The core-function registry the compiler reads, and the one way core functions report a user's mistake.

Each implementation is a plain Python function registered with :func:`core`. Its arity is read from its Python
signature when it is registered, so the compiler's arity table (used to reject ``(inc 1 2)`` before the script
runs) can never drift from the code.

Namespaces. Functions of Clojure's ``clojure.string`` and ``clojure.set`` that ``clojure.core`` lacks are registered
under their qualified names (``clojure.string/blank?``); :func:`core_name` also accepts the usual aliases
(``str/blank?``, ``string/blank?``, ``set/union``), ``clojure.core/inc`` for ``inc``, and the qualified names of
the string functions the language has always had unqualified (``str/join`` is ``join``), see :func:`alias`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeVar

import msgspec

from streamrt.errors import ScriptRuntimeError

__all__ = [
    "CORE",
    "NAMESPACES",
    "CoreFn",
    "alias",
    "core",
    "core_name",
    "display_name",
    "fail",
    "script_names",
]

F = TypeVar("F", bound=Callable[..., Any])


class CoreFn(msgspec.Struct, frozen=True):
    """One core function as the compiler sees it."""

    name: str
    fn: Callable[..., Any]
    min_args: int
    max_args: int | None
    doc: str
    returns_bool: bool


CORE: dict[str, CoreFn] = {}
"""Language name -> :class:`CoreFn`; filled as the ``streamrt.lang.core`` submodules are imported."""


NAMESPACES: dict[str, str] = {
    "str": "clojure.string",
    "string": "clojure.string",
    "set": "clojure.set",
}
"""Namespace aliases a script may use without declaring them, as Clojure code conventionally requires them."""

_ALIASES: dict[str, str] = {}
"""Qualified name -> the name a function is registered under (``clojure.string/join`` -> ``join``)."""


def alias(qualified: str, registered: str) -> None:
    """Let ``qualified`` (``clojure.string/join``) name the core function registered as ``registered``."""
    if registered not in CORE:
        raise ValueError(f"alias {qualified} names no core function {registered}")
    _ALIASES[qualified] = registered


def core_name(name: str) -> str | None:
    """The registered name a symbol means (``str/join`` -> ``join``, ``clojure.core/inc`` -> ``inc``), or None."""
    if name in CORE:
        return name
    ns, sep, local = name.rpartition("/")
    if not sep or not ns or not local:
        return None
    ns = NAMESPACES.get(ns, ns)
    full = local if ns == "clojure.core" else f"{ns}/{local}"
    full = _ALIASES.get(full, full)
    return full if full in CORE else None


def display_name(name: str) -> str:
    """How scripts usually write a registered name: ``str/blank?`` for ``clojure.string/blank?``."""
    ns, sep, local = name.rpartition("/")
    if sep and ns:
        short = next((alias for alias, full in NAMESPACES.items() if full == ns), None)
        if short is not None:
            return f"{short}/{local}"
    return name


def script_names() -> list[str]:
    """Every name a script can call a core function by, as scripts usually write it (``str/join`` too)."""
    return sorted({display_name(n) for n in CORE} | {display_name(n) for n in _ALIASES})


def fail(message: str) -> NoReturn:
    """Raise a :class:`ScriptRuntimeError` without a position: the compiled caller knows the script line."""
    raise ScriptRuntimeError(message)


_CO_VARARGS: Final = 0x04
"""``inspect.CO_VARARGS``: the code flag of a ``*args`` parameter."""


def _arity(fn: Callable[..., Any]) -> tuple[int, int | None]:
    """(min, max) positional arguments of ``fn``; max is None when it takes ``*args``.

    A plain function's are read off its code object: ``inspect.signature`` took 40 us a function, 8 ms for the
    201 registered at import (issue #17); anything else (a wrapper, a given ``__signature__``) is asked through it.
    """
    code = getattr(fn, "__code__", None)
    if code is None or hasattr(fn, "__wrapped__") or hasattr(fn, "__signature__"):
        return _arity_by_signature(fn)
    positional: int = code.co_argcount
    keyword_defaults = fn.__kwdefaults__ or {}
    for name in code.co_varnames[positional : positional + code.co_kwonlyargcount]:
        if name not in keyword_defaults:
            raise TypeError(f"core function {fn.__name__} has a required keyword-only parameter {name}")
    min_args = positional - len(fn.__defaults__ or ())
    return min_args, None if code.co_flags & _CO_VARARGS else positional


def _arity_by_signature(fn: Callable[..., Any]) -> tuple[int, int | None]:
    import inspect  # for callables other than plain functions only: a start imports no inspect for it

    min_args = 0
    max_args: int | None = 0
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                min_args += 1
            if max_args is not None:
                max_args += 1
        elif p.kind is p.VAR_POSITIONAL:
            max_args = None
        elif p.default is p.empty:
            raise TypeError(f"core function {fn.__name__} has a required keyword-only parameter {p.name}")
    return min_args, max_args


def core(name: str, *, returns_bool: bool = False) -> Callable[[F], F]:
    """Register the decorated function as the core function ``name``; the first docstring line is its doc."""

    def register(fn: F) -> F:
        if name in CORE:
            raise ValueError(f"core function {name} registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()
        if not doc:
            raise TypeError(f"core function {name} needs a docstring")
        min_args, max_args = _arity(fn)
        CORE[name] = CoreFn(name, fn, min_args, max_args, doc[0], returns_bool)
        fn.__streamrt_name__ = name  # type: ignore[attr-defined]
        return fn

    return register
