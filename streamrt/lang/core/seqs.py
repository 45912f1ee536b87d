"""More sequence functions: the everyday ``clojure.core`` ones beyond :mod:`.colls` (take-last, partition-by, ...).

The same rules as :mod:`.colls`: results are vectors, computed eagerly; any collection is read as a sequence (nil
empty, a map its ``[k v]`` pairs, a string its characters). Where Clojure returns nil rather than an empty
sequence *by contract* (``next``, ``butlast``, ``nthnext``, ``not-empty``), so does the language, since code tests
those results for truth; elsewhere an empty result is ``[]``. Values past :data:`~streamrt.lang.meter.WATCH`
items are checked and charged like those of :mod:`.colls`.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain
from typing import Any

from streamrt.lang.core.coerce import MISSING, expected, fn_arg, int_arg, items_of
from streamrt.lang.core.equality import equals, hash_key
from streamrt.lang.core.functions import _map
from streamrt.lang.core.registry import core, fail
from streamrt.lang.meter import WATCH, built, spend
from streamrt.values import LList, LSet

__all__ = [
    "butlast",
    "dedupe",
    "distinct_p",
    "drop_last",
    "drop_while",
    "ffirst",
    "filterv",
    "flatten",
    "interleave",
    "interpose",
    "keep_indexed",
    "map_indexed",
    "mapv",
    "next_",
    "not_empty",
    "nthnext",
    "nthrest",
    "partition_all",
    "partition_by",
    "peek",
    "pop",
    "reductions",
    "repeat",
    "split_at",
    "split_with",
    "subvec",
    "take_last",
    "take_nth",
    "take_while",
]


def _truthy(x: Any) -> bool:
    return x is not None and x is not False


def _walked(fname: str, coll: Any) -> tuple[Any, ...]:
    """The items of ``coll``, charged as fuel when there are many."""
    items = items_of(fname, coll)
    if len(items) > WATCH:
        spend(len(items))
    return items


def _count(fname: str, n: Any) -> int:
    return int_arg(fname, n, "an integer count")


def _sized(fname: str, result: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(result) > WATCH:
        built(len(result), fname)
    return result


# --- vectors as stacks ----------------------------------------------------------------------------------------


@core("peek")
def peek(coll: Any) -> Any:
    """The item ``conj`` adds next to: the last of a vector, the first of a list; nil when empty or nil."""
    t = type(coll)
    if t is tuple:
        return coll[-1] if coll else None
    if t is LList:
        return coll[0] if coll else None
    if coll is None:
        return None
    expected("peek", "a vector or list", coll)


@core("pop")
def pop(coll: Any) -> Any:
    """The vector without its last item, or the list without its first; popping an empty one is an error."""
    t = type(coll)
    if t is tuple or t is LList:
        if not coll:
            fail(f"pop: cannot pop an empty {'list' if t is LList else 'vector'}")
        return coll[:-1] if t is tuple else LList(coll[1:])
    if coll is None:
        return None
    expected("pop", "a vector or list", coll)


@core("subvec")
def subvec(v: Any, start: Any, end: Any = MISSING) -> tuple[Any, ...]:
    """The items of vector ``v`` from index ``start`` up to, not including, ``end`` (default: its count).

    Indexes outside ``0 <= start <= end <= (count v)`` are an error, as in Clojure.
    """
    if type(v) is not tuple:
        expected("subvec", "a vector", v)
    first = int_arg("subvec", start, "an integer start index")
    stop = len(v) if end is MISSING else int_arg("subvec", end, "an integer end index")
    if not 0 <= first <= stop <= len(v):
        fail(f"subvec: range {first}..{stop} out of bounds for a vector of count {len(v)}")
    return v[first:stop]


# --- ends of a sequence ---------------------------------------------------------------------------------------


@core("next")
def next_(coll: Any) -> tuple[Any, ...] | None:
    """The items after the first, or nil when there are none (``rest`` gives ``[]`` there)."""
    return items_of("next", coll)[1:] or None


@core("ffirst")
def ffirst(coll: Any) -> Any:
    """The first item of the first item: ``(first (first coll))``."""
    items = items_of("ffirst", coll)
    if not items:
        return None
    inner = items_of("ffirst", items[0])
    return inner[0] if inner else None


def _after(fname: str, coll: Any, n: Any) -> tuple[Any, ...]:
    k = _count(fname, n)
    return tuple(items_of(fname, coll)[max(k, 0) :])


@core("nthrest")
def nthrest(coll: Any, n: Any) -> tuple[Any, ...]:
    """The items after the first ``n`` (all of them when ``n`` <= 0)."""
    return _after("nthrest", coll, n)


@core("nthnext")
def nthnext(coll: Any, n: Any) -> tuple[Any, ...] | None:
    """The items after the first ``n``, or nil when none are left."""
    return _after("nthnext", coll, n) or None


@core("butlast")
def butlast(coll: Any) -> tuple[Any, ...] | None:
    """All items but the last, or nil when that leaves none."""
    return tuple(items_of("butlast", coll)[:-1]) or None


@core("take-last")
def take_last(n: Any, coll: Any) -> tuple[Any, ...]:
    """The last ``n`` items (all of them if there are fewer; none when ``n`` <= 0)."""
    k = _count("take-last", n)
    items = items_of("take-last", coll)
    return tuple(items[len(items) - k :]) if k > 0 else ()


@core("drop-last")
def drop_last(a: Any, b: Any = MISSING) -> tuple[Any, ...]:
    """``(drop-last coll)``: all but the last item; ``(drop-last n coll)``: all but the last ``n``."""
    k, coll = (1, a) if b is MISSING else (_count("drop-last", a), b)
    items = items_of("drop-last", coll)
    return tuple(items[: len(items) - k]) if k > 0 else tuple(items)


@core("not-empty")
def not_empty(coll: Any) -> Any:
    """``coll`` itself unless it is empty (then nil); strings count as collections here."""
    if coll is None:
        return None
    if isinstance(coll, str | tuple | Mapping | LSet):
        return coll if coll else None
    expected("not-empty", "a collection or string", coll)


# --- building ------------------------------------------------------------------------------------------------


@core("mapv")
def mapv(f: Any, coll: Any, *colls: Any) -> tuple[Any, ...]:
    """``map`` (which already gives a vector): ``(f item)`` for each item, pairwise over several collections."""
    return _map("mapv", f, coll, colls)


@core("filterv")
def filterv(pred: Any, coll: Any) -> tuple[Any, ...]:
    """``filter`` (which already gives a vector): the items for which ``(pred item)`` is truthy."""
    pred = fn_arg("filterv", pred)
    return tuple([x for x in _walked("filterv", coll) if _truthy(pred(x))])


@core("map-indexed")
def map_indexed(f: Any, coll: Any) -> tuple[Any, ...]:
    """``(f index item)`` for each item, indexes from 0."""
    f = fn_arg("map-indexed", f)
    return tuple([f(i, x) for i, x in enumerate(_walked("map-indexed", coll))])


@core("keep-indexed")
def keep_indexed(f: Any, coll: Any) -> tuple[Any, ...]:
    """The non-nil results of ``(f index item)``."""
    f = fn_arg("keep-indexed", f)
    return tuple([r for i, x in enumerate(_walked("keep-indexed", coll)) if (r := f(i, x)) is not None])


@core("repeat")
def repeat(n: Any, x: Any) -> tuple[Any, ...]:
    """A vector of ``n`` copies of ``x``. The count is required: sequences are never infinite."""
    k = _count("repeat", n)
    if k > WATCH:
        built(k, "repeat")
    return (x,) * max(k, 0)


@core("interleave")
def interleave(*colls: Any) -> tuple[Any, ...]:
    """The first item of each collection, then the second of each, ... stopping at the shortest."""
    parts = [items_of("interleave", c) for c in colls]
    if not parts:
        return ()
    shortest = min(map(len, parts))
    return _sized("interleave", tuple(chain.from_iterable(zip(*(p[:shortest] for p in parts), strict=True))))


@core("interpose")
def interpose(sep: Any, coll: Any) -> tuple[Any, ...]:
    """The items with ``sep`` between each two."""
    items = items_of("interpose", coll)
    if not items:
        return ()
    out: list[Any] = [items[0]]
    for x in items[1:]:
        out += (sep, x)
    return _sized("interpose", tuple(out))


@core("flatten")
def flatten(coll: Any) -> tuple[Any, ...]:
    """The non-vector, non-list items inside nested vectors and lists, in order; anything else gives ``[]``."""
    if type(coll) is not tuple and type(coll) is not LList:
        return ()
    out: list[Any] = []
    stack = [iter(coll)]
    while stack:
        for x in stack[-1]:
            if type(x) is tuple or type(x) is LList:
                stack.append(iter(x))
                break
            out.append(x)
            if len(out) > WATCH and len(out) % WATCH == 1:
                built(len(out), "flatten")
        else:
            stack.pop()
    return tuple(out)


@core("reductions")
def reductions(f: Any, a: Any, b: Any = MISSING) -> tuple[Any, ...]:
    """The intermediate values of ``(reduce f coll)`` or ``(reduce f init coll)``, as a vector."""
    f = fn_arg("reductions", f)
    if b is MISSING:
        items = _walked("reductions", a)
        if not items:
            return (f(),)
        acc, rest = items[0], items[1:]
    else:
        acc, rest = a, _walked("reductions", b)
    out = [acc]
    for x in rest:
        acc = f(acc, x)
        out.append(acc)
    return tuple(out)


# --- splitting --------------------------------------------------------------------------------------------------


@core("take-while")
def take_while(pred: Any, coll: Any) -> tuple[Any, ...]:
    """The items before the first for which ``(pred item)`` is nil or false."""
    pred = fn_arg("take-while", pred)
    items = _walked("take-while", coll)
    for i, x in enumerate(items):
        if not _truthy(pred(x)):
            return tuple(items[:i])
    return tuple(items)


@core("drop-while")
def drop_while(pred: Any, coll: Any) -> tuple[Any, ...]:
    """The items from the first for which ``(pred item)`` is nil or false."""
    pred = fn_arg("drop-while", pred)
    items = _walked("drop-while", coll)
    for i, x in enumerate(items):
        if not _truthy(pred(x)):
            return tuple(items[i:])
    return ()


@core("split-at")
def split_at(n: Any, coll: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """``[(take n coll) (drop n coll)]``."""
    k = max(_count("split-at", n), 0)
    items = items_of("split-at", coll)
    return (tuple(items[:k]), tuple(items[k:]))


@core("split-with")
def split_with(pred: Any, coll: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """``[(take-while pred coll) (drop-while pred coll)]``, calling ``pred`` once per item it needs."""
    pred = fn_arg("split-with", pred)
    items = _walked("split-with", coll)
    for i, x in enumerate(items):
        if not _truthy(pred(x)):
            return (tuple(items[:i]), tuple(items[i:]))
    return (tuple(items), ())


@core("take-nth")
def take_nth(n: Any, coll: Any) -> tuple[Any, ...]:
    """Every ``n``-th item, starting with the first; ``n`` must be positive."""
    k = _count("take-nth", n)
    if k <= 0:
        fail(f"take-nth: the step must be positive, got {k}")
    return tuple(items_of("take-nth", coll)[::k])


@core("partition-all")
def partition_all(n: Any, a: Any, b: Any = MISSING) -> tuple[tuple[Any, ...], ...]:
    """Like ``partition``, but the last groups may be shorter: no item is dropped."""
    size = _count("partition-all", n)
    step = size if b is MISSING else int_arg("partition-all", a, "an integer step")
    if size <= 0 or step <= 0:
        fail(f"partition-all: size and step must be positive, got {size} and {step}")
    items = tuple(items_of("partition-all", a if b is MISSING else b))
    groups = tuple(items[i : i + size] for i in range(0, len(items), step))
    total = sum(map(len, groups))
    if total > WATCH:
        built(total, "partition-all")
    return groups


@core("partition-by")
def partition_by(f: Any, coll: Any) -> tuple[tuple[Any, ...], ...]:
    """Runs of consecutive items for which ``(f item)`` gives equal values: ``[[1 3] [2 4] [5]]`` for ``odd?``."""
    f = fn_arg("partition-by", f)
    out: list[tuple[Any, ...]] = []
    run: list[Any] = []
    last: Any = MISSING
    for x in _walked("partition-by", coll):
        k = f(x)
        if run and not equals(k, last):
            out.append(tuple(run))
            run = []
        run.append(x)
        last = k
    if run:
        out.append(tuple(run))
    return tuple(out)


# --- repeats ---------------------------------------------------------------------------------------------------


@core("dedupe")
def dedupe(coll: Any) -> tuple[Any, ...]:
    """The items without consecutive repeats (by ``=``): ``[1 1 2 1]`` gives ``[1 2 1]``."""
    out: list[Any] = []
    for x in _walked("dedupe", coll):
        if not out or not equals(out[-1], x):
            out.append(x)
    return tuple(out)


@core("distinct?", returns_bool=True)
def distinct_p(x: Any, *more: Any) -> bool:
    """True when no two arguments are equal (by ``=``)."""
    keys = {hash_key(v) for v in (x, *more)}
    return len(keys) == 1 + len(more)
