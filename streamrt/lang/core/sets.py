"""Sets: ``set hash-set set? disj`` and ``clojure.set`` (``set/union``, ``set/intersection``, ...).

A set is a :class:`~streamrt.values.LSet` (immutable, hashable, in insertion order); ``conj``, ``into``,
``contains?``, ``get``, ``count`` and the sequence functions take sets too, and a set called as a function tests
membership. Members are compared as map keys are (Python's hashing), and maps cannot be members, as they cannot be
map keys. The ``clojure.set`` functions are registered under their qualified names; ``set/`` is the alias.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streamrt.lang.core.coerce import describe, expected, fn_arg, items_of
from streamrt.lang.core.registry import core, fail
from streamrt.lang.meter import WATCH, built
from streamrt.values import LList, LSet, checked_key

__all__ = [
    "difference",
    "disj",
    "hash_set",
    "intersection",
    "is_set",
    "make_set",
    "map_invert",
    "rename_keys",
    "select",
    "set_",
    "subset",
    "superset",
    "union",
]


def make_set(fname: str, items: Iterable[Any]) -> LSet:
    """An :class:`LSet` of ``items``, failing with a message naming ``fname`` for a member that cannot be one."""
    items = tuple(items)
    try:
        result = LSet(items)
    except TypeError:
        bad = next(x for x in items if not _hashable(x))
        fail(f"{fname}: {describe(bad)} cannot be a set member (maps cannot; use a vector of its entries)")
    if len(result) > WATCH:
        built(len(result), fname)
    return result


def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _set_arg(fname: str, s: Any) -> LSet:
    if type(s) is LSet:
        return s
    if s is None:
        return _EMPTY
    expected(fname, "a set", s)


_EMPTY = LSet()


@core("set")
def set_(coll: Any) -> LSet:
    """A set of the items of a collection (nil gives ``#{}``); a set is returned as it is."""
    if type(coll) is LSet:
        return coll
    return make_set("set", items_of("set", coll))


@core("hash-set")
def hash_set(*xs: Any) -> LSet:
    """A set of the arguments."""
    return make_set("hash-set", xs)


@core("set?", returns_bool=True)
def is_set(x: Any) -> bool:
    """True for sets."""
    return type(x) is LSet


@core("disj")
def disj(s: Any, *ks: Any) -> LSet | None:
    """A copy of set ``s`` without the given members (``s`` itself when none is present); nil stays nil."""
    if s is None:
        return None
    members = _set_arg("disj", s)
    drop = LSet(k for k in ks if k in members)
    if not drop:
        return members
    return LSet(x for x in members if x not in drop)


@core("clojure.set/union")
def union(*sets: Any) -> LSet:
    """The members of all the sets, in order of first appearance; ``(set/union)`` is ``#{}``."""
    parts = [_set_arg("clojure.set/union", s) for s in sets]
    if len(parts) == 1:
        return parts[0]
    return make_set("clojure.set/union", (x for p in parts for x in p))


@core("clojure.set/intersection")
def intersection(s: Any, *sets: Any) -> LSet:
    """The members of the first set that are in every other set."""
    first = _set_arg("clojure.set/intersection", s)
    others = [_set_arg("clojure.set/intersection", o) for o in sets]
    return LSet(x for x in first if all(x in o for o in others))


@core("clojure.set/difference")
def difference(s: Any, *sets: Any) -> LSet:
    """The members of the first set that are in none of the others."""
    first = _set_arg("clojure.set/difference", s)
    others = [_set_arg("clojure.set/difference", o) for o in sets]
    return LSet(x for x in first if not any(x in o for o in others))


@core("clojure.set/subset?", returns_bool=True)
def subset(a: Any, b: Any) -> bool:
    """True when every member of ``a`` is in ``b``."""
    return _set_arg("clojure.set/subset?", a) <= _set_arg("clojure.set/subset?", b)


@core("clojure.set/superset?", returns_bool=True)
def superset(a: Any, b: Any) -> bool:
    """True when every member of ``b`` is in ``a``."""
    return _set_arg("clojure.set/superset?", a) >= _set_arg("clojure.set/superset?", b)


@core("clojure.set/select")
def select(pred: Any, s: Any) -> LSet:
    """The members for which ``(pred member)`` is truthy."""
    pred = fn_arg("clojure.set/select", pred)
    return LSet(x for x in _set_arg("clojure.set/select", s) if (r := pred(x)) is not None and r is not False)


def _map_arg(fname: str, m: Any) -> Mapping[Any, Any]:
    if isinstance(m, Mapping):
        return m
    if m is None:
        return {}
    expected(fname, "a map", m)


@core("clojure.set/map-invert")
def map_invert(m: Any) -> dict[Any, Any]:
    """The map with keys and values swapped (for repeated values, the last key wins)."""
    out: dict[Any, Any] = {}
    for k, v in _map_arg("clojure.set/map-invert", m).items():
        if type(v) is tuple or type(v) is LList:
            checked_key(v)
        try:
            out[v] = k
        except TypeError:
            fail(f"clojure.set/map-invert: {describe(v)} cannot be a map key")
    return out


@core("clojure.set/rename-keys")
def rename_keys(m: Any, kmap: Any) -> dict[Any, Any]:
    """A copy of ``m`` with each key of ``kmap`` present in ``m`` renamed to its value in ``kmap``."""
    source = _map_arg("clojure.set/rename-keys", m)
    renames = _map_arg("clojure.set/rename-keys", kmap)
    out = {k: v for k, v in source.items() if k not in renames}
    for old, new in renames.items():
        if old in source:
            if type(new) is tuple or type(new) is LList:
                checked_key(new)
            try:
                out[new] = source[old]
            except TypeError:
                fail(f"clojure.set/rename-keys: {describe(new)} cannot be a map key")
    return out
