"""A place in a script (:class:`Pos`), apart from :mod:`streamrt.errors` that carries it.

Every form and every script error holds one. It is a :class:`msgspec.Struct` (see docs/architecture.md, "Value
classes"), and it lives in a module of its own so that importing the exception tree, which ``streamrt --version``
does, does not import msgspec (~20 ms CPU); :mod:`streamrt.errors` re-exports it on first use.
"""

from __future__ import annotations

import msgspec

__all__ = ["Pos"]


class Pos(msgspec.Struct, frozen=True):
    """A place in a script: 1-based line and column."""

    filename: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}"
