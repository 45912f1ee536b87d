"""The language's equality: ``=``, ``not=``, and hash keys that agree with ``=``.

Python's ``==`` is almost the language's ``=``, but not quite: Python says ``True == 1`` and compares nested
booleans and numbers the same way, where the language keeps booleans apart from numbers at every depth. So
:func:`equals` uses ``==`` only on scalars of the same type (or int against float) and walks containers itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from streamrt.lang.core.registry import core
from streamrt.values import Keyword, LList

__all__ = ["eq", "equals", "hash_key", "not_eq"]

_NUMBER: Final = frozenset((int, float))
_SEQ: Final = frozenset((tuple, LList))


def _seq_eq(a: Sequence[Any], b: Sequence[Any]) -> bool:
    if len(a) != len(b):
        return False
    return all(x is y or equals(x, y) for x, y in zip(a, b, strict=True))


def _map_eq(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> bool:
    if len(a) != len(b):
        return False
    missing = object()
    for k, v in a.items():
        w = b.get(k, missing)
        if w is missing or not (v is w or equals(v, w)):
            return False
    return True


def equals(a: Any, b: Any) -> bool:
    """The language's ``=`` on two values.

    Numbers compare by value across int and float (``(= 1 1.0)``); booleans never equal numbers; vectors equal lists
    with equal items; maps compare by content; all of it recursively.
    """
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is dict:
            return a is b or _map_eq(a, b)
        if ta is tuple or ta is LList:
            return a is b or _seq_eq(a, b)
        return a == b  # type: ignore[no-any-return]
    if ta in _NUMBER and tb in _NUMBER:
        return a == b  # type: ignore[no-any-return]
    if ta in _SEQ and tb in _SEQ:
        return _seq_eq(a, b)
    if ta is bool or tb is bool or a is None or b is None or ta is str or tb is str:
        return False
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return _map_eq(a, b)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return _seq_eq(a, b)
    return False


@core("=", returns_bool=True)
def eq(x: Any, *more: Any) -> bool:
    """True when all arguments are equal: numbers by value, collections by content, booleans apart from numbers."""
    if len(more) == 1:
        return equals(x, more[0])
    return all(equals(x, y) for y in more)


@core("not=", returns_bool=True)
def not_eq(x: Any, *more: Any) -> bool:
    """The negation of ``=``."""
    return not eq(x, *more)


class _Tag:
    """A private marker that no language value can contain, so tagged keys never collide with user data."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_BOOL: Final = _Tag("bool")
_VEC: Final = _Tag("vec")
_MAP: Final = _Tag("map")
_PLAIN: Final = frozenset((int, float, str, Keyword, type(None)))


def hash_key(value: Any) -> Any:
    """A hashable key with the same equality as ``=``: booleans apart from 1/0, maps hashed by content."""
    t = type(value)
    if t in _PLAIN:
        return value
    if t is bool:
        return (_BOOL, value)
    if t is tuple or t is LList or isinstance(value, list):
        return (_VEC, tuple(hash_key(v) for v in value))
    if isinstance(value, Mapping):
        return (_MAP, frozenset((hash_key(k), hash_key(v)) for k, v in value.items()))
    return value
