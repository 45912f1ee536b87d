"""Associative functions: looking up, adding and removing keys in maps (and indexes in vectors).

Maps are ``dict`` and are never mutated: every change copies (``dict.copy`` then one store, which is as fast as a
``{**m, k: v}`` literal) and returns the new map, so maps held in a stream's state or shared between streams stay
safe. nil acts as an empty map: ``(get nil :a)`` is nil, ``(assoc nil :a 1)`` is ``{:a 1}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streamrt.lang.core.coerce import MISSING, expected, fn_arg, items_of, key_error
from streamrt.lang.core.registry import core, fail
from streamrt.lang.meter import WATCH, built, spend
from streamrt.values import Keyword, LList, LSet, checked_key, type_name

__all__ = [
    "assoc",
    "assoc_in",
    "contains",
    "dissoc",
    "find",
    "get",
    "get_in",
    "hash_map",
    "key",
    "keys",
    "merge",
    "merge_with",
    "reduce_kv",
    "select_keys",
    "update",
    "update_in",
    "update_keys",
    "update_vals",
    "val",
    "vals",
    "zipmap",
]


def _first_unhashable(candidates: Sequence[Any]) -> Any:
    for k in candidates:
        try:
            hash(k)
        except TypeError:
            return k
    return None


def _lookup(fname: str, m: Any, k: Any, default: Any) -> Any:
    """``get`` under the name of the calling function, for its error message."""
    if type(k) is tuple or type(k) is LList:
        checked_key(k)
    t = type(m)
    if t is dict:
        try:
            return m.get(k, default)
        except TypeError:  # an unhashable key cannot be in any map
            return default
    if m is None:
        return default
    if t is LSet:
        return m.get(k, default)
    if type(k) is Keyword and not isinstance(m, Mapping):
        if m is False or (not m and isinstance(m, str | tuple)):  # false and empty collections act as nil
            return default
        kind = type_name(m)
        article = "an" if kind[0] in "aeiou" else "a"
        fail(f"{fname}: cannot look up keyword {k!r} in {article} {kind}: expected a map or nil")
    if t is tuple or t is LList or t is str:
        if type(k) is int and 0 <= k < len(m):
            return m[k]
        return default
    if isinstance(m, Mapping):
        try:
            return m.get(k, default)
        except TypeError:
            return default
    return default


@core("get")
def get(m: Any, k: Any, default: Any = None) -> Any:
    """The value at key ``k`` of a map, index ``k`` of a vector or string (a 1-character string), else ``default``.

    nil, a missing key and an index out of range give ``default`` (nil if not given). A keyword key follows the
    rule of ``(:k x)``: nil, false and an empty collection (no keys to find) give ``default``; any other value that
    is not a map (a number, 0 included, a non-empty vector or string, a keyword, a function) is an error, since that
    is almost always a mistake; other keys on a non-collection give ``default`` as in Clojure.
    """
    return _lookup("get", m, k, default)


def _path(fname: str, ks: Any) -> tuple[Any, ...]:
    t = type(ks)
    if t is tuple or t is LList:
        return ks  # type: ignore[no-any-return]
    if ks is None:
        return ()
    expected(fname, "a vector of keys", ks)


@core("get-in")
def get_in(m: Any, ks: Any, default: Any = None) -> Any:
    """The value at the path ``ks`` (a vector of keys) in nested maps and vectors, or ``default`` if any is missing."""
    for k in _path("get-in", ks):
        m = _lookup("get-in", m, k, MISSING)
        if m is MISSING:
            return default
    return m


def _assoc_vector(fname: str, v: tuple[Any, ...], i: Any, x: Any) -> tuple[Any, ...]:
    if type(i) is not int:
        expected(fname, "an integer index for a vector", i)
    n = len(v)
    if i == n:
        return (*v, x)
    if not 0 <= i < n:
        fail(f"{fname}: index {i} out of bounds for a vector of count {n}")
    return (*v[:i], x, *v[i + 1 :])


def _assoc1(fname: str, m: Any, k: Any, v: Any) -> Any:
    """``m`` with ``k`` set to ``v``: the work of assoc for one key, shared by assoc-in and update."""
    t = type(m)
    if t is dict:
        r = m.copy()
    elif m is None:
        r = {}
    elif t is tuple:
        return _assoc_vector(fname, m, k, v)
    elif isinstance(m, Mapping):
        r = dict(m)
    else:
        expected(fname, "a map or vector", m)
    if type(k) is tuple or type(k) is LList:
        checked_key(k)
    try:
        r[k] = v
    except TypeError:
        key_error(fname, k)
    if len(r) > WATCH:
        built(len(r), fname)
    return r


@core("assoc")
def assoc(m: Any, k: Any, v: Any, *kvs: Any) -> Any:
    """A copy of map ``m`` with each key set to its value; on a vector the key is an index (up to its count).

    ``(assoc nil :a 1)`` is ``{:a 1}``; ``m`` itself is never changed.
    """
    if not kvs:
        return _assoc1("assoc", m, k, v)
    if len(kvs) % 2:
        fail("assoc: expected key/value pairs after the map, got an odd number of arguments")
    if type(m) is not dict:
        m = _assoc1("assoc", m, k, v)
        for i in range(0, len(kvs), 2):
            m = _assoc1("assoc", m, kvs[i], kvs[i + 1])
        return m
    if type(k) is tuple or type(k) is LList:
        checked_key(k)
    for i in range(0, len(kvs), 2):
        if type(kvs[i]) is tuple or type(kvs[i]) is LList:
            checked_key(kvs[i])
    r = m.copy()
    try:
        r[k] = v
        for i in range(0, len(kvs), 2):
            r[kvs[i]] = kvs[i + 1]
    except TypeError:
        key_error("assoc", _first_unhashable((k, *kvs[0::2])))
    if len(r) > WATCH:
        built(len(r), "assoc")
    return r


def _nonempty_path(fname: str, ks: Any) -> tuple[Any, ...]:
    path = _path(fname, ks)
    if not path:
        fail(f"{fname}: expected a non-empty vector of keys, got {'nil' if ks is None else '[]'}")
    return path


def _assoc_path(fname: str, m: Any, path: tuple[Any, ...], i: int, v: Any) -> Any:
    k = path[i]
    if i + 1 < len(path):
        v = _assoc_path(fname, _lookup(fname, m, k, None), path, i + 1, v)
    return _assoc1(fname, m, k, v)


@core("assoc-in")
def assoc_in(m: Any, ks: Any, v: Any) -> Any:
    """A copy of nested map ``m`` with the value at path ``ks`` set to ``v``; missing levels become maps.

    An empty path is an error (Clojure would store the value under the key nil).
    """
    return _assoc_path("assoc-in", m, _nonempty_path("assoc-in", ks), 0, v)


@core("dissoc")
def dissoc(m: Any, *ks: Any) -> Any:
    """A copy of map ``m`` without the given keys (``m`` itself when none is present); nil stays nil."""
    if m is None:
        return None
    if type(m) is not dict:
        if not isinstance(m, Mapping):
            expected("dissoc", "a map", m)
        m = dict(m)
    r = None
    for k in ks:
        if type(k) is tuple or type(k) is LList:
            checked_key(k)
        try:
            if k in m:
                if r is None:
                    r = m.copy()
                r.pop(k, None)
        except TypeError:  # unhashable: cannot be a key of m
            continue
    return m if r is None else r


@core("update")
def update(m: Any, k: Any, f: Any, *args: Any) -> Any:
    """A copy of ``m`` with the value at ``k`` replaced by ``(f old args...)``; a missing key's old value is nil."""
    f = fn_arg("update", f)
    return _assoc1("update", m, k, f(_lookup("update", m, k, None), *args))


