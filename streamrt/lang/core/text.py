"""``clojure.string`` (as ``str/...``) and ``format``.

The string functions the language always had (``join split trim upper-case lower-case starts-with? ends-with?
includes?``) are also reachable by their ``clojure.string`` names; the rest of that namespace is registered here
under its qualified names. A string to find is literal text (``str/replace``, ``str/split``); a pattern made with
``re-pattern`` (:mod:`streamrt.lang.core.regex`, RE2 syntax) matches as a regular expression.

``format`` follows Java's ``String.format``, which Clojure's ``format`` is, for the directives below; the table in
docs/language.md is the reference::

    %[argument$][flags][width][.precision]conversion

conversions ``s S d x X o f e E g G b B c % n``; flags ``-`` (left-justify), ``0`` (zero-pad), ``+``, space,
``,`` (group thousands) and ``#`` (``0x`` / ``0`` prefix for ``x`` / ``o``). Differences from Java, on purpose:
``%s`` of nil is ``nil`` (Java's ``null`` is the host showing through), ``%d``/``%x`` of a negative number keep the
minus sign (Java prints a 64-bit two's complement for ``%x``), and ``%f``/``%e``/``%g`` accept integers (Java
refuses them, a well-known annoyance).
"""

from __future__ import annotations

import math
import re
from typing import Any, Final, NoReturn

from streamrt.lang.core.coerce import MISSING, describe, expected, fn_arg, int_arg, str_arg
from streamrt.lang.core.regex import Regex, replace_regex
from streamrt.lang.core.registry import alias, core, fail
from streamrt.lang.core.strings import _text
from streamrt.lang.meter import WATCH, built
from streamrt.values import Keyword

__all__ = [
    "blank",
    "capitalize",
    "escape",
    "format_",
    "index_of",
    "last_index_of",
    "namespace",
    "replace",
    "replace_first",
    "reverse",
    "split_lines",
    "trim_newline",
    "triml",
    "trimr",
]

for _name in ("join", "split", "trim", "upper-case", "lower-case", "starts-with?", "ends-with?", "includes?"):
    alias(f"clojure.string/{_name}", _name)

_NS: Final = "clojure.string/"


@core("clojure.string/blank?", returns_bool=True)
def blank(s: Any) -> bool:
    """True for nil, the empty string and a string of only whitespace."""
    if s is None:
        return True
    return not str_arg(_NS + "blank?", s).strip()


@core("clojure.string/capitalize")
def capitalize(s: Any) -> str:
    """The string with its first character in upper case and the rest in lower case."""
    return str_arg(_NS + "capitalize", s).capitalize()


@core("clojure.string/triml")
def triml(s: Any) -> str:
    """The string without leading whitespace."""
    return str_arg(_NS + "triml", s).lstrip()


@core("clojure.string/trimr")
def trimr(s: Any) -> str:
    """The string without trailing whitespace."""
    return str_arg(_NS + "trimr", s).rstrip()


@core("clojure.string/trim-newline")
def trim_newline(s: Any) -> str:
    """The string without trailing newline and carriage-return characters."""
    return str_arg(_NS + "trim-newline", s).rstrip("\r\n")


def _replaced(fname: str, s: Any, match: Any, replacement: Any, count: int) -> str:
    text = str_arg(fname, s)
    if type(match) is Regex:
        result = replace_regex(fname, text, match, replacement, count)
        if len(result) > WATCH:
            built(len(result), fname, "characters")
        return result
    found = str_arg(fname, match)
    if type(replacement) is not str:
        expected(fname, "a string replacement", replacement)
    if not found:
        fail(f"{fname}: the text to replace must not be empty")
    result = text.replace(found, replacement, count)
    if len(result) > WATCH:
        built(len(result), fname, "characters")
    return result


@core("clojure.string/replace")
def replace(s: Any, match: Any, replacement: Any) -> str:
    """``s`` with every occurrence of ``match`` replaced: literal text by literal text, or the matches of a
    ``re-pattern`` by a text with ``$1`` group references or by what a function returns for each match."""
    return _replaced(_NS + "replace", s, match, replacement, -1)


@core("clojure.string/replace-first")
def replace_first(s: Any, match: Any, replacement: Any) -> str:
    """``s`` with the first occurrence of ``match`` (literal text or a ``re-pattern``) replaced, as ``str/replace``."""
    return _replaced(_NS + "replace-first", s, match, replacement, 1)


def _from(fname: str, start: Any, default: int) -> int:
    return default if start is MISSING else int_arg(fname, start, "an integer index")


@core("clojure.string/index-of")
def index_of(s: Any, value: Any, start: Any = MISSING) -> int | None:
    """The index of the first occurrence of ``value`` in ``s`` (searching from ``start``), or nil."""
    fname = _NS + "index-of"
    text, part = str_arg(fname, s), str_arg(fname, value)
    i = text.find(part, max(_from(fname, start, 0), 0))
    return None if i < 0 else i


@core("clojure.string/last-index-of")
def last_index_of(s: Any, value: Any, start: Any = MISSING) -> int | None:
    """The index of the last occurrence of ``value`` in ``s`` (starting at or before ``start``), or nil."""
    fname = _NS + "last-index-of"
    text, part = str_arg(fname, s), str_arg(fname, value)
    end = _from(fname, start, len(text))
    if end < 0:
        return None
    i = text.rfind(part, 0, end + len(part))
    return None if i < 0 else i


_LINE_BREAK: Final = re.compile(r"\r?\n")


@core("clojure.string/split-lines")
def split_lines(s: Any) -> tuple[str, ...]:
    """The lines of ``s`` (split on ``\\n`` or ``\\r\\n``), without trailing empty ones, as Clojure does."""
    text = str_arg(_NS + "split-lines", s)
    if not text:
        return ("",)
    parts = _LINE_BREAK.split(text)
    while parts and not parts[-1]:
        parts.pop()
    return tuple(parts)


