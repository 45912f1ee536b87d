"""Sweeps over every registered function: no argument is ever mutated, and no raw Python error escapes.

Each core function is called with every combination (up to three arguments) of a small pool of values of every
kind. Whatever the combination, the call either returns, raises a ScriptRuntimeError (a user mistake, reported
cleanly), or lets through the TypeError of a user function called with the wrong number of arguments. And the
arguments are deep-equal to what they were before.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from streamrt.errors import ScriptRuntimeError
from streamrt.lang.core import CORE, equals
from tests.lang.core_support import K, L


def pair(a: Any, b: Any) -> Any:
    """A two-argument user function."""
    return (a, b)


POOL: tuple[Any, ...] = (
    None,
    False,
    0,
    2,
    -1.5,
    "ab",
    K("a"),
    (1, {K("a"): (2,)}),
    L(K("a"), 1),
    {K("a"): {K("b"): (1, 2)}, "k": None},
    CORE["inc"].fn,
    pair,
)

ARITY_MESSAGES = ("positional argument", "takes no arguments")


def combos(min_args: int, max_args: int | None) -> list[tuple[Any, ...]]:
    top = min(3, max_args if max_args is not None else 3)
    out: list[tuple[Any, ...]] = []
    for n in range(min_args, max(top, min_args) + 1):
        out.extend(itertools.product(POOL, repeat=n))
    return out


@pytest.mark.parametrize("name", sorted(CORE))
def test_never_mutates_and_fails_cleanly(name: str) -> None:
    entry = CORE[name]
    for args in combos(entry.min_args, entry.max_args):
        before = copy.deepcopy(args)
        try:
            result = entry.fn(*args)
        except ScriptRuntimeError as e:
            message = str(e)
            from_pool = message.startswith(
                ("inc: ", "cannot look up a keyword")
            )  # errors of functions in POOL
            assert message.startswith(f"{name}: ") or from_pool, (args, message)
        except TypeError as e:
            assert any(m in str(e) for m in ARITY_MESSAGES), (args, repr(e))
        else:
            if entry.returns_bool:
                assert type(result) is bool, (args, result)
        assert all(equals(a, b) or a is b for a, b in zip(args, before, strict=True)), (name, args)
