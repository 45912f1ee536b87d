"""Regular expressions: ``re-pattern re-find re-matches re-seq``, and the patterns ``str/replace`` and ``split`` take.

Matching runs on RE2 (the ``google-re2`` binding), not Python's ``re``: RE2 matches in time linear in the text
whatever the pattern, where a backtracking engine takes exponential time on patterns such as ``^(a+)+$`` (41
characters froze the whole process, every stream with it, and no time limit can interrupt one C call). The price
is RE2's syntax: no backreferences (``\\1``), no lookaround (``(?=``, ``(?<=``), no possessive or atomic groups, and
``\\z`` instead of ``\\Z``; ``docs/language.md`` lists it. A pattern is compiled once per text (cached) and a
pattern RE2 cannot compile within its memory budget (huge counted repetitions) is refused as invalid.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from streamrt.lang.core.coerce import describe, expected, str_arg
from streamrt.lang.core.registry import core, fail
from streamrt.lang.meter import WATCH, built
from streamrt.printer import pr_str

__all__ = [
    "Regex",
    "re_find",
    "re_matches",
    "re_pattern",
    "re_seq",
    "regex_of",
    "replace_regex",
    "split_regex",
]


@cache
def _options() -> Any:
    import re2  # loaded with the first pattern: most scripts have none, and a start does without it

    options = re2.Options()
    options.log_errors = (
        False  # RE2 would print each invalid pattern on stderr; the script gets the error instead
    )
    return options


class Regex:
    """A compiled pattern (``(re-pattern "a+")``): equal to another made from the same text."""

    __slots__ = ("compiled", "source")

    def __init__(self, source: str, compiled: Any) -> None:
        self.source = source
        self.compiled = compiled

    def __eq__(self, other: object) -> bool:
        return type(other) is Regex and other.source == self.source

    def __hash__(self) -> int:
        return hash(("regex", self.source))

    def __streamrt_pr__(self) -> str:
        return f"(re-pattern {pr_str(self.source)})"

    def __repr__(self) -> str:
        return self.__streamrt_pr__()


@lru_cache(maxsize=256)
def _compiled(source: str) -> Regex | str:
    """The pattern, or RE2's complaint about it; compiled once, since scripts use a few constant patterns."""
    import re2

    try:
        return Regex(source, re2.compile(source, _options()))
    except re2.error as e:
        why = e.args[0] if e.args else e
        return why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)


def regex_of(fname: str, pattern: Any) -> Regex:
    """``pattern`` as a :class:`Regex`: one already, or the text of one (RE2 syntax)."""
    if type(pattern) is Regex:
        return pattern
    source = str_arg(fname, pattern)
    result = _compiled(source)
    if type(result) is str:
        fail(f"{fname}: invalid pattern {pr_str(source)}: {result} (patterns use RE2 syntax)")
    return result  # type: ignore[return-value]


def _result(m: Any) -> str | tuple[str | None, ...]:
    """A match as Clojure gives it: the text, or ``[whole group1 ...]`` when the pattern has groups."""
    if m.re.groups:
        return (m.group(0), *m.groups())
    return m.group(0)  # type: ignore[no-any-return]


@core("re-pattern")
def re_pattern(s: Any) -> Regex:
    """A compiled pattern from its text (RE2 syntax); a pattern is returned as it is."""
    return regex_of("re-pattern", s)


@core("re-find")
def re_find(pattern: Any, s: Any) -> str | tuple[str | None, ...] | None:
    """The first match of ``pattern`` (a pattern or its text, RE2 syntax) in ``s``, or nil.

    With groups in the pattern the result is a vector ``[whole-match group1 ...]`` (nil for a group that did not
    take part), as in Clojure.
    """
    m = regex_of("re-find", pattern).compiled.search(str_arg("re-find", s))
    return None if m is None else _result(m)


@core("re-matches")
def re_matches(pattern: Any, s: Any) -> str | tuple[str | None, ...] | None:
    """The match of ``pattern`` against the whole of ``s`` (as ``re-find`` gives it), or nil if it does not match
    all of it."""
    m = regex_of("re-matches", pattern).compiled.fullmatch(str_arg("re-matches", s))
    return None if m is None else _result(m)


@core("re-seq")
def re_seq(pattern: Any, s: Any) -> tuple[Any, ...]:
    """Every match of ``pattern`` in ``s``, left to right and not overlapping, as a vector (empty when none)."""
    found = tuple(_result(m) for m in regex_of("re-seq", pattern).compiled.finditer(str_arg("re-seq", s)))
    if len(found) > WATCH:
        built(len(found), "re-seq")
    return found


def _template(fname: str, replacement: str) -> Callable[[Any], str] | str:
    """A replacement text with ``$0``-``$9`` (a group's text, empty if it did not take part) and ``\\$`` (a dollar
    sign), as Clojure's ``str/replace`` reads it; text without either is used as it is."""
    if "$" not in replacement and "\\" not in replacement:
        return replacement
    pieces: list[str | int] = []
    literal: list[str] = []
    i = 0
    while i < len(replacement):
        ch = replacement[i]
        nxt = replacement[i + 1] if i + 1 < len(replacement) else ""
        if ch == "\\" and nxt:
            literal.append(nxt)
            i += 2
        elif ch == "$" and nxt.isdigit():
            pieces.append("".join(literal))
            literal = []
            pieces.append(int(nxt))
            i += 2
        elif ch == "$":
            fail(
                f"{fname}: a $ in the replacement must be followed by a group number (write \\\\$ for a dollar sign)"
            )
        else:
            literal.append(ch)
            i += 1
    pieces.append("".join(literal))

    def expand(m: Any) -> str:
        out = []
        for piece in pieces:
            if type(piece) is int:
                if piece > m.re.groups:
                    fail(f"{fname}: the replacement refers to group {piece}; the pattern has {m.re.groups}")
                out.append(m.group(piece) or "")
            else:
                out.append(piece)
        return "".join(out)

    return expand


def replace_regex(fname: str, text: str, regex: Regex, replacement: Any, count: int) -> str:
    """``text`` with the matches of ``regex`` replaced (all of them, or the first ``count``): by a string with
    ``$1`` group references, or by what a function returns for each match (as ``re-find`` gives it)."""
    repl: Callable[[Any], str] | str
    if type(replacement) is str:
        repl = _template(fname, replacement)
    elif callable(replacement):

        def repl(m: Any) -> str:
            out = replacement(_result(m))
            if type(out) is not str:
                fail(f"{fname}: the replacement function must return a string, got {describe(out)}")
            return out

    else:
        expected(fname, "a string or function replacement", replacement)
    if isinstance(repl, str) and "\\" in repl:  # RE2's sub reads backslashes in a text replacement
        plain = repl
        repl = lambda _m: plain  # noqa: E731
    return regex.compiled.sub(repl, text, count=max(count, 0))  # type: ignore[no-any-return]


def split_regex(text: str, regex: Regex, maxsplit: int) -> tuple[str, ...]:
    """The parts of ``text`` between the matches of ``regex`` (at most ``maxsplit`` splits; -1 for all)."""
    return tuple(regex.compiled.split(text, maxsplit=max(maxsplit, 0)))