@core("clojure.string/reverse")
def reverse(s: Any) -> str:
    """The characters of ``s`` in reverse order."""
    return str_arg(_NS + "reverse", s)[::-1]


@core("clojure.string/escape")
def escape(s: Any, cmap: Any) -> str:
    """``s`` with each character ``c`` for which ``(cmap c)`` is not nil replaced by the text of that value.

    ``cmap`` is usually a map from 1-character strings: ``(str/escape "a<b" {"<" "&lt;"})``.
    """
    fname = _NS + "escape"
    text = str_arg(fname, s)
    lookup = cmap.get if isinstance(cmap, dict) else fn_arg(fname, cmap)
    out = []
    for ch in text:
        r = lookup(ch)
        out.append(ch if r is None else _text(r))
    result = "".join(out)
    if len(result) > WATCH:
        built(len(result), fname, "characters")
    return result


@core("namespace")
def namespace(x: Any) -> str | None:
    """The namespace of a keyword (``(namespace :a/b)`` is ``"a"``), nil when it has none."""
    if type(x) is Keyword:
        return x.namespace
    expected("namespace", "a keyword", x)


# --- format ----------------------------------------------------------------------------------------------------

_DIRECTIVE: Final = re.compile(r"%(?:([1-9][0-9]*)\$)?([-#+ 0,]*)([0-9]+)?(?:\.([0-9]+))?(.?)")
_NUMERIC: Final = frozenset("dxXofeEgG")
_KNOWN: Final = frozenset("sSdxXofeEgGbBc%n")


def _one(directive: re.Match[str], arg: Any) -> str:
    _index, flags, width, precision, conv = directive.groups()
    shown = directive.group(0)
    align = "<" if "-" in flags else ">"
    if "-" in flags and "0" in flags:
        fail(f"format: the flags - and 0 cannot be combined in {shown}")
    if width is not None and int(width) > WATCH:
        built(int(width), "format", "characters")
    pad = f"{align}{width or ''}"
    if "#" in flags and conv not in "xX":
        fail(f"format: {shown}: the # flag applies to %x and %X only")
    if conv in _NUMERIC:
        sign = "+" if "+" in flags else (" " if " " in flags else "")
        spec = sign + ("#" if "#" in flags else "") + ("0" if "0" in flags else "")
        if "0" not in flags and width is not None:
            spec = align + spec
        spec += width or ""
        spec += "," if "," in flags else ""
        if conv in "dxXo":
            if type(arg) is not int:
                fail(f"format: {shown} needs an integer, got {describe(arg)}")
            if precision is not None:
                fail(f"format: {shown}: integers take no precision")
            try:
                return format(arg, spec + conv)
            except ValueError as e:
                fail(f"format: {shown}: {e}")
        if type(arg) is not int and type(arg) is not float:
            fail(f"format: {shown} needs a number, got {describe(arg)}")
        digits = 6 if precision is None else int(precision)
        if digits > WATCH:
            built(digits, "format", "characters")
        try:
            x = float(arg)
        except OverflowError:
            fail(f"format: {shown}: {arg} is too large for a float")
        if not math.isfinite(x):
            return format("NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity"), pad)
        return format(x, f"{spec}.{digits}{conv}")
    if conv in "sSbBc":
        if conv in "sS":
            text = "nil" if arg is None else _text(arg)
        elif conv in "bB":
            text = "false" if arg is None or arg is False else "true"
        elif type(arg) is str and len(arg) == 1:
            text = arg
        elif type(arg) is int and 0 <= arg <= 0x10FFFF:
            text = chr(arg)
        else:
            fail(f"format: {shown} needs a 1-character string or a code point, got {describe(arg)}")
        if set(flags) - {"-"}:
            fail(f"format: {shown}: only the - flag applies to %{conv}")
        if precision is not None:
            text = text[: int(precision)]
        if conv in "SB":
            text = text.upper()
        return format(text, pad)
    _unknown(directive)


def _unknown(directive: re.Match[str]) -> NoReturn:
    shown_conv = directive.group(5) or "(nothing)"
    fail(
        f"format: unknown conversion {shown_conv} in {directive.group(0)!r}; known: s d x X o f e E g G b B c % n"
    )


@core("format")
def format_(fmt: Any, *args: Any) -> str:
    """The text of ``fmt`` with each ``%`` directive replaced by the next argument, formatted as Java's
    ``String.format`` does (``(format "%s has %d items, %.1f%%" "cart" 3 12.25)``); see docs/language.md."""
    template = str_arg("format", fmt)
    out: list[str] = []
    pos = 0
    next_arg = 0
    for m in _DIRECTIVE.finditer(template):
        out.append(template[pos : m.start()])
        pos = m.end()
        conv = m.group(5)
        if not conv or conv not in _KNOWN:
            _unknown(m)
        if conv in ("%", "n"):
            if m.group(1) is not None or m.group(4) is not None:
                fail(f"format: {m.group(0)!r} takes no argument index or precision")
            out.append("%" if conv == "%" else "\n")
            continue
        if m.group(1) is not None:
            index = int(m.group(1)) - 1
        else:
            index = next_arg
            next_arg += 1
        if index >= len(args):
            fail(
                f"format: not enough arguments for {m.group(0)} (the format uses argument {index + 1}, "
                f"{len(args)} given)"
            )
        try:
            out.append(_one(m, args[index]))
        except (ValueError, OverflowError) as e:  # a width or precision beyond what Python formats
            fail(f"format: {m.group(0)}: {e}")
    out.append(template[pos:])
    result = "".join(out)
    if len(result) > WATCH:
        built(len(result), "format", "characters")
    return result
