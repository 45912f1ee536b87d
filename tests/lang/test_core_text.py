"""clojure.string through its names and aliases, ``namespace``, and ``format`` (Java's directives)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from streamrt.errors import LimitExceededError
from streamrt.lang.meter import Limits
from streamrt.lang.metered import metered
from streamrt.printer import pr_str
from tests.lang.conftest import compile_error, load, run
from tests.lang.core_support import K, call, expect_error


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        pytest.param('(str/blank? "  \\n")', "true", id="blank"),
        pytest.param("(str/blank? nil)", "true", id="blank-nil"),
        pytest.param('(str/blank? " a ")', "false", id="blank-not"),
        pytest.param('(str/capitalize "hELLO wORLD")', '"Hello world"', id="capitalize"),
        pytest.param('(str/triml "  a  ")', '"a  "', id="triml"),
        pytest.param('(str/trimr "  a  ")', '"  a"', id="trimr"),
        pytest.param('(str/trim-newline "a\\r\\n\\n")', '"a"', id="trim-newline"),
        pytest.param('(str/replace "a.b.c" "." "-")', '"a-b-c"', id="replace-literal"),
        pytest.param('(str/replace-first "a.b.c" "." "-")', '"a-b.c"', id="replace-first"),
        pytest.param('(str/index-of "abcabc" "c")', "2", id="index-of"),
        pytest.param('(str/index-of "abcabc" "c" 3)', "5", id="index-of-from"),
        pytest.param('(str/index-of "abc" "z")', "nil", id="index-of-missing"),
        pytest.param('(str/last-index-of "abcabc" "c")', "5", id="last-index-of"),
        pytest.param('(str/last-index-of "abcabc" "c" 4)', "2", id="last-index-of-from"),
        pytest.param('(str/split-lines "a\\nb\\r\\nc\\n\\n")', '["a" "b" "c"]', id="split-lines"),
        pytest.param('(str/split-lines "")', '[""]', id="split-lines-empty"),
        pytest.param('(str/split-lines "\\n")', "[]", id="split-lines-only-newline"),
        pytest.param('(str/reverse "abc")', '"cba"', id="reverse"),
        pytest.param('(str/escape "a<b>" {"<" "&lt;" ">" "&gt;"})', '"a&lt;b&gt;"', id="escape-map"),
        pytest.param('(str/escape "ab" (fn [c] (when (= c "a") 1)))', '"1b"', id="escape-fn"),
        pytest.param('(str/join ", " [1 :a "s"])', '"1, :a, s"', id="join-alias"),
        pytest.param("(clojure.string/join [1 2])", '"12"', id="join-full-name"),
        pytest.param('(string/upper-case "a")', '"A"', id="string-alias"),
        pytest.param('(str/split "a,b" ",")', '["a" "b"]', id="split-alias"),
        pytest.param('(str/includes? "abc" "b")', "true", id="includes-alias"),
        pytest.param("(clojure.core/inc 1)", "2", id="clojure-core"),
        pytest.param("(namespace :a/b)", '"a"', id="namespace"),
        pytest.param("(namespace :b)", "nil", id="namespace-none"),
    ],
)
def test_string_forms(src: str, expected: str) -> None:
    assert pr_str(run(f"(defn f [] {src})")) == expected


def test_qualified_names_are_values_too() -> None:
    assert run('(defn f [] (map str/upper-case ["a" "b"]))') == ("A", "B")


def test_blank_without_its_namespace_suggests_it() -> None:
    err = compile_error("(defn f [s] (blank? s))")
    assert "did you mean 'str/blank?'" in err.message


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        pytest.param("clojure.string/blank?", (1,), "expected a string, got integer", id="blank"),
        pytest.param("clojure.string/capitalize", (None,), "expected a string, got nil", id="capitalize"),
        pytest.param("clojure.string/replace", ("a", "", "b"), "must not be empty", id="replace-empty"),
        pytest.param(
            "clojure.string/replace", ("a", "a", 1), "expected a string replacement", id="replace-with"
        ),
        pytest.param(
            "clojure.string/index-of", ("a", K("a")), "expected a string, got keyword", id="index-of"
        ),
        pytest.param(
            "clojure.string/index-of", ("a", "a", "1"), "expected an integer index", id="index-from"
        ),
        pytest.param("clojure.string/split-lines", ((),), "expected a string, got vector", id="split-lines"),
        pytest.param("clojure.string/escape", ("a", 1), "expected a function or keyword", id="escape"),
        pytest.param("namespace", ("a/b",), 'expected a keyword, got string "a/b"', id="namespace"),
    ],
)
def test_string_function_errors(name: str, args: tuple[Any, ...], fragment: str) -> None:
    expect_error(name, args, fragment)


# --- format ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        pytest.param("%s and %s", ("a", K("b")), "a and :b", id="s"),
        pytest.param("%s", (None,), "nil", id="s-nil"),
        pytest.param("%s", ((1, "x"),), "[1 x]", id="s-vector"),
        pytest.param("%5s|%-5s|", ("ab", "cd"), "   ab|cd   |", id="s-width"),
        pytest.param("%.2s", ("abcd",), "ab", id="s-precision"),
        pytest.param("%S", ("ab",), "AB", id="S"),
        pytest.param("%d", (42,), "42", id="d"),
        pytest.param("%05d", (-42,), "-0042", id="d-zero-pad"),
        pytest.param("%+d % d", (5, 5), "+5  5", id="d-sign"),
        pytest.param("%,d", (1234567,), "1,234,567", id="d-grouping"),
        pytest.param("%-4d|", (7,), "7   |", id="d-left"),
        pytest.param("%x %X %o", (255, 255, 8), "ff FF 10", id="hex-octal"),
        pytest.param("%#x", (255,), "0xff", id="hex-prefix"),
        pytest.param("%.2f", (3.14159,), "3.14", id="f"),
        pytest.param("%f", (2,), "2.000000", id="f-of-int"),
        pytest.param("%8.3f|", (-1.5,), "  -1.500|", id="f-width"),
        pytest.param("%,.2f", (1234.5,), "1,234.50", id="f-grouping"),
        pytest.param("%.1f", (math.nan,), "NaN", id="f-nan"),
        pytest.param("%f", (-math.inf,), "-Infinity", id="f-inf"),
        pytest.param("%e", (12345.678,), "1.234568e+04", id="e"),
        pytest.param("%b %b %b", (None, False, 0), "false false true", id="b"),
        pytest.param("%c%c", ("a", 98), "ab", id="c"),
        pytest.param("100%% %n", (), "100% \n", id="percent-newline"),
        pytest.param("%2$s %1$s %s", ("a", "b"), "b a a", id="indexed"),
        pytest.param("no directives", (1, 2), "no directives", id="extra-args-ignored"),
    ],
)
def test_format(fmt: str, args: tuple[Any, ...], expected: str) -> None:
    assert call("format", fmt, *args) == expected


@pytest.mark.parametrize(
    ("fmt", "args", "fragment"),
    [
        pytest.param("%d", (1.5,), "%d needs an integer, got float 1.5", id="d-float"),
        pytest.param("%d", (True,), "%d needs an integer, got boolean", id="d-bool"),
        pytest.param("%.2d", (1,), "integers take no precision", id="d-precision"),
        pytest.param("%f", ("1",), '%f needs a number, got string "1"', id="f-string"),
        pytest.param("%s %s", ("a",), "not enough arguments for %s", id="missing"),
        pytest.param("%q", (1,), "unknown conversion q", id="unknown"),
        pytest.param("50%", (), "unknown conversion (nothing)", id="trailing-percent"),
        pytest.param("%-05d", (1,), "the flags - and 0 cannot be combined", id="flags"),
        pytest.param("%+s", ("a",), "only the - flag applies to %s", id="s-flag"),
        pytest.param("%#f", (1.0,), "the # flag applies to %x and %X only", id="hash-flag"),
        pytest.param("%c", ("ab",), "needs a 1-character string or a code point", id="c"),
        pytest.param("%3$s", ("a",), "uses argument 3, 1 given", id="index-past"),
        pytest.param("%99999999999999999999s", ("a",), "Too many decimal digits", id="width-beyond-python"),
    ],
)
def test_format_errors(fmt: str, args: tuple[Any, ...], fragment: str) -> None:
    expect_error("format", (fmt, *args), fragment)


def test_format_needs_a_string() -> None:
    expect_error("format", (K("x"),), "expected a string, got keyword")


def test_a_huge_width_is_a_size_limit_not_a_memory_error() -> None:
    f = metered(load('(defn f [w] (format (str "%" w "d") 1))\n').processor("f"), Limits(max_size=10_000))
    assert len(f(5_000)) == 5_000
    with pytest.raises(LimitExceededError, match="max-size limit exceeded: format would build"):
        f(10**9)
