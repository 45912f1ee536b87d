"""Special forms, macros, truthiness, closures, recursion and variadic functions, run end to end."""

from __future__ import annotations

from typing import Any

import pytest

from streamrt.values import Keyword, LList, Symbol
from tests.lang.conftest import K, load, run


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param("(if 0 :y :n)", K("y"), id="zero-is-truthy"),
        pytest.param('(if "" :y :n)', K("y"), id="empty-string-is-truthy"),
        pytest.param("(if [] :y :n)", K("y"), id="empty-vector-is-truthy"),
        pytest.param("(if {} :y :n)", K("y"), id="empty-map-is-truthy"),
        pytest.param("(if 0.0 :y :n)", K("y"), id="zero-float-is-truthy"),
        pytest.param("(if nil :y :n)", K("n"), id="nil-is-falsy"),
        pytest.param("(if false :y :n)", K("n"), id="false-is-falsy"),
        pytest.param("(if false :y)", None, id="if-without-else"),
        pytest.param("(and 1 nil 2)", None, id="and-stops-at-nil"),
        pytest.param("(and 1 false 2)", False, id="and-stops-at-false"),
        pytest.param("(and 1 0 2)", 2, id="and-returns-last"),
        pytest.param("(and)", True, id="empty-and"),
        pytest.param("(or false nil 3)", 3, id="or-returns-first-truthy"),
        pytest.param("(or false nil)", None, id="or-returns-last"),
        pytest.param("(or 0 1)", 0, id="or-zero-is-truthy"),
        pytest.param("(or)", None, id="empty-or"),
        pytest.param("(not 0)", False, id="not-zero"),
        pytest.param("(not nil)", True, id="not-nil"),
        pytest.param("(do 1 2 3)", 3, id="do"),
        pytest.param("(do)", None, id="empty-do"),
        pytest.param("(let [x 1 y (+ x 1)] [x y])", (1, 2), id="let-sequential"),
        pytest.param("(let [x 1 x (inc x)] x)", 2, id="let-shadowing"),
        pytest.param("(let [x 1] (let [x 2] x))", 2, id="nested-shadowing"),
        pytest.param("(let [] 5)", 5, id="empty-let"),
        pytest.param(
            '(quote (a :b 1 "s" [c]))', LList([Symbol("a"), K("b"), 1, "s", (Symbol("c"),)]), id="quote"
        ),
        pytest.param("'sym", Symbol("sym"), id="quote-symbol"),
        pytest.param("'{:a [1 x]}", {K("a"): (1, Symbol("x"))}, id="quote-map"),
        pytest.param("()", LList(), id="empty-list"),
        pytest.param("((fn [a b] (- a b)) 5 3)", 2, id="fn-immediate"),
        pytest.param("((fn [] 7))", 7, id="fn-no-params"),
        pytest.param(
            "((fn fact [n] (if (< n 2) 1 (* n (fact (dec n))))) 10)", 3628800, id="named-fn-recursion"
        ),
        pytest.param("((fn [a] (let [b 1] (+ a b))) 1)", 2, id="fn-with-statements"),
    ],
)
def test_expression(expr: str, expected: Any) -> None:
    got = run(f"(defn f [] {expr})")
    assert got == expected
    assert type(got) is type(expected)


def test_if_evaluates_only_the_chosen_branch() -> None:
    seen: list[Any] = []
    f = load("(defn f [t log] (if t (log :then) (log :else)))").processor("f")
    f(0, seen.append)
    f(None, seen.append)
    assert seen == [K("then"), K("else")]


def test_and_or_short_circuit_and_evaluate_each_operand_once() -> None:
    seen: list[Any] = []

    def log(x: Any) -> Any:
        seen.append(x)
        return x

    f = load("(defn f [log] [(and (log 1) (log nil) (log 2)) (or (log false) (log 3) (log 4))])").processor(
        "f"
    )
    assert f(log) == (None, 3)
    assert seen == [1, None, False, 3]


def test_and_or_with_let_inside_operands() -> None:
    src = "(defn f [x] [(and x (let [y (inc x)] y)) (or (let [z nil] z) (let [w 2] w))])"
    assert run(src, 1) == (2, 2)
    assert run(src, None) == (None, 2)


def test_def_and_defn_with_docstring() -> None:
    script = load('(def limit 10)\n(defn over? "true past the limit" [x] (> x limit))')
    over = script.processor("over?")
    assert script.get("limit") == 10
    assert over(11) is True and over(10) is False
    assert over.__doc__ == "true past the limit"
    assert over.__name__ == "over?"


def test_defn_bodies_may_refer_to_later_definitions() -> None:
    assert run("(defn a [x] (b x))\n(defn b [x] (* 2 x))\n(defn f [x] (a x))", 4) == 8


def test_mutual_recursion() -> None:
    src = """
    (defn ev? [n] (if (= n 0) true (od? (dec n))))
    (defn od? [n] (if (= n 0) false (ev? (dec n))))
    (defn f [n] [(ev? n) (od? n)])
    """
    assert run(src, 7) == (False, True)


