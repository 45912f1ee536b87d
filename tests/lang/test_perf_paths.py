"""The speed-minded code shapes keep the language's meaning.

Covers the nested int guards (a keyword lookup as operand, repeated in the fallback), the chained guard kept for
large operands, keywords held as code constants, the reader's own lexer, and the one-pass position fill. Each
fast shape is checked against the core function (the generic path) on ints, floats, booleans, nil, big ints and
strings, and errors must still name the script line.
"""

from __future__ import annotations

import ast
import functools
import math
import time
from collections.abc import Callable
from types import CodeType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.errors import ScriptRuntimeError
from streamrt.lang import compiler
from streamrt.lang.codeconsts import NONCE
from streamrt.lang.compiling import compile_forms
from streamrt.lang.core import CORE
from streamrt.lang.forms import ListF, Sym
from streamrt.lang.positions import fill_positions
from streamrt.lang.reader import read
from tests.lang.conftest import FILENAME, K, last_fn, load, runtime_error, syntax_error

numbers = st.one_of(
    st.integers(min_value=-3, max_value=3),
    st.integers(min_value=-(2**90), max_value=2**90),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=2),
    st.sampled_from([K("a"), (1, 2)]),
)
MISSING = object()


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """("ok", value and type) or ("error", message): what a caller can observe."""
    try:
        value = fn(*args)
    except ScriptRuntimeError as exc:
        return "error", exc.message
    if isinstance(value, float) and math.isnan(value):
        return "ok", ("nan", float)
    return "ok", (value, type(value))


def core_outcome(op: str, *args: Any) -> tuple[str, Any]:
    """The generic path: the core function itself."""
    return outcome(CORE[op].fn, *args)


@functools.cache
def compiled(src: str) -> Callable[..., Any]:
    return last_fn(src)


def entry(value: Any) -> dict[Any, Any]:
    return {} if value is MISSING else {K("x"): value}


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(["+", "-", "*", "<", "<=", ">", ">="]), a=numbers, b=numbers)
def test_lookup_operands_take_the_nested_guard_and_agree_with_core(op: str, a: Any, b: Any) -> None:
    f = compiled(f"(defn f [m n] ({op} (:x m 0) (:x n 0)))")
    assert outcome(f, entry(a), entry(b)) == core_outcome(op, a, b)


@settings(max_examples=200, deadline=None)
@given(op=st.sampled_from(["inc", "dec"]), a=numbers)
def test_step_of_a_lookup_agrees_with_core(op: str, a: Any) -> None:
    f = compiled(f"(defn f [m] ({op} (:x m 0)))")
    assert outcome(f, entry(a)) == core_outcome(op, a)


def test_missing_keys_take_the_default_and_nil_maps_too() -> None:
    f = compiled("(defn f [m n] (+ (:x m 0) (:x n 0)))")
    assert f({}, None) == 0
    assert f(None, {K("x"): 5}) == 5


def test_a_boolean_is_never_a_number_on_either_side() -> None:
    f = compiled("(defn f [m n] (+ (:x m 0) (:x n 0)))")
    for m, n in (({K("x"): True}, {K("x"): 1}), ({K("x"): 1}, {K("x"): False})):
        with pytest.raises(ScriptRuntimeError, match=r"\+: expected a number, got boolean"):
            f(m, n)


def test_guard_errors_name_the_script_line() -> None:
    src = "(defn f [state chunk]\n  {:count (inc (:count state 0))\n   :sum (+ (:sum state 0) (:value chunk 0))})"
    err = runtime_error(src, {}, {K("value"): True})
    assert err.pos is not None and err.pos.filename == FILENAME
    assert (err.pos.line, err.pos.column) == (3, 9)  # the '(' of (+ ...)
    assert err.message == "+: expected a number, got boolean true"
    err = runtime_error(src, {K("count"): None}, {})
    assert err.pos is not None and err.pos.line == 2


def test_second_operand_is_evaluated_once_on_every_path() -> None:
    seen: list[Any] = []

    def log(value: Any) -> Any:
        seen.append(value)
        return value

    f = compiled("(defn f [log m] (+ (:x m 0) (log 5)))")
    for m in ({K("x"): 1}, {K("x"): 1.5}, {K("x"): "s"}):
        seen.clear()
        outcome(f, log, m)
        assert seen == [5]