def _update_path(m: Any, path: tuple[Any, ...], i: int, f: Any, args: tuple[Any, ...]) -> Any:
    k = path[i]
    old = _lookup("update-in", m, k, None)
    new = _update_path(old, path, i + 1, f, args) if i + 1 < len(path) else f(old, *args)
    return _assoc1("update-in", m, k, new)


@core("update-in")
def update_in(m: Any, ks: Any, f: Any, *args: Any) -> Any:
    """A copy of nested ``m`` with the value at path ``ks`` replaced by ``(f old args...)``."""
    f = fn_arg("update-in", f)
    return _update_path(m, _nonempty_path("update-in", ks), 0, f, args)


@core("merge")
def merge(*maps: Any) -> Any:
    """One map with the keys of all the maps, later ones winning; nil arguments are skipped, all nil gives nil."""
    result: dict[Any, Any] | None = None
    copied = False
    for m in maps:
        if m is None:
            continue
        if type(m) is not dict:
            if not isinstance(m, Mapping):
                expected("merge", "a map", m)
            m = dict(m)
        if result is None:
            result = m
        else:
            if not copied:
                result = result.copy()
                copied = True
            result.update(m)
            if len(result) > WATCH:
                built(len(result), "merge")
    return result


@core("keys")
def keys(m: Any) -> tuple[Any, ...]:
    """The keys of a map, in insertion order, as a vector (empty for nil or an empty map, where Clojure gives nil)."""
    if type(m) is dict or isinstance(m, Mapping):
        return tuple(m.keys())
    if m is None:
        return ()
    expected("keys", "a map", m)


