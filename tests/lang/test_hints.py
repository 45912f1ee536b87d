"""The hint after "unknown symbol": aliases first, then a namespace left off, then the nearest name by edits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamrt.lang.hints import ALIASES, distance, suggest
from tests.lang.conftest import compile_error

DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"


@pytest.mark.parametrize(
    ("src", "hint"),
    [
        # typos: the nearest name within a distance that grows with length
        pytest.param("(cout xs)", "(did you mean 'count'?)", id="cout"),
        pytest.param("(itn 1.5)", "(did you mean 'int'?)", id="swap-of-two-letters"),
        pytest.param("(fitler odd? xs)", "(did you mean 'filter'?)", id="fitler"),
        pytest.param("(mpa inc xs)", "(did you mean 'map'?)", id="mpa"),
        pytest.param("(assco {} :a 1)", "(did you mean 'assoc'?)", id="assco"),
        pytest.param("(group-bye odd? xs)", "(did you mean 'group-by'?)", id="group-bye"),
        pytest.param("(whn xs 1)", "(did you mean 'when'?)", id="special-form-or-macro"),
        pytest.param("(Count xs)", "(did you mean 'count'?)", id="case"),
        pytest.param("(str/blnk? xs)", "(did you mean 'str/blank?'?)", id="qualified-typo"),
        # what the old difflib hint got wrong
        pytest.param("(println xs)", ": the language does not print", id="println-is-not-parse-int"),
        pytest.param("(inte 1)", "(did you mean 'int'?)", id="int-not-into"),
        # names from elsewhere
        pytest.param("(len xs)", "(did you mean 'count'?)", id="len"),
        pytest.param("(lambda [x] x)", "(did you mean 'fn'?)", id="lambda"),
        pytest.param("(swap! xs inc)", ": values are immutable", id="swap!"),
        pytest.param("(rand-int 5)", ": processors are deterministic", id="rand-int"),
        pytest.param("(Integer/parseInt xs)", "(did you mean 'parse-int'?)", id="java-interop"),
        pytest.param("(sum xs)", ": add up with (reduce + xs)", id="sum"),
        # a namespace left off
        pytest.param("(blank? xs)", "(did you mean 'str/blank?'?)", id="blank"),
        pytest.param("(union xs xs)", "(did you mean 'set/union'?)", id="union"),
        pytest.param("(capitalize xs)", "(did you mean 'str/capitalize'?)", id="capitalize"),
        # anonymous function arguments outside #()
        pytest.param(
            "(inc %)", ": % names an argument only inside an anonymous function literal #(...)", id="%"
        ),
        pytest.param("(inc %2)", ": %2 names an argument only", id="%2"),
        # locals and script names are candidates too, and win ties
        pytest.param("(let [total 1] totl)", "(did you mean 'total'?)", id="local"),
        pytest.param("(helpr xs)", "(did you mean 'helper'?)", id="script-function"),
    ],
)
def test_hint(src: str, hint: str) -> None:
    err = compile_error(f"(defn helper [x] x)\n(defn f [xs] {src})\n")
    assert err.message.startswith("unknown symbol '")
    assert hint in err.message, err.message


@pytest.mark.parametrize(
    "src",
    [
        pytest.param("(qqqqqq 1)", id="nothing-close"),
        pytest.param("(zz 1)", id="short-names-need-a-close-match"),
    ],
)
def test_no_hint_when_nothing_is_close(src: str) -> None:
    err = compile_error(f"(defn f [xs] {src})\n")
    assert "(did you mean" not in err.message and ":" not in err.message.partition("'")[2].partition("'")[2]


def test_local_wins_a_tie_with_the_core() -> None:
    assert (
        suggest("mapp", [["mapqq"], [], ["map", "mapv"]]) == " (did you mean 'map'?)"
    )  # distance beats rank
    assert suggest("abd", [["abc"], [], ["abe"]]) == " (did you mean 'abc'?)"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("kitten", "sitting", 3), ("ab", "ba", 1), ("", "abc", 3), ("count", "count", 0), ("ca", "abc", 3)],
)
def test_distance(a: str, b: str, expected: int) -> None:
    assert distance(a, b, 10) == expected


def test_distance_stops_past_its_limit() -> None:
    assert distance("abcdefgh", "zzzzzzzz", 2) == 3


def test_every_alias_names_a_thing_the_language_lacks() -> None:
    from streamrt.lang.compiling import SPECIALS
    from streamrt.lang.core import core_name
    from streamrt.lang.macros import MACROS

    for name, advice in ALIASES.items():
        assert core_name(name) is None and name not in SPECIALS and name not in MACROS, name
        if " " not in advice:
            known = core_name(advice) is not None or advice in SPECIALS or advice in MACROS
            assert known or advice in ("nil", "true", "false"), name


def test_the_docs_print_the_alias_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Names from elsewhere") :]
    section = section[: section.index("\n## ", 3)]
    rows = re.findall(r"^\| `([^`]+)`(?:, `[^`]+`)* \| (.+) \|$", section, re.M)
    documented: dict[str, str] = {}
    for line in section.splitlines():
        m = re.match(r"^\| ((?:`[^`]+`(?:, )?)+) \| (.+) \|$", line)
        if m:
            for name in re.findall(r"`([^`]+)`", m.group(1)):
                documented[name] = m.group(2)
    assert rows
    assert set(documented) == set(ALIASES)
    for name, advice in ALIASES.items():
        shown = f"`{advice}`" if " " not in advice else advice
        assert documented[name] == shown, name
