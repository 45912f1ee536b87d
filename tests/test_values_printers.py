"""The printers' recursive fast path says exactly what the iterative walk says, and hands deep or large values on.

``pr_str`` and ``to_json`` print small values by recursion up to ``FAST_DEPTH`` levels and give anything deeper or
larger to the walk without recursion (tests/hostile/test_values_deep.py and test_values_shared.py check the walk's
limits through the public functions); here the two paths are compared on random values and at the boundaries.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.errors import ValueLimitError
from streamrt.jsoncodec import _json_walk, to_json
from streamrt.printer import FAST_DEPTH, _print, pr_str
from streamrt.values import MAX_DEPTH, WALK_LIMIT, Keyword, LList, LSet, Symbol

atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["a", "ns/b", "c-d"]).map(Keyword),
    st.sampled_from(["x", "+"]).map(Symbol),
)
keys = st.one_of(
    st.text(max_size=4),
    st.sampled_from(["k", "ns/k", "v"]).map(Keyword),
    st.integers(-3, 3),
    st.none(),
    st.booleans(),
    st.tuples(st.integers(0, 2), st.text(max_size=2)),
)


def _collections(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4).map(tuple),
        st.lists(children, max_size=4).map(LList),
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
        st.frozensets(st.one_of(st.integers(), st.text(max_size=3)), max_size=4).map(LSet),
    )


values = st.recursive(atoms, _collections, max_leaves=40)


def _same_json(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (
        a == b
        or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
        or (isinstance(a, list) and len(a) == len(b) and all(map(_same_json, a, b)))
        or (isinstance(a, dict) and list(a) == list(b) and all(_same_json(a[k], b[k]) for k in a))
    )


@settings(max_examples=300)
@given(values)
def test_pr_str_prints_as_the_walk_prints(value: Any) -> None:
    for readably in (True, False):
        assert pr_str(value, readably) == (
            _print(value, readably, WALK_LIMIT, 0) if _collection(value) else pr_str(value, readably)
        )


@settings(max_examples=300)
@given(values)
def test_to_json_converts_as_the_walk_converts(value: Any) -> None:
    assert _same_json(to_json(value), _json_walk(value, WALK_LIMIT))


def _collection(value: Any) -> bool:
    return isinstance(value, tuple | list | dict | LSet)


def _nested(depth: int) -> Any:
    value: Any = {Keyword("leaf"): [1, "two", 3.0]}
    for i in range(depth):
        value = [i, {Keyword("k"): value, "s": LList([i])}] if i % 2 else (value, LSet([i]))
    return value


@pytest.mark.parametrize("depth", [FAST_DEPTH // 2 - 2, FAST_DEPTH // 2 - 1, FAST_DEPTH // 2, 60, 200])
def test_values_around_and_past_the_fast_depth_print_alike(depth: int) -> None:
    value = _nested(depth)
    assert pr_str(value) == _print(value, True, WALK_LIMIT, 0)
    assert to_json(value) == _json_walk(value, WALK_LIMIT)


def test_a_value_deeper_than_the_limit_is_refused_by_both_printers() -> None:
    value: Any = 1
    for _ in range(MAX_DEPTH + 1):
        value = [value]
    with pytest.raises(ValueLimitError, match="deeper"):
        pr_str(value)
    with pytest.raises(ValueLimitError, match="deeper"):
        to_json(value)


def test_a_shallow_self_sharing_value_is_refused_at_the_item_limit() -> None:
    # 2**25 items walked in 25 levels: within the fast depth, past the walk limit
    value: Any = (1, 2)
    for _ in range(25):
        value = (value, value)
    with pytest.raises(ValueLimitError, match="items"):
        pr_str(value)
    with pytest.raises(ValueLimitError, match="items"):
        to_json(value)


def test_a_small_limit_is_kept_by_the_fast_path() -> None:
    value = [[1, 2], [3, 4]]
    assert pr_str(value, limit=6) == "[[1 2] [3 4]]"
    with pytest.raises(ValueLimitError):
        pr_str(value, limit=5)
    with pytest.raises(ValueLimitError):
        to_json(value, limit=5)


def test_an_iterable_of_another_type_is_left_to_the_walk_which_reads_it_once() -> None:
    class Once:
        def __init__(self) -> None:
            self.reads = 0

        def __iter__(self) -> Any:
            self.reads += 1
            return iter([1, 2])

    once = Once()
    assert to_json({Keyword("xs"): [once]}) == {"xs": [[1, 2]]}
    assert once.reads == 1


def test_small_values_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamrt.jsoncodec as jsoncodec_module
    import streamrt.printer as printer_module

    def walked(*args: Any) -> Any:
        raise AssertionError("the walk ran")

    monkeypatch.setattr(printer_module, "_print", walked)
    monkeypatch.setattr(jsoncodec_module, "_json_walk", walked)
    value = {Keyword("city"): "Oslo", Keyword("temps"): [1.5, 2], Keyword("tags"): LSet(["a"])}
    assert pr_str(value) == '{:city "Oslo", :temps [1.5 2], :tags #{"a"}}'
    assert to_json(value) == {"city": "Oslo", "temps": [1.5, 2], "tags": ["a"]}


def _escaped_by_hand(text: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    return (
        '"'
        + "".join(escapes.get(ch) or (f"\\u{ord(ch):04x}" if ch < " " or ch == "\x7f" else ch) for ch in text)
        + '"'
    )


@settings(max_examples=300)
@given(st.text() | st.text(alphabet='ab"\\\n\t\r\x00\x1f\x7f\x80é'))
def test_strings_print_escaped_whether_or_not_they_need_it(text: str) -> None:
    assert pr_str(text) == _escaped_by_hand(text)
    assert pr_str([text]) == "[" + _escaped_by_hand(text) + "]"


def test_lists_and_sets_repr_as_language_text() -> None:
    # the model cannot import its printer: the printer registers itself (values.print_collections_with) when loaded
    assert repr(LList([1, "a", Keyword("k")])) == '(1 "a" :k)'
    assert repr(LSet([LList([1]), (2, 3)])) == "#{(1) [2 3]}"
    assert f"{LList()!r}" == "()"
