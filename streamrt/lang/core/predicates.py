"""Type predicates and ``not``; each always returns a Python bool, so the compiler can use it in a test as is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamrt.lang.core.registry import core
from streamrt.values import Keyword, LList, LSet

__all__ = [
    "boolean",
    "is_any",
    "is_boolean",
    "is_double",
    "is_false",
    "is_nat_int",
    "is_neg_int",
    "is_pos_int",
    "is_sequential",
    "is_true",
    "is_coll",
    "is_float",
    "is_fn",
    "is_int",
    "is_keyword",
    "is_list",
    "is_map",
    "is_nil",
    "is_number",
    "is_some",
    "is_string",
    "is_vector",
    "not_",
]


@core("not", returns_bool=True)
def not_(x: Any) -> bool:
    """True for nil and false, false for everything else (0, "" and [] are truthy)."""
    return x is None or x is False


@core("nil?", returns_bool=True)
def is_nil(x: Any) -> bool:
    """True for nil."""
    return x is None


@core("some?", returns_bool=True)
def is_some(x: Any) -> bool:
    """True for anything but nil (false included)."""
    return x is not None


@core("boolean?", returns_bool=True)
def is_boolean(x: Any) -> bool:
    """True for true and false."""
    return x is True or x is False


@core("number?", returns_bool=True)
def is_number(x: Any) -> bool:
    """True for integers and floats; booleans are not numbers."""
    t = type(x)
    return t is int or t is float


@core("int?", returns_bool=True)
def is_int(x: Any) -> bool:
    """True for integers (not floats, not booleans)."""
    return type(x) is int


@core("float?", returns_bool=True)
def is_float(x: Any) -> bool:
    """True for floats."""
    return type(x) is float


@core("string?", returns_bool=True)
def is_string(x: Any) -> bool:
    """True for strings."""
    return type(x) is str


@core("keyword?", returns_bool=True)
def is_keyword(x: Any) -> bool:
    """True for keywords."""
    return type(x) is Keyword


@core("map?", returns_bool=True)
def is_map(x: Any) -> bool:
    """True for maps."""
    return type(x) is dict or isinstance(x, Mapping)


@core("vector?", returns_bool=True)
def is_vector(x: Any) -> bool:
    """True for vectors; a list is not a vector (as in Clojure), though it can equal one."""
    return type(x) is tuple


@core("list?", returns_bool=True)
def is_list(x: Any) -> bool:
    """True for lists such as ``'(1 2)``."""
    return type(x) is LList


@core("coll?", returns_bool=True)
def is_coll(x: Any) -> bool:
    """True for vectors, lists, maps and sets (not strings)."""
    t = type(x)
    return t is tuple or t is dict or t is LList or t is LSet or isinstance(x, Mapping)


@core("fn?", returns_bool=True)
def is_fn(x: Any) -> bool:
    """True for functions; keywords and sets can be called but are not functions."""
    return callable(x) and type(x) is not Keyword and type(x) is not LSet


@core("boolean")
def boolean(x: Any) -> bool:
    """false for nil and false, true for everything else."""
    return x is not None and x is not False


@core("true?", returns_bool=True)
def is_true(x: Any) -> bool:
    """True for the value true only (not for other truthy values)."""
    return x is True


@core("false?", returns_bool=True)
def is_false(x: Any) -> bool:
    """True for the value false only (not for nil)."""
    return x is False


@core("double?", returns_bool=True)
def is_double(x: Any) -> bool:
    """True for floats (the one float type)."""
    return type(x) is float


@core("pos-int?", returns_bool=True)
def is_pos_int(x: Any) -> bool:
    """True for an integer greater than zero."""
    return type(x) is int and x > 0


@core("neg-int?", returns_bool=True)
def is_neg_int(x: Any) -> bool:
    """True for an integer less than zero."""
    return type(x) is int and x < 0


@core("nat-int?", returns_bool=True)
def is_nat_int(x: Any) -> bool:
    """True for an integer that is zero or more."""
    return type(x) is int and x >= 0


@core("sequential?", returns_bool=True)
def is_sequential(x: Any) -> bool:
    """True for vectors and lists."""
    return type(x) is tuple or type(x) is LList


@core("any?", returns_bool=True)
def is_any(x: Any) -> bool:
    """Always true (a predicate that accepts anything)."""
    return True
