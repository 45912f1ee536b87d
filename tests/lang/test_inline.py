"""The compiler's inline fast paths agree with the core functions they stand in for.

Each operator is compiled once with two variable operands and called with random values; the result (or the error
message) must be the one the core function gives. Operands with side effects are evaluated once each, in order.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrt.errors import ScriptRuntimeError
from streamrt.lang import rt
from streamrt.lang.core import CORE
from streamrt.printer import pr_str
from streamrt.values import Keyword, LList, type_name
from tests.lang.conftest import K, last_fn, runtime_error

BINARY = ["+", "-", "*", "<", "<=", ">", ">=", "=", "not=", "max", "min", "/"]
UNARY = [
    "inc",
    "dec",
    "not",
    "nil?",
    "some?",
    "number?",
    "int?",
    "float?",
    "double?",
    "string?",
    "keyword?",
    "vector?",
    "list?",
]

scalars = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([2**53 - 1, 2**53, -(2**53), 2**1030, -(2**1030)]),  # the float-sized divisor's edges
    # past the fast paths' float-sized bound (1e308): the largest that converts, the least that does not, beyond
    st.sampled_from([10**308, 2**1024 - 2**970 - 1, 2**1024 - 2**970, -(2**1024 - 2**970), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 2.0, 0.5]),
    st.none(),
    st.booleans(),
    st.text(max_size=3),
    st.sampled_from([K("a"), K("b"), K("ns/a")]),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=2).map(tuple),
    st.lists(scalars, max_size=2).map(LList),
    st.dictionaries(st.sampled_from([K("a"), K("b"), "a"]), scalars, max_size=2),
)
# Literals the fast paths special-case (keyword, string, nil/true/false, ints 0/1/other, floats).
literals = st.sampled_from(
    [
        "0",
        "1",
        "2",
        "-7",
        "1.5",
        "0.0",
        "-0.0",
        "nil",
        "true",
        "false",
        '"s"',
        '""',
        ":a",
        "100000000000000000000000",
        "1" + "0" * 400,
    ]
)


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """("ok", value with its type) or ("error", message) of calling ``fn``."""
    try:
        value = fn(*args)
    except ScriptRuntimeError as exc:
        return "error", exc.message
    except ZeroDivisionError as exc:  # from a core function called directly: as a script shows it
        located = rt.runtime_error(exc, "t.rtfs", [])
        assert isinstance(located, ScriptRuntimeError)
        return "error", located.message
    if isinstance(value, float) and math.isnan(value):
        return "ok", ("nan", float)
    if isinstance(value, float) and value == 0:
        return "ok", (math.copysign(1, value), float)  # -0.0 == 0.0, yet (max 0.0 -0.0) keeps the first
    return "ok", (value, type(value))


@functools.cache
def compiled(src: str) -> Callable[..., Any]:
    return last_fn(src)


def literal_value(text: str) -> Any:
    return compiled(f"(defn f [] {text})")()


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(BINARY), a=values, b=values)
def test_binary_fast_paths_agree_with_core(op: str, a: Any, b: Any) -> None:
    inline = compiled(f"(defn f [a b] ({op} a b))")
    assert outcome(inline, a, b) == outcome(CORE[op].fn, a, b)


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(BINARY), a=values, lit=literals, literal_first=st.booleans())
def test_binary_fast_paths_with_a_literal_operand_agree_with_core(
    op: str, a: Any, lit: str, literal_first: bool
) -> None:
    expr = f"({op} {lit} a)" if literal_first else f"({op} a {lit})"
    inline = compiled(f"(defn f [a] {expr})")
    b = literal_value(lit)
    expected = outcome(CORE[op].fn, b, a) if literal_first else outcome(CORE[op].fn, a, b)
    assert outcome(inline, a) == expected


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("a", ["0", "1", "2", "1.5", "nil", "true", '"s"', ":a"])
@pytest.mark.parametrize("b", ["0", "1", "2.0", "nil", "false", '"s"', ":a"])
def test_binary_fast_paths_on_two_literals_agree_with_core(op: str, a: str, b: str) -> None:
    expected = outcome(CORE[op].fn, literal_value(a), literal_value(b))
    assert outcome(compiled(f"(defn f [] ({op} {a} {b}))")) == expected


@settings(max_examples=200, deadline=None)
@given(op=st.sampled_from(UNARY), a=values)
def test_unary_fast_paths_agree_with_core(op: str, a: Any) -> None:
    assert outcome(compiled(f"(defn f [a] ({op} a))"), a) == outcome(CORE[op].fn, a)


@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("lit", ["0", "1", "1.5", "nil", "true", "false", '"s"', ":a"])
def test_unary_fast_paths_on_literals_agree_with_core(op: str, lit: str) -> None:
    assert outcome(compiled(f"(defn f [] ({op} {lit}))")) == outcome(CORE[op].fn, literal_value(lit))


maps_or_nil = st.one_of(
    st.none(), st.just(False), st.dictionaries(st.sampled_from([K("a"), K("b"), "a"]), scalars, max_size=2)
)


@settings(max_examples=200, deadline=None)
@given(m=maps_or_nil, default=scalars)
def test_keyword_get_fast_path_agrees_with_core_on_maps_and_nil(m: Any, default: Any) -> None:
    get = CORE["get"].fn
    assert outcome(compiled("(defn f [m] (get m :a))"), m) == outcome(get, m, K("a"))
    assert outcome(compiled("(defn f [m d] (get m :a d))"), m, default) == outcome(get, m, K("a"), default)
    assert outcome(compiled("(defn f [m d] (:a m d))"), m, default) == outcome(get, m, K("a"), default)


@pytest.mark.parametrize("value", [(1, 2), "abc", 5, 1.5, True], ids=pr_str)
@pytest.mark.parametrize("expr", ["(get x :a)", "(get x :a 0)", "(:a x)", "(:a x 0)", "(map :a [x])"])
def test_keyword_lookup_in_a_truthy_non_map_is_an_error(expr: str, value: Any) -> None:
    err = runtime_error(f"(defn f [x]\n  {expr})", value)
    assert "cannot look up a keyword in a" in err.message
    assert err.message.endswith(": expected a map or nil")
    assert err.line == 2


@pytest.mark.parametrize("value", [(1, 2), "abc", 5], ids=pr_str)
def test_core_get_called_indirectly_agrees_with_inline_get(value: Any) -> None:
    """Both refuse a keyword lookup in a non-map; the core's message also names the key."""
    direct = outcome(compiled("(defn f [x] (get x :a))"), value)
    indirect = outcome(compiled("(defn f [x] (let [g get] (g x :a)))"), value)
    assert direct[0] == indirect[0] == "error"
    kind = type_name(value)
    assert (
        direct[1]
        == f"cannot look up a keyword in a{'n' if kind[0] in 'aeiou' else ''} {kind}: expected a map or nil"
    )
    assert (
        indirect[1]
        == f"get: cannot look up keyword :a in a{'n' if kind[0] in 'aeiou' else ''} {kind}: expected a map or nil"
    )


