"""The everyday clojure.core sequence functions beyond the first set: results, Clojure's edge cases, errors."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrt.errors import LimitExceededError
from streamrt.lang.meter import Limits
from streamrt.lang.metered import metered
from tests.lang.conftest import load
from tests.lang.core_support import K, L, call, expect_error

A, B = K("a"), K("b")


def inc(x: Any) -> Any:
    return x + 1


def odd(x: Any) -> bool:
    return bool(x % 2)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        pytest.param("peek", ((1, 2, 3),), 3, id="peek-vector-is-last"),
        pytest.param("peek", (L(1, 2, 3),), 1, id="peek-list-is-first"),
        pytest.param("peek", ((),), None, id="peek-empty"),
        pytest.param("peek", (None,), None, id="peek-nil"),
        pytest.param("pop", ((1, 2, 3),), (1, 2), id="pop-vector"),
        pytest.param("pop", (L(1, 2, 3),), L(2, 3), id="pop-list"),
        pytest.param("pop", (None,), None, id="pop-nil"),
        pytest.param("subvec", ((1, 2, 3, 4), 1), (2, 3, 4), id="subvec-from"),
        pytest.param("subvec", ((1, 2, 3, 4), 1, 3), (2, 3), id="subvec-range"),
        pytest.param("subvec", ((1, 2), 2, 2), (), id="subvec-empty-at-end"),
        pytest.param("next", ((1, 2),), (2,), id="next"),
        pytest.param("next", ((1,),), None, id="next-nil-when-empty"),
        pytest.param("next", (None,), None, id="next-of-nil"),
        pytest.param("ffirst", (((1, 2), (3,)),), 1, id="ffirst"),
        pytest.param("ffirst", ((),), None, id="ffirst-empty"),
        pytest.param("nthrest", ((1, 2, 3), 2), (3,), id="nthrest"),
        pytest.param("nthrest", ((1, 2), 5), (), id="nthrest-past-end"),
        pytest.param("nthrest", ((1, 2), -1), (1, 2), id="nthrest-negative"),
        pytest.param("nthnext", ((1, 2), 2), None, id="nthnext-nil"),
        pytest.param("nthnext", ((1, 2, 3), 1), (2, 3), id="nthnext"),
        pytest.param("butlast", ((1, 2, 3),), (1, 2), id="butlast"),
        pytest.param("butlast", ((1,),), None, id="butlast-nil-when-empty"),
        pytest.param("take-last", (2, (1, 2, 3)), (2, 3), id="take-last"),
        pytest.param("take-last", (5, (1, 2)), (1, 2), id="take-last-more-than-count"),
        pytest.param("take-last", (0, (1, 2)), (), id="take-last-zero"),
        pytest.param("drop-last", ((1, 2, 3),), (1, 2), id="drop-last-one"),
        pytest.param("drop-last", (2, (1, 2, 3)), (1,), id="drop-last-n"),
        pytest.param("drop-last", (-1, (1, 2)), (1, 2), id="drop-last-negative"),
        pytest.param("not-empty", ((1,),), (1,), id="not-empty"),
        pytest.param("not-empty", ((),), None, id="not-empty-empty"),
        pytest.param("not-empty", ("",), None, id="not-empty-string"),
        pytest.param("not-empty", ({},), None, id="not-empty-map"),
        pytest.param("not-empty", (None,), None, id="not-empty-nil"),
        pytest.param("mapv", (inc, (1, 2)), (2, 3), id="mapv"),
        pytest.param("filterv", (odd, (1, 2, 3)), (1, 3), id="filterv"),
        pytest.param("map-indexed", (lambda i, x: (i, x), "ab"), ((0, "a"), (1, "b")), id="map-indexed"),
        pytest.param("keep-indexed", (lambda i, x: x if i else None, (5, 6, 7)), (6, 7), id="keep-indexed"),
        pytest.param("repeat", (3, A), (A, A, A), id="repeat"),
        pytest.param("repeat", (-1, A), (), id="repeat-negative"),
        pytest.param("interleave", ((1, 2, 3), "ab"), (1, "a", 2, "b"), id="interleave-shortest"),
        pytest.param("interleave", (), (), id="interleave-none"),
        pytest.param("interpose", (",", (1, 2, 3)), (1, ",", 2, ",", 3), id="interpose"),
        pytest.param("interpose", (",", ()), (), id="interpose-empty"),
        pytest.param("flatten", ((1, (2, L(3, (4,))), 5),), (1, 2, 3, 4, 5), id="flatten"),
        pytest.param("flatten", (((1, {A: (2,)}),),), (1, {A: (2,)}), id="flatten-keeps-maps"),
        pytest.param("flatten", (None,), (), id="flatten-nil"),
        pytest.param("flatten", (3,), (), id="flatten-scalar"),
        pytest.param("reductions", (lambda a, b: a + b, (1, 2, 3)), (1, 3, 6), id="reductions"),
        pytest.param("reductions", (lambda a, b: a + b, 10, (1, 2)), (10, 11, 13), id="reductions-init"),
        pytest.param("reductions", (lambda *a: sum(a), ()), (0,), id="reductions-empty"),
        pytest.param("take-while", (odd, (1, 3, 4, 5)), (1, 3), id="take-while"),
        pytest.param("drop-while", (odd, (1, 3, 4, 5)), (4, 5), id="drop-while"),
        pytest.param("drop-while", (odd, (1, 3)), (), id="drop-while-all"),
        pytest.param("split-at", (2, (1, 2, 3)), ((1, 2), (3,)), id="split-at"),
        pytest.param("split-with", (odd, (1, 2, 3)), ((1,), (2, 3)), id="split-with"),
        pytest.param("take-nth", (2, (0, 1, 2, 3, 4)), (0, 2, 4), id="take-nth"),
        pytest.param("partition-all", (2, (1, 2, 3)), ((1, 2), (3,)), id="partition-all"),
        pytest.param("partition-all", (2, 1, (1, 2, 3)), ((1, 2), (2, 3), (3,)), id="partition-all-step"),
        pytest.param("partition-by", (odd, (1, 3, 2, 4, 5)), ((1, 3), (2, 4), (5,)), id="partition-by"),
        pytest.param("partition-by", (odd, ()), (), id="partition-by-empty"),
        pytest.param("dedupe", ((1, 1, 2, 1, 1.0),), (1, 2, 1), id="dedupe-by-equality"),
        pytest.param("dedupe", ((True, 1),), (True, 1), id="dedupe-keeps-true-and-1-apart"),
        pytest.param("distinct?", (1, 2, 3), True, id="distinct?"),
        pytest.param("distinct?", (1, 2, 1.0), False, id="distinct?-by-equality"),
        pytest.param("distinct?", (1,), True, id="distinct?-one"),
    ],
)
def test_sequence_function(name: str, args: tuple[Any, ...], expected: Any) -> None:
    result = call(name, *args)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        pytest.param("peek", ({A: 1},), "expected a vector or list, got map", id="peek-map"),
        pytest.param("pop", ((),), "cannot pop an empty vector", id="pop-empty-vector"),
        pytest.param("pop", (L(),), "cannot pop an empty list", id="pop-empty-list"),
        pytest.param("pop", ("ab",), "expected a vector or list, got string", id="pop-string"),
        pytest.param("subvec", (L(1), 0), "expected a vector, got list", id="subvec-list"),
        pytest.param(
            "subvec", ((1, 2), 1, 5), "range 1..5 out of bounds for a vector of count 2", id="subvec-bounds"
        ),
        pytest.param("subvec", ((1, 2), 2, 1), "range 2..1 out of bounds", id="subvec-backwards"),
        pytest.param("subvec", ((1, 2), "0"), "expected an integer start index", id="subvec-index"),
        pytest.param("take-last", ("2", (1,)), "expected an integer count", id="take-last-count"),
        pytest.param("drop-last", (None, (1,)), "expected an integer count, got nil", id="drop-last-count"),
        pytest.param("nthrest", ((1,), 1.5), "expected an integer count", id="nthrest-count"),
        pytest.param("repeat", (1.5, A), "expected an integer count", id="repeat-count"),
        pytest.param(
            "not-empty", (1,), "expected a collection or string, got integer", id="not-empty-number"
        ),
        pytest.param("mapv", (1, (1,)), "expected a function or keyword, got integer", id="mapv-fn"),
        pytest.param("filterv", (odd, 3), "expected a collection, got integer", id="filterv-coll"),
        pytest.param("take-nth", (0, (1,)), "the step must be positive, got 0", id="take-nth-zero"),
        pytest.param("partition-all", (0, (1,)), "size and step must be positive", id="partition-all-zero"),
        pytest.param("partition-by", (odd, 5), "expected a collection", id="partition-by-coll"),
        pytest.param("interleave", ((1,), 2), "expected a collection, got integer", id="interleave-coll"),
        pytest.param("reductions", ("f", (1,)), "expected a function or keyword", id="reductions-fn"),
        pytest.param(
            "take-while", (None, (1,)), "expected a function or keyword, got nil", id="take-while-fn"
        ),
        pytest.param("split-with", (3, (1,)), "expected a function or keyword", id="split-with-fn"),
    ],
)
def test_sequence_function_errors(name: str, args: tuple[Any, ...], fragment: str) -> None:
    expect_error(name, args, fragment)


def test_arguments_are_not_changed() -> None:
    v = (1, 2, 3)
    assert call("pop", v) == (1, 2)
    assert v == (1, 2, 3)


@given(st.lists(st.integers(-3, 3)), st.integers(-2, 5))
def test_take_last_and_drop_last_split_the_sequence(xs: list[int], n: int) -> None:
    coll = tuple(xs)
    k = max(n, 0)
    assert call("take-last", n, coll) == (coll[len(coll) - k :] if k else ())
    assert call("drop-last", n, coll) + call("take-last", n, coll) == coll


@given(st.lists(st.integers(0, 3)))
def test_partition_by_concatenates_back_and_each_run_is_one_key(xs: list[int]) -> None:
    runs = call("partition-by", odd, tuple(xs))
    assert tuple(x for run in runs for x in run) == tuple(xs)
    assert all(len({odd(x) for x in run}) == 1 for run in runs)
    assert all(odd(a[-1]) != odd(b[0]) for a, b in itertools.pairwise(runs))


def test_repeat_is_bounded_by_max_size_under_limits() -> None:
    script = load("(defn f [n] (count (repeat n :x)))\n")
    f = metered(script.processor("f"), Limits(max_size=5_000))
    assert f(4_000) == 4_000
    with pytest.raises(LimitExceededError, match="repeat would build 6,000 items"):
        f(6_000)


def test_flatten_of_deep_nesting_needs_no_recursion() -> None:
    deep: Any = (1,)
    for _ in range(5_000):
        deep = (deep,)
    assert call("flatten", deep) == (1,)


def test_in_a_script() -> None:
    script = load(
        "(defn f [xs] [(peek xs) (pop xs) (take-last 2 xs) (partition-by even? xs) (dedupe xs) (interpose 0 xs)])\n"
    )
    assert script.processor("f")((1, 1, 2)) == (2, (1, 1), (1, 2), ((1, 1), (2,)), (1, 2), (1, 0, 1, 0, 2))
