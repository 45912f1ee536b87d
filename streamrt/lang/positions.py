"""Script positions on generated Python AST, so a traceback alone can name the script line and column.

Theory of operation. The compiler builds trees bottom-up and marks only the node made for a form with
:func:`locate`, in O(1). Once the whole module is built, :func:`fill_positions` hands every unlocated node its
nearest located ancestor's position in a single walk. This is its own module because it is a separate job from
compiling forms, and the hottest part of compile time: it visits every node of every script.
"""

from __future__ import annotations

import ast
from typing import Any

from streamrt.errors import Pos

__all__ = ["fill_positions", "locate"]


def locate(node: Any, pos: Pos) -> Any:
    """Give ``node`` the script position ``pos`` unless it has one; its unlocated descendants get it too.

    Only the node itself is marked here, in O(1): trees are built bottom-up, so every unlocated node below it will
    take the position of its nearest located ancestor, which :func:`fill_positions` hands down once, at the end.
    """
    if "lineno" not in node.__dict__:
        col = max(pos.column - 1, 0)
        node.lineno = node.end_lineno = pos.line
        node.col_offset = col
        node.end_col_offset = col + 1
    return node


def fill_positions(root: ast.AST) -> None:
    """Give every unlocated node its nearest located ancestor's position (line 1 at the top), in one walk.

    What ``ast.fix_missing_locations`` does, but visiting only the fields that can hold nodes and locating leaves
    (names, constants) without a visit of their own, since it runs over every node of every script compiled. A
    node shared by two parents takes the position of the first in source order.
    """
    todo: list[tuple[Any, tuple[int, int, int, int]]] = [(root, (1, 0, 1, 0))]
    pop, push = todo.pop, todo.append
    fields_of = _node_fields
    while todo:
        node, pos = pop()
        own = node.__dict__
        if "lineno" in own:
            line, col = own["lineno"], own.get("col_offset", 0)
            pos = (line, col, own.get("end_lineno", line), own.get("end_col_offset", col + 1))
        elif node._attributes:
            node.lineno, node.col_offset, node.end_lineno, node.end_col_offset = pos
        for key in fields_of(type(node)):
            value = own.get(key)
            for child in reversed(value) if type(value) is list else (value,):  # reversed: source order
                if child is None:
                    continue
                if fields_of(type(child)):
                    push((child, pos))
                elif "lineno" not in child.__dict__ and child._attributes:
                    child.lineno, child.col_offset, child.end_lineno, child.end_col_offset = pos


# fields that never hold a node that needs a position (names, flags, operators, contexts)
_NOT_NODES = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "name", "names", "kind", "type_comment"})
_NOT_NODES |= {"conversion", "is_async", "simple", "level", "module", "type_ignores"}


_FIELDS: dict[type, tuple[str, ...]] = {ast.Constant: ()}


def _node_fields(cls: type) -> tuple[str, ...]:
    """The fields of an AST class that can hold nodes, last first."""
    found = _FIELDS.get(cls)
    if found is None:
        fields: tuple[str, ...] = getattr(cls, "_fields", ())
        found = _FIELDS[cls] = tuple(reversed([f for f in fields if f not in _NOT_NODES]))
    return found
