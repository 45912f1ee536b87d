"""Function builders, the map extras, numbers and predicates added for the everyday clojure.core surface."""

from __future__ import annotations

import math
from typing import Any

import pytest

from streamrt.printer import pr_str
from tests.lang.conftest import load, runtime_error
from tests.lang.core_support import K, L, call, expect_error

A, B, C = K("a"), K("b"), K("c")


def add(*xs: Any) -> Any:
    return sum(xs)


def even(x: Any) -> bool:
    return x % 2 == 0


def neg(x: Any) -> bool:
    return x < 0


# --- function builders ------------------------------------------------------------------------------------------


def test_constantly_ignores_its_arguments() -> None:
    f = call("constantly", 7)
    assert (f(), f(1, 2)) == (7, 7)
    assert pr_str(f) == "#<fn constantly>"


def test_complement() -> None:
    odd = call("complement", even)
    assert (odd(3), odd(4)) == (True, False)
    assert call("complement", lambda: None)() is True


def test_fnil_replaces_nil_arguments_only() -> None:
    inc0 = call("fnil", lambda x: x + 1, 0)
    assert (inc0(None), inc0(5)) == (1, 6)
    both = call("fnil", lambda a, b: (a, b), 1, 2)
    assert both(None, None) == (1, 2)
    assert both(False, None) == (False, 2)  # false is not nil
    assert call("fnil", add, 0)(None, 5, 6) == 11  # arguments past the defaults pass through


def test_juxt_some_fn_every_pred() -> None:
    assert call("juxt", A, B)({A: 1, B: 2}) == (1, 2)
    some = call("some-fn", even, neg)
    assert some(3, -1) is True
    assert some(3, 5) is False  # the last falsy result, as Clojure's (or ...)
    assert some() is None
    assert call("some-fn", A)({B: 1}) is None
    every = call("every-pred", even, lambda x: x > 0)
    assert (every(2, 4), every(2, -4), every()) == (True, False, True)


def test_not_any_not_every() -> None:
    assert call("not-any?", even, (1, 3)) is True
    assert call("not-any?", even, (1, 2)) is False
    assert call("not-every?", even, (2, 3)) is True
    assert call("not-every?", even, ()) is False


def test_max_key_min_key_ties_go_to_the_last() -> None:
    assert call("max-key", len, "ab", "abc", "x") == "abc"
    assert call("max-key", len, "ab", "cd") == "cd"
    assert call("min-key", len, "ab", "cd", "abc") == "cd"
    assert call("min-key", len, "only") == "only"


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        pytest.param("complement", (1,), "expected a function or keyword, got integer 1", id="complement"),
        pytest.param("fnil", (None, 0), "expected a function or keyword, got nil", id="fnil-fn"),
        pytest.param("fnil", (add, 1, 2, 3, 4), "takes at most three defaults, got 4", id="fnil-defaults"),
        pytest.param("juxt", (A, "b"), 'expected a function or keyword, got string "b"', id="juxt"),
        pytest.param("some-fn", (3,), "expected a function or keyword", id="some-fn"),
        pytest.param("every-pred", (even, 2), "expected a function or keyword", id="every-pred"),
        pytest.param("not-any?", (even, 5), "expected a collection", id="not-any"),
        pytest.param("max-key", (A, {A: 1}, {A: "x"}), "the key function must return a number", id="max-key"),
        pytest.param("min-key", (5, 1, 2), "expected a function or keyword", id="min-key"),
    ],
)
def test_function_builder_errors(name: str, args: tuple[Any, ...], fragment: str) -> None:
    expect_error(name, args, fragment)


# --- maps -----------------------------------------------------------------------------------------------------


def test_merge_with() -> None:
    assert call("merge-with", add, {A: 1}, {A: 2, B: 3}, None, {A: 4}) == {A: 7, B: 3}
    assert call("merge-with", add) is None
    assert call("merge-with", add, None) is None
    m = {A: 1}
    call("merge-with", add, m, {A: 1})
    assert m == {A: 1}


def test_reduce_kv_on_maps_and_vectors() -> None:
    assert call("reduce-kv", lambda acc, k, v: (*acc, k, v), (), {A: 1, B: 2}) == (A, 1, B, 2)
    assert call("reduce-kv", lambda acc, i, x: acc + i * x, 0, (5, 6, 7)) == 6 + 14
    assert call("reduce-kv", add, 9, None) == 9


def test_update_vals_update_keys() -> None:
    assert call("update-vals", {A: 1, B: 2}, lambda v: v * 10) == {A: 10, B: 20}
    assert call("update-keys", {A: 1, B: 2}, lambda k: k.name) == {"a": 1, "b": 2}
    assert call("update-vals", None, add) == {}


