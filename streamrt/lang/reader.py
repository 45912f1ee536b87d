"""The reader: script text -> forms with positions.

Theory of operation. lark's LALR parser runs with the transformer inlined (no parse tree is built), so reading
costs one pass. Two things keep that pass cheap, since reading is about half of ``streamrt check``'s time:

- the grammar lists atoms inline in every collection, so an atom costs the parser one reduction instead of three,
  and the collection callbacks here turn atom tokens into forms;
- :class:`_Lexer`, a lark custom lexer, scans with one regular expression built from the grammar's own terminals
  (in lark's priority order), instead of lark's general lexer, which tracks per-token state the parser never
  reads. The grammar stays the single definition of every token.

Lexical details the grammar leaves generous on purpose (number shapes, string escapes) are checked here, where the
error can point at the exact character. Bracket mistakes get their own scan so the message names the opener that
was never closed, not just the place the parser gave up.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any, cast

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer, LexerState

from streamrt.errors import Pos, ScriptSyntaxError
from streamrt.lang.fnlit import fn_literal
from streamrt.lang.forms import Form, Kw, ListF, Lit, MapF, SetF, Sym, VecF
from streamrt.lang.tables import grammar_text, shipped_tables
from streamrt.values import Keyword

__all__ = ["MAX_NESTING", "is_complete", "read"]

_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?\Z")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_LITERALS: dict[str, Any] = {"true": True, "false": False, "nil": None}
_OPENERS = {"(": ")", "[": "]", "{": "}"}
MAX_NESTING = 200
"""How deeply brackets may nest in a script. Forms are compiled by recursion; a script 1,000 brackets deep ran the
compiler (and ``streamrt lower``) out of Python stack, so the reader stops at the bracket that goes too deep."""
_OPENING_KINDS = frozenset({"LPAR", "LSQB", "LBRACE", "HASH_LBRACE", "HASH_LPAR"})
_CLOSING_KINDS = frozenset({"RPAR", "RSQB", "RBRACE"})
_CLOSERS = {v: k for k, v in _OPENERS.items()}


class _AtomToken(Token):
    """An atom token that carries the form the lexer made of it."""

    __slots__ = ("form",)
    form: Form


def _atom(kind: str, text: str, pos: Pos) -> Form:
    """The form for one atom token; invalid shapes the grammar lets through are reported here."""
    if kind == "SYMBOL":
        if text in _LITERALS:
            return Lit(_LITERALS[text], pos)
        if text != "/" and (text.startswith("/") or text.endswith("/") or text.count("/") > 1):
            raise _located(f"invalid symbol '{text}'", pos)
        return Sym(text, pos)
    if kind == "KEYWORD":
        name = text[1:]
        if name.startswith("/") or name.endswith("/") or "//" in name:
            raise _located(f"invalid keyword ':{name}'", pos)
        return Kw(Keyword(name), pos)
    if kind == "NUMBER":
        if _INT.match(text):
            try:
                return Lit(int(text), pos)
            except ValueError:  # past Python's limit on reading digits, which keeps int() from quadratic time
                digits = len(text.lstrip("+-"))
                raise _located(
                    f"integer literal of {digits:,} digits: at most {sys.get_int_max_str_digits():,} "
                    "(build larger numbers with *)",
                    pos,
                ) from None
        if _FLOAT.match(text):
            return Lit(float(text), pos)
        raise _located(f"invalid number '{text}'", pos)
    return Lit(_unescape(text, pos), pos)


class _ToForms(Transformer[Token, Any]):
    """Builds forms while the LALR parser reduces; ``filename`` is set per read under the lock.

    Collections receive their opening bracket (for the position), their items (forms, or atom tokens carrying
    their form) and the closing bracket.
    """

    filename = "<script>"

    def _pos(self, tok: Token) -> Pos:
        return Pos(self.filename, tok.line or 0, tok.column or 0)

    @staticmethod
    def _forms(items: Sequence[Any]) -> list[Form]:
        return [x.form if type(x) is _AtomToken else x for x in items]

    def start(self, items: Sequence[Any]) -> list[Form]:
        return self._forms(items)

    def list(self, items: Sequence[Any]) -> ListF:
        return ListF(self._forms(items[1:-1]), self._pos(items[0]))

    def vector(self, items: Sequence[Any]) -> VecF:
        return VecF(self._forms(items[1:-1]), self._pos(items[0]))

    def map(self, items: Sequence[Any]) -> MapF:
        forms = self._forms(items[1:-1])
        pos = self._pos(items[0])
        if len(forms) % 2:
            last = forms[-1]
            raise _located("a map literal needs a value for every key; this key has none", last.pos)
        return MapF(forms, pos)

    def set(self, items: Sequence[Any]) -> SetF:
        return SetF(self._forms(items[1:-1]), self._pos(items[0]))

    def fn(self, items: Sequence[Any]) -> ListF:
        try:
            return fn_literal(self._forms(items[1:-1]), self._pos(items[0]))
        except ScriptSyntaxError as exc:
            raise _located(exc.message, exc.pos or self._pos(items[0])) from None

    def quote(self, items: Sequence[Any]) -> ListF:
        pos = self._pos(items[0])
        (form,) = self._forms(items[1:])
        return ListF([Sym("quote", pos), form], pos)


_ATOMS = frozenset({"NUMBER", "STRING", "KEYWORD", "SYMBOL"})


class _Lexer(Lexer):
    """One-regex lexer over the grammar's terminals, for lark's LALR parser (a lark custom lexer).

    Terminals are tried in lark's own order (priority, then longest pattern), so it splits text exactly as lark's
    basic lexer would; on a character no terminal matches it raises lark's ``UnexpectedCharacters``. Atoms are
    made into forms as they are scanned, so a bad atom is reported before anything later in the text.
    """

    __future_interface__ = True  # lex(lexer_state, parser_state), the interface of lark's own lexers

    def __init__(self, conf: Any) -> None:
        ignore = frozenset(conf.ignore)
        terminals = sorted(
            (t for t in conf.terminals if t.name not in ignore),
            key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name),
        )
        skip = "|".join(t.pattern.to_regexp() for t in conf.terminals if t.name in ignore)
        tokens = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals)
        # ignored text (whitespace, comments) is skipped by the same match that finds the next token; the skip is
        # atomic so a comment can never give back text for a token
        self._skip = re.compile(f"(?>(?:{skip})*)", conf.g_regex_flags).match
        self._match = re.compile(f"(?>(?:{skip})*)(?:{tokens})", conf.g_regex_flags).match
        self._allowed = {t.name for t in terminals}

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        source: Any = lexer_state.text  # a TextSlice (lark >= 1.2.2) or the str itself
        text: str = getattr(source, "text", source)
        filename = _transformer.filename
        match, count, atoms = self._match, text.count, _ATOMS
        pos, end, line, line_start = 0, len(text), 1, 0
        depth = 0
        while pos < end:
            m = match(text, pos)
            if m is None:
                stuck = self._skip(text, pos).end()  # type: ignore[union-attr]
                if stuck == end:
                    return
                line_col = self._line_col(text, stuck)
                raise UnexpectedCharacters(  # type: ignore[no-untyped-call]
                    text, stuck, *line_col, allowed=self._allowed, state=parser_state
                )
            kind: str = m.lastgroup  # type: ignore[assignment]
            start = m.start(kind)
            if count("\n", pos, start):
                line += count("\n", pos, start)
                line_start = text.rindex("\n", pos, start) + 1
            value = m.group(kind)
            column = start - line_start + 1
            if kind in atoms:
                tok = _AtomToken(kind, value, start, line, column)
                tok.form = _atom(kind, value, Pos(filename, line, column))
                yield tok
            else:
                if kind in _OPENING_KINDS:
                    depth += 1
                    if depth > MAX_NESTING:
                        raise _located(
                            f"brackets nested more than {MAX_NESTING} deep", Pos(filename, line, column)
                        )
                elif kind in _CLOSING_KINDS:
                    depth -= 1
                yield Token(kind, value, start, line, column)
            pos = m.end()
            if kind == "STRING" and count("\n", start, pos):
                line += count("\n", start, pos)
                line_start = text.rindex("\n", start, pos) + 1

    @staticmethod
    def _line_col(text: str, pos: int) -> tuple[int, int]:
        return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1


class _Located(Exception):
    """Carries a message and position out of the lark callbacks (lark wraps other exceptions)."""

    def __init__(self, message: str, pos: Pos, *, unfinished: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.unfinished = unfinished
        """The text ends inside a string or an open bracket: more text could complete it."""


def _located(message: str, pos: Pos) -> _Located:
    return _Located(message, pos)


def _unescape(token: str, pos: Pos) -> str:
    body = token[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    line, col = pos.line, pos.column + 1
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            if ch == "\n":
                line, col = line + 1, 1
            else:
                col += 1
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
            col += 2
        elif nxt == "u":
            hexdigits = body[i + 2 : i + 6]
            if len(hexdigits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in hexdigits):
                raise _located("invalid \\u escape: expected 4 hex digits", Pos(pos.filename, line, col))
            out.append(chr(int(hexdigits, 16)))
            i += 6
            col += 6
        else:
            shown = nxt if nxt and nxt.isprintable() else repr(nxt)
            raise _located(
                f"invalid escape '\\{shown}' in string (known: \\\" \\\\ \\n \\t \\r \\uXXXX)",
                Pos(pos.filename, line, col),
            )
    return "".join(out)


_lock = threading.Lock()
_transformer = _ToForms()
_parser: Lark | None = None


def _get_parser() -> Lark:
    """The LALR parser: from the shipped tables when they fit this grammar and lark, else built from the grammar.

    Loading the tables takes milliseconds, building them about 0.2 s (``streamrt.lang.tables`` says why they are
    shipped rather than cached). ``strict=True`` (no two terminals match the same text) is checked where the
    tables are made and in a test, not at every start: it is lark's most expensive step.
    """
    global _parser
    if _parser is None:
        grammar = grammar_text()
        tables = shipped_tables(grammar)
        if tables is None:
            _parser = Lark(
                grammar, parser="lalr", lexer=_Lexer, transformer=_transformer, maybe_placeholders=False
            )
        else:
            data, memo = tables
            # the tables were made with lark's basic lexer; this reader scans with its own
            lexer_conf = {**data["parser"]["lexer_conf"], "lexer_type": _Lexer}
            data = {
                **data,
                "options": {**data["options"], "lexer": _Lexer},
                "parser": {**data["parser"], "lexer_conf": lexer_conf},
            }
            # lark's loader for serialized parsers (what its cache and standalone parsers use)
            _parser = Lark._load_from_dict(data, memo, transformer=_transformer)  # type: ignore[no-untyped-call]
    return _parser


def _scan_brackets(text: str, filename: str) -> _Located | None:
    """Find the first bracket mistake, skipping strings and comments; None when brackets balance."""
    stack: list[tuple[str, int, int]] = []
    line, col = 1, 1
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == ";":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch == '"':
            start = (line, col)
            i += 1
            col += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                    col += 1
                if i < n and text[i] == "\n":
                    line, col = line + 1, 1
                else:
                    col += 1
                i += 1
            if i >= n:
                return _Located(
                    "unterminated string: no closing '\"'", Pos(filename, *start), unfinished=True
                )
            i += 1
            col += 1
            continue
        if ch in _OPENERS:
            stack.append((ch, line, col))
        elif ch in _CLOSERS:
            if not stack:
                return _Located(f"unexpected '{ch}': nothing to close", Pos(filename, line, col))
            opener, oline, ocol = stack.pop()
            if _OPENERS[opener] != ch:
                return _Located(
                    f"expected '{_OPENERS[opener]}' to close '{opener}' at {oline}:{ocol}, found '{ch}'",
                    Pos(filename, line, col),
                )
        if ch == "\n":
            line, col = line + 1, 1
        else:
            col += 1
        i += 1
    if stack:
        opener, oline, ocol = stack[-1]
        return _Located(
            f"'{opener}' is never closed (missing '{_OPENERS[opener]}')",
            Pos(filename, oline, ocol),
            unfinished=True,
        )
    return None


def is_complete(text: str) -> bool:
    """False when ``text`` ends inside a string or an open bracket (a REPL then reads another line)."""
    problem = _scan_brackets(text, "")
    return problem is None or not problem.unfinished


def _syntax_error(text: str, filename: str, message: str, pos: Pos) -> ScriptSyntaxError:
    lines = text.splitlines()
    src = lines[pos.line - 1] if 0 < pos.line <= len(lines) else None
    return ScriptSyntaxError(message, pos, src)


def _describe_lark_error(exc: UnexpectedInput, text: str, filename: str) -> tuple[str, Pos]:
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream or 0
        ch = text[at] if at < len(text) else ""
        pos = Pos(filename, exc.line, exc.column)
        if ch == '"':
            return "unterminated string: no closing '\"'", pos
        if ch == ":":
            return "a keyword needs a name after ':'", pos
        shown = ch if ch.isprintable() else repr(ch)
        return f"unexpected character '{shown}'", pos
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        pos = Pos(filename, tok.line or 1, tok.column or 1)
        if tok.type == "$END":
            return "unexpected end of script", pos
        return f"unexpected '{tok}'", pos
    if isinstance(exc, UnexpectedEOF):
        lines = text.splitlines() or [""]
        return "unexpected end of script", Pos(filename, len(lines), len(lines[-1]) + 1)
    return str(exc), Pos(filename, 1, 1)


def read(text: str, filename: str = "<script>") -> list[Form]:
    """Read all top-level forms of ``text``; raises :class:`ScriptSyntaxError` with file, line and column."""
    parser = _get_parser()
    with _lock:
        _transformer.filename = filename
        try:
            forms = cast(list[Form], parser.parse(text))
        except _Located as exc:
            raise _syntax_error(text, filename, exc.message, exc.pos) from None
        except UnexpectedInput as exc:
            inner = getattr(exc, "orig_exc", None)
            if isinstance(inner, _Located):
                raise _syntax_error(text, filename, inner.message, inner.pos) from None
            # a bracket mistake is best reported at the bracket, not where the parser gave up
            bracket_error = _scan_brackets(text, filename)
            if bracket_error is not None:
                raise _syntax_error(text, filename, bracket_error.message, bracket_error.pos) from None
            message, pos = _describe_lark_error(exc, text, filename)
            raise _syntax_error(text, filename, message, pos) from None
        except LarkError as exc:
            inner = getattr(exc, "orig_exc", None)
            if isinstance(inner, _Located):
                raise _syntax_error(text, filename, inner.message, inner.pos) from None
            raise _syntax_error(text, filename, f"cannot read script: {exc}", Pos(filename, 1, 1)) from None
    return forms
