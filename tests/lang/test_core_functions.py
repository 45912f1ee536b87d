"""Higher-order functions: map, filter, reduce, some, every?, group-by, apply, comp, partial..."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrt.errors import ScriptRuntimeError
from streamrt.lang.core import CORE
from tests.lang.core_support import K, L, call, expect_error

A, B = K("a"), K("b")
inc = CORE["inc"].fn
plus = CORE["+"].fn
identity = CORE["identity"].fn
ROWS = ({A: 1, B: "x"}, {A: 2}, {A: 3, B: "y"})


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((inc, (1, 2)), (2, 3), id="fn"),
        pytest.param((A, ROWS), (1, 2, 3), id="keyword"),
        pytest.param((B, ROWS), ("x", None, "y"), id="keyword-missing"),
        pytest.param((plus, (1, 2, 3), (10, 20)), (11, 22), id="two-colls-shortest"),
        pytest.param((plus, (1,), (2,), (3,)), (6,), id="three-colls"),
        pytest.param((inc, None), (), id="nil"),
        pytest.param((lambda kv: kv[1], {A: 1, B: 2}), (1, 2), id="map-entries"),
        pytest.param((CORE["upper-case"].fn, "ab"), ("A", "B"), id="string"),
        pytest.param((inc, L(1)), (2,), id="list"),
    ],
)
def test_map(args: tuple[Any, ...], expected: tuple[Any, ...]) -> None:
    before = copy.deepcopy(args[1:])
    result = call("map", *args)
    assert result == expected
    assert type(result) is tuple
    assert args[1:] == before


def test_map_errors() -> None:
    expect_error("map", (1, (1,)), "expected a function or keyword, got integer 1")
    expect_error("map", (inc, 5), "expected a collection, got integer 5")
    with pytest.raises(TypeError):  # arity mistakes in user functions propagate for the compiler to locate
        call("map", lambda: 1, (1,))


def test_map_reports_errors_of_the_function_it_calls() -> None:
    with pytest.raises(ScriptRuntimeError, match="inc: expected a number, got nil"):
        call("map", inc, (1, None))


TRUTHY_MIX: tuple[Any, ...] = (0, "", (), None, False, {}, 1)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        pytest.param("filter", (identity, TRUTHY_MIX), (0, "", (), {}, 1), id="filter-language-truthiness"),
        pytest.param("filter", (B, ROWS), (ROWS[0], ROWS[2]), id="filter-keyword"),
        pytest.param("filter", (identity, None), (), id="filter-nil"),
        pytest.param("remove", (identity, TRUTHY_MIX), (None, False), id="remove"),
        pytest.param("remove", (B, ROWS), (ROWS[1],), id="remove-keyword"),
        pytest.param("keep", (identity, TRUTHY_MIX), (0, "", (), False, {}, 1), id="keep-keeps-false"),
        pytest.param("keep", (B, ROWS), ("x", "y"), id="keep-keyword"),
        pytest.param("mapcat", (lambda x: (x, x), (1, 2)), (1, 1, 2, 2), id="mapcat"),
        pytest.param("mapcat", (CORE["vector"].fn, (1, 2), (3, 4)), (1, 3, 2, 4), id="mapcat-two-colls"),
        pytest.param("mapcat", (lambda x: None, (1, 2)), (), id="mapcat-nil-results"),
        pytest.param("some", (B, ROWS), "x", id="some-returns-value"),
        pytest.param("some", (lambda x: x > 5, (1, 2)), None, id="some-none"),
        pytest.param("some", (identity, (None, False, 0)), 0, id="some-zero-is-truthy"),
        pytest.param("some", (identity, None), None, id="some-nil"),
        pytest.param("every?", (A, ROWS), True, id="every"),
        pytest.param("every?", (B, ROWS), False, id="every-missing"),
        pytest.param("every?", (identity, (0, "")), True, id="every-zero-truthy"),
        pytest.param("every?", (identity, ()), True, id="every-empty"),
        pytest.param("every?", (identity, None), True, id="every-nil"),
    ],
)
def test_higher_order(name: str, args: tuple[Any, ...], expected: Any) -> None:
    before = copy.deepcopy(args[1:])
    assert call(name, *args) == expected
    assert args[1:] == before


@pytest.mark.parametrize("name", ["filter", "remove", "keep", "some", "every?", "group-by", "mapcat"])
def test_higher_order_needs_a_function(name: str) -> None:
    expect_error(name, ("x", (1,)), 'expected a function or keyword, got string "x"')


def test_every_returns_a_bool_even_for_truthy_values() -> None:
    assert call("every?", A, ROWS) is True


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((plus, (1, 2, 3)), 6, id="no-init"),
        pytest.param((plus, 10, (1, 2)), 13, id="init"),
        pytest.param((plus, ()), 0, id="empty-calls-f"),
        pytest.param((plus, 5, ()), 5, id="empty-with-init"),
        pytest.param((plus, 5, None), 5, id="nil-with-init"),
        pytest.param((lambda a, b: 1 / 0, (7,)), 7, id="single-item-no-call"),
        pytest.param((lambda acc, kv: acc + kv[1], 0, {A: 1, B: 2}), 3, id="map-entries"),
        pytest.param((CORE["conj"].fn, (), (1, 2)), (1, 2), id="build"),
    ],
)
def test_reduce(args: tuple[Any, ...], expected: Any) -> None:
    assert call("reduce", *args) == expected


def test_reduce_errors() -> None:
    expect_error("reduce", (None, (1, 2)), "got nil")
    with pytest.raises(TypeError):  # (reduce f []) calls (f) as Clojure does; a 2-arg fn rejects that
        call("reduce", lambda a, b: a, ())


def test_group_by_and_frequencies() -> None:
    assert call("group-by", B, ROWS) == {"x": (ROWS[0],), None: (ROWS[1],), "y": (ROWS[2],)}
    assert call("group-by", CORE["odd?"].fn, (1, 2, 3)) == {True: (1, 3), False: (2,)}
    assert call("group-by", identity, None) == {}
    assert call("frequencies", ("a", "b", "a", A)) == {"a": 2, "b": 1, A: 1}
    assert call("frequencies", None) == {}
    groups = call("group-by", CORE["odd?"].fn, (1, 2, 3))
    assert all(type(g) is tuple for g in groups.values())
    expect_error("group-by", (lambda x: {}, (1,)), "map {} cannot be used as a map key")
    expect_error("frequencies", (({A: 1},),), "cannot be used as a map key")


def test_apply() -> None:
    assert call("apply", plus, (1, 2, 3)) == 6
    assert call("apply", plus, 1, 2, (3, 4)) == 10
    assert call("apply", plus, None) == 0
    assert call("apply", CORE["str"].fn, "a", L("b", "c")) == "abc"
    expect_error("apply", (plus, 1, 2), "expected a collection, got integer 2")
    expect_error("apply", (None, (1,)), "got nil")


def test_comp_partial_identity() -> None:
    double = CORE["partial"].fn(CORE["*"].fn, 2)
    assert double(21) == 42
    assert call("comp", inc, double)(5) == 11  # right to left
    assert call("comp", inc, plus)(1, 2) == 4  # the innermost gets all arguments
    assert call("comp", A, CORE["first"].fn)(ROWS) == 1
    assert call("comp")(7) == 7
    assert call("comp", inc) is inc
    assert call("identity", ROWS) is ROWS
    assert call("partial", plus)(1, 2) == 3
    assert CORE["fn?"].fn(call("comp", inc, inc)) is True
    expect_error("comp", (inc, 3), "got integer 3")
    expect_error("partial", (None, 1), "got nil")


def test_composed_functions_print_as_functions() -> None:
    assert call("pr-str", call("comp", inc, inc)) == "#<fn comp>"
    assert call("pr-str", call("partial", inc)) == "#<fn partial>"


ints = st.lists(st.integers(-50, 50), max_size=8).map(tuple)


@given(ints)
def test_filter_and_remove_partition_the_items(v: tuple[int, ...]) -> None:
    even = CORE["even?"].fn
    kept, dropped = call("filter", even, v), call("remove", even, v)
    assert len(kept) + len(dropped) == len(v)
    assert sorted(kept + dropped) == sorted(v)


@given(ints)
def test_reduce_plus_is_sum_and_map_keeps_length(v: tuple[int, ...]) -> None:
    assert call("reduce", plus, 0, v) == sum(v)
    assert len(call("map", inc, v)) == len(v)
    assert sum(call("frequencies", v).values()) == len(v)
