"""Compile and runtime errors name the file, line and column of the form at fault, with a clear message."""

from __future__ import annotations

import pytest

from streamrt.errors import ScriptRuntimeError
from tests.lang.conftest import FILENAME, K, compile_error, load, run, runtime_error


@pytest.mark.parametrize(
    ("src", "line", "column", "message"),
    [
        pytest.param(
            "(defn f [xs]\n  (cout xs))",
            2,
            4,
            "unknown symbol 'cout' (did you mean 'count'?)",
            id="unknown-with-suggestion",
        ),
        pytest.param(
            "(defn f [total]\n  (inc totl))",
            2,
            8,
            "unknown symbol 'totl' (did you mean 'total'?)",
            id="suggests-locals",
        ),
        pytest.param("(def x zzqqy)", 1, 8, "unknown symbol 'zzqqy'", id="unknown-no-suggestion"),
        pytest.param(
            "(defn f [] (let [x] x))",
            1,
            18,
            "let: every binding needs a value; this one has none",
            id="let-odd-bindings",
        ),
        pytest.param(
            "(defn f [] (let x 1))",
            1,
            17,
            "let: expected bindings (a vector), got symbol; usage: (let bindings body...)",
            id="let-not-vector",
        ),
        pytest.param(
            "(defn f []\n  (if))",
            2,
            3,
            "if: missing test (a form); usage: (if test then else?)",
            id="if-empty",
        ),
        pytest.param("(defn f [] (if 1 2 3 4))", 1, 22, "if: too many forms", id="if-too-many"),
        pytest.param(
            "(defn f [] (fn 1 2))", 1, 16, "fn: expected params (a vector), got integer", id="fn-no-params"
        ),
        pytest.param(
            "(def 1 2)",
            1,
            6,
            "def: expected name (a symbol), got integer; usage: (def name value)",
            id="def-not-symbol",
        ),
        pytest.param("(def x)", 1, 1, "def: missing value (a form)", id="def-no-value"),
        pytest.param("(defn f)", 1, 1, "defn: missing params (a vector)", id="defn-no-params"),
        pytest.param(
            '(defn f "doc" 1)',
            1,
            15,
            "defn: expected params (a vector), got integer",
            id="defn-doc-no-params",
        ),
        pytest.param("(defn f [] (quote))", 1, 12, "quote: missing form", id="quote-empty"),
        pytest.param(
            '(call "log" {})', 1, 7, "call: expected capability (a keyword), got string", id="call-string"
        ),
        pytest.param(
            "(defn f [] (inc 1 2))",
            1,
            13,
            "wrong number of arguments to inc: expected 1 argument, got 2",
            id="core-arity",
        ),
        pytest.param(
            "(defn f [] (get))",
            1,
            13,
            "wrong number of arguments to get: expected 2 to 3 arguments, got 0",
            id="core-arity-range",
        ),
        pytest.param(
            "(defn f [] (max))",
            1,
            13,
            "wrong number of arguments to max: expected at least 1 argument, got 0",
            id="core-arity-variadic",
        ),
        pytest.param(
            "(defn g [a b] a)\n(defn f [] (g 1))",
            2,
            13,
            "wrong number of arguments to g: expected 2 arguments, got 1",
            id="defn-arity",
        ),
        pytest.param(
            "(defn g [a & r] a)\n(defn f [] (g))",
            2,
            13,
            "wrong number of arguments to g: expected at least 1 argument, got 0",
            id="defn-variadic-arity",
        ),
        pytest.param(
            "(defn f [] (:a))", 1, 13, "a keyword called as a function takes 1 or 2 arguments", id="kw-arity"
        ),
        pytest.param(
            "(defn f []\n  (def x 1))",
            2,
            4,
            "def is only allowed at the top level of a script",
            id="def-nested",
        ),
        pytest.param(
            "(defn f [] (let [g (defn h [] 1)] g))",
            1,
            21,
            "defn is only allowed at the top level",
            id="defn-nested",
        ),
        pytest.param(
            "(def y (inc x))\n(def x 1)",
            1,
            13,
            "'x' is used before its definition at line 2",
            id="use-before-definition",
        ),
        pytest.param("(def x 1)\n(defn x [] 2)", 2, 7, "'x' is already defined at line 1", id="redefinition"),
        pytest.param(
            "(def m {:a 1\n        :a 2})",
            2,
            9,
            "duplicate key :a in map literal",
            id="duplicate-keyword-key",
        ),
        pytest.param(
            '(def m {"k" 1 "k" 2})', 1, 15, 'duplicate key "k" in map literal', id="duplicate-string-key"
        ),
        pytest.param(
            "(def m {nil 1 nil 2})", 1, 15, "duplicate key nil in map literal", id="duplicate-nil-key"
        ),
        pytest.param(
            "(defn if [] 1)", 1, 7, "cannot bind 'if': it is a special form or macro", id="rebind-special"
        ),
        pytest.param("(def let 1)", 1, 6, "cannot bind 'let'", id="def-special"),
        pytest.param(
            "(defn f [when] when)",
            1,
            10,
            "cannot bind 'when': it is a special form or macro",
            id="rebind-macro-param",
        ),
        pytest.param("(defn f [] (let [cond 1] cond))", 1, 18, "cannot bind 'cond'", id="rebind-macro-let"),
        pytest.param(
            "(defn f [] if)", 1, 12, "'if' is a special form or macro, not a value", id="special-as-value"
        ),
        pytest.param(
            "(defn f [] (map when [1]))",
            1,
            17,
            "'when' is a special form or macro, not a value",
            id="macro-as-value",
        ),
        pytest.param(
            '(defn f [] ("s" 1))', 1, 13, 'cannot call "s": string is not a function', id="call-literal"
        ),
        pytest.param(
            "(defn f [] ([1] 0))", 1, 13, "cannot call [1]: vector is not a function", id="call-vector"
        ),
        pytest.param("(defn f [] (cond 1))", 1, 18, "cond: every test needs a result form", id="cond-odd"),
        pytest.param("(defn f [] (when))", 1, 12, "when: missing test", id="when-empty"),
        pytest.param("(def ns/x 1)", 1, 6, "cannot bind a namespaced symbol 'ns/x'", id="def-namespaced"),
    ],
)
def test_compile_errors(src: str, line: int, column: int, message: str) -> None:
    err = compile_error(src)
    assert (err.filename, err.line, err.column) == (FILENAME, line, column), err.format()
    assert message in err.message
    assert err.source_line == src.splitlines()[line - 1]


