"""Helpers for the language tests, in the spirit of hy's ``can_compile`` / ``cant_compile``.

``run(src, *args)`` loads a script and calls its last ``defn``; ``compile_error(src)`` and ``runtime_error(src)``
return the located error a script raises. Scripts are given the file name ``t.rtfs`` so tests can check it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streamrt.errors import ScriptCompileError, ScriptError, ScriptRuntimeError, ScriptSyntaxError
from streamrt.lang.script import Capability, Script, load_script
from streamrt.values import Keyword

__all__ = ["FILENAME", "K", "compile_error", "load", "last_fn", "run", "runtime_error", "syntax_error"]

FILENAME = "t.rtfs"
K = Keyword


def load(src: str, capabilities: dict[str, Capability] | None = None) -> Script:
    """Load script text (always treated as text, never as a path)."""
    return load_script(src if "\n" in src else src + "\n", filename=FILENAME, capabilities=capabilities)


def last_fn(src: str, capabilities: dict[str, Capability] | None = None) -> Callable[..., Any]:
    """The last function the script defines."""
    script = load(src, capabilities)
    functions = script.functions
    assert functions, "the script defines no function"
    return list(functions.values())[-1]


def run(src: str, *args: Any) -> Any:
    """Load ``src`` and call its last ``defn`` with ``args``."""
    return last_fn(src)(*args)


def _expect(cls: type[ScriptError], action: Callable[[], Any]) -> Any:
    with pytest.raises(ScriptError) as info:
        action()
    assert type(info.value) is cls, f"expected {cls.__name__}, got {type(info.value).__name__}: {info.value}"
    return info.value


def syntax_error(src: str) -> ScriptSyntaxError:
    """The syntax error ``src`` raises when loaded."""
    err: ScriptSyntaxError = _expect(ScriptSyntaxError, lambda: load(src))
    return err


def compile_error(src: str) -> ScriptCompileError:
    """The compile error ``src`` raises when loaded."""
    err: ScriptCompileError = _expect(ScriptCompileError, lambda: load(src))
    return err


def runtime_error(src: str, *args: Any) -> ScriptRuntimeError:
    """The runtime error raised by loading ``src`` (with no args) or by calling its last function with ``args``."""
    if args:
        fn = last_fn(src)
        err: ScriptRuntimeError = _expect(ScriptRuntimeError, lambda: fn(*args))
        return err
    err = _expect(ScriptRuntimeError, lambda: load(src))
    return err