@core("vals")
def vals(m: Any) -> tuple[Any, ...]:
    """The values of a map, in key insertion order, as a vector (empty for nil or an empty map)."""
    if type(m) is dict or isinstance(m, Mapping):
        return tuple(m.values())
    if m is None:
        return ()
    expected("vals", "a map", m)


@core("contains?", returns_bool=True)
def contains(coll: Any, k: Any) -> bool:
    """True when a map has key ``k``, a set has member ``k``, or a vector or string has index ``k`` (an index,
    not a value, as in Clojure)."""
    t = type(coll)
    if t is LSet:
        return k in coll
    if type(k) is tuple or type(k) is LList:
        checked_key(k)
    if t is dict or isinstance(coll, Mapping):
        try:
            return k in coll
        except TypeError:
            return False
    if coll is None:
        return False
    if t is tuple or t is LList or t is str:
        return type(k) is int and 0 <= k < len(coll)
    expected("contains?", "a map, set, vector or string", coll)


@core("select-keys")
def select_keys(m: Any, ks: Any) -> dict[Any, Any]:
    """A map of only those entries of ``m`` whose keys are in ``ks`` (missing keys are left out)."""
    if m is None:
        return {}
    if type(m) is not dict and not isinstance(m, Mapping):
        expected("select-keys", "a map", m)
    out = {}
    for k in items_of("select-keys", ks):
        if type(k) is tuple or type(k) is LList:
            checked_key(k)
        try:
            if k in m:
                out[k] = m[k]
        except TypeError:
            continue
    return out


@core("zipmap")
def zipmap(ks: Any, vs: Any) -> dict[Any, Any]:
    """A map pairing each key with the value at the same position; stops at the shorter collection."""
    for k in items_of("zipmap", ks):
        if type(k) is tuple or type(k) is LList:
            checked_key(k)
    pairs = zip(items_of("zipmap", ks), items_of("zipmap", vs), strict=False)
    try:
        return dict(pairs)
    except TypeError:
        key_error("zipmap", _first_unhashable(items_of("zipmap", ks)))


