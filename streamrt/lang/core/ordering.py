"""Ordering: ``compare``, ``sort`` and ``sort-by``.

Natural order is defined within one kind of value: numbers (ints and floats together), strings, keywords (without
namespace first, then by namespace, then name), booleans (false first), and vectors (shorter first, then item by
item, as in Clojure); nil sorts before everything. Values of two different kinds are not ordered, and sorting
them is an error that names both, rather than an arbitrary order. The common cases (all numbers, all strings, all
keywords) go straight to Python's ``sorted``; the general rule runs only when needed. Sorts are stable.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cmp_to_key
from typing import Any, Final

from streamrt.lang.core.coerce import MISSING, describe, expected, fn_arg, items_of
from streamrt.lang.core.registry import core, fail
from streamrt.lang.meter import WATCH, spend
from streamrt.values import Keyword, LList, is_truthy

__all__ = ["compare", "compare_values", "sort", "sort_by"]

_RANK_NIL: Final = 0
_RANK_BOOL: Final = 1
_RANK_NUMBER: Final = 2
_RANK_STRING: Final = 3
_RANK_KEYWORD: Final = 4
_RANK_VECTOR: Final = 5
_RANKS: Final[dict[type, int]] = {
    type(None): _RANK_NIL,
    bool: _RANK_BOOL,
    int: _RANK_NUMBER,
    float: _RANK_NUMBER,
    str: _RANK_STRING,
    Keyword: _RANK_KEYWORD,
    tuple: _RANK_VECTOR,
    LList: _RANK_VECTOR,
}
_NUMBER_TYPES: Final = frozenset((int, float))
_STRING_TYPES: Final = frozenset((str,))
_KEYWORD_TYPES: Final = frozenset((Keyword,))


def _keyword_key(k: Keyword) -> tuple[bool, str, str]:
    return (k.namespace is not None, k.namespace or "", k.name)


def compare_values(fname: str, a: Any, b: Any) -> int:
    """-1, 0 or 1 in natural order; values of different kinds are an error naming ``fname``."""
    ra = _RANKS.get(type(a))
    rb = _RANKS.get(type(b))
    if ra is None or rb is None or (ra != rb and ra != _RANK_NIL and rb != _RANK_NIL):
        fail(f"{fname}: cannot compare {describe(a)} with {describe(b)}")
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == _RANK_NIL:
        return 0
    if ra == _RANK_KEYWORD:
        a, b = _keyword_key(a), _keyword_key(b)
    elif ra == _RANK_VECTOR:
        if len(a) != len(b):
            return -1 if len(a) < len(b) else 1
        for x, y in zip(a, b, strict=True):
            c = compare_values(fname, x, y)
            if c:
                return c
        return 0
    return -1 if a < b else (1 if a > b else 0)


@core("compare")
def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b`` in natural order."""
    return compare_values("compare", a, b)


def _natural_key(fname: str, values: list[Any] | tuple[Any, ...]) -> Callable[[Any], Any] | None:
    """The ``sorted`` key for these values: None when plain Python order is already right."""
    kinds = {type(v) for v in values}
    if kinds <= _NUMBER_TYPES or kinds == _STRING_TYPES:
        return None
    if kinds == _KEYWORD_TYPES:
        return _keyword_key
    return cmp_to_key(lambda a, b: compare_values(fname, a, b))


def _comparator(fname: str, f: Callable[..., Any]) -> Callable[[Any, Any], int]:
    """A user comparator as a cmp function: it may return a number (sign matters) or a boolean "less than"."""

    def cmp(a: Any, b: Any) -> int:
        r = f(a, b)
        t = type(r)
        if t is int or t is float:
            return (r > 0) - (r < 0)  # type: ignore[no-any-return]
        if r is True:
            return -1
        if r is False or r is None:
            return 1 if is_truthy(f(b, a)) else 0
        expected(fname, "a comparator returning a number or boolean", r)

    return cmp


@core("sort")
def sort(a: Any, b: Any = MISSING) -> tuple[Any, ...]:
    """``(sort coll)`` in natural order, or ``(sort comparator coll)``; a vector, stable.

    The comparator returns a number (negative, zero, positive) or a boolean "less than", so ``(sort > xs)`` sorts
    descending. A map sorts as its ``[k v]`` pairs.
    """
    items = items_of("sort", a if b is MISSING else b)
    if len(items) > WATCH:
        spend(len(items))
    if b is MISSING:
        return tuple(sorted(items, key=_natural_key("sort", items)))
    cmp = _comparator("sort", fn_arg("sort", a))
    return tuple(sorted(items, key=cmp_to_key(cmp)))


@core("sort-by")
def sort_by(keyfn: Any, a: Any, b: Any = MISSING) -> tuple[Any, ...]:
    """``(sort-by keyfn coll)`` or ``(sort-by keyfn comparator coll)``: items ordered by ``(keyfn item)``, stable.

    ``keyfn`` runs once per item.
    """
    keyfn = fn_arg("sort-by", keyfn)
    items = items_of("sort-by", a if b is MISSING else b)
    if len(items) > WATCH:
        spend(len(items))
    ks = [keyfn(x) for x in items]
    indexes = range(len(items))
    if b is MISSING:
        natural = _natural_key("sort-by", ks)
        sort_keys = ks if natural is None else [natural(k) for k in ks]
        order = sorted(indexes, key=sort_keys.__getitem__)
    else:
        cmp = _comparator("sort-by", fn_arg("sort-by", a))

        def cmp_indexes(i: int, j: int) -> int:
            return cmp(ks[i], ks[j])

        order = sorted(indexes, key=cmp_to_key(cmp_indexes))
    return tuple(items[i] for i in order)
