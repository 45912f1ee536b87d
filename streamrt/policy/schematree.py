"""A schema's parsed tree: the type keywords, the forms (``[:vector T]``, ``[:map ...]``, ``[:or ...]``,
``[:maybe T]``, ``[:enum ...]``) and the parser that checks a schema written as data and builds the tree, which
:mod:`streamrt.policy.schema` compiles into one check and walks to explain a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import msgspec

from streamrt.printer import pr_str
from streamrt.values import Keyword, LList, type_name

__all__ = [
    "LEAF_TESTS",
    "LEAF_TYPES",
    "NUM",
    "SEQ",
    "Entry",
    "Enum",
    "Leaf",
    "Malformed",
    "Map",
    "Maybe",
    "Node",
    "Or",
    "Vector",
    "describe_found",
    "parse",
]

NUM: Final = frozenset((int, float))
SEQ: Final = (tuple, list)
_SCALARS: Final = (Keyword, str, int, float, bool, type(None))

LEAF_TYPES: Final[dict[str, str]] = {
    "int": "type({v}) is int",
    "float": "type({v}) is float",
    "number": "type({v}) in _NUM",
    "string": "type({v}) is str",
    "bool": "type({v}) is bool",
    "keyword": "type({v}) is _KW",
    "nil": "{v} is None",
    "any": "True",
    "map": "isinstance({v}, dict)",
    "vector": "isinstance({v}, _SEQ)",
}
"""The type keywords and the test each one compiles to."""

LEAF_TESTS: Final[dict[str, Callable[[Any], bool]]] = {
    "int": lambda v: type(v) is int,
    "float": lambda v: type(v) is float,
    "number": lambda v: type(v) in NUM,
    "string": lambda v: type(v) is str,
    "bool": lambda v: type(v) is bool,
    "keyword": lambda v: type(v) is Keyword,
    "nil": lambda v: v is None,
    "any": lambda v: True,
    "map": lambda v: isinstance(v, dict),
    "vector": lambda v: isinstance(v, SEQ),
}
_FORMS: Final = ("vector", "map", "or", "maybe", "enum")
_K_OPTIONAL: Final = Keyword("optional")
_K_CLOSED: Final = Keyword("closed")


# --- the parsed tree --------------------------------------------------------------------------------------------


class Leaf(msgspec.Struct, frozen=True):
    spec: Any
    name: str


class Vector(msgspec.Struct, frozen=True):
    spec: Any
    item: Node


class Entry(msgspec.Struct, frozen=True):
    key: Any
    optional: bool
    schema: Node


class Map(msgspec.Struct, frozen=True):
    spec: Any
    entries: tuple[Entry, ...]
    closed: bool


class Or(msgspec.Struct, frozen=True):
    spec: Any
    options: tuple[Node, ...]


class Maybe(msgspec.Struct, frozen=True):
    spec: Any
    inner: Node


class Enum(msgspec.Struct, frozen=True):
    spec: Any
    members: tuple[Any, ...]


Node = Leaf | Vector | Map | Or | Maybe | Enum


class Malformed(Exception):
    """A bad part of a schema, raised while parsing and turned into a UsageError naming the option."""

    def __init__(self, message: str, part: Any) -> None:
        super().__init__(message)
        self.part = part


def _known_types() -> str:
    return " ".join(":" + name for name in LEAF_TYPES)


def _props(items: Sequence[Any], allowed: tuple[Keyword, ...], form: Any) -> tuple[dict[Keyword, Any], int]:
    """The optional properties map right after a form's head: ``(props, index of the first child)``."""
    if len(items) > 1 and isinstance(items[1], Mapping):
        props = dict(items[1])
        for key, value in props.items():
            if key not in allowed:
                names = " ".join(pr_str(k) for k in allowed) or "none"
                raise Malformed(f"unknown property {pr_str(key)} (allowed here: {names})", form)
            if type(value) is not bool:
                raise Malformed(f"property {pr_str(key)} must be true or false, not {pr_str(value)}", form)
        return props, 2
    return {}, 1


def parse(spec: Any) -> Node:
    if type(spec) is Keyword:
        if spec.namespace is None and spec.name in LEAF_TYPES:
            return Leaf(spec, spec.name)
        raise Malformed(f"unknown type {pr_str(spec)}; known types: {_known_types()}", spec)
    if not isinstance(spec, tuple | list) or isinstance(spec, LList) or not spec:
        raise Malformed(
            "a schema is a type keyword such as :int or a vector such as [:vector :int], "
            f"not {describe_found(spec)}",
            spec,
        )
    head = spec[0]
    if type(head) is not Keyword or head.namespace is not None or head.name not in _FORMS:
        forms = " ".join(f"[:{name} ...]" for name in _FORMS)
        raise Malformed(f"a schema vector starts with one of {forms}; got {pr_str(head)}", spec)
    kind = head.name
    if kind == "map":
        return _parse_map(spec)
    _, first = _props(spec, (), spec)
    children = spec[first:]
    if kind == "enum":
        if not children:
            raise Malformed("[:enum ...] needs at least one member", spec)
        for member in children:
            if not isinstance(member, _SCALARS):
                raise Malformed(f"an enum member must be a scalar, not {describe_found(member)}", spec)
        return Enum(spec, tuple(children))
    if kind == "or":
        if not children:
            raise Malformed("[:or ...] needs at least one schema", spec)
        return Or(spec, tuple(parse(c) for c in children))
    if len(children) != 1:
        raise Malformed(f"[:{kind} T] takes exactly one schema, got {len(children)}", spec)
    if kind == "vector":
        return Vector(spec, parse(children[0]))
    return Maybe(spec, parse(children[0]))


def _parse_map(spec: Any) -> Map:
    props, first = _props(spec, (_K_CLOSED,), spec)
    entries: list[Entry] = []
    seen: set[Any] = set()
    for entry in spec[first:]:
        if not isinstance(entry, tuple | list) or isinstance(entry, LList) or len(entry) not in (2, 3):
            raise Malformed(
                f"a map entry is [key schema] or [key {{:optional true}} schema], not {pr_str(entry)}", entry
            )
        key = entry[0]
        if not isinstance(key, Keyword | str | int) or type(key) is bool:
            raise Malformed(
                f"a map key in a schema is a keyword, string or integer, not {pr_str(key)}", entry
            )
        if key in seen:
            raise Malformed(f"key {pr_str(key)} appears twice", spec)
        seen.add(key)
        entry_props, child = _props(entry, (_K_OPTIONAL,), entry)
        if child != len(entry) - 1:
            raise Malformed(
                f"a map entry is [key schema] or [key {{:optional true}} schema], not {pr_str(entry)}", entry
            )
        entries.append(Entry(key, bool(entry_props.get(_K_OPTIONAL, False)), parse(entry[child])))
    return Map(spec, tuple(entries), bool(props.get(_K_CLOSED, False)))


def describe_found(value: Any, limit: int = 80) -> str:
    """``"hot" (a string)``: a value as language text, cut short, with its kind."""
    if value is None:
        return "nil"
    text = pr_str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    kind = type_name(value)
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{text} ({article} {kind})"
