"""Editor support: the Pygments lexer (found through its entry point) and the TextMate grammar in editors/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Token

from streamrt.lang.highlight import RtfsLexer, language_words

ROOT = Path(__file__).resolve().parents[2]
GRAMMAR = ROOT / "editors" / "rtfs.tmLanguage.json"
SCRIPTS = sorted((ROOT / "processors").glob("*.rtfs"))

SAMPLE = """\
; a sample
(defn count-chunks [state chunk]
  (let [n (inc (:count state 0))
        tags #{:a "b\\n"}]
    (when-let [x (str/join "," [nil true 1.5e3])]
      (map #(+ % 1) (recur n)))))
"""


# --- Pygments ----------------------------------------------------------------------------------------------------


def test_the_entry_point_finds_the_lexer() -> None:
    assert type(get_lexer_by_name("rtfs")) is RtfsLexer
    assert type(get_lexer_for_filename("weather.rtfs")) is RtfsLexer


def tokens(text: str) -> list[tuple[Any, str]]:
    return [(t, v) for t, v in RtfsLexer().get_tokens(text) if v.strip()]


def test_tokens_of_a_sample() -> None:
    got = tokens(SAMPLE)
    assert got[0] == (Token.Comment.Single, "; a sample")
    kinds = dict((v, t) for t, v in got)
    assert kinds["defn"] is Token.Keyword.Declaration
    assert kinds["count-chunks"] is Token.Name.Function
    assert kinds["let"] is Token.Keyword
    assert kinds["when-let"] is Token.Keyword
    assert kinds["recur"] is Token.Keyword
    assert kinds["inc"] is Token.Name.Builtin
    assert kinds["str/join"] is Token.Name.Builtin
    assert kinds[":count"] is Token.Literal.String.Symbol
    assert kinds["state"] is Token.Name.Variable
    assert kinds["0"] is Token.Literal.Number.Integer
    assert kinds["1.5e3"] is Token.Literal.Number.Float
    assert kinds['"b\\n"'] is Token.Literal.String
    assert kinds["nil"] is Token.Keyword.Constant
    assert kinds["#{"] is Token.Punctuation
    assert kinds["#("] is Token.Punctuation
    assert kinds["%"] is Token.Name.Variable.Magic


def test_a_builtin_name_inside_a_longer_symbol_is_not_a_builtin() -> None:
    kinds = dict((v, t) for t, v in tokens("(count-all incx)"))
    assert kinds["count-all"] is Token.Name.Variable
    assert kinds["incx"] is Token.Name.Variable


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_every_example_script_lexes_without_errors(script: Path) -> None:
    text = script.read_text(encoding="utf-8")
    toks = list(RtfsLexer().get_tokens(text))
    assert not [v for t, v in toks if t in Error]
    assert "".join(v for _, v in toks) == text if text.endswith("\n") else text + "\n"


def test_pygmentize_highlights_rtfs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "rtfs", "-f", "raw"],
        input="(inc :a)\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Token.Name.Builtin\t'inc'" in done.stdout
    assert "Token.Literal.String.Symbol\t':a'" in done.stdout


def test_the_word_lists_are_the_compilers() -> None:
    from streamrt.lang.compiling import SPECIALS
    from streamrt.lang.core import script_names
    from streamrt.lang.macros import MACROS

    forms, functions = language_words()
    assert set(forms) == set(SPECIALS) | set(MACROS)
    assert set(functions) == set(script_names())
    assert {"loop", "case", "if-let", "for"} <= set(forms)
    assert {"str/join", "set/union", "format"} <= set(functions)


# --- TextMate ----------------------------------------------------------------------------------------------------


def _grammar() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GRAMMAR.read_text(encoding="utf-8"))
    return data


def _rules(grammar: dict[str, Any]) -> list[dict[str, Any]]:
    """The top-level patterns, includes resolved, in order."""
    repo = grammar["repository"]
    out = []
    for p in grammar["patterns"]:
        assert p["include"].startswith("#")
        out.append(repo[p["include"][1:]])
    return out


def scan(text: str) -> list[tuple[str, str]]:
    """(text, scope) pieces, by the TextMate rule: at each position the first rule that matches there wins.

    Enough of TextMate for this grammar: ``match`` rules with ``captures``, and ``begin``/``end`` rules whose inner
    patterns are tried before the end at each position.
    """
    rules = _rules(_grammar())
    compiled = [(r, re.compile(r.get("match") or r["begin"], re.M)) for r in rules]
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        for rule, rx in compiled:
            m = rx.match(text, i)
            if m is None or m.end() == i:
                continue
            if "begin" in rule:
                end = re.compile(rule["end"])
                inner = [(p["name"], re.compile(p["match"])) for p in rule.get("patterns", [])]
                j = m.end()
                while j < len(text):
                    hit = next(((n, x.match(text, j)) for n, x in inner if x.match(text, j)), None)
                    if hit is not None:
                        out.append((hit[1].group(0), hit[0]))  # type: ignore[union-attr]
                        j = hit[1].end()  # type: ignore[union-attr]
                        continue
                    e = end.match(text, j)
                    if e is not None:
                        j = e.end()
                        break
                    j += 1
                out.append((text[i:j], rule["name"]))
                i = j
            elif "captures" in rule:
                for group, capture in rule["captures"].items():
                    out.append((m.group(int(group)), capture["name"]))
                i = m.end()
            else:
                out.append((m.group(0), rule["name"]))
                i = m.end()
            break
        else:
            i += 1
    return out


def test_the_grammar_loads_and_every_pattern_compiles() -> None:
    grammar = _grammar()
    assert grammar["scopeName"] == "source.rtfs"
    assert grammar["fileTypes"] == ["rtfs"]
    for rule in grammar["repository"].values():
        for key in ("match", "begin", "end"):
            if key in rule:
                re.compile(rule[key])
        for inner in rule.get("patterns", []):
            re.compile(inner["match"])
    included = {p["include"][1:] for p in grammar["patterns"]}
    assert included == set(grammar["repository"])


def test_the_grammar_scopes_a_sample() -> None:
    pieces = scan(SAMPLE)
    scopes: dict[str, str] = {}
    for text, scope in pieces:
        scopes.setdefault(text, scope)
    assert scopes["; a sample"] == "comment.line.semicolon.rtfs"
    assert scopes["defn"] == "storage.type.function.rtfs"
    assert scopes["count-chunks"] == "entity.name.function.rtfs"
    assert scopes["let"] == "keyword.control.rtfs"
    assert scopes["when-let"] == "keyword.control.rtfs"
    assert scopes["recur"] == "keyword.control.rtfs"
    assert scopes["inc"] == "support.function.rtfs"
    assert scopes["str/join"] == "support.function.rtfs"
    assert scopes[":count"] == "constant.other.keyword.rtfs"
    assert scopes["state"] == "variable.other.rtfs"
    assert scopes["0"] == "constant.numeric.rtfs"
    assert scopes["1.5e3"] == "constant.numeric.rtfs"
    assert scopes['"b\\n"'] == "string.quoted.double.rtfs"
    assert scopes["\\n"] == "constant.character.escape.rtfs"
    assert scopes["nil"] == "constant.language.rtfs"
    assert scopes["#{"] == "punctuation.section.set.begin.rtfs"
    assert scopes["#("] == "punctuation.section.function.begin.rtfs"
    assert scopes["%"] == "variable.parameter.anonymous.rtfs"


def test_the_grammar_file_is_what_the_generator_writes() -> None:
    sys.path.insert(0, str(ROOT / "editors"))
    try:
        from generate_tmlanguage import grammar
    finally:
        sys.path.remove(str(ROOT / "editors"))
    assert _grammar() == grammar(), "run .venv/bin/python editors/generate_tmlanguage.py"


def test_the_grammar_knows_every_name_the_compiler_knows() -> None:
    repo = _grammar()["repository"]

    def names(rule: str) -> set[str]:
        body = repo[rule]["match"]
        inner = body[body.index("(?:") + 3 : body.rindex(")(?!")]
        return {re.sub(r"\\(.)", r"\1", n) for n in inner.split("|")}

    forms, functions = language_words()
    assert names("special-form") == set(forms), "run editors/generate_tmlanguage.py"
    assert names("core-function") == set(functions), "run editors/generate_tmlanguage.py"
