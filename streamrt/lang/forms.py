"""Forms: what the reader produces and the macros and compiler consume.

Every form carries its :class:`~streamrt.errors.Pos` so any error, at any stage, can point at the exact place in
the script. Forms are separate from runtime values: a quoted form becomes a value only in the compiler.
"""

from __future__ import annotations

from typing import Any

import msgspec

from streamrt.errors import Pos
from streamrt.printer import pr_str
from streamrt.values import Keyword

__all__ = ["Form", "Kw", "ListF", "Lit", "MapF", "SetF", "Sym", "VecF", "form_str", "kind_name"]


class Sym(msgspec.Struct, eq=False):
    """A symbol: ``count``, ``ns/name``, ``+``."""

    name: str
    pos: Pos


class Kw(msgspec.Struct, eq=False):
    """A keyword literal: ``:count``."""

    value: Keyword
    pos: Pos


class Lit(msgspec.Struct, eq=False):
    """A literal scalar: int, float, str, bool or nil (``None``)."""

    value: Any
    pos: Pos


class ListF(msgspec.Struct, eq=False):
    """A list form ``(f x)``: a call, a special form or a macro use."""

    items: list[Form]
    pos: Pos


class VecF(msgspec.Struct, eq=False):
    """A vector literal ``[a b]``."""

    items: list[Form]
    pos: Pos


class MapF(msgspec.Struct, eq=False):
    """A map literal ``{k v ...}``; ``items`` alternates keys and values (the reader checks the count is even)."""

    items: list[Form]
    pos: Pos

    def pairs(self) -> list[tuple[Form, Form]]:
        return list(zip(self.items[0::2], self.items[1::2], strict=True))


class SetF(msgspec.Struct, eq=False):
    """A set literal ``#{a b}``."""

    items: list[Form]
    pos: Pos


Form = Sym | Kw | Lit | ListF | VecF | MapF | SetF


def kind_name(form: Form) -> str:
    """What a form is, for error messages: ``symbol``, ``vector``, ``integer`` ..."""
    if isinstance(form, Sym):
        return "symbol"
    if isinstance(form, Kw):
        return "keyword"
    if isinstance(form, ListF):
        return "list"
    if isinstance(form, VecF):
        return "vector"
    if isinstance(form, MapF):
        return "map"
    if isinstance(form, SetF):
        return "set"
    v = form.value
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "float"
    return "string"


def form_str(form: Form) -> str:
    """Print a form back as language text (used by ``streamrt lower``)."""
    if isinstance(form, Sym):
        return form.name
    if isinstance(form, Kw):
        return repr(form.value)
    if isinstance(form, Lit):
        return pr_str(form.value)
    if isinstance(form, ListF):
        if len(form.items) == 2 and isinstance(form.items[0], Sym) and form.items[0].name == "quote":
            return "'" + form_str(form.items[1])
        return "(" + " ".join(form_str(f) for f in form.items) + ")"
    if isinstance(form, VecF):
        return "[" + " ".join(form_str(f) for f in form.items) + "]"
    if isinstance(form, SetF):
        return "#{" + " ".join(form_str(f) for f in form.items) + "}"
    return "{" + " ".join(form_str(k) + " " + form_str(v) for k, v in form.pairs()) + "}"
