"""Comparing what a test expected with what the stream did, and saying where they part, in language terms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streamrt.lang.core.equality import equals
from streamrt.printer import pr_str
from streamrt.values import LList

__all__ = ["MISSING", "Difference", "describe", "first_difference", "show"]

MISSING: Final[Any] = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
"""Stands for a key or item that is not there."""

_LIMIT: Final = 200

Difference = tuple[tuple[Any, ...], Any, Any]
"""``(path, expected, actual)``: where two values first differ."""


def show(value: Any, limit: int = _LIMIT) -> str:
    """A value as language text, cut to ``limit`` characters."""
    if value is MISSING:
        return "nothing"
    text = pr_str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_seq(value: Any) -> bool:
    return isinstance(value, tuple | list | LList)


def first_difference(expected: Any, actual: Any, path: tuple[Any, ...] = ()) -> Difference | None:
    """The first place where ``actual`` is not ``=`` to ``expected`` (the language's equality), or None."""
    if equals(expected, actual):
        return None
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        for key, want in expected.items():
            got = actual.get(key, MISSING)
            if got is MISSING:
                return ((*path, key), want, MISSING)
            found = first_difference(want, got, (*path, key))
            if found is not None:
                return found
        for key, got in actual.items():
            if key not in expected:
                return ((*path, key), MISSING, got)
    if _is_seq(expected) and _is_seq(actual):
        for i, (want, got) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(want, got, (*path, i))
            if found is not None:
                return found
        n = min(len(expected), len(actual))
        return (
            (*path, n),
            expected[n] if n < len(expected) else MISSING,
            actual[n] if n < len(actual) else MISSING,
        )
    return (path, expected, actual)


def describe(what: str, expected: Any, actual: Any) -> tuple[str, list[str]] | None:
    """``(one-line reason, detail lines)`` when ``actual`` differs from ``expected``; None when they agree."""
    diff = first_difference(expected, actual)
    if diff is None:
        return None
    path, want, got = diff
    where = f" at {pr_str(path)}" if path else ""
    if want is MISSING:
        reason = f"{what}{where}: unexpected {show(got, 80)}"
    elif got is MISSING:
        reason = f"{what}{where}: expected {show(want, 80)}, got nothing"
    else:
        reason = f"{what}{where}: expected {show(want, 80)}, got {show(got, 80)}"
    return reason, [f"expected {what}: {show(expected)}", f"actual {what}:   {show(actual)}"]