class Log:
    """A function for scripts that records each value it is called with and returns it."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __call__(self, value: Any) -> Any:
        self.seen.append(value)
        return value


@settings(max_examples=200, deadline=None)
@given(op=st.sampled_from(BINARY), a=values, b=values)
def test_binary_operands_are_evaluated_once_in_order(op: str, a: Any, b: Any) -> None:
    log = Log()
    inline = compiled(f"(defn f [log a b] ({op} (log a) (log b)))")
    result = outcome(inline, log, a, b)
    assert result == outcome(CORE[op].fn, a, b)
    assert len(log.seen) == 2 and log.seen[0] is a and log.seen[1] is b


@settings(max_examples=100, deadline=None)
@given(op=st.sampled_from([*UNARY, "get"]), a=values)
def test_unary_operand_is_evaluated_once(op: str, a: Any) -> None:
    log = Log()
    expr = "(get (log a) :a)" if op == "get" else f"({op} (log a))"
    outcome(compiled(f"(defn f [log a] {expr})"), log, a)
    assert len(log.seen) == 1 and log.seen[0] is a


def test_operands_with_statements_keep_order() -> None:
    log = Log()
    f = compiled("(defn f [log] (+ (log 1) (let [x (log 2)] (if (log x) (inc x) 0))))")
    assert f(log) == 4
    assert log.seen == [1, 2, 2]


def test_nested_fast_paths_count_and_sum() -> None:
    src = "(defn f [state chunk] {:count (inc (:count state 0)) :sum (+ (:sum state 0) (:value chunk 0))})"
    f = compiled(src)
    state: dict[Keyword, Any] = {}
    for v in (1, 2.5, 3, 2**70):
        state = f(state, {K("value"): v})
    assert state == {K("count"): 4, K("sum"): 1 + 2.5 + 3 + 2**70}
    assert runtime_error(src, {}, {K("value"): "x"}).message == '+: expected a number, got string "x"'


def test_float_fast_paths_keep_the_language_rules() -> None:
    """Floats take the fast paths; booleans are still not numbers, and the errors name the function."""
    f = compiled(
        "(defn f [a b] [(+ a b) (- a b) (* a b) (max a b) (min a b) (< a b) (/ a b) (inc a) (dec b)])"
    )
    assert f(1.5, 2) == (3.5, -0.5, 3.0, 2, 1.5, True, 0.75, 2.5, 1)
    assert f(2**70, 0.5)[:3] == (2**70 + 0.5, 2**70 - 0.5, 2**69 * 1.0)
    for op in ("+", "max", "<", "/"):
        message = runtime_error(f"(defn f [a b] ({op} a b))", 1.5, True).message
        assert message == f"{op}: expected a number, got boolean true"
    assert runtime_error("(defn f [a] (inc a))", False).message == "inc: expected a number, got boolean false"


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (1.5, 0, "/: division by zero"),
        (1.5, 0.0, "/: division by zero"),
        (1.5, -0.0, "/: division by zero"),
        (1.5, 2**1030, "/: an integer of 311 digits is too large for a float"),
        (2**1030, 1.5, "/: an integer of 311 digits is too large for a float"),
        (None, 2.0, "/: expected a number, got nil"),
    ],
)
def test_division_fast_path_leaves_the_errors_to_core(a: Any, b: Any, message: str) -> None:
    assert runtime_error("(defn f [a b] (/ a b))", a, b).message == message


def test_division_of_ints_stays_exact() -> None:
    f = compiled("(defn f [a b] [(/ a b) (/ a 2) (/ a 2.0)])")
    assert f(6, 3) == (2, 3, 3.0) and type(f(6, 3)[0]) is int
    assert f(7.0, 2) == (3.5, 3.5, 3.5)
    assert f(2**60 + 1, 1) == (2**60 + 1, 2**59 + 0.5, 2**59 + 0.5)


@pytest.mark.parametrize("op", ["+", "-", "*"])
@pytest.mark.parametrize(
    "src",
    [
        "(defn f [a b] ({op} a b))",
        "(defn f [a b] ({op} b a))",
        "(defn f [a b] ({op} a 1.5))",
        "(defn f [a b] ({op} 1.5 a))",
        "(defn f [a b] ({op} a (:x {{:x b}})))",
        f"(defn f [a b] ({{op}} {10**400} b))",
        f"(defn f [a b] ({{op}} 1.5 {10**400}))",
    ],
)
def test_a_huge_int_meeting_a_float_is_the_core_error(op: str, src: str) -> None:
    """A fast path hands an int beyond a float's range to the core function, which names the operation."""
    message = runtime_error(src.format(op=op), 10**400, 1.5).message
    assert message == f"{op}: an integer of 401 digits is too large for a float"


