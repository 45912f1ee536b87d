"""A Pygments lexer for ``.rtfs`` scripts, registered through the ``pygments.lexers`` entry point.

Once streamrt is installed next to Pygments, ``pygmentize -l rtfs``, Sphinx and MkDocs code blocks marked
``rtfs``, and anything else that asks Pygments for a lexer by name or by the ``*.rtfs`` file name highlight
scripts. The word lists come from the compiler's own tables (special forms, macros, the core library with its
``str/`` and ``set/`` names), so highlighting never falls behind the language. Pygments is not a dependency of
streamrt: this module is only imported by Pygments itself (install the ``highlight`` extra to get it).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from streamrt.lang.compiling import SPECIALS
from streamrt.lang.core import script_names
from streamrt.lang.macros import MACROS

__all__ = ["RtfsLexer", "language_words"]

_SYMBOL_CHARS = r"A-Za-z0-9_+\-*/=<>!?.$%&'"
_SYMBOL = rf"[A-Za-z_+\-*/=<>!?.$%&][{_SYMBOL_CHARS}]*"
_END = rf"(?![{_SYMBOL_CHARS}])"


def language_words() -> tuple[list[str], list[str]]:
    """(special forms and macros, core function names as scripts write them), from the compiler's tables."""
    forms = sorted({*SPECIALS, *MACROS})
    functions = sorted(set(script_names()) - set(forms))
    return forms, functions


_FORMS, _FUNCTIONS = language_words()
_DEFINERS = ("defn", "def")


class RtfsLexer(RegexLexer):  # type: ignore[misc]  # Pygments is untyped
    """Scripts of streamrt's language (an RTFS/Clojure subset)."""

    name = "RTFS (streamrt)"
    url = "https://github.com/streamrt/streamrt"
    aliases: ClassVar[list[str]] = ["rtfs", "streamrt"]
    filenames: ClassVar[list[str]] = ["*.rtfs"]
    mimetypes: ClassVar[list[str]] = ["text/x-rtfs"]
    flags = re.MULTILINE

    tokens: ClassVar[dict[str, Any]] = {
        "root": [
            (r";.*?$", Comment.Single),
            (r"[\s,]+", Whitespace),
            (r'"(\\.|[^"\\])*"', String),
            (r"[+-]?[0-9]+(\.[0-9]*)?[eE][+-]?[0-9]+" + _END, Number.Float),
            (r"[+-]?[0-9]+\.[0-9]*" + _END, Number.Float),
            (r"[+-]?[0-9]+" + _END, Number.Integer),
            (rf":[{_SYMBOL_CHARS}]+", String.Symbol),
            (r"'", Operator),
            (
                rf"(\()(\s*)({'|'.join(_DEFINERS)})(\s+)({_SYMBOL})",
                bygroups(Punctuation, Whitespace, Keyword.Declaration, Whitespace, Name.Function),
            ),
            (r"#\{|#\(", Punctuation),
            (r"[()\[\]{}]", Punctuation),
            (words(("true", "false", "nil"), suffix=_END), Keyword.Constant),
            (words(_FORMS, suffix=_END), Keyword),
            (words(_FUNCTIONS, suffix=_END), Name.Builtin),
            (r"%[0-9&]*" + _END, Name.Variable.Magic),
            (_SYMBOL, Name.Variable),
        ],
    }
