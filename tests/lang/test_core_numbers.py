"""Arithmetic, comparison, rounding and number parsing."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.lang.core_support import K, call, expect_error

BIG = 10**30


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        pytest.param("+", (), 0, id="plus-empty"),
        pytest.param("+", (1, 2, 3), 6, id="plus-ints"),
        pytest.param("+", (1, 0.5), 1.5, id="plus-mixed"),
        pytest.param("+", (BIG, BIG), 2 * BIG, id="plus-big"),
        pytest.param("-", (5,), -5, id="minus-negate"),
        pytest.param("-", (10, 1, 2), 7, id="minus-many"),
        pytest.param("*", (), 1, id="times-empty"),
        pytest.param("*", (2, 3, 4), 24, id="times"),
        pytest.param("/", (4, 2), 2, id="div-exact-int"),
        pytest.param("/", (1, 2), 0.5, id="div-inexact"),
        pytest.param("/", (2,), 0.5, id="div-reciprocal"),
        pytest.param("/", (12, 2, 3), 2, id="div-many"),
        pytest.param("/", (3.0, 2), 1.5, id="div-float"),
        pytest.param("quot", (7, 2), 3, id="quot"),
        pytest.param("quot", (-7, 2), -3, id="quot-toward-zero"),
        pytest.param("quot", (7, -2), -3, id="quot-neg-divisor"),
        pytest.param("quot", (7.5, 2), 3.0, id="quot-float"),
        pytest.param("mod", (7, 2), 1, id="mod"),
        pytest.param("mod", (-7, 2), 1, id="mod-sign-of-divisor"),
        pytest.param("mod", (7, -2), -1, id="mod-neg-divisor"),
        pytest.param("mod", (5.5, 2), 1.5, id="mod-float"),
        pytest.param("inc", (1,), 2, id="inc"),
        pytest.param("inc", (1.5,), 2.5, id="inc-float"),
        pytest.param("dec", (BIG,), BIG - 1, id="dec-big"),
        pytest.param("abs", (-3,), 3, id="abs"),
        pytest.param("abs", (-2.5,), 2.5, id="abs-float"),
        pytest.param("max", (1, 5, 3), 5, id="max"),
        pytest.param("max", (1, 2.5), 2.5, id="max-mixed"),
        pytest.param("min", (4,), 4, id="min-one"),
        pytest.param("min", (4, -1, 2), -1, id="min"),
    ],
)
def test_arithmetic(name: str, args: tuple[Any, ...], expected: Any) -> None:
    result = call(name, *args)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("name", "args", "got"),
    [
        pytest.param("inc", (None,), "got nil", id="inc-nil"),
        pytest.param("dec", ("1",), 'got string "1"', id="dec-string"),
        pytest.param("+", (True, 1), "got boolean true", id="plus-bool"),
        pytest.param("+", (1, None), "got nil", id="plus-nil"),
        pytest.param("-", (K("a"),), "got keyword :a", id="minus-keyword"),
        pytest.param("*", (2, (1,)), "got vector [1]", id="times-vector"),
        pytest.param("/", ({},), "got map {}", id="div-map"),
        pytest.param("quot", (1, False), "got boolean false", id="quot-bool"),
        pytest.param("mod", ("a", 1), 'got string "a"', id="mod-string"),
        pytest.param("abs", (None,), "got nil", id="abs-nil"),
        pytest.param("max", (1, "2"), 'got string "2"', id="max-string"),
        pytest.param("min", (None,), "got nil", id="min-nil"),
        pytest.param("<", (1, None), "got nil", id="lt-nil"),
        pytest.param(">=", ("a", "b"), 'got string "a"', id="ge-strings"),
        pytest.param("zero?", (None,), "got nil", id="zero-nil"),
        pytest.param("pos?", (True,), "got boolean true", id="pos-bool"),
        pytest.param("even?", (1.0,), "got float 1.0", id="even-float"),
        pytest.param("round", (None,), "got nil", id="round-nil"),
        pytest.param("floor", ("1",), 'got string "1"', id="floor-string"),
        pytest.param("ceil", (True,), "got boolean true", id="ceil-bool"),
    ],
)
def test_non_numbers_are_errors_naming_function_and_type(name: str, args: tuple[Any, ...], got: str) -> None:
    message = expect_error(name, args, "expected", got)
    assert "number" in message or "integer" in message


def test_error_message_format_is_exact() -> None:
    assert expect_error("inc", (None,)) == "inc: expected a number, got nil"


def test_long_values_are_shortened_in_messages() -> None:
    message = expect_error("inc", (tuple(range(1000)),))
    assert len(message) < 120
    assert message.endswith("...")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        pytest.param("/", (1, 0), id="div-int"),
        pytest.param("/", (1, 0.0), id="div-float"),
        pytest.param("/", (0,), id="reciprocal"),
        pytest.param("quot", (1, 0), id="quot"),
        pytest.param("mod", (1, 0), id="mod"),
    ],
)
def test_division_by_zero(name: str, args: tuple[Any, ...]) -> None:
    assert expect_error(name, args) == f"{name}: division by zero"


def test_huge_int_division_that_overflows_a_float_is_a_clear_error() -> None:
    expect_error("/", (10**400, 3), "too large")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        pytest.param("+", (10**400, 1.5), id="add"),
        pytest.param("+", (1.5, -(10**400)), id="add-float-first"),
        pytest.param("+", (1, 1.5, 10**400), id="add-many"),
        pytest.param("-", (1.5, 10**400), id="sub"),
        pytest.param("*", (10**400, 0.5), id="mul"),
        pytest.param("*", (10**200, 10**200, 0.5), id="mul-a-product"),
        pytest.param("/", (10**400, 1e300), id="div"),
        pytest.param("quot", (10**400, 1.5), id="quot"),
        pytest.param("mod", (1.5, 10**400), id="mod"),
        pytest.param("rem", (10**400, 1.5), id="rem"),
        pytest.param("double", (10**400,), id="double"),
    ],
)
def test_a_huge_int_meeting_a_float_is_an_error_naming_the_function(name: str, args: tuple[Any, ...]) -> None:
    """Python converts the int and raises OverflowError; the user sees which function and which number."""
    assert expect_error(name, args) == f"{name}: an integer of 401 digits is too large for a float"


def test_an_int_past_pythons_printing_limit_is_named_by_its_size() -> None:
    assert (
        expect_error("double", (10**5000,)) == "double: an integer of 5,001 digits is too large for a float"
    )
    assert (
        expect_error("/", (10**5000, 3))
        == "/: result of an integer of 5,001 digits / 3 is too large for a float"
    )


def test_huge_comparisons_are_exact_not_errors() -> None:
    assert call("<", 1.5, 10**400) and call(">", 1.5, -(10**400))
    assert call("max", 1.5, 10**400) == 10**400 and call("min", 1.5, -(10**400)) == -(10**400)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        pytest.param("quot", (1e308, 1e-10), math.inf, id="quot-inf"),
        pytest.param("quot", (math.nan, 2.0), math.nan, id="quot-nan"),
        pytest.param("rem", (math.inf, 2.0), math.nan, id="rem-inf"),
        pytest.param("mod", (math.inf, 2.0), math.nan, id="mod-inf"),
    ],
)
def test_quot_and_rem_of_infinite_quotients_follow_float_rules(
    name: str, args: tuple[Any, ...], expected: float
) -> None:
    """math.trunc and math.fmod raise on infinities; the language gives what the float operation gives."""
    value = call(name, *args)
    assert value == expected or (math.isnan(value) and math.isnan(expected))


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        pytest.param("<", (1,), True, id="lt-one"),
        pytest.param("<", (1, 2, 3), True, id="lt-increasing"),
        pytest.param("<", (1, 2, 2), False, id="lt-equal"),
        pytest.param("<", (1, 1.5), True, id="lt-mixed"),
        pytest.param("<=", (1, 2, 2), True, id="le"),
        pytest.param("<=", (3, 2), False, id="le-false"),
        pytest.param(">", (3, 2, 1), True, id="gt"),
        pytest.param(">", (3, 3), False, id="gt-equal"),
        pytest.param(">=", (3, 3, 1), True, id="ge"),
        pytest.param(">=", (1, 2), False, id="ge-false"),
        pytest.param("zero?", (0.0,), True, id="zero"),
        pytest.param("zero?", (1,), False, id="not-zero"),
        pytest.param("pos?", (0,), False, id="pos-zero"),
        pytest.param("neg?", (-0.5,), True, id="neg"),
        pytest.param("even?", (-4,), True, id="even"),
        pytest.param("odd?", (-3,), True, id="odd"),
    ],
)
def test_comparisons_and_numeric_predicates(name: str, args: tuple[Any, ...], expected: bool) -> None:
    assert call(name, *args) is expected


def test_comparison_checks_all_arguments_even_after_a_false_step() -> None:
    expect_error("<", (3, 2, "x"), 'got string "x"')


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((2.5,), 3, id="half-up"),
        pytest.param((-2.5,), -3, id="half-away-from-zero"),
        pytest.param((2.4999,), 2, id="below-half"),
        pytest.param((0.49999999999999994,), 0, id="just-below-half"),
        pytest.param((7,), 7, id="int"),
        pytest.param((1e20,), 10**20, id="large-float"),
        pytest.param((2.675, 2), 2.68, id="decimals-as-written"),
        pytest.param((1.005, 2), 1.01, id="decimals-half-up"),
        pytest.param((-1.25, 1), -1.3, id="decimals-negative"),
        pytest.param((1234, -2), 1200.0, id="negative-digits"),
        pytest.param((1.5, 30), 1.5, id="more-digits-than-present"),
        pytest.param((3, 2), 3.0, id="int-with-digits"),
    ],
)
def test_round(args: tuple[Any, ...], expected: Any) -> None:
    result = call("round", *args)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", ["round", "floor", "ceil"])
def test_rounding_non_finite_is_an_error(name: str, bad: float) -> None:
    expect_error(name, (bad,), "cannot round")


def test_round_digits_must_be_an_integer() -> None:
    expect_error("round", (1.5, 1.0), "expected an integer number of decimals, got float 1.0")


@pytest.mark.parametrize(
    ("name", "x", "expected"),
    [
        pytest.param("floor", 2.7, 2, id="floor"),
        pytest.param("floor", -2.1, -3, id="floor-negative"),
        pytest.param("ceil", 2.1, 3, id="ceil"),
        pytest.param("ceil", -2.7, -2, id="ceil-negative"),
        pytest.param("floor", 5, 5, id="floor-int"),
    ],
)
def test_floor_ceil_return_ints(name: str, x: Any, expected: int) -> None:
    result = call(name, x)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("42", 42, id="int"),
        pytest.param("-7", -7, id="negative"),
        pytest.param("+7", 7, id="plus"),
        pytest.param("123456789012345678901234567890", 123456789012345678901234567890, id="big"),
        pytest.param("1.5", None, id="decimal-point"),
        pytest.param(" 1", None, id="whitespace"),
        pytest.param("1_000", None, id="underscore"),
        pytest.param("", None, id="empty"),
        pytest.param("abc", None, id="letters"),
        pytest.param("١٢", None, id="non-ascii-digits"),
    ],
)
def test_parse_int(text: str, expected: int | None) -> None:
    assert call("parse-int", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1.5", 1.5, id="decimal"),
        pytest.param("3", 3.0, id="integer-text"),
        pytest.param("-2e3", -2000.0, id="exponent"),
        pytest.param(".5", 0.5, id="leading-dot"),
        pytest.param("Infinity", math.inf, id="infinity"),
        pytest.param("-Infinity", -math.inf, id="neg-infinity"),
        pytest.param("inf", None, id="python-inf"),
        pytest.param("1.5x", None, id="trailing"),
        pytest.param("", None, id="empty"),
        pytest.param("1_0.0", None, id="underscore"),
    ],
)
def test_parse_float(text: str, expected: float | None) -> None:
    result = call("parse-float", text)
    assert result == expected
    if expected is not None:
        assert type(result) is float


def test_parse_float_nan() -> None:
    assert math.isnan(call("parse-float", "NaN"))


@pytest.mark.parametrize("name", ["parse-int", "parse-float"])
def test_parse_non_string_is_an_error(name: str) -> None:
    expect_error(name, (None,), "expected a string, got nil")
    expect_error(name, (12,), "got integer 12")


numbers = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False, width=32))


@given(st.integers(), st.integers().filter(bool))
def test_quot_and_mod_laws(n: int, d: int) -> None:
    q = call("quot", n, d)
    m = call("mod", n, d)
    assert abs(q * d) <= abs(n)
    assert m == 0 or (m > 0) == (d > 0)
    assert (n - m) % d == 0


@given(st.integers(), st.integers().filter(bool))
def test_exact_int_division_stays_int(a: int, b: int) -> None:
    assert call("/", a * b, b) == a
    assert type(call("/", a * b, b)) is int


@given(numbers, numbers)
def test_sum_commutes_and_inc_adds_one(a: float, b: float) -> None:
    assert call("+", a, b) == call("+", b, a)
    assert call("inc", a) == a + 1
    assert call("<", a, b) is (a < b)
