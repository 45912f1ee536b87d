"""Arbitrary objects as constants of a compiled code object.

Theory of operation. Keywords (and a few runtime objects such as ``int`` for type guards) are loaded with
``LOAD_CONST`` instead of a global lookup, and a map literal with keyword keys becomes one
``BUILD_CONST_KEY_MAP``. ``ast.Constant`` cannot hold such objects, so the tree carries a placeholder
``(NONCE, index)`` from :meth:`CodeConstants.node`, and :meth:`CodeConstants.install` swaps each placeholder for
its object in the code object (and the code nested in it) after ``compile()``. :data:`NONCE` is random per process
and starts with a NUL, so no script text can spell a placeholder. Kept apart from the compiler because it works
on code objects, not on forms.
"""

from __future__ import annotations

import ast
import os
from types import CodeType
from typing import Any

__all__ = ["NONCE", "CodeConstants", "install_objects"]

NONCE = "\0streamrt-object:" + os.urandom(16).hex()  # what secrets.token_hex does, without importing random
"""The first item of every placeholder tuple."""


class CodeConstants:
    """The objects one script's code holds as constants, each at a fixed placeholder index."""

    __slots__ = ("_index", "objects")

    def __init__(self) -> None:
        self.objects: list[Any] = []
        """The objects, by placeholder index."""
        self._index: dict[int, int] = {}

    def node(self, value: Any) -> ast.Constant:
        """``value`` as a constant of the code object (``LOAD_CONST``): a fresh placeholder node for each use."""
        index = self._index.get(id(value))
        if index is None:
            index = self._index[id(value)] = len(self.objects)
            self.objects.append(value)
        placeholder: Any = (NONCE, index)
        return ast.Constant(value=placeholder)

    def object_of(self, expr: ast.expr) -> Any:
        """The object a :meth:`node` stands for, or ``None``."""
        if isinstance(expr, ast.Constant):
            value: Any = expr.value
            if type(value) is tuple and len(value) == 2 and value[0] == NONCE:
                return self.objects[value[1]]
        return None

    def install(self, code: CodeType) -> CodeType:
        """``code`` (and the code nested in it) with every placeholder constant replaced by its object."""
        return install_objects(code, NONCE, self.objects)


def install_objects(code: CodeType, nonce: str, objects: list[Any]) -> CodeType:
    """``code`` (and the code nested in it) with every ``(nonce, index)`` constant replaced by ``objects[index]``:
    the compiler's :meth:`CodeConstants.install`, and the compiled-script cache's on loading an entry (whose
    placeholders carry a nonce of their own, :mod:`streamrt.lang.cache`)."""

    def swap(value: Any) -> Any:
        kind = type(value)
        if kind is tuple:
            if len(value) == 2 and value[0] == nonce and type(value[1]) is int:
                return objects[value[1]]
            return tuple(swap(v) for v in value)
        if kind is frozenset:
            return frozenset(swap(v) for v in value)
        if kind is CodeType:
            return install_objects(value, nonce, objects)
        return value

    return code.replace(co_consts=tuple(swap(c) for c in code.co_consts))
