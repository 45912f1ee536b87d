"""Declared argument shapes for special forms and macros.

A shape is a short string such as ``"name:symbol doc:string? params:vector body*"``: each item is
``name[:kind][?|*]``. Matching is left to right; an optional item is taken when the next form is of its kind; a
``*`` item takes the rest. A form that does not fit gets an error pointing at the part that is wrong, worded from
the shape, so adding a special form never means writing its error messages by hand.
"""

from __future__ import annotations

from typing import Any

import msgspec

from streamrt.errors import Pos, ScriptCompileError
from streamrt.lang.forms import Form, Kw, ListF, Lit, MapF, Sym, VecF, kind_name

__all__ = ["Shape", "parse_shape"]

_KINDS: dict[str, Any] = {
    "any": object,
    "symbol": Sym,
    "keyword": Kw,
    "vector": VecF,
    "map": MapF,
    "list": ListF,
    "string": str,
}
_ARTICLE = {
    "any": "a form",
    "symbol": "a symbol",
    "keyword": "a keyword",
    "vector": "a vector",
    "map": "a map",
    "list": "a list",
    "string": "a string",
}


class _Item(msgspec.Struct, frozen=True):
    name: str
    kind: str
    optional: bool
    rest: bool


def _fits(form: Form, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(form, Lit) and isinstance(form.value, str)
    return isinstance(form, _KINDS[kind])


class Shape:
    """A parsed shape; :meth:`match` binds a form's arguments by item name."""

    def __init__(self, head: str, spec: str) -> None:
        self.head = head
        self.spec = spec
        self.items: list[_Item] = []
        for word in spec.split():
            rest = word.endswith("*")
            optional = word.endswith("?")
            word = word.rstrip("*?")
            name, _, kind = word.partition(":")
            kind = kind or "any"
            if kind not in _KINDS:
                raise ValueError(f"unknown kind {kind!r} in shape {spec!r}")
            self.items.append(_Item(name, kind, optional, rest))

    def usage(self) -> str:
        parts = []
        for it in self.items:
            parts.append(it.name + ("..." if it.rest else "?" if it.optional else ""))
        return f"({self.head} {' '.join(parts)})".replace(" )", ")")

    def match(self, form: ListF, error_pos: Pos | None = None) -> dict[str, Any]:
        """Bind ``form``'s arguments (after the head) to item names; ``*`` items bind lists."""
        args = form.items[1:]
        bound: dict[str, Any] = {}
        i = 0
        for item in self.items:
            if item.rest:
                rest = args[i:]
                for f in rest:
                    if not _fits(f, item.kind):
                        self._fail(f"{item.name} must be {_ARTICLE[item.kind]}s, got {kind_name(f)}", f.pos)
                bound[item.name] = rest
                i = len(args)
                continue
            if i < len(args) and _fits(args[i], item.kind):
                bound[item.name] = args[i]
                i += 1
            elif item.optional:
                bound[item.name] = None
            elif i < len(args):
                self._fail(
                    f"expected {item.name} ({_ARTICLE[item.kind]}), got {kind_name(args[i])}", args[i].pos
                )
            else:
                self._fail(f"missing {item.name} ({_ARTICLE[item.kind]})", form.pos)
        if i < len(args):
            self._fail("too many forms", args[i].pos)
        return bound

    def _fail(self, message: str, pos: Pos) -> None:
        raise ScriptCompileError(f"{self.head}: {message}; usage: {self.usage()}", pos)


def parse_shape(head: str, spec: str) -> Shape:
    """Parse a shape string for the form named ``head``."""
    return Shape(head, spec)
