"""The reader: literals, positions, and syntax errors that point at the right character."""

from __future__ import annotations

from typing import Any

import pytest

from streamrt.errors import ScriptSyntaxError
from streamrt.lang.forms import Kw, ListF, Lit, MapF, Sym, VecF, form_str
from streamrt.lang.reader import read
from streamrt.lang.tables import grammar_text
from streamrt.values import Keyword
from tests.lang.conftest import FILENAME, run, syntax_error


def read_one(text: str) -> Any:
    forms = read(text, FILENAME)
    assert len(forms) == 1, forms
    return forms[0]


def value_of(text: str) -> Any:
    form = read_one(text)
    assert isinstance(form, Lit | Kw), form
    return form.value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("0", 0, id="zero"),
        pytest.param("42", 42, id="int"),
        pytest.param("-7", -7, id="negative"),
        pytest.param("+7", 7, id="explicit-plus"),
        pytest.param("123456789012345678901234567890", 123456789012345678901234567890, id="big-int"),
        pytest.param("1.5", 1.5, id="float"),
        pytest.param("-0.25", -0.25, id="negative-float"),
        pytest.param("1.", 1.0, id="trailing-dot"),
        pytest.param("1e3", 1000.0, id="exponent"),
        pytest.param("2.5E-2", 0.025, id="exponent-upper-negative"),
        pytest.param("-1e+2", -100.0, id="negative-exponent-plus"),
        pytest.param("nil", None, id="nil"),
        pytest.param("true", True, id="true"),
        pytest.param("false", False, id="false"),
    ],
)
def test_scalar_literals(text: str, value: Any) -> None:
    got = value_of(text)
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param(r'"plain"', "plain", id="plain"),
        pytest.param(r'""', "", id="empty"),
        pytest.param(r'"a\"b"', 'a"b', id="quote"),
        pytest.param(r'"a\\b"', "a\\b", id="backslash"),
        pytest.param(r'"a\nb"', "a\nb", id="newline"),
        pytest.param(r'"a\tb"', "a\tb", id="tab"),
        pytest.param(r'"a\rb"', "a\rb", id="return"),
        pytest.param(r'"\u00e9\u20AC"', "é€", id="unicode-escape"),
        pytest.param('"multi\nline"', "multi\nline", id="raw-newline"),
        pytest.param('"héllo ✓"', "héllo ✓", id="utf8"),
        pytest.param(
            r'"; not a comment, (not a list)"', "; not a comment, (not a list)", id="brackets-inside"
        ),
    ],
)
def test_strings_and_escapes(text: str, value: str) -> None:
    assert value_of(text) == value


@pytest.mark.parametrize(
    ("text", "qualified", "namespace", "name"),
    [
        (":count", "count", None, "count"),
        (":weather/city", "weather/city", "weather", "city"),
        (":a.b/c", "a.b/c", "a.b", "c"),
        (":mcp.stream.start", "mcp.stream.start", None, "mcp.stream.start"),
        (":valid?", "valid?", None, "valid?"),
        (":1", "1", None, "1"),
    ],
)
def test_keywords(text: str, qualified: str, namespace: str | None, name: str) -> None:
    kw = value_of(text)
    assert kw is Keyword(qualified)
    assert (kw.namespace, kw.name) == (namespace, name)


def test_keywords_are_interned_across_reads() -> None:
    assert value_of(":shared-kw") is value_of(":shared-kw")


@pytest.mark.parametrize(
    "name",
    [
        "x",
        "count-chunks",
        "ns/name",
        "+",
        "-",
        "/",
        "<=",
        "a.b",
        "valid?",
        "x!",
        "$y",
        "%z",
        "_",
        "a'",
        "*star*",
        "&",
    ],
)
def test_symbols(name: str) -> None:
    form = read_one(name)
    assert isinstance(form, Sym) and form.name == name


def test_collections_keep_shape_and_positions() -> None:
    forms = read('(f [1 2]\n   {:a "b"})', FILENAME)
    (lst,) = forms
    assert isinstance(lst, ListF)
    head, vec, mp = lst.items
    assert isinstance(head, Sym) and isinstance(vec, VecF) and isinstance(mp, MapF)
    assert (lst.pos.filename, lst.pos.line, lst.pos.column) == (FILENAME, 1, 1)
    assert (vec.pos.line, vec.pos.column) == (1, 4)
    assert (mp.pos.line, mp.pos.column) == (2, 4)
    assert [form_str(f) for f in vec.items] == ["1", "2"]
    assert form_str(mp) == '{:a "b"}'


