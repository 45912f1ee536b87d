"""Associative functions: get, assoc, update and friends, on maps, vectors, strings and nil."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrt.errors import ScriptRuntimeError
from streamrt.lang.core import CORE
from tests.lang.core_support import K, L, call, expect_error

A, B, C = K("a"), K("b"), K("c")
inc = CORE["inc"].fn
identity = CORE["identity"].fn
plus = CORE["+"].fn


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(({A: 1}, A), 1, id="map"),
        pytest.param(({A: 1}, B), None, id="map-missing"),
        pytest.param(({A: 1}, B, 0), 0, id="map-default"),
        pytest.param(({A: None}, A, 0), None, id="present-nil-beats-default"),
        pytest.param(({"s": 1, 2: "two", (1, 2): "v"}, (1, 2)), "v", id="any-key"),
        pytest.param(({A: 1}, {A: 1}), None, id="unhashable-key"),
        pytest.param((None, A), None, id="nil"),
        pytest.param((None, A, 5), 5, id="nil-default"),
        pytest.param(((10, 20), 1), 20, id="vector-index"),
        pytest.param(((10, 20), 2, "d"), "d", id="vector-out-of-range"),
        pytest.param(((10, 20), -1), None, id="vector-negative"),
        pytest.param(((10, 20), True), None, id="vector-bool-index"),
        pytest.param((L(10, 20), 0), 10, id="list-index"),
        pytest.param(("abc", 1), "b", id="string-index"),
        pytest.param(("abc", 5, "z"), "z", id="string-out-of-range"),
        pytest.param((42, "x", "d"), "d", id="non-collection"),
        pytest.param(((), A, "d"), "d", id="keyword-in-empty-vector"),
        pytest.param((False, A, "d"), "d", id="keyword-in-false"),
        pytest.param(("", A), None, id="keyword-in-empty-string"),
    ],
)
def test_get(args: tuple[Any, ...], expected: Any) -> None:
    assert call("get", *args) == expected


@pytest.mark.parametrize(
    ("name", "args", "kind"),
    [
        pytest.param("get", ((1, 2), A), "vector", id="get-vector"),
        pytest.param("get", ("abc", A, 0), "string", id="get-string"),
        pytest.param("get", (42, A), "integer", id="get-integer"),
        pytest.param("get-in", ({A: 5}, (A, A)), "integer", id="get-in"),
        pytest.param("update", ((1,), A, identity), "vector", id="update"),
        pytest.param("assoc-in", ({A: "s"}, (A, A, B), 1), "string", id="assoc-in"),
    ],
)
def test_keyword_key_on_a_non_map_is_an_error_like_keyword_call(
    name: str, args: tuple[Any, ...], kind: str
) -> None:
    article = "an" if kind[0] in "aeiou" else "a"
    expect_error(name, args, f"cannot look up keyword :a in {article} {kind}: expected a map or nil")
    with pytest.raises(ScriptRuntimeError, match=f"in (a|an) {kind}"):
        A(args[0] if name in ("get", "update") else args[0][A])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(({A: {B: (1, {C: 3})}}, (A, B, 1, C)), 3, id="nested"),
        pytest.param(({A: {B: 1}}, (A, C)), None, id="missing"),
        pytest.param(({A: {B: 1}}, (A, C), "d"), "d", id="missing-default"),
        pytest.param(({A: {B: None}}, (A, B), "d"), None, id="present-nil"),
        pytest.param(({A: None}, (A, B), "d"), "d", id="through-nil"),
        pytest.param(({A: 1}, ()), {A: 1}, id="empty-path"),
        pytest.param(({A: 1}, None), {A: 1}, id="nil-path"),
        pytest.param((None, (A,)), None, id="nil-map"),
    ],
)
def test_get_in(args: tuple[Any, ...], expected: Any) -> None:
    assert call("get-in", *args) == expected


def test_get_in_path_must_be_a_vector() -> None:
    expect_error("get-in", ({A: 1}, A), "expected a vector of keys, got keyword :a")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(({A: 1}, B, 2), {A: 1, B: 2}, id="add"),
        pytest.param(({A: 1}, A, 2), {A: 2}, id="replace"),
        pytest.param((None, A, 1), {A: 1}, id="nil"),
        pytest.param(({}, A, 1, B, 2), {A: 1, B: 2}, id="many"),
        pytest.param((None, A, 1, B, 2), {A: 1, B: 2}, id="nil-many"),
        pytest.param(((1, 2), 0, 9), (9, 2), id="vector-replace"),
        pytest.param(((1, 2), 2, 3), (1, 2, 3), id="vector-append"),
        pytest.param(((1, 2), 0, 8, 1, 9), (8, 9), id="vector-many"),
    ],
)
def test_assoc(args: tuple[Any, ...], expected: Any) -> None:
    before = copy.deepcopy(args)
    result = call("assoc", *args)
    assert result == expected
    assert type(result) is type(expected)
    assert args == before
    if args[0] is not None:
        assert result is not args[0]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(({}, A, 1, B), ("odd number",), id="odd-pairs"),
        pytest.param((5, A, 1), ("expected a map or vector, got integer 5",), id="number"),
        pytest.param(("s", 0, 1), ("got string",), id="string"),
        pytest.param((L(1), 0, 1), ("got list (1)",), id="list"),
        pytest.param(((1,), 5, 1), ("index 5 out of bounds", "count 1"), id="vector-range"),
        pytest.param(((1,), A, 1), ("integer index", "got keyword :a"), id="vector-key"),
        pytest.param(({}, {A: 1}, 1), ("map {:a 1} cannot be used as a map key",), id="unhashable"),
        pytest.param(({}, A, 1, {B: 2}, 3), ("map {:b 2} cannot be used",), id="unhashable-later"),
    ],
)
def test_assoc_errors(args: tuple[Any, ...], fragments: tuple[str, ...]) -> None:
    expect_error("assoc", args, *fragments)


def test_assoc_in() -> None:
    m = {A: {B: 1}, C: (0, {A: 0})}
    before = copy.deepcopy(m)
    assert call("assoc-in", m, (A, B), 2) == {A: {B: 2}, C: (0, {A: 0})}
    assert call("assoc-in", m, (A, C, B), 3) == {A: {B: 1, C: {B: 3}}, C: (0, {A: 0})}
    assert call("assoc-in", m, (C, 1, A), 9) == {A: {B: 1}, C: (0, {A: 9})}
    assert call("assoc-in", None, (A, B), 1) == {A: {B: 1}}
    assert m == before
    expect_error("assoc-in", (m, (), 1), "non-empty vector of keys")
    expect_error("assoc-in", (m, None, 1), "non-empty vector of keys, got nil")
    expect_error("assoc-in", ({A: 1}, (A, B), 1), "expected a map or vector, got integer 1")


def test_dissoc() -> None:
    m = {A: 1, B: 2}
    before = dict(m)
    assert call("dissoc", m, A) == {B: 2}
    assert call("dissoc", m, A, B, C) == {}
    assert call("dissoc", m, C) is m  # nothing to remove: the (immutable) map itself
    assert call("dissoc", m) is m
    assert call("dissoc", m, {A: 1}) == m
    assert call("dissoc", None, A) is None
    assert m == before
    expect_error("dissoc", ((1,), 0), "expected a map, got vector [1]")


def test_update() -> None:
    m = {A: 1}
    assert call("update", m, A, inc) == {A: 2}
    assert call("update", m, A, plus, 10, 100) == {A: 111}
    assert call("update", m, B, lambda old: old) == {A: 1, B: None}
    assert call("update", None, A, lambda old: (old,)) == {A: (None,)}
    assert call("update", (1, 2), 1, inc) == (1, 3)
    assert m == {A: 1}
    expect_error("update", (m, A, None), "expected a function or keyword, got nil")
    with pytest.raises(TypeError):  # a user function called with the wrong arity: left for the compiler
        call("update", m, A, lambda: 0)


def test_update_in() -> None:
    m = {A: {B: 1}}
    assert call("update-in", m, (A, B), inc) == {A: {B: 2}}
    assert call("update-in", m, (A, C), lambda old, x: (old, x), 5) == {A: {B: 1, C: (None, 5)}}
    assert call("update-in", None, (A,), lambda old: 1) == {A: 1}
    assert m == {A: {B: 1}}
    expect_error("update-in", (m, (), inc), "non-empty")
    expect_error("update-in", (m, (A, B), 3), "got integer 3")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(({A: 1}, {B: 2}, {A: 3}), {A: 3, B: 2}, id="later-wins"),
        pytest.param((None, {A: 1}), {A: 1}, id="nil-first"),
        pytest.param(({A: 1}, None), {A: 1}, id="nil-later"),
        pytest.param((None, None), None, id="all-nil"),
        pytest.param((), None, id="no-args"),
    ],
)
def test_merge(args: tuple[Any, ...], expected: Any) -> None:
    before = copy.deepcopy(args)
    assert call("merge", *args) == expected
    assert args == before


def test_merge_non_map_is_an_error() -> None:
    expect_error("merge", ({A: 1}, (1, 2)), "expected a map, got vector [1 2]")


def test_keys_vals() -> None:
    m = {B: 1, A: 2}
    assert call("keys", m) == (B, A)
    assert call("vals", m) == (1, 2)
    assert call("keys", None) == ()
    assert call("vals", {}) == ()
    expect_error("keys", ((1,),), "expected a map, got vector [1]")
    expect_error("vals", ("x",), 'got string "x"')


@pytest.mark.parametrize(
    ("coll", "key", "expected"),
    [
        pytest.param({A: None}, A, True, id="map-present-nil"),
        pytest.param({A: 1}, B, False, id="map-missing"),
        pytest.param({A: 1}, {A: 1}, False, id="map-unhashable"),
        pytest.param(None, A, False, id="nil"),
        pytest.param((5, 6), 1, True, id="vector-index"),
        pytest.param((5, 6), 5, False, id="vector-value-is-not-index"),
        pytest.param("ab", 1, True, id="string-index"),
    ],
)
def test_contains(coll: Any, key: Any, expected: bool) -> None:
    assert call("contains?", coll, key) is expected


def test_contains_on_a_number_is_an_error() -> None:
    expect_error("contains?", (3, 1), "expected a map, set, vector or string, got integer 3")


def test_select_keys_zipmap_hash_map() -> None:
    m = {A: 1, B: None}
    assert call("select-keys", m, (A, B, C)) == {A: 1, B: None}
    assert call("select-keys", None, (A,)) == {}
    assert call("select-keys", m, ({A: 1},)) == {}
    assert m == {A: 1, B: None}
    expect_error("select-keys", (1, (A,)), "expected a map, got integer 1")
    assert call("zipmap", (A, B, C), (1, 2)) == {A: 1, B: 2}
    assert call("zipmap", None, (1,)) == {}
    expect_error("zipmap", (({A: 1},), (1,)), "cannot be used as a map key")
    assert call("hash-map", A, 1, B, 2) == {A: 1, B: 2}
    assert call("hash-map") == {}
    expect_error("hash-map", (A,), "odd number")
    expect_error("hash-map", ({}, 1), "map {} cannot be used as a map key")


keys = st.sampled_from([A, B, C, "s", 1])
maps = st.dictionaries(keys, st.integers(), max_size=4)


@given(maps, keys, st.integers())
def test_assoc_then_get_round_trips(m: dict[Any, int], k: Any, v: int) -> None:
    before = dict(m)
    out = call("assoc", m, k, v)
    assert call("get", out, k) == v
    assert m == before
    assert call("count", out) == len(m) + (0 if k in m else 1)
    assert call("dissoc", out, k) == {x: y for x, y in m.items() if x is not k and x != k}


@given(maps, maps)
def test_merge_contains_every_key(a: dict[Any, int], b: dict[Any, int]) -> None:
    merged = call("merge", a, b)
    assert set(merged) == set(a) | set(b)
    assert all(merged[k] == v for k, v in b.items())
