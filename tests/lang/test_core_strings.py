"""Strings, keywords and JSON: str, subs, split, join, re-find, keyword, name, parse-json, to-json..."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrt.lang.core import CORE
from streamrt.values import Symbol
from tests.lang.core_support import K, L, call, expect_error

A = K("a")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((), "", id="empty"),
        pytest.param((None,), "", id="nil"),
        pytest.param(("a", K("b"), 1, (1, 2)), "a:b1[1 2]", id="mixed"),
        pytest.param((1.0, True, False), "1.0truefalse", id="float-bools"),
        pytest.param(("x", None, "y"), "xy", id="nil-in-middle"),
        pytest.param(({A: "s"},), "{:a s}", id="map-not-readable"),
        pytest.param((L(1, None),), "(1 nil)", id="list-with-nil"),
        pytest.param((K("ns/a"),), ":ns/a", id="namespaced-keyword"),
    ],
)
def test_str(args: tuple[Any, ...], expected: str) -> None:
    assert call("str", *args) == expected


def test_pr_str_is_readable() -> None:
    assert call("pr-str", "a", A, None, ("b",)) == '"a" :a nil ["b"]'
    assert call("pr-str") == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("hello", 1), "ello", id="from"),
        pytest.param(("hello", 1, 3), "el", id="range"),
        pytest.param(("hello", 5), "", id="at-end"),
        pytest.param(("hello", 2, 2), "", id="empty-range"),
    ],
)
def test_subs(args: tuple[Any, ...], expected: str) -> None:
    assert call("subs", *args) == expected


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(("abc", 4), ("range 4..3 out of bounds", "length 3"), id="start-past-end"),
        pytest.param(("abc", 2, 1), ("range 2..1",), id="reversed"),
        pytest.param(("abc", -1), ("range -1..3",), id="negative"),
        pytest.param((None, 0), ("expected a string, got nil",), id="nil"),
        pytest.param(("abc", "1"), ('expected an integer start index, got string "1"',), id="string-index"),
        pytest.param(("abc", 0, 1.0), ("expected an integer end index, got float 1.0",), id="float-end"),
    ],
)
def test_subs_errors(args: tuple[Any, ...], fragments: tuple[str, ...]) -> None:
    expect_error("subs", args, *fragments)


@pytest.mark.parametrize(
    ("name", "arg", "expected"),
    [
        pytest.param("upper-case", "abc é", "ABC É", id="upper"),
        pytest.param("lower-case", "ABC", "abc", id="lower"),
        pytest.param("trim", "  a b \n\t", "a b", id="trim"),
    ],
)
def test_case_and_trim(name: str, arg: str, expected: str) -> None:
    assert call(name, arg) == expected


@pytest.mark.parametrize(
    ("name", "args"),
    [
        pytest.param("upper-case", (None,), id="upper-case"),
        pytest.param("lower-case", (None,), id="lower-case"),
        pytest.param("trim", (None,), id="trim"),
        pytest.param("starts-with?", (None, "a"), id="starts-with"),
        pytest.param("ends-with?", (None, "a"), id="ends-with"),
        pytest.param("includes?", (None, "a"), id="includes"),
        pytest.param("split", (None, ","), id="split"),
        pytest.param("re-find", ("a", None), id="re-find"),
    ],
)
def test_string_functions_reject_non_strings(name: str, args: tuple[Any, ...]) -> None:
    expect_error(name, args, "expected a string, got nil")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("a,b,c", ","), ("a", "b", "c"), id="simple"),
        pytest.param(("a,,b,", ","), ("a", "", "b", ""), id="keeps-empty-parts"),
        pytest.param(("a.b|c", "."), ("a", "b|c"), id="literal-not-regex"),
        pytest.param(("a::b", "::"), ("a", "b"), id="multi-char"),
        pytest.param(("abc", ""), ("a", "b", "c"), id="empty-separator"),
        pytest.param(("", ","), ("",), id="empty-string"),
        pytest.param(("a,b,c", ",", 2), ("a", "b,c"), id="limit"),
        pytest.param(("abc", "", 2), ("a", "bc"), id="limit-chars"),
        pytest.param(("a,b", ",", 0), ("a", "b"), id="limit-zero-means-all"),
    ],
)
def test_split(args: tuple[Any, ...], expected: tuple[str, ...]) -> None:
    assert call("split", *args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(((1, "a", None, A),), "1a:a", id="no-separator"),
        pytest.param((", ", (1, None, 2)), "1, , 2", id="separator"),
        pytest.param(("-", ()), "", id="empty"),
        pytest.param(("-", None), "", id="nil"),
        pytest.param(("", "abc"), "abc", id="string-chars"),
    ],
)
def test_join(args: tuple[Any, ...], expected: str) -> None:
    assert call("join", *args) == expected


def test_join_errors() -> None:
    expect_error("join", (1, (1,)), "expected a string, got integer 1")
    expect_error("join", (5,), "expected a collection, got integer 5")


@pytest.mark.parametrize(
    ("name", "s", "part", "expected"),
    [
        pytest.param("starts-with?", "hello", "he", True, id="starts"),
        pytest.param("starts-with?", "hello", "lo", False, id="not-starts"),
        pytest.param("ends-with?", "hello", "lo", True, id="ends"),
        pytest.param("includes?", "hello", "ll", True, id="includes"),
        pytest.param("includes?", "hello", "", True, id="includes-empty"),
        pytest.param("includes?", "hello", "x", False, id="not-includes"),
    ],
)
def test_substring_predicates(name: str, s: str, part: str, expected: bool) -> None:
    assert call(name, s, part) is expected


def test_substring_predicates_check_the_second_argument() -> None:
    expect_error("includes?", ("abc", A), "got keyword :a")


@pytest.mark.parametrize(
    ("pattern", "s", "expected"),
    [
        pytest.param(r"\d+", "ab123c45", "123", id="whole-match"),
        pytest.param(r"x", "abc", None, id="no-match"),
        pytest.param(r"(\w+)@(\w+)", "mail bob@example now", ("bob@example", "bob", "example"), id="groups"),
        pytest.param(r"(a)|(b)", "b", ("b", None, "b"), id="group-not-taking-part"),
        pytest.param(r"(?i)HELLO", "say hello", "hello", id="python-syntax-flags"),
    ],
)
def test_re_find(pattern: str, s: str, expected: Any) -> None:
    assert call("re-find", pattern, s) == expected


def test_re_find_bad_pattern_is_a_clear_error() -> None:
    expect_error("re-find", ("(unclosed", "x"), 'invalid pattern "(unclosed"')
    expect_error("re-find", (1, "x"), "expected a string, got integer 1")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("a",), K("a"), id="string"),
        pytest.param(("ns/a",), K("ns/a"), id="namespaced"),
        pytest.param(("ns", "a"), K("ns/a"), id="two-args"),
        pytest.param((None, "a"), K("a"), id="nil-namespace"),
        pytest.param((A,), A, id="keyword"),
        pytest.param((None,), None, id="nil"),
        pytest.param((Symbol("s"),), K("s"), id="symbol"),
    ],
)
def test_keyword(args: tuple[Any, ...], expected: Any) -> None:
    assert call("keyword", *args) is expected


def test_keyword_errors() -> None:
    expect_error("keyword", (1,), "expected a string or keyword, got integer 1")
    expect_error("keyword", ("",), "must not be empty")
    expect_error("keyword", ("ns", 1), "got integer 1")


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        pytest.param(A, "a", id="keyword"),
        pytest.param(K("weather/city"), "city", id="namespaced"),
        pytest.param("text", "text", id="string"),
        pytest.param(Symbol("ns/s"), "s", id="symbol"),
    ],
)
def test_name(x: Any, expected: str) -> None:
    assert call("name", x) == expected


def test_name_errors() -> None:
    expect_error("name", (None,), "expected a keyword or string, got nil")


def test_parse_json() -> None:
    text = '{"a": [1, 2.5, {"b": null}], "c": true, "d": "x"}'
    assert call("parse-json", text) == {A: (1, 2.5, {K("b"): None}), K("c"): True, K("d"): "x"}
    assert call("parse-json", "[]") == ()
    assert call("parse-json", "3") == 3


@pytest.mark.parametrize(
    "bad", ["{", "", "[1,]", "{'a': 1}", "[" * 100_000], ids=["open", "empty", "comma", "quotes", "deep"]
)
def test_parse_json_errors(bad: str) -> None:
    expect_error("parse-json", (bad,), "invalid JSON")


def test_parse_json_needs_a_string() -> None:
    expect_error("parse-json", (None,), "expected a string, got nil")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({A: (1, None), K("ns/b"): K("c")}, '{"a":[1,null],"ns/b":"c"}', id="map"),
        pytest.param(L(1, "é"), '[1,"é"]', id="list-unicode"),
        pytest.param(None, "null", id="nil"),
        pytest.param(float("nan"), "null", id="nan"),
    ],
)
def test_to_json(value: Any, expected: str) -> None:
    assert call("to-json", value) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple) | st.dictionaries(st.text().map(K), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(json_values)
def test_json_round_trips(value: Any) -> None:
    assert CORE["="].fn(call("parse-json", call("to-json", value)), value)


@given(st.text(), st.text(min_size=1))
def test_split_then_join_round_trips(s: str, sep: str) -> None:
    assert call("join", sep, call("split", s, sep)) == s
