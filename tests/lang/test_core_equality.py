"""Equality (``=``, ``not=``, :func:`equals`), ordering (``compare``, ``sort``, ``sort-by``) and type predicates."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrt.lang.core import CORE, equals
from tests.lang.core_support import K, L, call, expect_error


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param(1, 1, True, id="ints"),
        pytest.param(1, 1.0, True, id="int-float"),
        pytest.param(True, 1, False, id="true-is-not-1"),
        pytest.param(False, 0, False, id="false-is-not-0"),
        pytest.param(True, True, True, id="bools"),
        pytest.param(None, None, True, id="nils"),
        pytest.param(None, False, False, id="nil-not-false"),
        pytest.param("a", K("a"), False, id="string-not-keyword"),
        pytest.param(K("a"), K("a"), True, id="keywords"),
        pytest.param((1, 2), L(1, 2), True, id="vector-list"),
        pytest.param((1, 2), (1, 2.0), True, id="vector-numeric"),
        pytest.param((1,), (True,), False, id="nested-bool"),
        pytest.param((1, 2), (1, 2, 3), False, id="lengths"),
        pytest.param({K("a"): (1,)}, {K("a"): L(1.0)}, True, id="maps-nested"),
        pytest.param({K("a"): 1}, {K("a"): True}, False, id="map-bool-value"),
        pytest.param({K("a"): 1}, {K("b"): 1}, False, id="map-keys"),
        pytest.param({K("a"): None}, {K("b"): None}, False, id="map-nil-values"),
        pytest.param({}, (), False, id="map-vs-vector"),
        pytest.param(float("nan"), float("nan"), False, id="nan"),
    ],
)
def test_equals(a: Any, b: Any, expected: bool) -> None:
    assert equals(a, b) is expected
    assert equals(b, a) is expected
    assert call("=", a, b) is expected
    assert call("not=", a, b) is (not expected)


def test_equality_is_variadic() -> None:
    assert call("=", 1) is True
    assert call("=", 1, 1.0, 1) is True
    assert call("=", 1, 1, 2) is False
    assert call("not=", 1, 1, 2) is True


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param(None, 1, -1, id="nil-first"),
        pytest.param(1, None, 1, id="nil-first-reversed"),
        pytest.param(1, 2.5, -1, id="numbers"),
        pytest.param(2, 2.0, 0, id="equal-numbers"),
        pytest.param("b", "a", 1, id="strings"),
        pytest.param(K("b"), K("a/a"), -1, id="keyword-without-namespace-first"),
        pytest.param(False, True, -1, id="booleans"),
        pytest.param((1, 2), (0, 0, 0), -1, id="vectors-by-length"),
        pytest.param((1, 2), L(1, 3), -1, id="vectors-by-items"),
    ],
)
def test_compare(a: Any, b: Any, expected: int) -> None:
    assert call("compare", a, b) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(1, "1", id="number-string"),
        pytest.param(True, 1, id="bool-number"),
        pytest.param({}, {}, id="maps"),
        pytest.param((1,), ("a",), id="nested"),
    ],
)
def test_compare_across_kinds_is_an_error(a: Any, b: Any) -> None:
    expect_error("compare", (a, b), "cannot compare")


@pytest.mark.parametrize(
    ("coll", "expected"),
    [
        pytest.param((3, 1.5, 2), (1.5, 2, 3), id="numbers"),
        pytest.param(("b", "a", "c"), ("a", "b", "c"), id="strings"),
        pytest.param((K("b"), K("x/a"), K("a")), (K("a"), K("b"), K("x/a")), id="keywords"),
        pytest.param((2, None, 1), (None, 1, 2), id="nil-first"),
        pytest.param({K("b"): 1, K("a"): 2}, ((K("a"), 2), (K("b"), 1)), id="map-pairs"),
        pytest.param(None, (), id="nil"),
        pytest.param(L(2, 1), (1, 2), id="list"),
    ],
)
def test_sort_natural(coll: Any, expected: tuple[Any, ...]) -> None:
    before = copy.deepcopy(coll)
    result = call("sort", coll)
    assert result == expected
    assert type(result) is tuple
    assert coll == before


def test_sort_mixed_kinds_is_an_error() -> None:
    expect_error("sort", ((1, "a"),), "cannot compare", "integer 1", 'string "a"')


def test_sort_with_comparator() -> None:
    assert call("sort", CORE[">"].fn, (1, 3, 2)) == (3, 2, 1)
    assert call("sort", CORE["compare"].fn, (2, 1)) == (1, 2)
    assert call("sort", lambda a, b: b - a, (1, 3, 2)) == (3, 2, 1)
    expect_error("sort", (lambda a, b: "x", (1, 2)), "comparator", 'got string "x"')
    expect_error("sort", (5, (1, 2)), "expected a function or keyword, got integer 5")


def test_sort_by() -> None:
    rows = ({K("n"): 2, K("id"): "a"}, {K("n"): 1, K("id"): "b"}, {K("n"): 2, K("id"): "c"})
    before = copy.deepcopy(rows)
    assert [r[K("id")] for r in call("sort-by", K("n"), rows)] == ["b", "a", "c"]  # stable
    assert [r[K("id")] for r in call("sort-by", K("n"), CORE[">"].fn, rows)] == ["a", "c", "b"]
    assert call("sort-by", len, ("ccc", "a", "bb")) == ("a", "bb", "ccc")
    assert call("sort-by", K("k"), ({K("k"): K("b")}, {K("k"): None})) == ({K("k"): None}, {K("k"): K("b")})
    assert rows == before
    expect_error("sort-by", (K("n"), ({K("n"): 1}, {K("n"): "x"})), "cannot compare")
    expect_error("sort-by", (None, (1,)), "got nil")


def test_sort_by_calls_keyfn_once_per_item() -> None:
    calls: list[Any] = []

    def key(x: Any) -> Any:
        calls.append(x)
        return -x

    assert call("sort-by", key, (1, 2, 3)) == (3, 2, 1)
    assert calls == [1, 2, 3]


def f(x: Any) -> Any:
    return x


@pytest.mark.parametrize(
    ("name", "truthy", "falsy"),
    [
        pytest.param("nil?", [None], [False, 0, "", ()], id="nil?"),
        pytest.param("some?", [False, 0, ""], [None], id="some?"),
        pytest.param("boolean?", [True, False], [None, 0, "true"], id="boolean?"),
        pytest.param("number?", [0, 1.5, 10**40], [True, None, "1"], id="number?"),
        pytest.param("int?", [0, -3], [1.0, True, None], id="int?"),
        pytest.param("float?", [1.0], [1, None], id="float?"),
        pytest.param("string?", ["", "a"], [K("a"), None], id="string?"),
        pytest.param("keyword?", [K("a")], ["a", None], id="keyword?"),
        pytest.param("map?", [{}], [(), None], id="map?"),
        pytest.param("vector?", [(), (1,)], [L(1), {}, None], id="vector?"),
        pytest.param("list?", [L(), L(1)], [(), None], id="list?"),
        pytest.param("coll?", [(), L(), {}], ["", None], id="coll?"),
        pytest.param("fn?", [f, CORE["inc"].fn, lambda: 1], [K("a"), None, "f"], id="fn?"),
        pytest.param("empty?", [None, (), {}, "", L()], [(0,), {K("a"): 1}, "x"], id="empty?"),
        pytest.param("not", [None, False], [0, "", (), True], id="not"),
    ],
)
def test_predicates(name: str, truthy: list[Any], falsy: list[Any]) -> None:
    for x in truthy:
        assert call(name, x) is True, x
    for x in falsy:
        assert call(name, x) is False, x


def test_empty_of_a_number_is_an_error() -> None:
    expect_error("empty?", (3,), "expected a collection or string, got integer 3")


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.sampled_from([K("a"), K("b"), "c"]), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(values)
def test_equals_is_reflexive_and_matches_a_deep_copy(v: Any) -> None:
    assert equals(v, v)
    assert equals(v, copy.deepcopy(v))


@given(values, values)
def test_equals_is_symmetric(a: Any, b: Any) -> None:
    assert equals(a, b) is equals(b, a)


@given(st.lists(st.integers() | st.floats(allow_nan=False)) | st.lists(st.text()))
def test_sort_is_ordered_and_a_permutation(xs: list[Any]) -> None:
    result = call("sort", tuple(xs))
    assert all(a <= b for a, b in itertools.pairwise(result))
    assert sorted(result) == sorted(xs)
