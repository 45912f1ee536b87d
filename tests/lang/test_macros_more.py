"""if-let / when-let / if-some / when-some, as-> cond-> cond->> some-> some->>, for, comment."""

from __future__ import annotations

import pytest

from streamrt.lang.script import lower_script
from streamrt.printer import pr_str
from tests.lang.conftest import compile_error, run


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        pytest.param("(if-let [x (:a {:a 1})] [:yes x] :no)", "[:yes 1]", id="if-let"),
        pytest.param("(if-let [x (:a {})] [:yes x] :no)", ":no", id="if-let-else"),
        pytest.param("(if-let [x false] x)", "nil", id="if-let-no-else"),
        pytest.param("(if-let [[a b] [1 2]] (+ a b) 0)", "3", id="if-let-destructuring"),
        pytest.param("(when-let [x 0] :a (inc x))", "1", id="when-let-body"),
        pytest.param("(when-let [x nil] (inc x))", "nil", id="when-let-nil"),
        pytest.param("(if-some [x false] [:some x] :none)", "[:some false]", id="if-some-false-is-some"),
        pytest.param("(if-some [x nil] x :none)", ":none", id="if-some-nil"),
        pytest.param("(when-some [x false] (not x))", "true", id="when-some"),
        pytest.param("(let [x 5] (if-let [x nil] x x))", "5", id="if-let-else-sees-outer-binding"),
        pytest.param("(as-> 1 v (inc v) (* v 10) [v v])", "[20 20]", id="as->"),
        pytest.param("(as-> 1 v)", "1", id="as->-no-steps"),
        pytest.param("(cond-> 1 true inc false (* 100) (odd? 3) (* 2))", "4", id="cond->"),
        pytest.param("(cond->> [1 2] true (map inc) false (map str))", "[2 3]", id="cond->>"),
        pytest.param("(cond-> {:a 1} true (assoc :b 2))", "{:a 1, :b 2}", id="cond->-forms"),
        pytest.param("(some-> {:a {:b 2}} :a :b inc)", "3", id="some->"),
        pytest.param("(some-> {:a nil} :a inc)", "nil", id="some->-stops-at-nil"),
        pytest.param("(some->> [1 2] (map inc) (reduce +))", "5", id="some->>"),
        pytest.param("(some-> false not)", "true", id="some->-false-is-not-nil"),
        pytest.param("(for [x [1 2 3]] (* x x))", "[1 4 9]", id="for"),
        pytest.param("(for [x [1 2] y [:a :b]] [x y])", "[[1 :a] [1 :b] [2 :a] [2 :b]]", id="for-nested"),
        pytest.param("(for [x (range 6) :when (odd? x)] x)", "[1 3 5]", id="for-when"),
        pytest.param("(for [x [1 2] :let [y (* 10 x)]] y)", "[10 20]", id="for-let"),
        pytest.param("(for [x (range 10) :while (< x 3)] x)", "[0 1 2]", id="for-while"),
        pytest.param(
            "(for [x [1 2 3 4 5] :when (odd? x) :while (< x 4)] x)", "[1 3]", id="for-when-then-while"
        ),
        pytest.param("(for [x [0 5 1] :let [y (inc x)] :while (< y 3)] y)", "[1]", id="for-let-then-while"),
        pytest.param("(for [[k v] {:a 1 :b 2}] [v k])", "[[1 :a] [2 :b]]", id="for-destructuring"),
        pytest.param("(for [x [1 2] y (range x)] [x y])", "[[1 0] [2 0] [2 1]]", id="for-dependent"),
        pytest.param("(for [x []] x)", "[]", id="for-empty"),
        pytest.param("(comment (undefined-thing) 1 2)", "nil", id="comment"),
    ],
)
def test_macro(src: str, expected: str) -> None:
    assert pr_str(run(f"(defn f [] {src})")) == expected


def test_expansions_cannot_capture_script_names() -> None:
    # the expansion's own binding is named with a '#', which no script can write
    assert pr_str(run("(defn f [] (let [v 7] (cond-> 1 true (+ v))))")) == "8"
    assert pr_str(run("(defn f [] (if-let [x 3] (if-let [y (inc x)] [x y]) :no))")) == "[3 4]"


def test_lower_shows_the_expansion() -> None:
    text = lower_script("(defn f [m] (when-let [x (:a m)] (inc x)))\n", filename="t.rtfs")
    assert text == "(defn f [m] (let [when-let# (:a m)] (if when-let# (let [x when-let#] (inc x)))))"


@pytest.mark.parametrize(
    ("src", "fragment"),
    [
        pytest.param(
            "(if-let [x 1 y 2] x)",
            "if-let: expected one binding, [pattern test], got 4 forms",
            id="if-let-two",
        ),
        pytest.param("(when-let x 1)", "when-let: expected bindings (a vector)", id="when-let-shape"),
        pytest.param("(if-let [x 1])", "if-let: missing then", id="if-let-no-then"),
        pytest.param("(as-> 1 [v] v)", "as->: expected name (a symbol)", id="as->-name"),
        pytest.param("(cond-> 1 true)", "cond->: every test needs a form to thread into", id="cond->-odd"),
        pytest.param("(for [x] x)", "for: x needs a value after it", id="for-odd"),
        pytest.param("(for [x [1] :until true] x)", "for: unknown modifier :until", id="for-modifier"),
        pytest.param("(for [:when true x [1]] x)", "for: :when must follow a binding", id="for-first"),
        pytest.param("(for [x [1] :let 1] x)", "for: :let takes a vector", id="for-let"),
        pytest.param("(for [x [1] :while 1 :while 2] x)", "for: one :while per binding", id="for-whiles"),
        pytest.param("(for [] 1)", "for: needs at least one binding", id="for-none"),
        pytest.param("(for [x [1]] x x)", "for: too many forms", id="for-body"),
    ],
)
def test_macro_errors(src: str, fragment: str) -> None:
    err = compile_error(f"(defn f [] {src})")
    assert fragment in err.message, err.message
