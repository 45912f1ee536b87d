"""Random text and random token soups read and compile to a script or to one of our own errors, nothing else."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streamrt.errors import ScriptError
from streamrt.lang.script import compile_script, lower_script

ALPHABET = "abcxyz019 \n\t,;()[]{}\"'\\:/.-+*&^%$#@!?<>=_`~|é✓\u0000\u2028"

TOKENS = [
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    "\\",
    ":",
    ";",
    "\n",
    " ",
    "def",
    "defn",
    "fn",
    "let",
    "if",
    "do",
    "and",
    "or",
    "quote",
    "call",
    "when",
    "when-not",
    "if-not",
    "cond",
    "->",
    "->>",
    "mcp-stream",
    "&",
    ":as",
    ":keys",
    ":strs",
    ":or",
    ":else",
    ":log",
    ":mcp.stream.start",
    "x",
    "y",
    "f",
    "inc",
    "+",
    "get",
    "map",
    "reduce",
    "assoc",
    "__import__",
    "eval",
    "1",
    "-2",
    "3.5",
    "1e3",
    "1a",
    "nil",
    "true",
    "false",
    '"s"',
    '"\\n"',
    '"\\q"',
    ":k",
    ":a/b",
    "{:a 1}",
    "[1 2]",
    "(f)",
]


def check(text: str) -> None:
    try:
        compile_script(text + "\n", filename="fuzz.rtfs")
    except ScriptError as exc:
        assert exc.message
        if exc.pos is not None:
            assert exc.pos.filename == "fuzz.rtfs"
            assert exc.pos.line >= 1 and exc.pos.column >= 0
            exc.format()
        return
    lower_script(text + "\n", filename="fuzz.rtfs")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=ALPHABET, max_size=60))
@example("(")
@example('"\\u')
@example("(def x (quote 1))((quote 1) 2)")
@example("(defn f [] (not 0) (nil? 5) (= 1 nil))")
@example("(def)")
@example(":")
@example("'")
def test_random_text_gives_only_script_errors(text: str) -> None:
    check(text)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join))
def test_random_token_soups_give_only_script_errors(text: str) -> None:
    check(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS[13:]), max_size=12), st.integers(min_value=0, max_value=3))
def test_balanced_soups_give_only_script_errors(tokens: list[str], depth: int) -> None:
    body = " ".join(tokens)
    check("(defn f [x y & r] " + "(" * depth + body + ")" * depth + ")")
    check("(let [" + body + "] x)")


@given(
    st.integers(min_value=1, max_value=3000),
    st.sampled_from(["(inc ", "[", "(let [a 1] ", "(fn [] ", "{:a "]),
)
@settings(max_examples=40, deadline=None)
def test_deep_nesting_compiles_or_is_a_script_error(depth: int, opener: str) -> None:
    closer = {"(": ")", "[": "]", "{": "}"}[opener[0]]
    tail = "1" if opener != "(let [a 1] " else "a"
    check("(def v " + opener * depth + tail + closer * depth + ")")
