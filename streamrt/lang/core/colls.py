"""Sequence functions: counting, taking apart and building vectors and lists.

Results are tuples (vectors), computed eagerly: there are no lazy or infinite sequences, so ``range`` needs an end.
Any collection is accepted where a sequence is read: nil is empty, a map gives its ``[k v]`` pairs and a string its
1-character strings. Lists (``LList``) keep Clojure's one list-specific rule: ``conj`` and ``into`` add at the front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Sized
from itertools import chain
from typing import Any

from streamrt.lang.core.coerce import MISSING, expected, int_arg, items_of, key_error
from streamrt.lang.core.equality import hash_key
from streamrt.lang.core.registry import core, fail
from streamrt.lang.core.sets import make_set
from streamrt.lang.meter import WATCH, built
from streamrt.values import LList, LSet, checked_key

__all__ = [
    "concat",
    "conj",
    "cons",
    "count",
    "distinct",
    "drop",
    "empty",
    "first",
    "into",
    "last",
    "list_",
    "nth",
    "partition",
    "range_",
    "rest",
    "reverse",
    "second",
    "seq",
    "take",
    "vec",
    "vector",
]


def _vector(items: tuple[Any, ...]) -> tuple[Any, ...]:
    """``items`` as a plain tuple (a list value becomes a vector)."""
    return items if type(items) is tuple else tuple(items)


@core("count")
def count(coll: Any) -> int:
    """Number of items in a collection, entries in a map or characters in a string; ``(count nil)`` is 0."""
    t = type(coll)
    if t is tuple or t is dict or t is str or t is LList:
        return len(coll)
    if coll is None:
        return 0
    if isinstance(coll, Sized):
        return len(coll)
    expected("count", "a collection or string", coll)


@core("empty?", returns_bool=True)
def empty(coll: Any) -> bool:
    """True for nil and for an empty collection or string."""
    t = type(coll)
    if t is tuple or t is dict or t is str or t is LList or isinstance(coll, Sized):
        return not coll
    if coll is None:
        return True
    expected("empty?", "a collection or string", coll)


@core("seq")
def seq(coll: Any) -> tuple[Any, ...] | None:
    """nil for nil or an empty collection, else its items as a vector: ``(if (seq xs) ...)`` tests non-emptiness."""
    items = items_of("seq", coll)
    return _vector(items) if items else None


@core("first")
def first(coll: Any) -> Any:
    """The first item, or nil when empty or nil."""
    t = type(coll)
    if t is tuple or t is LList or t is str:
        return coll[0] if coll else None
    if coll is None:
        return None
    if t is dict:
        return next(iter(coll.items()), None)
    items = items_of("first", coll)
    return items[0] if items else None


@core("second")
def second(coll: Any) -> Any:
    """The second item, or nil."""
    items = coll if type(coll) is tuple else items_of("second", coll)
    return items[1] if len(items) > 1 else None


@core("last")
def last(coll: Any) -> Any:
    """The last item, or nil when empty or nil."""
    items = coll if type(coll) is tuple else items_of("last", coll)
    return items[-1] if items else None


@core("rest")
def rest(coll: Any) -> tuple[Any, ...]:
    """All but the first item, as a vector; ``(rest nil)`` and ``(rest [])`` are ``[]``."""
    return items_of("rest", coll)[1:]


@core("nth")
def nth(coll: Any, index: Any, default: Any = MISSING) -> Any:
    """The item at ``index`` of a vector, list or string; out of range is an error unless a default is given.

    ``(nth nil i)`` is nil (or the default).
    """
    i = int_arg("nth", index, "an integer index")
    t = type(coll)
    if t is tuple or t is LList or t is str or (isinstance(coll, Sequence) and not isinstance(coll, Mapping)):
        if 0 <= i < len(coll):
            return coll[i]
        if default is MISSING:
            kind = "string of length" if t is str else ("list of count" if t is LList else "vector of count")
            fail(f"nth: index {i} out of bounds for a {kind} {len(coll)}")
        return default
    if coll is None:
        return None if default is MISSING else default
    expected("nth", "a vector, list or string", coll)


def _conj_map(fname: str, m: dict[Any, Any], xs: Sequence[Any]) -> dict[Any, Any]:
    r = m.copy()
    for x in xs:
        if (type(x) is tuple or type(x) is LList) and len(x) == 2:
            if type(x[0]) is tuple or type(x[0]) is LList:
                checked_key(x[0])
            try:
                r[x[0]] = x[1]
            except TypeError:
                key_error(fname, x[0])
        elif type(x) is dict or isinstance(x, Mapping):
            r.update(x)
        elif x is not None:
            expected(fname, "a [key value] pair or a map to add to a map", x)
    return r


def _conj(fname: str, coll: Any, xs: Sequence[Any]) -> Any:
    result = _conj_unchecked(fname, coll, xs)
    if len(result) > WATCH:
        built(len(result), fname)
    return result


def _conj_unchecked(fname: str, coll: Any, xs: Sequence[Any]) -> Any:
    t = type(coll)
    if t is tuple:
        return coll + _vector(tuple(xs))
    if coll is None:
        return _vector(tuple(xs))
    if t is dict:
        return _conj_map(fname, coll, xs)
    if t is LList:
        return LList((*reversed(xs), *coll))
    if t is LSet:
        return make_set(fname, (*coll, *xs))
    if isinstance(coll, Mapping):
        return _conj_map(fname, dict(coll), xs)
    expected(fname, "a vector, list, map or set", coll)


@core("conj")
def conj(coll: Any = MISSING, *xs: Any) -> Any:
    """Add items: at the end of a vector, at the front of a list, as ``[k v]`` pairs (or maps) into a map, as
    members of a set.

    ``(conj nil 1)`` is ``[1]``; ``(conj)`` is ``[]``; ``(conj coll)`` is ``coll``. The argument is never changed.
    """
    if coll is MISSING:
        return ()
    if not xs:
        return coll
    return _conj("conj", coll, xs)


@core("into")
def into(to: Any, frm: Any) -> Any:
    """``to`` with every item of ``frm`` conj'ed: ``(into {} pairs)``, ``(into [] coll)``, ``(into nil coll)``."""
    items = items_of("into", frm)
    if to is None or (type(to) is tuple and not to):
        if len(items) > WATCH:
            built(len(items), "into")
        return _vector(items)
    return _conj("into", to, items)


