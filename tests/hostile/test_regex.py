"""Regexes run on RE2: a pattern that makes a backtracking engine take exponential time cannot freeze the process.

``(re-find "^(a+)+$" ...)`` on 41 characters froze the process with Python's ``re`` (no limit can interrupt one C
call). The reproduction runs in a child next to a healthy stream; the rest checks the regex functions the language
gained with RE2 and the syntax it refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamrt.errors import ScriptRuntimeError
from streamrt.lang.repl import ReplSession
from tests.hostile.children import run_streamrt

pytestmark = pytest.mark.timeout(120)

CATASTROPHIC = """
(defn hostile [state chunk]
  {:state state :output (re-find "^(a+)+$" (str (apply str (repeat 4000 "a")) "!"))})
(defn nested [state chunk]
  {:state state :output (re-matches "(x+x+)+y" (apply str (repeat 5000 "x")))})
(defn healthy [state chunk] {:state {:n (inc (:n state 0))} :output (:seq chunk)})
(mcp-stream "mock:a?count=3" hostile {} {:stream-id "hostile"})
(mcp-stream "mock:b?count=3" nested {} {:stream-id "nested"})
(mcp-stream "mock:c?count=3" healthy {} {:stream-id "healthy"})
"""


def test_a_catastrophic_pattern_matches_in_linear_time(tmp_path: Path) -> None:
    (tmp_path / "regex.rtfs").write_text(CATASTROPHIC, encoding="utf-8")
    child = run_streamrt(["run", "regex.rtfs", "--no-progress"], cwd=tmp_path, timeout=90)
    assert child.code == 0, child.err[-3000:]
    for stream in ("hostile", "nested", "healthy"):
        assert f"stream {stream}: completed" in child.err
    assert child.out.count('"output":null') == 6  # neither pattern matches, three chunks each


def evaluate(text: str) -> Any:
    return ReplSession().eval(text)[-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(r'(re-find "(\\d+)-(\\d+)" "from 10-20")', ("10-20", "10", "20"), id="re-find-groups"),
        pytest.param(r'(re-find "é+" "cafééé!")', "ééé", id="re-find-unicode"),
        pytest.param(r'(re-find "(?i)HELLO" "say hello")', "hello", id="flags"),
        pytest.param(r'(re-matches "[a-z]+" "abc")', "abc", id="re-matches"),
        pytest.param(r'(re-matches "[a-z]+" "abc1")', None, id="re-matches-partial"),
        pytest.param(r'(re-seq "\\d+" "a1b22c333")', ("1", "22", "333"), id="re-seq"),
        pytest.param(r'(re-seq "(a)(b)?" "a ab")', (("a", "a", None), ("ab", "a", "b")), id="re-seq-groups"),
        pytest.param(r'(re-seq "x" "abc")', (), id="re-seq-none"),
        pytest.param(r'(re-find (re-pattern "b+") "abbbc")', "bbb", id="re-pattern"),
        pytest.param(r'(str/replace "a1b22" (re-pattern "(\\d+)") "<$1>")', "a<1>b<22>", id="replace-groups"),
        pytest.param(r'(str/replace "a.b" (re-pattern "\\.") "\\$")', "a$b", id="replace-dollar"),
        pytest.param(
            r'(str/replace "a1b2" (re-pattern "\\d") (fn [d] (str d d)))', "a11b22", id="replace-fn"
        ),
        pytest.param(r'(str/replace-first "a1b2" (re-pattern "\\d") "#")', "a#b2", id="replace-first"),
        pytest.param(r'(str/replace "a.b" "." "/")', "a/b", id="replace-literal-stays-literal"),
        pytest.param(r'(split "a, b,c" (re-pattern ",\\s*"))', ("a", "b", "c"), id="split-regex"),
        pytest.param(r'(str/split "a1b22c" (re-pattern "\\d+") 2)', ("a", "b22c"), id="split-limit"),
        pytest.param(r'(= (re-pattern "a") (re-pattern "a"))', True, id="equal-patterns"),
        pytest.param(r'(pr-str (re-pattern "a+"))', '(re-pattern "a+")', id="printed"),
    ],
)
def test_regex_functions(text: str, expected: Any) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        pytest.param(r"(a)\\1", "invalid escape sequence", id="backreference"),
        pytest.param(r"a(?=b)", "invalid perl operator", id="lookahead"),
        pytest.param(r"(?<!a)b", "invalid perl operator", id="lookbehind"),
        pytest.param(r"a\\Z", "invalid escape sequence", id="python-end-anchor"),
        pytest.param(r"(a{1000}){1000}", "invalid repetition size", id="too-many-repetitions"),
        pytest.param(r"\\pL{1000}\\pL{1000}\\pL{1000}\\pL{1000}", "pattern too large", id="too-large"),
        pytest.param(r"(unclosed", "missing )", id="unclosed"),
    ],
)
def test_python_only_syntax_is_a_clear_error(pattern: str, why: str) -> None:
    with pytest.raises(ScriptRuntimeError) as info:
        evaluate(f'(re-find "{pattern}" "ab")')
    assert "re-find: invalid pattern" in str(info.value)
    assert why in str(info.value)
    assert "RE2 syntax" in str(info.value)


def test_a_replacement_naming_a_missing_group_is_a_clear_error() -> None:
    with pytest.raises(ScriptRuntimeError, match="refers to group 2; the pattern has 1"):
        evaluate(r'(str/replace "ab" (re-pattern "(a)") "$2")')