@core("hash-map")
def hash_map(*kvs: Any) -> dict[Any, Any]:
    """A map of the alternating keys and values."""
    if len(kvs) % 2:
        fail("hash-map: expected key/value pairs, got an odd number of arguments")
    for k in kvs[0::2]:
        if type(k) is tuple or type(k) is LList:
            checked_key(k)
    try:
        return dict(zip(kvs[0::2], kvs[1::2], strict=True))
    except TypeError:
        key_error("hash-map", _first_unhashable(kvs[0::2]))


def _map_arg(fname: str, m: Any) -> Mapping[Any, Any]:
    if type(m) is dict or isinstance(m, Mapping):
        return m
    if m is None:
        return {}
    expected(fname, "a map", m)


def _sized(fname: str, r: dict[Any, Any]) -> dict[Any, Any]:
    if len(r) > WATCH:
        built(len(r), fname)
    return r


@core("merge-with")
def merge_with(f: Any, *maps: Any) -> Any:
    """``merge``, but a key in several maps gets ``(f earlier later)``: ``(merge-with + {:a 1} {:a 2})`` is
    ``{:a 3}``. nil maps are skipped; all nil (or none) gives nil."""
    f = fn_arg("merge-with", f)
    result: dict[Any, Any] | None = None
    for m in maps:
        if m is None:
            continue
        entries = _map_arg("merge-with", m)
        if result is None:
            result = dict(entries)
            continue
        for k, v in entries.items():
            result[k] = f(result[k], v) if k in result else v
    return result if result is None else _sized("merge-with", result)


@core("reduce-kv")
def reduce_kv(f: Any, init: Any, coll: Any) -> Any:
    """Fold ``(f acc key value)`` over a map's entries (or a vector's indexes and items), starting from ``init``."""
    f = fn_arg("reduce-kv", f)
    acc = init
    if type(coll) is tuple or type(coll) is LList:
        if len(coll) > WATCH:
            spend(len(coll))
        for i, x in enumerate(coll):
            acc = f(acc, i, x)
        return acc
    entries = _map_arg("reduce-kv", coll)
    if len(entries) > WATCH:
        spend(len(entries))
    for k, v in entries.items():
        acc = f(acc, k, v)
    return acc


@core("update-vals")
def update_vals(m: Any, f: Any) -> dict[Any, Any]:
    """The map with every value replaced by ``(f value)``."""
    f = fn_arg("update-vals", f)
    entries = _map_arg("update-vals", m)
    if len(entries) > WATCH:
        spend(len(entries))
    return {k: f(v) for k, v in entries.items()}


@core("update-keys")
def update_keys(m: Any, f: Any) -> dict[Any, Any]:
    """The map with every key replaced by ``(f key)`` (keys that become equal keep the last value)."""
    f = fn_arg("update-keys", f)
    entries = _map_arg("update-keys", m)
    if len(entries) > WATCH:
        spend(len(entries))
    out: dict[Any, Any] = {}
    for k, v in entries.items():
        new = checked_key(f(k))
        try:
            out[new] = v
        except TypeError:
            key_error("update-keys", new)
    return out


@core("find")
def find(m: Any, k: Any) -> tuple[Any, Any] | None:
    """The entry ``[k v]`` for key ``k`` of a map (or index ``k`` of a vector), or nil when absent."""
    if type(m) is tuple or type(m) is LList:
        return (k, m[k]) if type(k) is int and 0 <= k < len(m) else None
    entries = _map_arg("find", m)
    if type(k) is tuple or type(k) is LList:
        checked_key(k)
    try:
        return (k, entries[k]) if k in entries else None
    except TypeError:
        return None


def _entry(fname: str, e: Any) -> tuple[Any, ...]:
    if (type(e) is tuple or type(e) is LList) and len(e) == 2:
        return e
    expected(fname, "a map entry (a [key value] vector)", e)


@core("key")
def key(e: Any) -> Any:
    """The key of a map entry ``[k v]``: ``(map key m)`` gives the keys."""
    return _entry("key", e)[0]


@core("val")
def val(e: Any) -> Any:
    """The value of a map entry ``[k v]``."""
    return _entry("val", e)[1]