def test_compile_errors_come_before_anything_runs() -> None:
    seen: list[object] = []
    with pytest.raises(Exception, match="unknown symbol"):
        load(
            "(call :probe {})\n(defn f [] (nope))",
            capabilities={"probe": lambda args, ctx: seen.append(args)},
        )
    assert seen == []


def test_format_shows_source_line_and_caret() -> None:
    err = compile_error("(defn f [x]\n    (+ x (cout x)))")
    assert err.format() == (
        "t.rtfs:2:11: unknown symbol 'cout' (did you mean 'count'?)\n      (+ x (cout x)))\n            ^"
    )


# --- runtime errors -----------------------------------------------------------------------------------------------


def test_runtime_error_is_located_at_the_failing_form() -> None:
    src = "(defn f [x]\n  (let [a 1]\n    (let [b (+ a 1)] (inc nil))))"
    err = runtime_error(src, 1)
    assert (err.filename, err.line, err.column) == (FILENAME, 3, 22)
    assert err.message == "inc: expected a number, got nil"
    assert err.format() == (
        "t.rtfs:3:22: inc: expected a number, got nil\n"
        "      (let [b (+ a 1)] (inc nil))))\n"
        "                       ^"
    )


def test_runtime_error_in_a_nested_function_points_into_it() -> None:
    src = "(defn helper [m]\n  (inc (:n m)))\n(defn f [m] (helper m))"
    err = runtime_error(src, {})
    assert (err.line, err.column) == (2, 3)


def test_runtime_error_inside_a_core_higher_order_call() -> None:
    err = runtime_error("(defn f [xs]\n  (map (fn [x] (* 2 x)) xs))", (1, "a"))
    assert (err.line, err.column) == (2, 16)
    assert err.message == '*: expected a number, got string "a"'


@pytest.mark.parametrize(
    ("src", "args", "message"),
    [
        pytest.param(
            "(defn f [g] (g 1))", (5,), "cannot call an integer: it is not a function", id="call-int"
        ),
        pytest.param("(defn f [g] (g 1))", (None,), "cannot call nil: it is not a function", id="call-nil"),
        pytest.param("(defn f [g] (g 1))", ({},), "cannot call a map: it is not a function", id="call-map"),
        pytest.param(
            "(defn g [a b] a)\n(defn f [] (map g [1]))",
            (),
            "wrong number of arguments to g: missing 1 required argument: 'b'",
            id="defn-via-map",
        ),
        pytest.param(
            "(defn count-em [a b] a)\n(defn f [] (map count-em [1]))",
            (),
            "wrong number of arguments to count-em: missing 1 required argument: 'b'",
            id="dashed-name",
        ),
        pytest.param(
            "(defn f [] (let [h (fn [a] a)] (h 1 2)))",
            (),
            "wrong number of arguments to fn: takes 1 argument but 2 were given",
            id="local-fn",
        ),
        pytest.param(
            "(defn f [] (let [h (fn [[a] & r] (let [x a] x))] (h)))",
            (),
            "wrong number of arguments to fn: missing 1 required argument: a destructured parameter",
            id="destructured-param",
        ),
        pytest.param("(defn f [] (/ 1 0))", (), "division by zero", id="div-zero"),
        pytest.param("(defn f [n] (f n))", (1,), "recursion too deep", id="recursion"),
        pytest.param(
            "(defn f [m] (:a m))",
            ((1, 2),),
            "cannot look up a keyword in a vector: expected a map or nil",
            id="keyword-in-vector",
        ),
        pytest.param(
            "(defn f [] (+ true 1))", (), "+: expected a number, got boolean true", id="bool-not-number"
        ),
    ],
)
def test_runtime_error_messages(src: str, args: tuple[object, ...], message: str) -> None:
    err = runtime_error(src, *args) if args else _call_last(src)
    assert message in err.message, err.format()
    assert err.filename == FILENAME and err.line is not None and err.source_line is not None
    assert "Traceback" not in err.format()


def _call_last(src: str) -> ScriptRuntimeError:
    """The error of calling the script's last function with no arguments."""
    fn = list(load(src).functions.values())[-1]
    with pytest.raises(ScriptRuntimeError) as info:
        fn()
    return info.value


def test_runtime_error_at_top_level_is_raised_by_load() -> None:
    err = runtime_error("(def a 1)\n(def b (inc nil))")
    assert (err.line, err.column) == (2, 8)


def test_runtime_error_keeps_the_python_cause_for_debugging() -> None:
    err = runtime_error("(defn f [g] (g 1))", 5)
    assert isinstance(err.__cause__, TypeError)


def test_a_processor_error_leaves_the_script_usable() -> None:
    f = load("(defn f [s c] {:n (+ (:n s 0) (:v c))})").processor("f")
    with pytest.raises(ScriptRuntimeError):
        f({}, {K("v"): None})
    assert f({}, {K("v"): 2}) == {K("n"): 2}
    assert run("(defn f [] :ok)") is K("ok")
