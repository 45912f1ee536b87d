"""Helpers shared by the core-library tests: call a core function by its language name, expect its errors."""

from __future__ import annotations

from typing import Any

import pytest

from streamrt.errors import ScriptRuntimeError
from streamrt.lang.core import CORE
from streamrt.values import Keyword, LList

__all__ = ["K", "L", "call", "expect_error"]

K = Keyword


def L(*items: Any) -> LList:
    """A list value."""
    return LList(items)


def call(name: str, *args: Any) -> Any:
    """Call the core function registered as ``name``."""
    return CORE[name].fn(*args)


def expect_error(name: str, args: tuple[Any, ...], *fragments: str) -> str:
    """Assert that calling ``name`` fails with a script error that names it and contains every fragment."""
    with pytest.raises(ScriptRuntimeError) as info:
        call(name, *args)
    message = str(info.value)
    assert message.startswith(f"{name}: "), message
    for fragment in fragments:
        assert fragment in message, message
    assert info.value.pos is None
    return message