def _all_code(code: CodeType) -> list[CodeType]:
    out = [code]
    for const in code.co_consts:
        if isinstance(const, CodeType):
            out.extend(_all_code(const))
    return out


def test_deeply_nested_arithmetic_stays_linear_in_code_size() -> None:
    depth = 40
    expr = "x"
    for _ in range(depth):
        expr = f"(+ (:a m 0) {expr})"
    start = time.perf_counter()
    script = load(f"(defn f [m x] {expr})")
    assert time.perf_counter() - start < 2.0
    size = sum(len(c.co_code) for c in _all_code(script.compiled.code))
    assert size < depth * 400, size
    assert script.functions["f"]({K("a"): 1}, 2) == depth + 2
    assert script.functions["f"]({K("a"): 0.5}, 2) == depth * 0.5 + 2


def test_keywords_are_code_constants_and_no_placeholder_survives() -> None:
    script = load('(defn f [m] [(:a m) :b {:c [:d "\\u0000streamrt-object:x"]} (= (:e m) :e)])')
    codes = _all_code(script.compiled.code)
    names = {n for c in codes for n in c.co_names}
    assert not any(n.startswith("_k") for n in names)
    consts = [v for c in codes for v in c.co_consts]

    def flat(value: Any) -> list[Any]:
        return [x for v in value for x in flat(v)] if isinstance(value, tuple) else [value]

    leaves = [leaf for v in consts for leaf in flat(v)]
    assert K("a") in leaves and K("b") in leaves
    assert not any(
        isinstance(v, str) and v.startswith("\0streamrt-object:") and v != "\0streamrt-object:x"
        for v in leaves
    )
    result = script.functions["f"]({K("a"): 1, K("e"): K("e")})
    assert result == (1, K("b"), {K("c"): (K("d"), "\0streamrt-object:x")}, True)


def test_a_string_shaped_like_a_placeholder_stays_a_string() -> None:
    fake = f'["{NONCE[1:]}" 0]'
    assert last_fn(f"(defn f [] {fake})")() == (NONCE[1:], 0)


def test_fill_positions_matches_fix_missing_locations(monkeypatch: pytest.MonkeyPatch) -> None:
    src = (
        "(defn f [state {:keys [a b] :or {a 1} :as chunk}]\n"
        "  (let [[x y & more] (:v state [1 2 3])]\n"
        "    (cond (nil? a) {:s (inc x)}\n"
        "          (> a y) (map (fn [q] (+ q a)) more)\n"
        "          :else (and a b (or x y)))))\n"
    )
    trees = []
    for fill in (fill_positions, ast.fix_missing_locations):
        captured: list[ast.Module] = []

        def spy(module: ast.Module, fill: Any = fill, captured: list[ast.Module] = captured) -> None:
            captured.append(module)
            fill(module)

        monkeypatch.setattr(compiler, "fill_positions", spy)
        compile_forms(read(src, FILENAME), FILENAME)
        trees.append(ast.dump(captured[0], include_attributes=True))
    assert trees[0] == trees[1]


@pytest.mark.parametrize(
    ("src", "line", "column", "fragment"),
    [
        pytest.param(
            '(a\n "two\nlines" 1.2.3)', 3, 8, "invalid number '1.2.3'", id="after-a-multiline-string"
        ),
        pytest.param("; c (\n  (b ; ]\n  :k/)", 3, 3, "invalid keyword ':k/'", id="after-comments"),
        pytest.param("(a 1x) (b ]", 1, 4, "invalid number '1x'", id="first-error-in-text-order"),
        pytest.param("(a)\n  #", 2, 3, "unexpected character '#'", id="bad-character-after-whitespace"),
    ],
)
def test_reader_positions_and_error_order(src: str, line: int, column: int, fragment: str) -> None:
    err = syntax_error(src)
    assert err.pos is not None and (err.pos.line, err.pos.column) == (line, column), err
    assert fragment in err.message


def test_comments_never_give_text_back_to_tokens() -> None:
    assert read(";,`)'b\n", FILENAME) == []
    (form,) = read("(a ; (b c)\n d)", FILENAME)
    assert isinstance(form, ListF)
    assert [x.name for x in form.items if isinstance(x, Sym)] == ["a", "d"]
    assert len(form.items) == 2
