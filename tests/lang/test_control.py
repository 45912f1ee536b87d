"""loop/recur (no stack growth, fuel per round, closures per round, tail checks) and case."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrt.errors import LimitExceededError
from streamrt.lang.meter import Limits
from streamrt.lang.metered import metered
from streamrt.lang.script import lower_script
from streamrt.printer import pr_str
from tests.lang.conftest import K, compile_error, load, run, runtime_error


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        pytest.param(
            "(loop [i 0 acc []] (if (< i 3) (recur (inc i) (conj acc i)) acc))", "[0 1 2]", id="loop"
        ),
        pytest.param("(loop [x 1 y (inc x)] [x y])", "[1 2]", id="sequential-bindings-no-recur"),
        pytest.param("(loop [] 5)", "5", id="no-bindings"),
        pytest.param(
            "(loop [[x & xs] [1 2 3] acc 0] (if x (recur xs (+ acc x)) acc))", "6", id="destructuring"
        ),
        pytest.param(
            "(loop [{:keys [n]} {:n 0}] (if (< n 3) (recur {:n (inc n)}) n))", "3", id="map-destructuring"
        ),
        pytest.param("(loop [n 0] (when (< n 3) (recur (inc n))))", "nil", id="through-when"),
        pytest.param("(loop [n 0] (cond (> n 5) n :else (recur (+ n 2))))", "6", id="through-cond"),
        pytest.param("(loop [n 0] (let [m (inc n)] (if (< m 4) (recur m) m)))", "4", id="through-let"),
        pytest.param("(loop [n 0] (do :x (if (< n 2) (recur (inc n)) n)))", "2", id="through-do"),
        pytest.param("(loop [n 0] (or (and (> n 2) n) (recur (inc n))))", "3", id="through-and-or"),
        pytest.param("(loop [n 0] (case n 3 :done (recur (inc n))))", ":done", id="through-case"),
        pytest.param(
            "(loop [n 0] (if-let [x (when (> n 1) n)] x (recur (inc n))))", "2", id="through-if-let"
        ),
        pytest.param(
            "(loop [i 0 fs []] (if (< i 3) (recur (inc i) (conj fs (fn [] i))) (map #(%) fs)))",
            "[0 1 2]",
            id="closures-keep-their-round",
        ),
        pytest.param(
            "(loop [i 0] (if (< i 2) (recur (inc i)) (loop [j i] (if (< j 5) (recur (inc j)) [i j]))))",
            "[2 5]",
            id="nested-loops",
        ),
        pytest.param("(loop [x (loop [y 0] (if (< y 2) (recur (inc y)) y))] x)", "2", id="loop-in-init"),
    ],
)
def test_loop(src: str, expected: str) -> None:
    assert pr_str(run(f"(defn f [] {src})")) == expected


def test_fn_recur_rebinds_its_parameters() -> None:
    script = load(
        "(defn sum-to [n acc] (if (zero? n) acc (recur (dec n) (+ acc n))))\n"
        "(defn total [x & more] (if more (recur (+ x (first more)) (next more)) x))\n"
        "(defn pairs [[a b] n] (if (pos? n) (recur [b (+ a b)] (dec n)) a))\n"
        "(defn anon [] ((fn [n] (if (< n 5) (recur (inc n)) n)) 0))\n"
    )
    assert script.processor("sum-to")(100_000, 0) == 5_000_050_000
    assert script.processor("total")(1, 2, 3, 4) == 10
    assert script.processor("pairs")((0, 1), 10) == 55
    assert script.processor("anon")() == 5


@given(st.integers(0, 50_000))
def test_a_loop_never_grows_the_stack(n: int) -> None:
    f = load("(defn count-down [n] (loop [i n] (if (pos? i) (recur (dec i)) :done)))\n").processor(
        "count-down"
    )
    assert f(n) is K("done")


def test_a_fn_with_recur_runs_far_past_the_recursion_limit() -> None:
    f = load("(defn f [n] (if (pos? n) (recur (dec n)) :done))\n").processor("f")
    assert f(sys.getrecursionlimit() * 20) is K("done")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("(loop [] (recur))", id="loop-inline"),
        pytest.param("(loop [f nil] (recur (fn [] 1)))", id="loop-with-closures"),
        pytest.param("(recur)", id="fn-recur"),
    ],
)
def test_an_endless_loop_stops_at_the_fuel_limit(body: str) -> None:
    f = metered(load(f"(defn spin [] {body})\n").processor("spin"), Limits(fuel=50_000))
    with pytest.raises(LimitExceededError) as info:
        f()
    assert info.value.limit == "fuel"
    assert info.value.pos is not None and info.value.pos.line == 1


def test_each_round_costs_one_step() -> None:
    src = "(defn f [n] (loop [i 0] (if (< i n) (recur (inc i)) i)))\n"
    f = metered(load(src).processor("f"), Limits(fuel=5_000))
    assert f(4_000) == 4_000
    with pytest.raises(LimitExceededError):
        f(6_000)


def test_a_top_level_loop_runs_once_when_the_script_loads() -> None:
    script = load("(def total (loop [i 0 acc 0] (if (< i 10) (recur (inc i) (+ acc i)) acc)))\n")
    assert script.get("total") == 45


@pytest.mark.parametrize(
    ("src", "line", "column", "fragment"),
    [
        pytest.param(
            "(defn f [x] (inc (recur x)))", 1, 18, "recur: only allowed as the last thing", id="not-tail"
        ),
        pytest.param(
            "(defn f [x] (recur x) x)", 1, 13, "recur: only allowed as the last thing", id="not-last"
        ),
        pytest.param("(defn f [] (loop [x 1] (if (recur 2) 1 2)))", 1, 28, "in tail position", id="in-test"),
        pytest.param("(defn f [] (loop [x 1] [(recur 2)]))", 1, 25, "in tail position", id="in-vector"),
        pytest.param("(defn f [] (let [x (recur)] x))", 1, 20, "in tail position", id="in-let-binding"),
        pytest.param("(def x (recur 1))", 1, 8, "recur: only allowed inside a loop or fn", id="top-level"),
        pytest.param(
            "(defn f [] (loop [a 1 b 2] (recur 1)))",
            1,
            28,
            "the loop at line 1 binds 2 values, so recur takes 2 arguments; got 1",
            id="loop-arity",
        ),
        pytest.param(
            "(defn f [a] (recur 1 2))",
            1,
            13,
            "binds 1 value, so recur takes 1 argument; got 2",
            id="fn-arity",
        ),
        pytest.param(
            "(defn f [] (loop [x] x))", 1, 19, "loop: every binding needs a value", id="odd-bindings"
        ),
        pytest.param("(defn f [] (loop [& 1] 1))", 1, 19, "'&' cannot be bound here", id="ampersand"),
        pytest.param("(defn f [] (loop x 1))", 1, 18, "loop: expected bindings (a vector)", id="shape"),
        pytest.param("(defn f [] (let [recur 1] recur))", 1, 18, "cannot bind 'recur'", id="bind-recur"),
    ],
)
def test_loop_errors(src: str, line: int, column: int, fragment: str) -> None:
    err = compile_error(src)
    assert fragment in err.message, err.message
    assert (err.line, err.column) == (line, column)


# --- case -------------------------------------------------------------------------------------------------------

CASE = """
(defn classify [x]
  (case x
    1 :one
    (2 3) :two-or-three
    "s" :string
    :k :keyword
    [1 2] :vector
    nil :nil
    sym :symbol
    :other))