def test_ints_near_a_floats_range_still_convert_when_they_can() -> None:
    f = compiled("(defn f [a b] [(+ a b) (* b a) (- a 1.5)])")
    big = 2**1024 - 2**970 - 1  # the largest int that rounds to a finite float
    assert f(big, 0.0) == (float(big), float(big) * 0.0, float(big) - 1.5)
    assert f(10**308, 1.0) == (1e308 + 1.0, 1e308, 1e308 - 1.5)


def test_max_and_min_keep_the_first_of_equal_values() -> None:
    f = compiled("(defn f [a b] [(max a b) (min a b)])")
    for a, b in ((1, 1.0), (1.0, 1), (0.0, -0.0), (-0.0, 0.0)):
        got = f(a, b)
        assert all(x is a or (type(x) is type(a) and str(x) == str(a)) for x in got), (a, b, got)
    nan = float("nan")
    assert f(nan, 1.0)[0] is nan and f(1.0, nan)[0] == 1.0


map_keys = st.one_of(
    st.sampled_from([K("a"), K("b"), "a", "b", 1, 2**70]),
    st.sampled_from([True, False, None, 1.0, 1.5, (1, 2), ("a",), ()]),
    st.just({K("a"): 1}),  # unhashable
)
maps = st.one_of(
    st.dictionaries(st.sampled_from([K("a"), K("b"), "a", 1, True, (1, 2)]), scalars, max_size=3),
    st.none(),
    st.just(False),
    st.sampled_from([(), (1, 2), "ab", 0, 1.5]),
)