@core("vec")
def vec(coll: Any) -> tuple[Any, ...]:
    """The items of a collection as a vector (nil gives ``[]``, a map its ``[k v]`` pairs)."""
    return _vector(items_of("vec", coll))


@core("vector")
def vector(*xs: Any) -> tuple[Any, ...]:
    """A vector of the arguments."""
    return xs


@core("list")
def list_(*xs: Any) -> LList:
    """A list of the arguments."""
    return LList(xs)


@core("cons")
def cons(x: Any, coll: Any) -> tuple[Any, ...]:
    """A vector of ``x`` followed by the items of ``coll``."""
    items = items_of("cons", coll)
    if len(items) >= WATCH:
        built(len(items) + 1, "cons")
    return (x, *items)


@core("concat")
def concat(*colls: Any) -> tuple[Any, ...]:
    """One vector of the items of every collection, in order."""
    parts = [items_of("concat", c) for c in colls]
    n = sum(map(len, parts))
    if n > WATCH:
        built(n, "concat")
    return tuple(chain.from_iterable(parts))


@core("take")
def take(n: Any, coll: Any) -> tuple[Any, ...]:
    """The first ``n`` items (fewer if there are not that many; none when ``n`` <= 0)."""
    k = int_arg("take", n, "an integer count")
    return _vector(items_of("take", coll)[: max(k, 0)])


@core("drop")
def drop(n: Any, coll: Any) -> tuple[Any, ...]:
    """All but the first ``n`` items (all of them when ``n`` <= 0)."""
    k = int_arg("drop", n, "an integer count")
    return _vector(items_of("drop", coll)[max(k, 0) :])


@core("reverse")
def reverse(coll: Any) -> tuple[Any, ...]:
    """The items in reverse order."""
    return items_of("reverse", coll)[::-1]


@core("distinct")
def distinct(coll: Any) -> tuple[Any, ...]:
    """The items without repeats (by ``=``, so 1 and 1.0 are one item, true and 1 are two), first occurrence kept."""
    seen: set[Any] = set()
    out = []
    for x in items_of("distinct", coll):
        k = hash_key(x)
        if k not in seen:
            seen.add(k)
            out.append(x)
    return tuple(out)


def _number(fname: str, x: Any) -> Any:
    if type(x) is int or type(x) is float:
        return x
    expected(fname, "a number", x)


@core("range")
def range_(a: Any, b: Any = MISSING, step: Any = MISSING) -> tuple[Any, ...]:
    """``(range end)``, ``(range start end)``, ``(range start end step)``: numbers from start (0) up to, not
    including, end. An end is required: sequences are eager, never infinite. A step of 0 is an error.
    """
    start, end = (0, a) if b is MISSING else (a, b)
    by = 1 if step is MISSING else step
    _number("range", start)
    _number("range", end)
    if not _number("range", by):
        fail("range: step must not be zero")
    if type(start) is int and type(end) is int and type(by) is int:
        numbers = range(start, end, by)
        if len(numbers) > WATCH:
            built(len(numbers), "range")
        return tuple(numbers)
    try:
        n = max(0, math.ceil((end - start) / by))
    except (OverflowError, ValueError):
        fail(f"range: cannot count from {start} to {end} by {by}")
    if n > WATCH:
        built(n, "range")
    return tuple(start + i * by for i in range(n))


@core("partition")
def partition(n: Any, a: Any, b: Any = MISSING) -> tuple[tuple[Any, ...], ...]:
    """``(partition n coll)`` or ``(partition n step coll)``: vectors of ``n`` items, each starting ``step`` (default
    ``n``) after the previous; an incomplete last group is dropped.
    """
    size = int_arg("partition", n, "an integer size")
    step = size if b is MISSING else int_arg("partition", a, "an integer step")
    if size <= 0 or step <= 0:
        fail(f"partition: size and step must be positive, got {size} and {step}")
    items = _vector(items_of("partition", a if b is MISSING else b))
    groups = max(0, (len(items) - size) // step + 1)
    if groups * size > WATCH:
        built(groups * size, "partition")
    return tuple(items[i : i + size] for i in range(0, len(items) - size + 1, step))
