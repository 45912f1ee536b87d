"""The registry the compiler reads: completeness, arities derived from signatures, docs, bool flags."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from streamrt.errors import ScriptRuntimeError
from streamrt.lang.core import CORE, CoreFn, core, fail
from streamrt.printer import pr_str

# The core functions docs/language.md promises ("Core functions"), then the extras users expect, as one text to read at a glance.
REQUIRED_TEXT = """
+ - * / mod quot inc dec abs max min = not= < <= > >= not
nil? some? number? int? float? string? keyword? map? vector? fn? empty?
get get-in assoc assoc-in dissoc update update-in merge keys vals contains? select-keys
count first rest last nth conj cons concat take drop reverse sort sort-by distinct range
map filter remove reduce some every? group-by frequencies partition into vec
str subs upper-case lower-case trim split join starts-with? ends-with? includes? re-find
keyword name parse-int parse-float parse-json to-json round floor ceil
apply identity comp partial second zipmap mapcat keep list vector hash-map pr-str
"""
REQUIRED = REQUIRED_TEXT.split()


def test_every_required_function_is_registered() -> None:
    missing = [name for name in REQUIRED if name not in CORE]
    assert missing == []


@pytest.mark.parametrize(
    ("name", "min_args", "max_args"),
    [
        pytest.param("get", 2, 3, id="get"),
        pytest.param("assoc", 3, None, id="assoc"),
        pytest.param("inc", 1, 1, id="inc"),
        pytest.param("+", 0, None, id="plus"),
        pytest.param("-", 1, None, id="minus"),
        pytest.param("=", 1, None, id="equals"),
        pytest.param("reduce", 2, 3, id="reduce"),
        pytest.param("range", 1, 3, id="range"),
        pytest.param("conj", 0, None, id="conj"),
        pytest.param("update-in", 3, None, id="update-in"),
        pytest.param("join", 1, 2, id="join"),
        pytest.param("apply", 2, None, id="apply"),
        pytest.param("map", 2, None, id="map"),
        pytest.param("nth", 2, 3, id="nth"),
        pytest.param("round", 1, 2, id="round"),
    ],
)
def test_known_arities(name: str, min_args: int, max_args: int | None) -> None:
    entry = CORE[name]
    assert (entry.min_args, entry.max_args) == (min_args, max_args)


@pytest.mark.parametrize(
    "name",
    ["not", "=", "not=", "<", ">=", "nil?", "empty?", "contains?", "every?", "starts-with?", "fn?", "map?"],
)
def test_predicates_are_marked_returns_bool(name: str) -> None:
    assert CORE[name].returns_bool


@pytest.mark.parametrize("name", ["some", "get", "+", "first", "filter", "re-find", "str", "compare"])
def test_value_returning_functions_are_not_marked_bool(name: str) -> None:
    assert not CORE[name].returns_bool


def test_entries_are_consistent() -> None:
    for name, entry in CORE.items():
        assert isinstance(entry, CoreFn)
        assert entry.name == name
        assert entry.doc and "\n" not in entry.doc, name
        assert entry.max_args is None or entry.max_args >= entry.min_args, name
        assert callable(entry.fn)


def test_core_functions_print_with_their_language_name() -> None:
    assert pr_str(CORE["get-in"].fn) == "#<fn get-in>"


def test_decorator_derives_arity_from_signature() -> None:
    @core("test-only-fn", returns_bool=True)
    def sample(a: Any, b: Any, c: Any = None, *rest: Any) -> bool:
        """A sample.

        More text that is not the one-line doc.
        """
        return True

    try:
        entry = CORE["test-only-fn"]
        assert (entry.min_args, entry.max_args, entry.returns_bool) == (2, None, True)
        assert entry.doc == "A sample."
        assert entry.fn is sample
    finally:
        del CORE["test-only-fn"]


def _signature_arity(fn: Any) -> tuple[int, int | None]:
    """The oracle: what ``inspect.signature`` says (the registry reads a plain function's code object instead)."""
    params = inspect.signature(fn).parameters.values()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    least = sum(1 for p in positional if p.default is p.empty)
    return least, None if any(p.kind is p.VAR_POSITIONAL for p in params) else len(positional)


def _positional_only(a: Any, /, b: Any, c: Any = 1, *, d: Any = 2) -> Any:
    """Doc."""


def _keyword_defaults(a: Any = 1, *rest: Any, k: Any = 3, **kw: Any) -> Any:
    """Doc."""


def _required_keyword(a: Any, *, k: Any) -> Any:
    """Doc."""


@functools.wraps(_positional_only)
def _wrapper(*args: Any) -> Any:
    """Doc."""


def test_arities_are_those_of_the_signatures() -> None:
    for name, entry in CORE.items():
        assert (entry.min_args, entry.max_args) == _signature_arity(entry.fn), name
    for i, fn in enumerate(
        [_positional_only, _keyword_defaults, _wrapper, functools.partial(_positional_only, 0)]
    ):
        core(f"test-shape-{i}")(fn)
        try:
            entry = CORE[f"test-shape-{i}"]
            assert (entry.min_args, entry.max_args) == _signature_arity(fn), fn
        finally:
            del CORE[f"test-shape-{i}"]
    with pytest.raises(TypeError, match="required keyword-only parameter k"):
        core("test-required-keyword")(_required_keyword)


def test_decorator_rejects_duplicates_and_missing_docs() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        core("inc")(lambda x: x)

    def undocumented(x: Any) -> Any:
        return x

    with pytest.raises(TypeError, match="docstring"):
        core("test-undocumented")(undocumented)
    assert "test-undocumented" not in CORE


def test_fail_raises_a_positionless_script_runtime_error() -> None:
    with pytest.raises(ScriptRuntimeError) as info:
        fail("boom: bad")
    assert str(info.value) == "boom: bad"
    assert info.value.pos is None