def same_or_error(inline: tuple[str, Any], core: tuple[str, Any]) -> bool:
    """The same error, or results that print alike: the same keys in the same order (a key that equals another
    keeps the old object: ``1``, ``1.0`` and ``true`` print apart) with the same values (NaN included)."""
    if inline[0] == "error" or core[0] == "error":
        return inline == core
    return bool(inline[1][1] is core[1][1] and pr_str(inline[1][0]) == pr_str(core[1][0]))


@settings(max_examples=300, deadline=None)
@given(m=maps, k=map_keys, default=scalars)
def test_get_fast_path_agrees_with_core(m: Any, k: Any, default: Any) -> None:
    get = CORE["get"].fn
    assert outcome(compiled("(defn f [m k] (get m k))"), m, k) == outcome(get, m, k)
    assert outcome(compiled("(defn f [m k d] (get m k d))"), m, k, default) == outcome(get, m, k, default)


@pytest.mark.parametrize("meter", [False, True], ids=["plain", "metered"])
@settings(max_examples=200, deadline=None)
@given(m=maps, k=map_keys, k2=map_keys, v=scalars)
def test_assoc_fast_path_agrees_with_core(meter: bool, m: Any, k: Any, k2: Any, v: Any) -> None:
    assoc = CORE["assoc"].fn
    one = variant("(defn f [m k v] (assoc m k v))", meter)
    two = variant("(defn f [m k k2 v] (assoc m k v k2 (inc v)))", meter)
    consts = variant('(defn f [m v] (assoc m :a v "b" 1 7 v))', meter)
    assert same_or_error(outcome(one, m, k, v), outcome(assoc, m, k, v))
    expected_two = outcome(lambda: assoc(m, k, v, k2, CORE["inc"].fn(v)))  # (inc v) may fail first
    assert same_or_error(outcome(two, m, k, k2, v), expected_two)
    assert same_or_error(outcome(consts, m, v), outcome(assoc, m, K("a"), v, "b", 1, 7, v))


@functools.cache
def variant(src: str, meter: bool) -> Callable[..., Any]:
    """The function of ``src``, plain or as its metered variant (default limits)."""
    from streamrt.lang.meter import DEFAULT_LIMITS
    from streamrt.lang.metered import metered

    fn = compiled(src)
    return metered(fn, DEFAULT_LIMITS) if meter else fn


