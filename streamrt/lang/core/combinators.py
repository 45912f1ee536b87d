"""Functions that make functions (``constantly fnil juxt some-fn every-pred complement``) and pick by a key.

The functions returned are plain Python callables taking any number of arguments, named after the function that
made them, so they print as ``#<fn juxt>`` and a failure inside names the function that really failed (``inc: ...``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamrt.lang.core.coerce import describe, fn_arg
from streamrt.lang.core.functions import _walked
from streamrt.lang.core.registry import core, fail

__all__ = [
    "complement",
    "constantly",
    "every_pred",
    "fnil",
    "juxt",
    "max_key",
    "min_key",
    "not_any",
    "not_every",
    "some_fn",
]


def _truthy(x: Any) -> bool:
    return x is not None and x is not False


def _named(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    fn.__name__ = fn.__qualname__ = name
    return fn


@core("constantly")
def constantly(x: Any) -> Callable[..., Any]:
    """A function that takes any arguments and always returns ``x``."""

    def constant(*args: Any) -> Any:
        return x

    return _named(constant, "constantly")


@core("complement")
def complement(f: Any) -> Callable[..., Any]:
    """A function returning true where ``f`` returns nil or false, and false otherwise."""
    f = fn_arg("complement", f)

    def opposite(*args: Any) -> bool:
        return not _truthy(f(*args))

    return _named(opposite, "complement")


@core("fnil")
def fnil(f: Any, x: Any, *defaults: Any) -> Callable[..., Any]:
    """``f`` with a nil first (second, third) argument replaced by ``x`` (and the further defaults, up to three).

    ``(update m :n (fnil inc 0))`` counts from 0 when ``:n`` is missing.
    """
    f = fn_arg("fnil", f)
    if len(defaults) > 2:
        fail(f"fnil: takes at most three defaults, got {1 + len(defaults)}")
    fills = (x, *defaults)

    def patched(*args: Any) -> Any:
        if not args:
            return f()
        head = [fills[i] if i < len(fills) and a is None else a for i, a in enumerate(args[: len(fills)])]
        return f(*head, *args[len(fills) :])

    return _named(patched, "fnil")


@core("juxt")
def juxt(f: Any, *fs: Any) -> Callable[..., tuple[Any, ...]]:
    """A function returning the vector of every function's result: ``((juxt :a :b) m)`` is ``[(:a m) (:b m)]``."""
    funcs = [fn_arg("juxt", g) for g in (f, *fs)]

    def together(*args: Any) -> tuple[Any, ...]:
        return tuple([g(*args) for g in funcs])

    return _named(together, "juxt")


@core("some-fn")
def some_fn(p: Any, *ps: Any) -> Callable[..., Any]:
    """A function returning the first truthy ``(pred arg)`` over every predicate and argument, else the last
    (falsy) result: ``((some-fn even? neg?) 3 -1)`` is true."""
    preds = [fn_arg("some-fn", q) for q in (p, *ps)]

    def any_of(*args: Any) -> Any:
        result: Any = None
        for a in args:
            for q in preds:
                result = q(a)
                if _truthy(result):
                    return result
        return result

    return _named(any_of, "some-fn")


@core("every-pred")
def every_pred(p: Any, *ps: Any) -> Callable[..., bool]:
    """A function returning true when every predicate is truthy for every argument (true for no arguments)."""
    preds = [fn_arg("every-pred", q) for q in (p, *ps)]

    def all_of(*args: Any) -> bool:
        return all(_truthy(q(a)) for a in args for q in preds)

    return _named(all_of, "every-pred")


@core("not-any?", returns_bool=True)
def not_any(pred: Any, coll: Any) -> bool:
    """True when ``(pred item)`` is nil or false for every item."""
    pred = fn_arg("not-any?", pred)
    return not any(_truthy(pred(x)) for x in _walked("not-any?", coll))


@core("not-every?", returns_bool=True)
def not_every(pred: Any, coll: Any) -> bool:
    """True when ``(pred item)`` is nil or false for at least one item."""
    pred = fn_arg("not-every?", pred)
    return not all(_truthy(pred(x)) for x in _walked("not-every?", coll))


def _by_key(fname: str, k: Any, x: Any, more: tuple[Any, ...], better: Callable[[Any, Any], bool]) -> Any:
    keyfn = fn_arg(fname, k)
    if not more:
        return x
    best, best_key = x, _number_key(fname, keyfn(x), x)
    for y in more:
        key = _number_key(fname, keyfn(y), y)
        if not better(best_key, key):  # ties go to the later argument, as in Clojure
            best, best_key = y, key
    return best


def _number_key(fname: str, key: Any, item: Any) -> Any:
    if type(key) is int or type(key) is float:
        return key
    fail(f"{fname}: the key function must return a number; for {describe(item)} it returned {describe(key)}")


@core("max-key")
def max_key(k: Any, x: Any, *more: Any) -> Any:
    """The argument for which ``(k arg)``, a number, is greatest (the last of equals)."""
    return _by_key("max-key", k, x, more, lambda best, key: best > key)


@core("min-key")
def min_key(k: Any, x: Any, *more: Any) -> Any:
    """The argument for which ``(k arg)``, a number, is least (the last of equals)."""
    return _by_key("min-key", k, x, more, lambda best, key: best < key)
