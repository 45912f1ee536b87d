"""The hint after "unknown symbol": a name from another language, a namespace left off, or a typo.

Three steps, first hit wins:

1. :data:`ALIASES`, names people bring from Clojure, Python or other Lisps that the language spells differently or
   leaves out on purpose (``len`` is ``count``; ``println`` has no place in a pure processor). Exact knowledge beats
   a guess, so this comes first. docs/language.md prints the same table, and a test keeps the two equal.
2. A function that exists only in a namespace: ``blank?`` is ``str/blank?``, ``union`` is ``set/union``.
3. The nearest known name by edit distance (Damerau's optimal string alignment: insertions, deletions,
   substitutions and swaps of two neighbours each cost 1), within a distance that grows with the name's length,
   so ``cout`` finds ``count`` and ``int`` no longer finds ``into``. Ties go to the closer scope (locals, then
   script names, then the core), then to the alphabetically first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["ALIASES", "distance", "suggest"]

_LOG: Final = "the language does not print: log with (call :log {:message (str ...)})"
_STATE: Final = "values are immutable: return the new value (a processor returns its new :state)"
_LOOP: Final = "use loop/recur, reduce or map"
_RANDOM: Final = "processors are deterministic (a resumed stream replays chunks), so there is no randomness"
_CLOCK: Final = "time is the runtime's: a time field of the chunk, (:received-at meta), a timer chunk's :time, or (call :clock)"
_HOST: Final = "scripts cannot reach the host: there is no file, network or Java/Python access"
_NS: Final = "no namespaces to load: clojure.string is always there as str/..., clojure.set as set/..."
_ERRORS: Final = "there are no exceptions: a failing chunk puts its stream in :error (see :on-error)"

ALIASES: Final[dict[str, str]] = {
    # names from Python and other Lisps
    "len": "count",
    "length": "count",
    "size": "count",
    "lambda": "fn",
    "define": "def",
    "defun": "defn",
    "setq": _STATE,
    "null?": "nil?",
    "none?": "nil?",
    "null": "nil",
    "None": "nil",
    "True": "true",
    "False": "false",
    "car": "first",
    "head": "first",
    "cdr": "rest",
    "tail": "rest",
    "foldl": "reduce",
    "fold": "reduce",
    "substring": "subs",
    "upcase": "upper-case",
    "downcase": "lower-case",
    "upper": "upper-case",
    "lower": "lower-case",
    "elif": "cond",
    "sum": "add up with (reduce + xs)",
    "parseInt": "parse-int",
    "Integer/parseInt": "parse-int",
    "Long/parseLong": "parse-int",
    "parse-long": "parse-int",
    "parse-double": "parse-float",
    "Double/parseDouble": "parse-float",
    "long": "int",
    "str/format": "format",
    # left out on purpose
    "println": _LOG,
    "print": _LOG,
    "prn": _LOG,
    "printf": _LOG,
    "atom": _STATE,
    "swap!": _STATE,
    "reset!": _STATE,
    "set!": _STATE,
    "volatile!": _STATE,
    "while": _LOOP,
    "doseq": _LOOP,
    "dotimes": _LOOP,
    "rand": _RANDOM,
    "rand-int": _RANDOM,
    "rand-nth": _RANDOM,
    "shuffle": _RANDOM,
    "random-uuid": _RANDOM,
    "System/currentTimeMillis": _CLOCK,
    "now": _CLOCK,
    "slurp": _HOST,
    "spit": _HOST,
    "require": _NS,
    "import": _NS,
    "ns": _NS,
    "throw": _ERRORS,
    "try": _ERRORS,
    "ex-info": _ERRORS,
    "defmacro": "macros are built in; a script cannot define new ones",
    "lazy-seq": "sequences are eager vectors: build the items you need (take, range, repeat)",
    "cycle": "sequences are eager vectors: build the items you need (take, range, repeat)",
    "iterate": "sequences are eager vectors: use loop/recur or reduce over a range",
}
"""Unknown name -> a name to use instead, or a sentence saying why the language leaves it out."""

_ANON_ARG: Final = re.compile(r"%([1-9][0-9]*|&)?\Z")


def distance(a: str, b: str, limit: int) -> int:
    """The optimal-string-alignment distance between ``a`` and ``b``, or ``limit + 1`` once it must exceed it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, previous2[j - 2] + 1)
            current[j] = best
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _limit(name: str) -> int:
    """How far a typo may be from the name meant: 1 edit up to 4 characters, 2 up to 9, then 3."""
    n = len(name)
    return 1 if n <= 4 else (2 if n <= 9 else 3)


def _render(advice: str) -> str:
    if " " in advice:
        return f": {advice}"
    return f" (did you mean '{advice}'?)"


def suggest(name: str, scopes: Sequence[Sequence[str]], qualified: Iterable[str] = ()) -> str:
    """The hint to append to "unknown symbol 'name'" (starting with a space or a colon), or "".

    ``scopes`` are the known names from the closest scope out (locals, script names, core); ``qualified`` the
    namespaced names (``str/blank?``) whose unqualified name alone is a common slip.
    """
    advice = ALIASES.get(name)
    if advice is not None:
        return _render(advice)
    if _ANON_ARG.match(name):
        return f": {name} names an argument only inside an anonymous function literal #(...)"
    for full in qualified:
        if full.rpartition("/")[2] == name:
            return _render(full)
    lowered = name.lower()
    if lowered != name and any(lowered in names for names in scopes):
        return _render(lowered)
    limit = min(_limit(name), max(len(name) - 1, 0))
    best: tuple[int, int, str] | None = None
    for rank, names in enumerate(scopes):
        for known in names:
            d = distance(name, known, limit)
            if d <= limit and (best is None or (d, rank, known) < best):
                best = (d, rank, known)
    return _render(best[2]) if best is not None else ""
