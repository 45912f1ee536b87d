"""Argument checks shared by the core functions, each failing with a message that names the function.

Messages read ``fname: expected WHAT, got TYPE VALUE`` (``inc: expected a number, got nil``) so a user sees which
call failed, what it wanted and what it was given; the compiled caller adds the script position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NoReturn, cast

from streamrt.lang.core.registry import fail
from streamrt.printer import pr_short
from streamrt.values import LList, type_name

__all__ = [
    "MISSING",
    "describe",
    "expected",
    "fn_arg",
    "int_arg",
    "items_of",
    "key_error",
    "str_arg",
]

_MAX_SHOWN: Final = 60


class _Missing:
    """Sentinel for optional arguments where nil is a meaningful value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final[Any] = _Missing()


def describe(value: Any) -> str:
    """``nil``, or the type name and the (shortened) printed value: ``string "abc"``."""
    if value is None:
        return "nil"
    return f"{type_name(value)} {pr_short(value, _MAX_SHOWN)}"


def expected(fname: str, what: str, value: Any) -> NoReturn:
    """Fail with ``fname: expected WHAT, got TYPE VALUE``."""
    fail(f"{fname}: expected {what}, got {describe(value)}")


def key_error(fname: str, key: Any) -> NoReturn:
    """Fail for a key Python cannot hash (a map, or a vector holding one)."""
    fail(f"{fname}: {describe(key)} cannot be used as a map key")


def int_arg(fname: str, value: Any, what: str = "an integer") -> int:
    """``value`` if it is an int (not a boolean), else fail."""
    if type(value) is int:
        return value
    expected(fname, what, value)


def str_arg(fname: str, value: Any) -> str:
    """``value`` if it is a string, else fail."""
    if type(value) is str:
        return value
    expected(fname, "a string", value)


def fn_arg(fname: str, value: Any) -> Callable[..., Any]:
    """``value`` if it can be called (a function or a keyword), else fail."""
    if callable(value):
        return cast("Callable[..., Any]", value)
    expected(fname, "a function or keyword", value)


def items_of(fname: str, coll: Any) -> tuple[Any, ...]:
    """The items of a collection as a tuple: nil is empty, a map gives ``[k v]`` pairs, a string its characters.

    A tuple (vector or list) is returned as is, without copying.
    """
    t = type(coll)
    if t is tuple or t is LList:
        return coll  # type: ignore[no-any-return]
    if coll is None:
        return ()
    if t is dict:
        return tuple(coll.items())
    if t is str:
        return tuple(coll)
    if isinstance(coll, Mapping):
        return tuple(coll.items())
    if isinstance(coll, Iterable):
        return tuple(coll)
    expected(fname, "a collection", coll)
