"""What the runtime needs to know about the host's and the script's functions: arity, name, failure text."""

from __future__ import annotations

import inspect as _inspect
import weakref
from collections.abc import Callable
from typing import Any

from streamrt.errors import StreamrtError, UsageError
from streamrt.lang.script import Script

__all__ = ["failure_text", "is_script_function", "name_of", "result_shape", "takes_meta"]

_ABSENT: Any = object()

_ARITY: weakref.WeakKeyDictionary[Callable[..., Any], dict[tuple[int, int], bool]] = (
    weakref.WeakKeyDictionary()
)
"""takes_meta's answers per function object: ``inspect.signature`` is slow enough to dominate starting (or
resuming) many streams of one processor. Weak, so a script's functions go when the script does."""


def takes_meta(fn: Callable[..., Any], nargs: tuple[int, int] = (2, 3), what: str = "processor") -> bool:
    """Whether ``fn`` is called with the larger of ``nargs`` positional arguments (detected once, at start)."""
    try:
        known = _ARITY.setdefault(fn, {})
    except TypeError:  # not hashable or not weakly referenceable: ask every time
        return _takes_meta(fn, nargs, what)
    answer = known.get(nargs)
    if answer is None:
        answer = known[nargs] = _takes_meta(fn, nargs, what)
    return answer


def _takes_meta(fn: Callable[..., Any], nargs: tuple[int, int], what: str) -> bool:
    small, big = nargs
    try:
        sig = _inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    required = optional = 0
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                required += 1
            else:
                optional += 1
        elif p.kind is p.VAR_POSITIONAL:
            optional += big
    if required <= big <= required + optional:
        return True
    if required <= small <= required + optional:
        return False
    raise UsageError(f"{what} {name_of(fn)} must take {small} or {big} positional arguments{_sig_text(sig)}")


def _sig_text(sig: _inspect.Signature) -> str:
    return f", not {sig}"


_SHAPES: weakref.WeakKeyDictionary[Callable[..., Any], str | None] = weakref.WeakKeyDictionary()
"""result_shape's answers per function object (a stream start looks it up; many streams share a processor)."""


def result_shape(fn: Callable[..., Any]) -> str | None:
    """What every result of ``fn`` is, if its script's compiler could tell (``GlobalDef.result``), else None.

    ``"bare"``: a map with none of the result keys, so the result is the new state; ``"state"``: ``{:state x}``
    alone. Found through the function's namespace, which a script's ``defn`` (plain or metered variant) shares
    with the script's own ``_rt_call``; any other callable gets None, and the provider checks its results.
    """
    try:
        known = _SHAPES.get(fn, _ABSENT)
    except TypeError:  # not weakly referenceable: not a script's function
        return None
    if known is _ABSENT:
        known = _SHAPES[fn] = _result_shape(fn)
    return known  # type: ignore[no-any-return]


def _result_shape(fn: Callable[..., Any]) -> str | None:
    namespace = getattr(fn, "__globals__", None)
    code = getattr(fn, "__code__", None)
    if not isinstance(namespace, dict) or code is None:
        return None
    script = getattr(namespace.get("_rt_call"), "__self__", None)
    if not isinstance(script, Script):
        return None
    for gdef in script.compiled.globals.values():
        if gdef.pyname == code.co_name and namespace.get(gdef.pyname) is fn:
            return gdef.result
    return None


def is_script_function(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is a function a script defined (its namespace is the script's), not a host's Python."""
    namespace = getattr(fn, "__globals__", None)
    if not isinstance(namespace, dict):
        return False
    return isinstance(getattr(namespace.get("_rt_call"), "__self__", None), Script)


def name_of(fn: Any) -> str:
    """A function's name for messages and stream ids: a script's own name, else the qualified Python name."""
    name = getattr(fn, "__streamrt_name__", None) or getattr(fn, "__qualname__", None)
    return str(name) if name else repr(fn)


def failure_text(exc: BaseException) -> str:
    """A one-line message for a processor's exception: ours say what they mean; others need their type name."""
    if isinstance(exc, StreamrtError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
