"""Keyword lookups: the compiled fast path ``(:k m d)`` / ``(get m :k d)`` follows the core ``get`` for every value.

The rule (the core function is the reference): a map is looked up; nil, false and an empty collection give the
default; anything else (a number, 0 included, true, a keyword, a function, a non-empty vector, list or string) is
an error that names the value's type and the script line. The fast path used to test Python truthiness, so
``(:a 0)`` gave the default while ``(:a 5)`` failed; the regression tests below pin the fix.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from streamrt.errors import ScriptRuntimeError
from streamrt.lang.core import CORE
from streamrt.printer import pr_str
from streamrt.values import LList, type_name
from tests.lang.conftest import K, last_fn, runtime_error

A, B = K("a"), K("b")
core_get = CORE["get"].fn
core_get_in = CORE["get-in"].fn


def _a_function(x: Any) -> Any:
    return x


def _id(value: Any) -> str:
    return type_name(value) if callable(value) and not isinstance(value, type(A)) else repr(value)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0]),
    st.text(max_size=2),
    st.sampled_from([A, B, K("ns/a")]),
    st.sampled_from([_a_function, CORE["inc"].fn]),
)
keys = st.sampled_from([A, B, "a", 0])
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=2).map(tuple),
        st.lists(inner, max_size=2).map(LList),
        st.dictionaries(keys, inner, max_size=3),
    ),
    max_leaves=6,
)
"""Every kind of language value, nested: nil, booleans, ints, floats, strings, keywords, functions, vectors, lists
and maps (with keyword and other keys), empty ones included."""


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """("ok", value and its type) or ("error", the type named by the message)."""
    try:
        value = fn(*args)
    except ScriptRuntimeError as exc:
        assert exc.message.endswith(": expected a map or nil"), exc.message
        kind = exc.message.rsplit(" in ", 1)[1].split(":")[0].split(" ", 1)[1]
        return "error", kind
    if isinstance(value, float) and math.isnan(value):
        return "ok", ("nan", float)
    return "ok", (value, type(value))


@functools.cache
def compiled(src: str) -> Callable[..., Any]:
    return last_fn(src)


FAST_WITH_DEFAULT = [
    "(defn f [m d] (:a m d))",
    "(defn f [m d] (get m :a d))",
    "(defn f [m d] (:a (identity m) d))",  # a target that is not a plain name: bound once, then tested
    "(defn f [m d] (get (identity m) :a d))",
]
FAST_NO_DEFAULT = ["(defn f [m] (:a m))", "(defn f [m] (get m :a))", "(defn f [m] (:a (identity m)))"]


@settings(max_examples=300, deadline=None)
@given(m=values, default=scalars)
def test_fast_path_agrees_with_core_get_for_every_value(m: Any, default: Any) -> None:
    expected = outcome(core_get, m, A, default)
    for src in FAST_WITH_DEFAULT:
        assert outcome(compiled(src), m, default) == expected, src
    expected = outcome(core_get, m, A)
    for src in FAST_NO_DEFAULT:
        assert outcome(compiled(src), m) == expected, src


@settings(max_examples=300, deadline=None)
@given(m=values, default=scalars)
def test_fast_path_agrees_with_get_called_as_a_value(m: Any, default: Any) -> None:
    """``get`` bound to a local is a plain call of the core function: the generic path inside a script."""
    generic = outcome(compiled("(defn f [m d] (let [g get] (g m :a d)))"), m, default)
    assert outcome(compiled("(defn f [m d] (:a m d))"), m, default) == generic


@settings(max_examples=300, deadline=None)
@given(m=values, default=scalars)
def test_nested_lookups_agree_with_get_in(m: Any, default: Any) -> None:
    expected = outcome(core_get_in, m, (A, B), default)
    assert outcome(compiled("(defn f [m d] (:b (:a m) d))"), m, default) == expected
    assert outcome(compiled("(defn f [m d] (get (get m :a) :b d))"), m, default) == expected
    assert outcome(compiled("(defn f [m d] (get-in m [:a :b] d))"), m, default) == expected
    assert outcome(compiled("(defn f [m] (:b (:a m)))"), m) == outcome(core_get_in, m, (A, B))


@settings(max_examples=200, deadline=None)
@given(m=values, default=scalars)
def test_keyword_called_as_a_value_agrees_with_core_get(m: Any, default: Any) -> None:
    assume(not (type(m) in (int, float) and m == 0))  # see test_keyword_value_on_zero below
    assert outcome(compiled("(defn f [m d] (let [k :a] (k m d)))"), m, default) == outcome(
        core_get, m, A, default
    )
    assert outcome(compiled("(defn f [m] (first (map :a [m])))"), m) == outcome(core_get, m, A)


@pytest.mark.parametrize("zero", [0, 0.0], ids=pr_str)
def test_keyword_value_on_zero(zero: Any) -> None:
    err = runtime_error("(defn f [m]\n  (first (map :a [m])))", zero)
    assert "in a" in err.message


# --- the former inconsistency, pinned ---------------------------------------------------------------------------

LOOKUPS = ["(:a x)", "(:a x 7)", "(get x :a)", "(get x :a 7)", "(:a (identity x) 7)"]


@pytest.mark.parametrize(
    "value", [0, 0.0, -0.0, 5, 1.5, True, "s", (1,), LList([1]), A, _a_function], ids=_id
)
@pytest.mark.parametrize("expr", LOOKUPS)
def test_lookup_in_a_number_or_other_non_map_is_an_error_even_when_falsy(expr: str, value: Any) -> None:
    err = runtime_error(f"(defn f [x]\n  {expr})", value)
    kind = type_name(value)
    assert (
        err.message
        == f"cannot look up a keyword in a{'n' if kind[0] in 'aeiou' else ''} {kind}: expected a map or nil"
    )
    assert err.line == 2
    with pytest.raises(ScriptRuntimeError, match=f"get: cannot look up keyword :a in an? {kind}:"):
        core_get(value, A, 7)


@pytest.mark.parametrize("value", [None, False, "", (), LList(), {}, {B: 1}], ids=_id)
@pytest.mark.parametrize("expr", LOOKUPS)
def test_lookup_in_nil_false_or_an_empty_collection_gives_the_default(expr: str, value: Any) -> None:
    want = 7 if "7" in expr else None
    assert compiled(f"(defn f [x] {expr})")(value) == want
    assert core_get(value, A, want) == want


def test_lookup_in_a_map_finds_falsy_values_and_nested_maps() -> None:
    m = {A: 0, B: {A: False}}
    assert compiled("(defn f [x] (:a x 7))")(m) == 0
    assert compiled("(defn f [x] (get (:b x) :a 7))")(m) is False
    assert compiled("(defn f [x] (:a (:a x) 7))")({A: {}}) == 7
    err = runtime_error("(defn f [x]\n  (:b (:a x) 7))", m)  # (:a x) is 0: a number, not a map
    assert err.message == "cannot look up a keyword in an integer: expected a map or nil"
    assert err.line == 2


def test_target_is_evaluated_once_and_before_the_default() -> None:
    seen: list[Any] = []

    def log(value: Any) -> Any:
        seen.append(value)
        return value

    f = compiled("(defn f [log x] (:a (log x) (log :default)))")
    for x, want in [({A: 1}, 1), ({}, K("default")), (None, K("default")), (False, K("default"))]:
        seen.clear()
        assert f(log, x) == want
        assert seen == [x, K("default")]
    seen.clear()
    with pytest.raises(ScriptRuntimeError, match="in an integer"):
        f(log, 0)
    assert seen[0] == 0
