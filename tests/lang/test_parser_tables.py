"""The grammar is strict, and the LALR tables shipped in the package are the ones it makes (streamrt/lang/tables.py).

The reader loads the shipped tables instead of building the parser at every start; these tests keep them honest:
made from this grammar by the lark installed, read exactly as a parser built from the grammar reads, and actually
used (a start never builds the grammar).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lark
import pytest
from lark import Lark
from lark.exceptions import LexError

from streamrt.errors import ScriptSyntaxError
from streamrt.lang import parser_tables, reader
from streamrt.lang.tables import grammar_text, shipped_tables

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "regenerate them: .venv/bin/python -m streamrt.lang.tables"


def test_the_grammar_has_no_terminal_collisions() -> None:
    # strict=True refuses two terminals that can match the same text (lark checks every pair with interegular)
    Lark(grammar_text(), parser="lalr", lexer="basic", strict=True)


def test_the_strict_check_does_catch_a_collision() -> None:
    colliding = grammar_text() + "\nAT_WORD: /@[a-z]+/\nAT_ANY: /@[a-z0-9]+/\n"
    colliding = colliding.replace("start: (", "start: (AT_WORD | AT_ANY | ", 1)
    with pytest.raises(LexError, match="Collision"):
        Lark(colliding, parser="lalr", lexer="basic", strict=True)


def test_the_shipped_tables_are_made_from_this_grammar() -> None:
    assert grammar_text() == parser_tables.GRAMMAR, f"grammar/streamrt.lark changed; {REGENERATE}"


def test_the_shipped_tables_are_made_by_the_installed_lark() -> None:
    assert lark.__version__ == parser_tables.LARK_VERSION, f"lark is now {lark.__version__}; {REGENERATE}"
    done = subprocess.run(
        [sys.executable, "-m", "streamrt.lang.tables", "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{done.stderr}; {REGENERATE}"


def test_tables_made_from_another_grammar_are_not_used() -> None:
    assert shipped_tables(grammar_text()) is not None
    assert shipped_tables(grammar_text() + "\n// changed\n") is None


def _scripts() -> list[Path]:
    found = [
        *ROOT.glob("processors/*.rtfs"),
        *ROOT.glob("examples/**/*.rtfs"),
        *ROOT.glob("benchmarks/*.rtfs"),
    ]
    assert len(found) >= 8
    return sorted(found)


def _built_reader_forms(text: str, filename: str) -> object:
    """What a parser built from the grammar (the way the reader did before the tables) reads."""
    built = Lark(
        grammar_text(),
        parser="lalr",
        lexer=reader._Lexer,
        transformer=reader._transformer,
        maybe_placeholders=False,
    )
    saved = reader._parser
    reader._parser = built
    try:
        return repr(reader.read(text, filename))
    except ScriptSyntaxError as exc:
        return ("error", exc.format())
    finally:
        reader._parser = saved


def _shipped_reader_forms(text: str, filename: str) -> object:
    try:
        return repr(reader.read(text, filename))
    except ScriptSyntaxError as exc:
        return ("error", exc.format())


BAD = [
    "(defn f [x] (+ x 1)",
    "{:a 1 :b}",
    '(str "unterminated)',
    "(1a)",
    "[1 2)",
    ": x",
    '"bad \\q escape"',
    "'",
    "(a ~ b)",
]


def test_the_shipped_tables_read_as_a_built_parser_reads() -> None:
    for path in _scripts():
        text = path.read_text(encoding="utf-8")
        assert _shipped_reader_forms(text, path.name) == _built_reader_forms(text, path.name), path
    for text in BAD:
        shipped = _shipped_reader_forms(text, "bad.rtfs")
        assert shipped == _built_reader_forms(text, "bad.rtfs"), text
        assert shipped[0] == "error", text  # type: ignore[index]


def test_a_start_loads_the_tables_and_never_builds_the_grammar() -> None:
    # lark's grammar loader is made to fail: reading a script must not need it
    code = (
        "import lark.lark, lark.load_grammar\n"
        "def refuse(*a, **k): raise AssertionError('the grammar was built at start-up')\n"
        "lark.lark.load_grammar = refuse\n"
        "lark.load_grammar.GrammarBuilder.load_grammar = refuse\n"
        "from streamrt.lang.reader import read\n"
        "print(len(read('(defn f [x] {:a [1 2.5 \"s\" #{:k}] :b #(inc %)})')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
