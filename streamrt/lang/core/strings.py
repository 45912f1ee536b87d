"""Strings, keywords and text formats (JSON).

Strings are Python ``str``; a "character" is a 1-character string. ``split`` takes a literal separator, not a
regular expression (scripts split on commas and tabs far more often than on patterns, and a literal cannot
surprise anyone with ``.`` or ``|``); ``re-find`` is the one regex function, with Python ``re`` syntax and a small
cache of compiled patterns.
"""

from __future__ import annotations

from typing import Any

from streamrt.jsoncodec import from_json_text, to_json_text
from streamrt.lang.core.coerce import MISSING, expected, items_of, str_arg
from streamrt.lang.core.regex import Regex, split_regex
from streamrt.lang.core.registry import core, fail
from streamrt.lang.meter import WATCH, built
from streamrt.printer import pr_str
from streamrt.values import Keyword, Symbol

__all__ = [
    "ends_with",
    "includes",
    "join",
    "keyword",
    "lower_case",
    "name",
    "parse_json",
    "pr_str_",
    "split",
    "starts_with",
    "str_",
    "subs",
    "to_json",
    "trim",
    "upper_case",
]


def _text(x: Any) -> str:
    """The text ``str`` contributes for one value: strings as they are, nil as nothing, the rest printed."""
    t = type(x)
    if t is str:
        return x  # type: ignore[no-any-return]
    if t is int:
        return repr(x)
    if t is Keyword:
        return ":" + x.qualified  # type: ignore[no-any-return]
    if x is None:
        return ""
    return pr_str(x, readably=False)


@core("str")
def str_(*xs: Any) -> str:
    """The concatenated text of the arguments: ``(str "a" :b 1 nil [1 2])`` is ``"a:b1[1 2]"``."""
    text = _text(xs[0]) if len(xs) == 1 else "".join([_text(x) for x in xs])
    if len(text) > WATCH:
        built(len(text), "str", "characters")
    return text


@core("pr-str")
def pr_str_(*xs: Any) -> str:
    """The readable printed forms of the arguments, separated by spaces: strings keep their quotes."""
    return " ".join([pr_str(x) for x in xs])


@core("subs")
def subs(s: Any, start: Any, end: Any = None) -> str:
    """The substring from index ``start`` up to, not including, ``end`` (default: the end of the string).

    Indexes outside ``0 <= start <= end <= (count s)`` are an error, as in Clojure.
    """
    text = str_arg("subs", s)
    stop = len(text) if end is None else end
    if type(start) is not int:
        expected("subs", "an integer start index", start)
    if type(stop) is not int:
        expected("subs", "an integer end index", stop)
    if not 0 <= start <= stop <= len(text):
        fail(f"subs: range {start}..{stop} out of bounds for a string of length {len(text)}")
    return text[start:stop]


@core("upper-case")
def upper_case(s: Any) -> str:
    """The string in upper case."""
    return str_arg("upper-case", s).upper()


@core("lower-case")
def lower_case(s: Any) -> str:
    """The string in lower case."""
    return str_arg("lower-case", s).lower()


@core("trim")
def trim(s: Any) -> str:
    """The string without leading and trailing whitespace."""
    return str_arg("trim", s).strip()


@core("split")
def split(s: Any, sep: Any, limit: Any = None) -> tuple[str, ...]:
    """The parts of ``s`` between occurrences of the separator ``sep`` (literal text, or a ``re-pattern``), as a
    vector.

    Empty parts are kept (``(split "a,,b" ",")`` has three parts; Clojure drops trailing empty ones). An empty
    separator splits into characters. ``(split s sep limit)`` makes at most ``limit`` parts.
    """
    text = str_arg("split", s)
    if limit is None:
        maxsplit = -1
    elif type(limit) is int:
        maxsplit = limit - 1 if limit > 0 else -1
    else:
        expected("split", "an integer limit", limit)
    if type(sep) is Regex:
        return split_regex(text, sep, maxsplit)
    separator = str_arg("split", sep)
    if not separator:
        chars = tuple(text)
        if maxsplit >= 0 and len(chars) > maxsplit + 1:
            return (*chars[:maxsplit], text[maxsplit:])
        return chars
    return tuple(text.split(separator, maxsplit))


@core("join")
def join(a: Any, b: Any = MISSING) -> str:
    """``(join coll)`` or ``(join sep coll)``: the text of the items (as ``str`` gives it) with ``sep`` between."""
    if b is MISSING:
        text = "".join([_text(x) for x in items_of("join", a)])
    else:
        text = str_arg("join", a).join([_text(x) for x in items_of("join", b)])
    if len(text) > WATCH:
        built(len(text), "join", "characters")
    return text


@core("starts-with?", returns_bool=True)
def starts_with(s: Any, prefix: Any) -> bool:
    """True when ``s`` begins with ``prefix``."""
    return str_arg("starts-with?", s).startswith(str_arg("starts-with?", prefix))


@core("ends-with?", returns_bool=True)
def ends_with(s: Any, suffix: Any) -> bool:
    """True when ``s`` ends with ``suffix``."""
    return str_arg("ends-with?", s).endswith(str_arg("ends-with?", suffix))


@core("includes?", returns_bool=True)
def includes(s: Any, part: Any) -> bool:
    """True when ``part`` occurs in ``s``."""
    return str_arg("includes?", part) in str_arg("includes?", s)


@core("keyword")
def keyword(a: Any, b: Any = MISSING) -> Keyword | None:
    """``(keyword "a")`` is ``:a``, ``(keyword "ns/a")`` is ``:ns/a``, ``(keyword "ns" "a")`` is ``:ns/a``.

    A keyword is returned as is; ``(keyword nil)`` is nil.
    """
    if b is not MISSING:
        if a is None:
            return keyword(b)
        return Keyword(str_arg("keyword", a) + "/" + str_arg("keyword", b))
    t = type(a)
    if t is Keyword:
        return a  # type: ignore[no-any-return]
    if a is None:
        return None
    if t is str:
        if not a:
            fail("keyword: the name must not be empty")
        return Keyword(a)
    if isinstance(a, Symbol):
        return Keyword(a.name)
    expected("keyword", "a string or keyword", a)


@core("name")
def name(x: Any) -> str:
    """The name of a keyword without its namespace (``(name :ns/a)`` is ``"a"``); a string is its own name."""
    t = type(x)
    if t is Keyword:
        return x.name  # type: ignore[no-any-return]
    if t is str:
        return x  # type: ignore[no-any-return]
    if isinstance(x, Symbol):
        return x.name.rpartition("/")[2] or x.name
    expected("name", "a keyword or string", x)


@core("parse-json")
def parse_json(s: Any) -> Any:
    """The value written in JSON text ``s``: objects become maps with keyword keys, arrays vectors."""
    text = str_arg("parse-json", s)
    try:
        return from_json_text(text)
    except ValueError as e:
        fail(f"parse-json: invalid JSON: {e}")
    except RecursionError:
        fail("parse-json: invalid JSON: nested too deeply")


@core("to-json")
def to_json(x: Any) -> str:
    """Compact JSON text for a value: keywords become their name (``ns/name`` when namespaced), vectors arrays."""
    try:
        return to_json_text(x)
    except RecursionError:
        fail("to-json: the value is nested too deeply")
    except ValueError as e:
        fail(f"to-json: {e}")