def test_find_key_val() -> None:
    assert call("find", {A: 1}, A) == (A, 1)
    assert call("find", {A: None}, A) == (A, None)
    assert call("find", {A: 1}, B) is None
    assert call("find", (5, 6), 1) == (1, 6)
    assert call("find", None, A) is None
    assert (call("key", (A, 1)), call("val", (A, 1))) == (A, 1)


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        pytest.param("merge-with", (add, {A: 1}, (1,)), "expected a map, got vector", id="merge-with-map"),
        pytest.param("merge-with", (3, {A: 1}), "expected a function or keyword", id="merge-with-fn"),
        pytest.param("reduce-kv", (add, 0, "ab"), 'expected a map, got string "ab"', id="reduce-kv-coll"),
        pytest.param("update-vals", ((1,), add), "expected a map, got vector", id="update-vals"),
        pytest.param("update-keys", ({A: 1}, lambda k: {}), "cannot be used as a map key", id="update-keys"),
        pytest.param("find", (5, A), "expected a map, got integer", id="find"),
        pytest.param("key", ((1, 2, 3),), "expected a map entry", id="key"),
        pytest.param("val", (None,), "expected a map entry ([key value] vector), got nil", id="val"),
    ],
)
def test_map_function_errors(name: str, args: tuple[Any, ...], fragment: str) -> None:
    expect_error(name, args, fragment.replace("entry ([", "entry (a ["))


# --- numbers --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "d", "rem", "mod"),
    [(-7, 2, -1, 1), (7, -2, 1, -1), (7, 2, 1, 1), (-7, -2, -1, -1), (6, 3, 0, 0), (-7.5, 2, -1.5, 0.5)],
)
def test_rem_and_mod_follow_clojure(n: Any, d: Any, rem: Any, mod: Any) -> None:
    assert call("rem", n, d) == rem
    assert call("mod", n, d) == mod


@pytest.mark.parametrize(
    ("x", "expected"), [(2.9, 2), (-2.9, -2), (5, 5), (1e20, 100000000000000000000), (-0.5, 0)]
)
def test_int_truncates_toward_zero(x: Any, expected: int) -> None:
    assert call("int", x) == expected
    assert type(call("int", x)) is int


def test_double_and_float() -> None:
    assert call("double", 1) == 1.0
    assert type(call("float", 2)) is float


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        pytest.param("rem", (1, 0), "division by zero", id="rem-zero"),
        pytest.param("rem", ("7", 2), 'expected a number, got string "7"', id="rem-string"),
        pytest.param("int", ("3",), "parse-int reads an integer from text", id="int-string"),
        pytest.param("int", (True,), "expected a number, got boolean", id="int-bool"),
        pytest.param("int", (math.nan,), "cannot convert NaN", id="int-nan"),
        pytest.param("int", (math.inf,), "cannot convert an infinite number", id="int-inf"),
        pytest.param("double", (None,), "expected a number, got nil", id="double-nil"),
        pytest.param("double", (10**400,), "too large for a float", id="double-big"),
    ],
)
def test_number_errors(name: str, args: tuple[Any, ...], fragment: str) -> None:
    expect_error(name, args, fragment)


# --- predicates -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "yes", "no"),
    [
        ("true?", [True], [1, "true", None, False]),
        ("false?", [False], [None, 0, ()]),
        ("pos-int?", [1, 10**30], [0, -1, 1.0, True]),
        ("neg-int?", [-1], [0, 1, -1.0]),
        ("nat-int?", [0, 3], [-1, 0.0, False]),
        ("double?", [1.5], [1, None]),
        ("sequential?", [(), L(1)], [{}, "ab", None]),
        ("any?", [None, False, 1], []),
    ],
)
def test_predicates(name: str, yes: list[Any], no: list[Any]) -> None:
    assert all(call(name, x) is True for x in yes)
    assert all(call(name, x) is False for x in no)


def test_boolean() -> None:
    assert [call("boolean", x) for x in (None, False, 0, "")] == [False, False, True, True]


# --- in scripts -----------------------------------------------------------------------------------------------


def test_builders_in_a_script() -> None:
    script = load(
        "(defn f [m] [(update m :n (fnil inc 0)) ((juxt count first) [3 4]) (merge-with + m {:x 1})\n"
        "             (reduce-kv (fn [acc k v] (+ acc v)) 0 {:a 1 :b 2}) (max-key :n {:n 1} {:n 3})])\n"
    )
    assert script.processor("f")({K("x"): 1}) == (
        {K("x"): 1, K("n"): 1},
        (2, 3),
        {K("x"): 2},
        3,
        {K("n"): 3},
    )


def test_a_failure_inside_a_built_function_names_the_real_function() -> None:
    err = runtime_error('(defn f [] ((fnil inc 0) "a"))\n(def x (f))\n')
    assert err.message == 'inc: expected a number, got string "a"'
