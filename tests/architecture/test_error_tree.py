"""The exception tree drawn in streamrt/errors.py is the real one, and code raises leaves, not categories."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import streamrt
import streamrt.errors as errors

PACKAGE = Path(streamrt.__file__).parent
_ROW = re.compile(r"^(?P<indent>[│ ]*)(?:[├└]── )?(?P<name>[A-Z]\w+)\s")


def drawn_tree() -> dict[str, str | None]:
    """``{class: parent}`` as the module docstring draws it."""
    doc = errors.__doc__ or ""
    block = doc.split("```", 2)[1]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = _ROW.match(line + " ")
        if match is None:
            continue
        depth = len(match["indent"]) // 4 + (1 if "──" in line else 0)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match["name"]] = stack[-1][1] if stack else None
        stack.append((depth, match["name"]))
    return parents


def real_tree() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in errors.__all__:
        cls = getattr(errors, name)
        if not (inspect.isclass(cls) and issubclass(cls, errors.StreamrtError)):
            continue
        ours = [b for b in cls.__bases__ if issubclass(b, errors.StreamrtError)]
        assert len(ours) <= 1, f"{name} has two places in the tree: {ours}"
        out[name] = ours[0].__name__ if ours else None
    return out


def test_the_docstring_draws_every_class_under_its_real_parent() -> None:
    assert drawn_tree() == real_tree()


def test_lookups_that_find_nothing_are_key_errors() -> None:
    assert issubclass(errors.UnknownStreamError, KeyError)
    assert issubclass(errors.SnapshotNotFoundError, KeyError)
    assert str(errors.UnknownStreamError("no stream with id 'x'")) == "no stream with id 'x'"


def categories() -> set[str]:
    """Classes that have subclasses, except the two the docstring says are raised as themselves too."""
    parents = {name for name in real_tree().values() if name is not None}
    return parents - {"ScriptRuntimeError", "SourceError"}


def raised_categories() -> list[str]:
    found = []
    wanted = categories() | {"StreamrtError"}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                name = func.id if isinstance(func, ast.Name) else None
                if name in wanted:
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: raise {name}(...)")
    return found


def test_code_raises_leaves_not_categories() -> None:
    assert raised_categories() == []


@pytest.mark.parametrize("name", sorted(real_tree()))
def test_every_class_has_a_docstring_that_says_when(name: str) -> None:
    assert (getattr(errors, name).__doc__ or "").strip()
