"""The language's equality: ``=``, ``not=``, and hash keys that agree with ``=``.

Python's ``==`` is almost the language's ``=``, but not quite: Python says ``True == 1`` and compares nested
booleans and numbers the same way, where the language keeps booleans apart from numbers at every depth. So
:func:`equals` uses ``==`` only on scalars of the same type (or int against float) and walks containers itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from streamrt.errors import ValueLimitError
from streamrt.lang.core.registry import core
from streamrt.values import WALK_LIMIT, Keyword, LList, measure

__all__ = ["eq", "equals", "hash_key", "not_eq"]

_NUMBER: Final = frozenset((int, float))
_SEQ: Final = frozenset((tuple, LList))


def _same(a: Any, b: Any, pairs: list[tuple[Any, Any]]) -> bool:
    """One step of ``=``: False when ``a`` and ``b`` differ here; collections to compare item by item go on
    ``pairs``."""
    if a is b:
        return True
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is dict:
            return _map_pairs(a, b, pairs)
        if ta is tuple or ta is LList:
            return _seq_pairs(a, b, pairs)
        return a == b  # type: ignore[no-any-return]
    if ta in _NUMBER and tb in _NUMBER:
        return a == b  # type: ignore[no-any-return]
    if ta in _SEQ and tb in _SEQ:
        return _seq_pairs(a, b, pairs)
    if ta is bool or tb is bool or a is None or b is None or ta is str or tb is str:
        return False
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return _map_pairs(a, b, pairs)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return _seq_pairs(a, b, pairs)
    return False


def _seq_pairs(a: Sequence[Any], b: Sequence[Any], pairs: list[tuple[Any, Any]]) -> bool:
    if len(a) != len(b):
        return False
    pairs.extend(zip(a, b, strict=True))
    return True


def _map_pairs(a: Mapping[Any, Any], b: Mapping[Any, Any], pairs: list[tuple[Any, Any]]) -> bool:
    if len(a) != len(b):
        return False
    missing = object()
    for k, v in a.items():
        w = b.get(k, missing)
        if w is missing:
            return False
        pairs.append((v, w))
    return True


def _walk_eq(a: Any, b: Any) -> bool:
    """``=`` on two collections without recursion, visiting at most :data:`~streamrt.values.WALK_LIMIT` pairs."""
    pairs: list[tuple[Any, Any]] = []
    if not _same(a, b, pairs):
        return False
    walked = 0
    pop = pairs.pop
    while pairs:
        x, y = pop()
        walked += 1
        if walked > WALK_LIMIT:
            measure(a)  # says which limit (depth or size) the walk ran past
            measure(b)
            raise ValueLimitError(
                f"= compared more than {WALK_LIMIT:,} items (counting shared parts each time they appear)"
            )
        if not _same(x, y, pairs):
            return False
    return True


def equals(a: Any, b: Any) -> bool:
    """The language's ``=`` on two values.

    Numbers compare by value across int and float (``(= 1 1.0)``); booleans never equal numbers; vectors equal lists
    with equal items; maps compare by content; all of it without recursion, so a deep or self-sharing value gives
    :class:`~streamrt.errors.ValueLimitError` instead of a crash or a hang.
    """
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is dict or ta is tuple or ta is LList:
            return a is b or _walk_eq(a, b)
        return a == b  # type: ignore[no-any-return]
    if ta in _NUMBER and tb in _NUMBER:
        return a == b  # type: ignore[no-any-return]
    if ta is bool or tb is bool or a is None or b is None or ta is str or tb is str:
        return False
    return _walk_eq(a, b)


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
    """A hashable key with the same equality as ``=``: booleans apart from 1/0, maps hashed by content.

    A collection is measured first (:func:`~streamrt.values.measure`), so the recursion below stays within
    :data:`~streamrt.values.MAX_DEPTH` and a self-sharing value fails instead of hanging.
    """
    t = type(value)
    if t in _PLAIN:
        return value
    if t is bool:
        return (_BOOL, value)
    measure(value)
    try:
        return _hash_key(value)
    except RecursionError:
        raise ValueLimitError("a value nested this deeply cannot be compared by content here") from None


def _hash_key(value: Any) -> Any:
    t = type(value)
    if t in _PLAIN:
        return value
    if t is bool:
        return (_BOOL, value)
    if t is tuple or t is LList or isinstance(value, list):
        return (_VEC, tuple(_hash_key(v) for v in value))
    if isinstance(value, Mapping):
        return (_MAP, frozenset((_hash_key(k), _hash_key(v)) for k, v in value.items()))
    return value