"""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "one"),
        (2, "two-or-three"),
        (3, "two-or-three"),
        ("s", "string"),
        (K("k"), "keyword"),
        ((1, 2), "vector"),
        (None, "nil"),
        (99, "other"),
        ("k", "other"),
        (True, "other"),  # true is not 1
        (1.0, "one"),  # = compares numbers by value
    ],
)
def test_case(value: object, expected: str) -> None:
    assert load(CASE).processor("classify")(value) is K(expected)


def test_case_constants_are_not_evaluated() -> None:
    assert run("(defn f [] (case 'sym sym :symbol :other))") is K("symbol")


def test_case_without_a_match_or_default_is_a_runtime_error() -> None:
    err = runtime_error("(defn f [x] (case x :a 1 :b 2))\n(def y (f :c))\n")
    assert err.message == "case: no clause matches keyword :c"
    assert (err.line, err.column) == (1, 13)


def test_case_of_no_clauses_always_fails() -> None:
    assert runtime_error("(def y (case nil))").message == "case: no clause matches nil"


@pytest.mark.parametrize(
    ("src", "fragment"),
    [
        pytest.param("(defn f [x] (case x 1 :a 1 :b))", "case: duplicate test constant 1", id="duplicate"),
        pytest.param(
            "(defn f [x] (case x (1 2) :a (3 2) :b))", "case: duplicate test constant 2", id="dup-list"
        ),
        pytest.param("(defn f [x] (case x () :a))", "case: an empty list of test constants", id="empty-list"),
        pytest.param("(defn f [] (case))", "case: missing value", id="no-value"),
    ],
)
def test_case_errors(src: str, fragment: str) -> None:
    assert fragment in compile_error(src).message


def test_lower_keeps_loop_and_case_as_written() -> None:
    text = lower_script("(defn f [x] (loop [i x] (case i 0 :done (recur (dec i)))))\n", filename="t.rtfs")
    assert text == "(defn f [x] (loop [i x] (case i 0 :done (recur (dec i)))))"
