"""Higher-order functions: the ones that take a function (or a keyword, which looks itself up) and apply it.

Truthiness is the language's: only nil and false are falsy, so ``(filter identity [0 "" []])`` keeps all three.
A user function called with the wrong number of arguments raises Python's ``TypeError``; it is let through
unchanged, because the compiled caller turns it into a script error at the right line.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce as _reduce
from itertools import chain
from typing import Any

from streamrt.lang.core.coerce import MISSING, fn_arg, items_of, key_error
from streamrt.lang.core.registry import core
from streamrt.lang.meter import WATCH, built, spend
from streamrt.values import LList, checked_key

__all__ = [
    "apply_",
    "comp",
    "every",
    "filter_",
    "frequencies",
    "group_by",
    "identity",
    "keep",
    "map_",
    "mapcat",
    "partial",
    "reduce_",
    "remove",
    "some",
]


def _walked(fname: str, coll: Any) -> tuple[Any, ...]:
    """The items of ``coll``, charged as fuel when there are many (see :mod:`streamrt.lang.meter`)."""
    items = items_of(fname, coll)
    if len(items) > WATCH:
        spend(len(items))
    return items


@core("map")
def map_(f: Any, coll: Any, *colls: Any) -> tuple[Any, ...]:
    """``(f item)`` for each item; with several collections ``(f a b ...)`` pairwise, stopping at the shortest."""
    return _map("map", f, coll, colls)


def _map(fname: str, f: Any, coll: Any, colls: tuple[Any, ...]) -> tuple[Any, ...]:
    f = fn_arg(fname, f)
    if not colls:
        items = items_of(fname, coll)
        if len(items) > WATCH:
            spend(len(items))
        return tuple(map(f, items))
    return tuple(map(f, items_of(fname, coll), *(items_of(fname, c) for c in colls)))


@core("filter")
def filter_(pred: Any, coll: Any) -> tuple[Any, ...]:
    """The items for which ``(pred item)`` is truthy (anything but nil and false)."""
    pred = fn_arg("filter", pred)
    return tuple([x for x in _walked("filter", coll) if (r := pred(x)) is not None and r is not False])


@core("remove")
def remove(pred: Any, coll: Any) -> tuple[Any, ...]:
    """The items for which ``(pred item)`` is nil or false."""
    pred = fn_arg("remove", pred)
    return tuple([x for x in _walked("remove", coll) if (r := pred(x)) is None or r is False])


@core("keep")
def keep(f: Any, coll: Any) -> tuple[Any, ...]:
    """The results of ``(f item)`` that are not nil (false is kept, as in Clojure)."""
    f = fn_arg("keep", f)
    return tuple([r for x in _walked("keep", coll) if (r := f(x)) is not None])


@core("mapcat")
def mapcat(f: Any, coll: Any, *colls: Any) -> tuple[Any, ...]:
    """``map``, then ``concat`` of the results (each result must be a collection)."""
    results = [items_of("mapcat", r) for r in _map("mapcat", f, coll, colls)]
    n = sum(map(len, results))
    if n > WATCH:
        built(n, "mapcat")
    return tuple(chain.from_iterable(results))


@core("reduce")
def reduce_(f: Any, a: Any, b: Any = MISSING) -> Any:
    """``(reduce f coll)`` or ``(reduce f init coll)``: fold ``f`` over the items from the left.

    Clojure's rules for short collections: without ``init``, an empty collection gives ``(f)`` and a single item
    gives that item without calling ``f``; with ``init``, an empty collection gives ``init``.
    """
    f = fn_arg("reduce", f)
    if b is not MISSING:
        return _reduce(f, _walked("reduce", b), a)
    items = _walked("reduce", a)
    if not items:
        return f()
    return _reduce(f, items)


@core("some")
def some(pred: Any, coll: Any) -> Any:
    """The first truthy ``(pred item)``, or nil (not the item: ``(some :id maps)`` gives the first id)."""
    pred = fn_arg("some", pred)
    for x in _walked("some", coll):
        r = pred(x)
        if r is not None and r is not False:
            return r
    return None


@core("every?", returns_bool=True)
def every(pred: Any, coll: Any) -> bool:
    """True when ``(pred item)`` is truthy for every item (and for an empty collection)."""
    pred = fn_arg("every?", pred)
    for x in _walked("every?", coll):
        r = pred(x)
        if r is None or r is False:
            return False
    return True


@core("group-by")
def group_by(f: Any, coll: Any) -> dict[Any, tuple[Any, ...]]:
    """A map from each ``(f item)`` to the vector of items that gave it, in order."""
    f = fn_arg("group-by", f)
    groups: dict[Any, list[Any]] = {}
    for x in _walked("group-by", coll):
        k = checked_key(f(x))
        try:
            group = groups.get(k)
        except TypeError:
            key_error("group-by", k)
        if group is None:
            groups[k] = [x]
        else:
            group.append(x)
    return {k: tuple(v) for k, v in groups.items()}


@core("frequencies")
def frequencies(coll: Any) -> dict[Any, int]:
    """A map from each distinct item to the number of times it occurs."""
    counts: dict[Any, int] = {}
    for x in _walked("frequencies", coll):
        if type(x) is tuple or type(x) is LList:
            checked_key(x)
        try:
            counts[x] = counts.get(x, 0) + 1
        except TypeError:
            key_error("frequencies", x)
    return counts


@core("apply")
def apply_(f: Any, a: Any, *more: Any) -> Any:
    """``(apply f x y coll)`` calls ``f`` with ``x``, ``y`` and then the items of ``coll`` as arguments."""
    f = fn_arg("apply", f)
    if not more:
        return f(*items_of("apply", a))
    return f(a, *more[:-1], *items_of("apply", more[-1]))


@core("identity")
def identity(x: Any) -> Any:
    """Its argument, unchanged (handy as a predicate or key function)."""
    return x


@core("comp")
def comp(*fs: Any) -> Callable[..., Any]:
    """The composition of functions, applied right to left: ``((comp f g) x)`` is ``(f (g x))``."""
    funcs = [fn_arg("comp", f) for f in fs]
    if not funcs:
        return identity
    if len(funcs) == 1:
        return funcs[0]
    innermost, *outer = reversed(funcs)

    def composed(*args: Any) -> Any:
        r = innermost(*args)
        for g in outer:
            r = g(r)
        return r

    composed.__name__ = "comp"
    return composed


@core("partial")
def partial(f: Any, *args: Any) -> Callable[..., Any]:
    """``f`` with its first arguments fixed: ``((partial + 1) 2)`` is 3."""
    f = fn_arg("partial", f)

    def partially(*more: Any) -> Any:
        return f(*args, *more)

    partially.__name__ = "partial"
    return partially
