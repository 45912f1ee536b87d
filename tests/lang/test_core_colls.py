"""Sequence functions: count, first/rest, nth, conj, into, take/drop, distinct, range, partition..."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrt.values import LList
from tests.lang.core_support import K, L, call, expect_error

A, B = K("a"), K("b")


@pytest.mark.parametrize(
    ("coll", "expected"),
    [
        pytest.param(None, 0, id="nil"),
        pytest.param((1, 2), 2, id="vector"),
        pytest.param(L(1), 1, id="list"),
        pytest.param({A: 1}, 1, id="map"),
        pytest.param("héllo", 5, id="string"),
    ],
)
def test_count(coll: Any, expected: int) -> None:
    assert call("count", coll) == expected


@pytest.mark.parametrize("bad", [1, 1.5, True, A], ids=["int", "float", "bool", "keyword"])
def test_count_of_a_non_collection_is_an_error(bad: Any) -> None:
    expect_error("count", (bad,), "expected a collection or string")


@pytest.mark.parametrize(
    ("name", "coll", "expected"),
    [
        pytest.param("first", (1, 2, 3), 1, id="first"),
        pytest.param("first", (), None, id="first-empty"),
        pytest.param("first", None, None, id="first-nil"),
        pytest.param("first", "ab", "a", id="first-string"),
        pytest.param("first", {A: 1}, (A, 1), id="first-map"),
        pytest.param("second", (1, 2, 3), 2, id="second"),
        pytest.param("second", (1,), None, id="second-short"),
        pytest.param("second", None, None, id="second-nil"),
        pytest.param("last", (1, 2, 3), 3, id="last"),
        pytest.param("last", None, None, id="last-nil"),
        pytest.param("last", L(1, 2), 2, id="last-list"),
        pytest.param("rest", (1, 2, 3), (2, 3), id="rest"),
        pytest.param("rest", (), (), id="rest-empty"),
        pytest.param("rest", None, (), id="rest-nil"),
        pytest.param("rest", "abc", ("b", "c"), id="rest-string"),
        pytest.param("rest", L(1, 2), (2,), id="rest-list"),
        pytest.param("reverse", (1, 2, 3), (3, 2, 1), id="reverse"),
        pytest.param("reverse", None, (), id="reverse-nil"),
        pytest.param("vec", L(1, 2), (1, 2), id="vec-list"),
        pytest.param("vec", None, (), id="vec-nil"),
        pytest.param("vec", {A: 1}, ((A, 1),), id="vec-map"),
        pytest.param("seq", (), None, id="seq-empty"),
        pytest.param("seq", None, None, id="seq-nil"),
        pytest.param("seq", L(1), (1,), id="seq-list"),
        pytest.param("distinct", (1, 2, 1, 1.0, True, 3, 2), (1, 2, True, 3), id="distinct"),
        pytest.param("distinct", ({A: 1}, {A: 1}, {A: True}), ({A: 1}, {A: True}), id="distinct-maps"),
        pytest.param("distinct", None, (), id="distinct-nil"),
    ],
)
def test_sequence_accessors(name: str, coll: Any, expected: Any) -> None:
    before = copy.deepcopy(coll)
    result = call(name, coll)
    assert result == expected
    assert coll == before
    if isinstance(expected, tuple) and name != "first":
        assert type(result) is tuple  # sequence results are vectors, even from lists


@pytest.mark.parametrize("name", ["first", "rest", "last", "second", "reverse", "vec", "distinct"])
def test_sequence_functions_reject_numbers(name: str) -> None:
    expect_error(name, (7,), "expected a collection, got integer 7")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(((1, 2), 0), 1, id="vector"),
        pytest.param((L(1, 2), 1), 2, id="list"),
        pytest.param(("ab", 1), "b", id="string"),
        pytest.param(((1, 2), 5, "d"), "d", id="default"),
        pytest.param(((1, 2), -1, "d"), "d", id="negative-default"),
        pytest.param((None, 3), None, id="nil"),
        pytest.param((None, 3, "d"), "d", id="nil-default"),
    ],
)
def test_nth(args: tuple[Any, ...], expected: Any) -> None:
    assert call("nth", *args) == expected


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(((1, 2), 2), ("index 2 out of bounds for a vector of count 2",), id="out-of-range"),
        pytest.param(("ab", 9), ("string of length 2",), id="string-out-of-range"),
        pytest.param(((1,), 0.0), ("expected an integer index, got float 0.0",), id="float-index"),
        pytest.param(({A: 1}, 0), ("expected a vector, list or string, got map",), id="map"),
    ],
)
def test_nth_errors(args: tuple[Any, ...], fragments: tuple[str, ...]) -> None:
    expect_error("nth", args, *fragments)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(((1, 2), 3, 4), (1, 2, 3, 4), id="vector-appends"),
        pytest.param((L(1, 2), 3, 4), L(4, 3, 1, 2), id="list-prepends"),
        pytest.param((None, 1), (1,), id="nil-gives-vector"),
        pytest.param(({A: 1}, (B, 2)), {A: 1, B: 2}, id="map-pair"),
        pytest.param(({A: 1}, {B: 2}, None), {A: 1, B: 2}, id="map-map"),
        pytest.param(((1,),), (1,), id="no-items"),
        pytest.param((), (), id="no-args"),
    ],
)
def test_conj(args: tuple[Any, ...], expected: Any) -> None:
    before = copy.deepcopy(args)
    result = call("conj", *args)
    assert result == expected
    assert type(result) is type(expected)
    assert args == before


def test_conj_errors() -> None:
    expect_error("conj", ({A: 1}, (1, 2, 3)), "[key value] pair or a map", "got vector [1 2 3]")
    expect_error("conj", ("s", 1), "expected a vector, list, map or set, got string")
    expect_error("conj", ({}, ({}, 1)), "cannot be used as a map key")


@pytest.mark.parametrize(
    ("to", "frm", "expected"),
    [
        pytest.param({}, ((A, 1), (B, 2)), {A: 1, B: 2}, id="map-from-pairs"),
        pytest.param({A: 0}, {A: 1}, {A: 1}, id="map-from-map"),
        pytest.param((), L(1, 2), (1, 2), id="vector-from-list"),
        pytest.param((0,), (1, 2), (0, 1, 2), id="vector-appends"),
        pytest.param(None, (1, 2), (1, 2), id="nil-gives-vector"),
        pytest.param(L(0), (1, 2), L(2, 1, 0), id="list-prepends"),
        pytest.param((), None, (), id="from-nil"),
        pytest.param((), "ab", ("a", "b"), id="from-string"),
    ],
)
def test_into(to: Any, frm: Any, expected: Any) -> None:
    before = copy.deepcopy((to, frm))
    result = call("into", to, frm)
    assert result == expected
    assert type(result) is type(expected)
    assert (to, frm) == before


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        pytest.param("cons", (0, (1, 2)), (0, 1, 2), id="cons"),
        pytest.param("cons", (0, None), (0,), id="cons-nil"),
        pytest.param("concat", ((1,), L(2), None, "ab"), (1, 2, "a", "b"), id="concat"),
        pytest.param("concat", (), (), id="concat-empty"),
        pytest.param("take", (2, (1, 2, 3)), (1, 2), id="take"),
        pytest.param("take", (5, (1,)), (1,), id="take-more"),
        pytest.param("take", (-1, (1,)), (), id="take-negative"),
        pytest.param("take", (1, None), (), id="take-nil"),
        pytest.param("drop", (1, (1, 2, 3)), (2, 3), id="drop"),
        pytest.param("drop", (-2, (1, 2)), (1, 2), id="drop-negative"),
        pytest.param("drop", (9, L(1)), (), id="drop-more"),
        pytest.param("vector", (1, 2), (1, 2), id="vector"),
        pytest.param("list", (1, 2), L(1, 2), id="list"),
    ],
)
def test_building(name: str, args: tuple[Any, ...], expected: Any) -> None:
    before = copy.deepcopy(args)
    result = call(name, *args)
    assert result == expected
    assert type(result) is type(expected)
    assert args == before


def test_list_is_a_list_value() -> None:
    assert type(call("list", 1)) is LList
    expect_error("take", ("2", (1,)), 'expected an integer count, got string "2"')
    expect_error("drop", (None, (1,)), "got nil")
    expect_error("concat", ((1,), 2), "expected a collection, got integer 2")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((3,), (0, 1, 2), id="end"),
        pytest.param((2, 5), (2, 3, 4), id="start-end"),
        pytest.param((5, 0, -2), (5, 3, 1), id="negative-step"),
        pytest.param((0,), (), id="empty"),
        pytest.param((0, 1, 0.25), (0.0, 0.25, 0.5, 0.75), id="float-step"),
        pytest.param((0.5, 2), (0.5, 1.5), id="float-start"),
    ],
)
def test_range(args: tuple[Any, ...], expected: tuple[Any, ...]) -> None:
    assert call("range", *args) == expected


def test_range_errors() -> None:
    assert call("range", 1, 2, 0.5) == (1.0, 1.5)
    expect_error("range", (0, 5, 0), "step must not be zero")
    expect_error("range", (None,), "expected a number, got nil")
    expect_error("range", (0, float("inf"), 1.0), "cannot count")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((2, (1, 2, 3, 4, 5)), ((1, 2), (3, 4)), id="drops-tail"),
        pytest.param((2, 1, (1, 2, 3)), ((1, 2), (2, 3)), id="step"),
        pytest.param((2, 3, (1, 2, 3, 4, 5, 6)), ((1, 2), (4, 5)), id="step-gap"),
        pytest.param((3, (1, 2)), (), id="too-short"),
        pytest.param((2, None), (), id="nil"),
        pytest.param((1, L(1, 2)), ((1,), (2,)), id="list-items"),
    ],
)
def test_partition(args: tuple[Any, ...], expected: tuple[Any, ...]) -> None:
    result = call("partition", *args)
    assert result == expected
    assert all(type(group) is tuple for group in result)


def test_partition_errors() -> None:
    expect_error("partition", (0, (1,)), "must be positive")
    expect_error("partition", (2, -1, (1,)), "must be positive")
    expect_error("partition", ("2", (1,)), "expected an integer size")


items = st.lists(st.integers() | st.text(max_size=2) | st.none(), max_size=8).map(tuple)


@given(items, st.integers())
def test_conj_adds_one(v: tuple[Any, ...], x: int) -> None:
    assert call("count", call("conj", v, x)) == call("count", v) + 1
    assert call("last", call("conj", v, x)) == x


@given(items, st.integers(-2, 10))
def test_take_and_drop_split_a_vector(v: tuple[Any, ...], n: int) -> None:
    assert call("concat", call("take", n, v), call("drop", n, v)) == v


@given(items)
def test_distinct_keeps_first_occurrences_without_repeats(v: tuple[Any, ...]) -> None:
    d = call("distinct", v)
    assert len(set(d)) == len(d)
    assert set(d) == set(v)
    assert list(d) == sorted(d, key=v.index)


@given(st.integers(1, 4), st.integers(1, 4), items)
def test_partition_groups_have_size_n(n: int, step: int, v: tuple[Any, ...]) -> None:
    groups = call("partition", n, step, v)
    assert all(len(g) == n for g in groups)
    assert [g[0] for g in groups] == list(v[0 : max(len(v) - n + 1, 0) : step])
