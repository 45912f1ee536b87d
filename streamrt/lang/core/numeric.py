"""Arithmetic, comparison and rounding.

Numbers are Python ``int`` (arbitrary size; under limits a product's digits count against ``max-size``) and
``float``. Booleans are never numbers here, although Python treats ``True`` as ``1``: every function checks
``type(x) is int or type(x) is float`` (fast, and rejects ``bool``), so ``(+ true 1)`` is an error that names the
function, not a silent ``2``.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Final, NoReturn

from streamrt.lang.core.coerce import MISSING, describe, expected, int_arg, str_arg
from streamrt.lang.core.registry import core, fail
from streamrt.lang.meter import WATCH, built

__all__ = [
    "abs_",
    "add",
    "ceil",
    "dec",
    "div",
    "double",
    "even",
    "float_",
    "floor",
    "ge",
    "gt",
    "inc",
    "int_",
    "le",
    "lt",
    "max_",
    "min_",
    "mod",
    "mul",
    "neg",
    "odd",
    "parse_float",
    "parse_int",
    "pos",
    "quot",
    "rem",
    "round_",
    "sub",
    "zero",
]

_NUMBER = "a number"
_WATCH_BITS: Final = math.ceil(WATCH / math.log10(2))
"""Bits of a ``WATCH``-digit integer: a product past it is checked against ``max-size``, in digits."""


def _num(fname: str, x: Any) -> float:
    """``x`` if it is an int or float, else fail naming ``fname``."""
    t = type(x)
    if t is int or t is float:
        number: float = x
        return number
    expected(fname, _NUMBER, x)


_SHOWN_BITS: Final = 128
"""An integer with more bits (about 39 digits) is named by its size in a message: a float's range ends at 309
digits, and Python refuses to print one past 4,300."""


def _number_text(x: Any) -> str:
    """``x`` as written, or ``an integer of N digits`` when that would be long (or past Python's digit limit)."""
    if type(x) is not int or x.bit_length() <= _SHOWN_BITS:
        return str(x)
    digits = int(x.bit_length() * math.log10(2)) + 1
    if abs(x) < 10 ** (digits - 1):  # the estimate from bits is at most one too many
        digits -= 1
    return f"an integer of {digits:,} digits"


def _too_large(fname: str, *numbers: Any) -> NoReturn:
    """Fail for mixed arithmetic whose integer is beyond a float's range, naming it (Python's ``OverflowError``)."""
    for x in numbers:
        if type(x) is int:
            try:
                float(x)
            except OverflowError:
                fail(f"{fname}: {_number_text(x)} is too large for a float")
    fail(f"{fname}: a number is too large for a float")


@core("+")
def add(*xs: Any) -> Any:
    """Sum of the numbers; ``(+)`` is 0."""
    if len(xs) == 2:
        a, b = xs
        ta, tb = type(a), type(b)
        if (ta is int or ta is float) and (tb is int or tb is float):
            try:
                return a + b
            except OverflowError:
                _too_large("+", a, b)
    total: Any = 0
    for x in xs:
        t = type(x)
        if t is not int and t is not float:
            expected("+", _NUMBER, x)
        try:
            total += x
        except OverflowError:
            _too_large("+", total, x)
    return total


@core("-")
def sub(x: Any, *more: Any) -> Any:
    """``(- x)`` negates; ``(- x y ...)`` subtracts the rest from ``x``."""
    t = type(x)
    if t is not int and t is not float:
        expected("-", _NUMBER, x)
    if not more:
        return -x
    for y in more:
        t = type(y)
        if t is not int and t is not float:
            expected("-", _NUMBER, y)
        try:
            x -= y
        except OverflowError:
            _too_large("-", x, y)
    return x


@core("*")
def mul(*xs: Any) -> Any:
    """Product of the numbers; ``(*)`` is 1."""
    total: Any = 1
    for x in xs:
        t = type(x)
        if t is not int and t is not float:
            expected("*", _NUMBER, x)
        try:
            total *= x
        except OverflowError:
            _too_large("*", total, x)
        if type(total) is int and total.bit_length() > _WATCH_BITS:
            # the one way to grow an integer fast (squaring doubles it): under limits its digits count as items,
            # so a runaway product stops at max-size before one multiplication can take seconds
            built(int(total.bit_length() * math.log10(2)) + 1, "*", "digits in one integer")
    return total


def _div2(a: Any, b: Any) -> Any:
    if not b:
        fail("/: division by zero")
    if type(a) is int and type(b) is int:
        q, r = divmod(a, b)
        if not r:
            return q
    try:
        return a / b
    except OverflowError:
        if type(a) is not int or type(b) is not int:
            _too_large("/", a, b)
        fail(f"/: result of {_number_text(a)} / {_number_text(b)} is too large for a float")


@core("/")
def div(x: Any, *more: Any) -> Any:
    """``(/ x)`` is 1/x; ``(/ x y ...)`` divides. Two ints give an int when exact, else a float; zero is an error."""
    _num("/", x)
    if not more:
        return _div2(1, x)
    for y in more:
        x = _div2(x, _num("/", y))
    return x


@core("quot")
def quot(n: Any, d: Any) -> Any:
    """Quotient truncated toward zero: ``(quot -7 2)`` is -3. Float if either argument is a float."""
    _num("quot", n)
    if not _num("quot", d):
        fail("quot: division by zero")
    if type(n) is int and type(d) is int:
        q = abs(n) // abs(d)
        return q if (n < 0) == (d < 0) else -q
    try:
        q = n / d
    except OverflowError:
        _too_large("quot", n, d)
    return float(math.trunc(q)) if math.isfinite(q) else q


@core("mod")
def mod(n: Any, d: Any) -> Any:
    """Modulus with the sign of the divisor (Clojure's ``mod``): ``(mod -7 2)`` is 1, ``(mod 7 -2)`` is -1."""
    _num("mod", n)
    if not _num("mod", d):
        fail("mod: division by zero")
    try:
        return n % d
    except OverflowError:
        _too_large("mod", n, d)


@core("rem")
def rem(n: Any, d: Any) -> Any:
    """Remainder with the sign of the dividend (truncating division): ``(rem -7 2)`` is -1, ``(rem 7 -2)`` is 1."""
    _num("rem", n)
    if not _num("rem", d):
        fail("rem: division by zero")
    if type(n) is int and type(d) is int:
        return n - d * quot(n, d)
    if type(n) is float and math.isinf(n):
        return math.nan  # as ``mod`` gives (math.fmod raises instead)
    try:
        return math.fmod(n, d)
    except OverflowError:
        _too_large("rem", n, d)


@core("int")
def int_(x: Any) -> int:
    """The number truncated toward zero to an integer: ``(int 2.9)`` is 2, ``(int -2.9)`` is -2.

    Text is not converted (``parse-int`` reads a number from a string).
    """
    if type(x) is int:
        return x
    if type(x) is float:
        if not math.isfinite(x):
            fail(f"int: cannot convert {'NaN' if math.isnan(x) else 'an infinite number'} to an integer")
        return int(x)
    if type(x) is str:
        fail(f"int: expected a number, got {describe(x)}; parse-int reads an integer from text")
    expected("int", _NUMBER, x)


def _to_float(fname: str, x: Any) -> float:
    try:
        return float(_num(fname, x))
    except OverflowError:
        _too_large(fname, x)


@core("double")
def double(x: Any) -> float:
    """The number as a float: ``(double 1)`` is 1.0."""
    return _to_float("double", x)


@core("float")
def float_(x: Any) -> float:
    """The number as a float (the same as ``double``: there is one float type)."""
    return _to_float("float", x)


@core("inc")
def inc(x: Any) -> Any:
    """``x`` plus one."""
    t = type(x)
    if t is int or t is float:
        return x + 1
    expected("inc", _NUMBER, x)


@core("dec")
def dec(x: Any) -> Any:
    """``x`` minus one."""
    t = type(x)
    if t is int or t is float:
        return x - 1
    expected("dec", _NUMBER, x)


@core("abs")
def abs_(x: Any) -> Any:
    """Absolute value."""
    return abs(_num("abs", x))


@core("max")
def max_(x: Any, *more: Any) -> Any:
    """The greatest of the numbers."""
    best = _num("max", x)
    for y in more:
        if _num("max", y) > best:
            best = y
    return best


@core("min")
def min_(x: Any, *more: Any) -> Any:
    """The least of the numbers."""
    best = _num("min", x)
    for y in more:
        if _num("min", y) < best:
            best = y
    return best


def _check_all(fname: str, x: Any, more: tuple[Any, ...]) -> None:
    """Type-check every argument of a comparison, so an error never depends on the data's order."""
    _num(fname, x)
    for y in more:
        t = type(y)
        if t is not int and t is not float:
            expected(fname, _NUMBER, y)


@core("<", returns_bool=True)
def lt(x: Any, *more: Any) -> bool:
    """True when the numbers strictly increase."""
    _check_all("<", x, more)
    for y in more:
        if not x < y:
            return False
        x = y
    return True


@core("<=", returns_bool=True)
def le(x: Any, *more: Any) -> bool:
    """True when the numbers never decrease."""
    _check_all("<=", x, more)
    for y in more:
        if not x <= y:
            return False
        x = y
    return True


@core(">", returns_bool=True)
def gt(x: Any, *more: Any) -> bool:
    """True when the numbers strictly decrease."""
    _check_all(">", x, more)
    for y in more:
        if not x > y:
            return False
        x = y
    return True


@core(">=", returns_bool=True)
def ge(x: Any, *more: Any) -> bool:
    """True when the numbers never increase."""
    _check_all(">=", x, more)
    for y in more:
        if not x >= y:
            return False
        x = y
    return True


@core("zero?", returns_bool=True)
def zero(x: Any) -> bool:
    """True for 0 or 0.0."""
    return _num("zero?", x) == 0


@core("pos?", returns_bool=True)
def pos(x: Any) -> bool:
    """True for a number greater than zero."""
    return _num("pos?", x) > 0


@core("neg?", returns_bool=True)
def neg(x: Any) -> bool:
    """True for a number less than zero."""
    return _num("neg?", x) < 0


@core("even?", returns_bool=True)
def even(n: Any) -> bool:
    """True for an even integer."""
    return int_arg("even?", n) % 2 == 0


@core("odd?", returns_bool=True)
def odd(n: Any) -> bool:
    """True for an odd integer."""
    return int_arg("odd?", n) % 2 == 1


# --- rounding ------------------------------------------------------------------------------------------------


def _finite(fname: str, x: Any) -> float:
    _num(fname, x)
    if type(x) is float and not math.isfinite(x):
        fail(f"{fname}: cannot round {'NaN' if math.isnan(x) else 'an infinite number'}")
    number: float = x
    return number


def _round_half_up(x: Any, n: int) -> Decimal:
    """``x`` rounded half away from zero to ``n`` decimals, from its shortest decimal text."""
    d = Decimal(repr(x))
    _sign, digits, exponent = d.as_tuple()
    if not isinstance(exponent, int) or exponent >= -n:
        return d
    # Rounding drops digits, so the result needs at most one more digit than d (a carry): never inexact.
    context = Context(prec=len(digits) + 1)
    return d.quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP, context=context)