def test_quote_shorthand_reads_as_quote_form() -> None:
    form = read_one("'(a b)")
    assert form_str(form) == "'(a b)"
    assert isinstance(form, ListF) and isinstance(form.items[0], Sym) and form.items[0].name == "quote"


def test_commas_are_whitespace_and_comments_are_ignored() -> None:
    forms = read("; leading comment\n[1,2,,3] ; trailing\n,,{:a 1, :b 2}", FILENAME)
    assert [form_str(f) for f in forms] == ["[1 2 3]", "{:a 1 :b 2}"]
    assert run("(defn f [] [1,2 ,3]) ; done") == (1, 2, 3)


def test_empty_script_reads_no_forms() -> None:
    assert read("", FILENAME) == []
    assert read("  ; only a comment\n,,\n", FILENAME) == []


def test_grammar_is_loadable() -> None:
    assert "SYMBOL" in grammar_text()


# --- syntax errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "line", "column", "fragment"),
    [
        pytest.param("(defn f [x]\n  (inc x)", 1, 1, "'(' is never closed", id="unclosed-points-at-opener"),
        pytest.param(
            "(def a 1)\n(def b [1 2)", 2, 12, "expected ']' to close '[' at 2:8, found ')'", id="mismatched"
        ),
        pytest.param("(def a 1))", 1, 10, "unexpected ')': nothing to close", id="unexpected-closer"),
        pytest.param("\n  }", 2, 3, "unexpected '}'", id="stray-brace"),
        pytest.param("(def x 1a)", 1, 8, "invalid number '1a'", id="bad-number"),
        pytest.param("(def x 1.2.3)", 1, 8, "invalid number '1.2.3'", id="bad-float"),
        pytest.param("(def x 0x1F)", 1, 8, "invalid number '0x1F'", id="hex-not-supported"),
        pytest.param('(def x "a\\qb")', 1, 10, "invalid escape '\\q'", id="bad-escape"),
        pytest.param('(def x "ok\n  \\z")', 2, 3, "invalid escape '\\z'", id="bad-escape-second-line"),
        pytest.param('(def x "\\u12")', 1, 9, "invalid \\u escape", id="short-unicode-escape"),
        pytest.param('(def x "\\uZZZZ")', 1, 9, "invalid \\u escape", id="bad-unicode-escape"),
        pytest.param('(def x 1)\n(def y "abc', 2, 8, "unterminated string", id="unterminated-string"),
        pytest.param("(def x {:a 1 :b})", 1, 14, "a map literal needs a value for every key", id="odd-map"),
        pytest.param("(def x :)", 1, 8, "a keyword needs a name after ':'", id="bare-colon"),
        pytest.param("(def x :a//b)", 1, 8, "invalid keyword", id="bad-keyword"),
        pytest.param("(def x a/b/c)", 1, 8, "invalid symbol 'a/b/c'", id="bad-symbol"),
        pytest.param("(def x #_1)", 1, 8, "unexpected character '#'", id="unknown-dispatch"),
        pytest.param("(def x 'a)\n'", 2, 1, "unexpected end of script", id="quote-at-end"),
    ],
)
def test_syntax_errors_are_located(src: str, line: int, column: int, fragment: str) -> None:
    err = syntax_error(src)
    assert (err.filename, err.line, err.column) == (FILENAME, line, column), err.format()
    assert fragment in err.message
    assert err.source_line == src.splitlines()[line - 1]


def test_syntax_error_format_shows_line_and_caret() -> None:
    err = syntax_error("(def ok 1)\n(def x  1a)")
    assert err.format() == "t.rtfs:2:9: invalid number '1a'\n  (def x  1a)\n          ^"


def test_brackets_inside_strings_and_comments_do_not_count() -> None:
    assert run('(defn f [] ; a ( comment [\n  "(]}")') == "(]}"


def test_read_raises_only_syntax_errors_for_a_lone_closer() -> None:
    with pytest.raises(ScriptSyntaxError):
        read(")", FILENAME)