def test_assoc_and_get_operands_are_evaluated_once_in_order() -> None:
    log = Log()
    f = compiled('(defn f [log m] [(assoc (log m) (log "k") (log 1)) (get (log m) (log "k") (log 0))])')
    assert f(log, {"k": 0}) == ({"k": 1}, 0)
    assert log.seen == [{"k": 0}, "k", 1, {"k": 0}, "k", 0]
    log.seen.clear()
    assert f(log, None) == ({"k": 1}, 0)
    assert log.seen == [None, "k", 1, None, "k", 0]


def test_assoc_does_not_change_its_map() -> None:
    f = compiled("(defn f [m k] [(assoc m k 2) (assoc m :a 3 :b 4)])")
    m = {K("a"): 1, "x": 0}
    assert f(m, "x") == ({K("a"): 1, "x": 2}, {K("a"): 3, "x": 0, K("b"): 4})
    assert m == {K("a"): 1, "x": 0}


def test_assoc_operands_with_statements_are_evaluated_once_in_order() -> None:
    """An operand compiled to statements (a ``let``, an inner ``assoc``) keeps the fast path and the order."""
    log = Log()
    f = compiled('(defn f [log m] (assoc (let [x (log m)] x) (let [k (log "k")] k) (log 1) :b (log 2)))')
    assert f(log, {"k": 0, K("a"): 5}) == {"k": 1, K("a"): 5, K("b"): 2}
    assert log.seen == [{"k": 0, K("a"): 5}, "k", 1, 2]
    g = compiled("(defn g [log m] (assoc (assoc (log m) :a (log 1)) :b (assoc (log m) :c (log 3))))")
    log.seen.clear()
    m = {K("z"): 0}
    assert g(log, m) == {K("z"): 0, K("a"): 1, K("b"): {K("z"): 0, K("c"): 3}}
    assert log.seen == [m, 1, m, 3]
    assert m == {K("z"): 0}


def test_assocs_with_statement_operands_take_the_fast_path() -> None:
    """An operand compiled to statements (a ``let``, an inner ``assoc``) still gets the dict copy, not a core call."""
    from streamrt.lang.pysource import python_text
    from streamrt.lang.reader import read

    forms = read("(defn f [m] (assoc (assoc (let [x m] x) :a 1) :b (let [y 2] y)))", "t.rtfs")
    assert python_text(forms, "t.rtfs").count("{**") == 2


def test_metered_assoc_still_checks_a_large_map_against_max_size() -> None:
    from streamrt.errors import LimitExceededError
    from streamrt.lang.meter import WATCH, Limits
    from streamrt.lang.metered import metered

    f = metered(compiled("(defn f [m k] (assoc m k 1))"), Limits(max_size=WATCH))
    big = {i: i for i in range(WATCH)}
    with pytest.raises(LimitExceededError, match="max-size limit exceeded: assoc would build 1,001 items"):
        f(big, "new")
    assert len(f(dict(list(big.items())[:-1]), "new")) == WATCH


@pytest.mark.parametrize(
    ("pre", "mid", "post"),
    [
        ("(inc ", "1", ")"),
        ("(+ ", "1", " x)"),
        ("(+ x ", "1", ")"),
        ("(max ", "1", " x)"),
        ("(< x ", "1", ")"),
        ("(/ ", "1.0", " x)"),
        ("(/ x ", "1.0", ")"),
        ("(get ", "m", " x)"),
        ("(assoc ", "m", " x 1)"),
        ("(assoc m x ", "1", ")"),
        ("(number? ", "1", ")"),
    ],
    ids=lambda part: part.strip(),
)
def test_fast_paths_nested_to_the_reader_limit_still_compile(pre: str, mid: str, post: str) -> None:
    """Each guard binds its operand as deep in the Python tree as a plain call's argument plus three levels, so the
    deepest nesting the reader allows stays within what Python's compiler takes."""
    from streamrt.lang.reader import MAX_NESTING

    depth = MAX_NESTING - 1
    f = last_fn("(defn f [x m] " + pre * depth + mid + post * depth + ")\n")
    assert callable(f)