@core("round")
def round_(x: Any, digits: Any = MISSING) -> Any:
    """``(round x)``: nearest int, halves away from zero (2.5 -> 3, -2.5 -> -3).

    ``(round x n)``: a float rounded half-up to ``n`` decimals, working on the shortest decimal text of ``x`` so
    ``(round 2.675 2)`` is 2.68 as written, not 2.67 as binary floating point would have it. ``n`` may be negative.
    """
    _finite("round", x)
    if digits is MISSING:
        return x if type(x) is int else int(_round_half_up(x, 0))
    return float(_round_half_up(x, int_arg("round", digits, "an integer number of decimals")))


@core("floor")
def floor(x: Any) -> int:
    """The greatest integer not above ``x``, as an int."""
    return math.floor(_finite("floor", x))


@core("ceil")
def ceil(x: Any) -> int:
    """The least integer not below ``x``, as an int."""
    return math.ceil(_finite("ceil", x))


# --- parsing ---------------------------------------------------------------------------------------------------

_INT_RE: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:Infinity|NaN)")


@core("parse-int")
def parse_int(s: Any) -> int | None:
    """The integer written in ``s`` (decimal digits with an optional sign), or nil when ``s`` is not one.

    Like Clojure's ``parse-long``: no surrounding whitespace, no underscores, no decimal point.
    """
    if _INT_RE.fullmatch(str_arg("parse-int", s)) is None:
        return None
    try:
        return int(s)
    except ValueError:  # beyond Python's int-from-text digit limit
        return None


@core("parse-float")
def parse_float(s: Any) -> float | None:
    """The number written in ``s`` as a float (``"1.5"``, ``"3"``, ``"-2e3"``, ``"NaN"``, ``"Infinity"``), or nil."""
    if _FLOAT_RE.fullmatch(str_arg("parse-float", s)) is None:
        return None
    return float(s.replace("Infinity", "inf"))
