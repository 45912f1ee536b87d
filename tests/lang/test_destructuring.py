"""Destructuring in ``let`` and in function parameters: vectors (``&``, ``:as``) and maps (``:keys :strs :or :as``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.lang.conftest import K, compile_error, run, runtime_error

M = {K("a"): 1, K("b"): 2, "s": 3, K("v"): (7, 8, 9), K("m"): {K("x"): 10}}


@pytest.mark.parametrize(
    ("pattern", "body", "value", "expected"),
    [
        pytest.param("[a b]", "[a b]", (1, 2, 3), (1, 2), id="vector"),
        pytest.param("[a b c]", "[a b c]", (1,), (1, None, None), id="vector-short-gives-nil"),
        pytest.param("[a b]", "[a b]", None, (None, None), id="vector-of-nil"),
        pytest.param("[a & r]", "[a r]", (1, 2, 3), (1, (2, 3)), id="vector-rest"),
        pytest.param("[a & r]", "[a r]", (1,), (1, None), id="vector-empty-rest-is-nil"),
        pytest.param("[a b :as all]", "[a b all]", (1, 2, 3), (1, 2, (1, 2, 3)), id="vector-as"),
        pytest.param("[a & r :as all]", "[a r all]", (1, 2), (1, (2,), (1, 2)), id="vector-rest-and-as"),
        pytest.param("[_ b]", "b", (1, 2), 2, id="vector-underscore"),
        pytest.param("[[a b] [c]]", "[a b c]", ((1, 2), (3,)), (1, 2, 3), id="vector-nested"),
        pytest.param("[a b]", "[a b]", "xy", ("x", "y"), id="vector-of-string"),
        pytest.param("[& [a b]]", "[a b]", (1, 2), (1, 2), id="rest-destructured"),
        pytest.param("{:keys [a b z]}", "[a b z]", M, (1, 2, None), id="keys"),
        pytest.param("{:keys [:a]}", "a", M, 1, id="keys-as-keywords"),
        pytest.param("{:strs [s]}", "s", M, 3, id="strs"),
        pytest.param("{:keys [a z] :or {z 5 a 9}}", "[a z]", M, (1, 5), id="or-only-when-missing"),
        pytest.param("{:keys [a] :as m}", "[a (count m)]", M, (1, 5), id="map-as"),
        pytest.param("{x :a y :zz}", "[x y]", M, (1, None), id="symbol-key"),
        pytest.param("{x :zz :or {x 4}}", "x", M, 4, id="symbol-key-with-or"),
        pytest.param('{s "s"}', "s", M, 3, id="string-key"),
        pytest.param("{[p q] :v}", "[p q]", M, (7, 8), id="nested-vector-in-map"),
        pytest.param("{{:keys [x]} :m}", "x", M, 10, id="nested-map-in-map"),
        pytest.param("{:keys [a]}", "a", None, None, id="map-of-nil"),
        pytest.param("[{:keys [a]} & more]", "[a more]", ({K("a"): 1}, 2), (1, (2,)), id="map-in-vector"),
    ],
)
def test_let_destructuring(pattern: str, body: str, value: Any, expected: Any) -> None:
    assert run(f"(defn f [x] (let [{pattern} x] {body}))", value) == expected


@pytest.mark.parametrize(
    ("pattern", "body", "value", "expected"),
    [
        pytest.param("[a b]", "[a b]", (1, 2), (1, 2), id="vector"),
        pytest.param("[a & r :as all]", "[a r all]", (1, 2), (1, (2,), (1, 2)), id="vector-rest-as"),
        pytest.param("{:keys [a b] :or {b 0}}", "[a b]", {K("a"): 1}, (1, 0), id="map-keys-or"),
        pytest.param("{:strs [s] :as m}", "[s (count m)]", M, (3, 5), id="map-strs-as"),
        pytest.param("{x :a}", "x", M, 1, id="symbol-key"),
    ],
)
def test_parameter_destructuring(pattern: str, body: str, value: Any, expected: Any) -> None:
    assert run(f"(defn f [{pattern}] {body})", value) == expected
    assert run(f"(defn f [x] ((fn [{pattern}] {body}) x))", value) == expected


def test_processor_with_destructured_state_and_chunk() -> None:
    src = "(defn p [{:keys [n] :or {n 0}} {:keys [v]} meta] {:state {:n (+ n v)}})"
    assert run(src, {}, {K("v"): 2}, {}) == {K("state"): {K("n"): 2}}
    assert run(src, {K("n"): 5}, {K("v"): 2}, {}) == {K("state"): {K("n"): 7}}


def test_or_default_may_use_earlier_bindings() -> None:
    assert run("(defn f [x] (let [d 7 {:keys [a] :or {a d}} x] a))", {}) == 7


def test_destructuring_a_mapping_that_is_not_a_dict() -> None:
    from types import MappingProxyType

    assert run("(defn f [x] (let [{:keys [a]} x] a))", MappingProxyType({K("a"): 1})) == 1


@pytest.mark.parametrize(
    ("pattern", "value", "fragment"),
    [
        ("{:keys [a]}", (1, 2), "cannot destructure vector [1 2] as a map"),
        ("{:keys [a]}", 5, "cannot destructure integer 5 as a map"),
        ("[a b]", {K("a"): 1}, "cannot destructure map {:a 1} as a vector"),
        ("[a b]", 3, "cannot destructure integer 3 as a vector"),
    ],
)
def test_destructuring_the_wrong_shape_is_a_located_runtime_error(
    pattern: str, value: Any, fragment: str
) -> None:
    err = runtime_error(f"(defn f [x]\n  (let [{pattern} x] 1))", value)
    assert fragment in err.message
    assert err.line == 2


@pytest.mark.parametrize(
    ("src", "fragment", "column"),
    [
        pytest.param(
            "(let [1 2] 3)", "cannot bind to 1: expected a symbol, a vector or a map pattern", 7, id="literal"
        ),
        pytest.param("(let [[a &] [1]] a)", "'&' must be followed by a binding", 10, id="dangling-amp"),
        pytest.param("(let [[a :as] [1]] a)", ":as must be followed by a symbol", 10, id="dangling-as"),
        pytest.param(
            "(let [{:keys a} {}] a)", ":keys takes a vector of symbols, got symbol", 14, id="keys-not-vector"
        ),
        pytest.param("(let [{:keys [1]} {}] 1)", ":keys takes symbols, got integer", 15, id="keys-literal"),
        pytest.param(
            "(let [{:or [a 1]} {}] 1)", ":or takes a map of defaults, got vector", 12, id="or-not-map"
        ),
        pytest.param(
            "(let [{:or {:a 1}} {}] 1)", ":or keys must be symbols, got keyword", 13, id="or-keyword-key"
        ),
        pytest.param(
            "(let [{:as [m]} {}] 1)", ":as must be followed by a symbol, got vector", 12, id="map-as-vector"
        ),
        pytest.param("(let [{1 :a} {}] 1)", "unexpected 1 in a map pattern", 8, id="map-literal-key"),
        pytest.param("(let [& 1] 1)", "'&' can only be used in a vector binding", 7, id="amp-in-let"),
        pytest.param("(let [a/b 1] 1)", "cannot bind a namespaced symbol 'a/b'", 7, id="namespaced"),
        pytest.param(
            "(fn [a & b c] 1)", "'&' must be followed by exactly one parameter", 8, id="fn-two-after-amp"
        ),
    ],
)
def test_bad_patterns_are_compile_errors(src: str, fragment: str, column: int) -> None:
    err = compile_error(f"(defn f []\n  {src})")
    assert fragment in err.message
    assert (err.line, err.column) == (2, column + 2), err.format()