def test_recursion() -> None:
    assert run("(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))", 20) == 6765


def test_closures_capture_their_binding() -> None:
    src = """
    (defn adder [n] (fn [x] (+ x n)))
    (defn f [] (let [add2 (adder 2) add5 (adder 5)] [(add2 1) (add5 1) (map (adder 10) [1 2])]))
    """
    assert run(src) == (3, 6, (11, 12))


def test_closure_in_let_over_loop_captures_each_value() -> None:
    assert run("(defn f [] (map (fn [g] (g)) (map (fn [i] (fn [] (* i i))) [1 2 3])))") == (1, 4, 9)


@pytest.mark.parametrize(
    ("args", "expected"),
    [((), None), ((1,), (1,)), ((1, 2, 3), (1, 2, 3))],
)
def test_variadic_rest_is_nil_when_empty(args: tuple[Any, ...], expected: Any) -> None:
    assert run("(defn f [& xs] xs)", *args) == expected


def test_variadic_fixed_and_rest() -> None:
    f = load("(defn f [a b & more] [a b more])").processor("f")
    assert f(1, 2) == (1, 2, None)
    assert f(1, 2, 3, 4) == (1, 2, (3, 4))
    assert run("(defn f [] ((fn [& xs] (count xs)) 1 2 3))") == 3


def test_keyword_as_function() -> None:
    f = load("(defn f [m] [(:a m) (:b m) (:b m 0) (:ns/k m :none)])").processor("f")
    assert f({K("a"): 1}) == (1, None, 0, K("none"))
    assert f({K("ns/k"): 2}) == (None, None, 0, 2)
    assert f(None) == (None, None, 0, K("none"))


def test_keyword_default_is_only_used_when_key_is_missing() -> None:
    assert run("(defn f [m] [(:a m 5) (get m :a 5)])", {K("a"): None}) == (None, None)
    assert run("(defn f [m] [(:a m 5) (get m :a 5)])", {K("a"): False}) == (False, False)


def test_keywords_in_compiled_code_are_the_interned_ones() -> None:
    out = run("(defn f [] [:made-here :ns/made])")
    assert out[0] is Keyword("made-here") and out[1] is Keyword("ns/made")


def test_vectors_are_tuples_and_maps_are_dicts() -> None:
    out = run('(defn f [x] {:v [x (inc x)] :m {"s" x 1 2 nil 3}})', 1)
    assert out == {K("v"): (1, 2), K("m"): {"s": 1, 1: 2, None: 3}}
    assert type(out) is dict and type(out[K("v")]) is tuple


def test_map_literal_evaluates_in_order() -> None:
    seen: list[Any] = []
    f = load("(defn f [log] {:a (log 1) :b (log 2) (log :k) (log 3)})").processor("f")

    def log(x: Any) -> Any:
        seen.append(x)
        return x

    assert f(log) == {K("a"): 1, K("b"): 2, K("k"): 3}
    assert seen == [1, 2, K("k"), 3]


# --- macros -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("(when true 1 2)", 2),
        ("(when nil 1)", None),
        ("(when 0 :zero)", K("zero")),
        ("(when-not false 1 2)", 2),
        ("(when-not 1 2)", None),
        ("(if-not nil :a :b)", K("a")),
        ("(if-not true :a :b)", K("b")),
        ("(if-not true :a)", None),
        ("(cond false 1 nil 2 :else 3)", 3),
        ("(cond false 1 0 2 :else 3)", 2),
        ("(cond false 1)", None),
        ("(cond)", None),
        ("(cond :else :only)", K("only")),
        ("(-> 1 inc (* 3) (- 1))", 5),
        ("(-> {:a {:b 2}} :a :b)", 2),
        ("(-> 5 (- 2))", 3),
        ("(->> 5 (- 2))", -3),
        ("(->> [1 2 3] (map inc) (filter odd?) (reduce +))", 3),
        ("(->> [3 1 2] sort)", (1, 2, 3)),
    ],
)
def test_macros(expr: str, expected: Any) -> None:
    assert run(f"(defn f [] {expr})") == expected


def test_cond_stops_at_first_truthy_test() -> None:
    seen: list[Any] = []

    def log(x: Any) -> Any:
        seen.append(x)
        return x

    f = load("(defn f [log] (cond (log nil) 1 (log :hit) 2 (log :never) 3))").processor("f")
    assert f(log) == 2
    assert seen == [None, K("hit")]


def test_cond_chooses_by_value() -> None:
    f = load("(defn f [x] (cond (< x 0) :neg (= x 0) :zero :else :pos))").processor("f")
    assert [f(-2), f(0), f(3.5)] == [K("neg"), K("zero"), K("pos")]


def test_macros_nest_inside_special_forms() -> None:
    src = "(defn f [xs] (let [n (count xs)] (when (> n 0) (cond (= n 1) :one :else (-> n str keyword)))))"
    f = load(src).processor("f")
    assert [f(()), f((1,)), f((1, 2))] == [None, K("one"), K("2")]
