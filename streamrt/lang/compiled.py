"""What compiling a script gives: :class:`CompiledScript` and its :class:`GlobalDef` names.

Kept apart from the compiler so that a script loaded from the compiled-script cache (:mod:`streamrt.lang.cache`)
needs neither the reader nor the compiler: a cached script's forms are read from its text only when something asks
for them (a lint, a ``lower``, a metered compile the cache did not hold).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from streamrt.pos import Pos

if TYPE_CHECKING:
    from streamrt.lang.forms import Form

__all__ = ["CompiledScript", "GlobalDef"]


class GlobalDef(msgspec.Struct):
    """A script-level name: ``defn`` functions know their arity, for compile-time checks."""

    name: str
    pyname: str
    pos: Pos
    index: int
    arity: tuple[int, int | None] | None = None
    doc: str | None = None
    result: str | None = None
    """What every return of a ``defn`` is, known from its forms: ``"bare"`` (a map literal with constant keyword keys,
    none of ``:state :action :output :outputs``: the whole new state) or ``"state"`` (``{:state x}`` alone); None
    when unknown. The runtime skips its result check for these (:func:`streamrt.runtime.callables.result_shape`)."""


class CompiledScript:
    """What the loader needs: the code object, the constants it references, and the script's globals.

    Not a value class (no ``msgspec.Struct``): it reads its forms on first use. ``forms`` (the top-level forms, macros expanded) is given, or read on first use by ``read_forms`` (a script
    loaded from the cache, whose run never needs them).
    """

    __slots__ = ("_forms", "_read_forms", "code", "constants", "counter", "filename", "globals")

    def __init__(
        self,
        code: Any,
        filename: str,
        constants: dict[str, Any],
        globals: dict[str, GlobalDef],
        forms: list[Form] | None,
        counter: int = 0,
        *,
        read_forms: Callable[[], list[Form]] | None = None,
    ) -> None:
        if forms is None and read_forms is None:
            raise ValueError("a CompiledScript needs its forms or a way to read them")
        self.code = code
        self.filename = filename
        self.constants = constants
        self.globals = globals
        self.counter = counter
        """The compiler's name counter at the end: a later compile into the same namespace starts from it."""
        self._forms = forms
        self._read_forms = read_forms

    @property
    def forms(self) -> list[Form]:
        """The top-level forms, macros expanded (read from the source the first time, for a cached script)."""
        if self._forms is None:
            assert self._read_forms is not None
            self._forms = self._read_forms()
            self._read_forms = None
        return self._forms

    def __repr__(self) -> str:
        return f"<CompiledScript {self.filename} globals={list(self.globals)}>"
