"""Anonymous function literals ``#(...)``: argument numbering, rest arguments, and what is refused."""

from __future__ import annotations

import pytest

from streamrt.lang.forms import form_str
from streamrt.lang.reader import read
from streamrt.printer import pr_str
from tests.lang.conftest import compile_error, run, syntax_error


@pytest.mark.parametrize(
    ("text", "lowered"),
    [
        pytest.param("#(inc %)", "(fn [%1] (inc %1))", id="percent-is-first"),
        pytest.param("#(- %2 %1)", "(fn [%1 %2] (- %2 %1))", id="numbered"),
        pytest.param("#(vector %3)", "(fn [%1 %2 %3] (vector %3))", id="highest-sets-the-arity"),
        pytest.param("#(apply + % %&)", "(fn [%1 & %&] (apply + %1 %&))", id="rest"),
        pytest.param("#(:a %)", "(fn [%1] (:a %1))", id="keyword-head"),
        pytest.param("#([% %])", "(fn [%1] ([%1 %1]))", id="vector-body-is-called"),
        pytest.param("#(do {:k %})", "(fn [%1] (do {:k %1}))", id="inside-a-map"),
        pytest.param("#(+ 1 2)", "(fn [] (+ 1 2))", id="no-arguments"),
    ],
)
def test_reads_as_fn(text: str, lowered: str) -> None:
    (form,) = read(text)
    assert form_str(form) == lowered


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        pytest.param("(map #(* % %) [1 2 3])", "[1 4 9]", id="map"),
        pytest.param("(#(str %2 %1) :a :b)", '":b:a"', id="order"),
        pytest.param("(#(count %&) 1 2 3)", "3", id="rest-count"),
        pytest.param("(#(vector % %&) 1)", "[1 nil]", id="empty-rest-is-nil"),
        pytest.param("(reduce #(+ %1 (* 2 %2)) 0 [1 2])", "6", id="reduce"),
        pytest.param("(filter #(contains? #{:a} %) [:a :b])", "[:a]", id="with-set"),
    ],
)
def test_runs(src: str, expected: str) -> None:
    assert pr_str(run(f"(defn f [] {src})")) == expected


def test_nested_literals_are_refused_at_the_inner_one() -> None:
    err = syntax_error("(def f #(map #(inc %) %))")
    assert err.message == "#(...) literals cannot be nested; write the inner one as (fn [x] ...)"
    assert (err.line, err.column) == (1, 14)


def test_too_many_arguments_is_refused() -> None:
    err = syntax_error("(def f #(vector %21))")
    assert err.message == "#(...) takes at most %20, got %21"


def test_wrong_number_of_arguments_at_run_time() -> None:
    from tests.lang.conftest import runtime_error

    err = runtime_error("(def x (#(inc %) 1 2))")
    assert err.message.startswith("wrong number of arguments to fn")


def test_percent_outside_a_literal_is_an_unknown_symbol_with_a_hint() -> None:
    err = compile_error("(def x (inc %1))")
    assert "only inside an anonymous function literal #(...)" in err.message
