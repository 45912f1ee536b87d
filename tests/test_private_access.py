"""No module touches another's private names: ports are public (a scan of every module's syntax tree).

What counts as a use of a private name (one with a leading underscore, not a dunder):

- importing it from another package: ``from streamrt.store.codec import _helper`` in ``streamrt/runtime``;
- reading or writing it as an attribute of anything but ``self`` or ``cls``, unless the module itself defines that
  attribute (assigns ``self._name``, lists it in ``__slots__``, or defines ``_name`` at its top level or in a
  class): ``provider._persist = ...`` in a persister, ``record._cache`` in a metrics collector.

The standard library's underscored public API (``namedtuple._replace``, ``sys._getframe``, ...) is allowed by name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "streamrt"

STDLIB_API = frozenset({"_replace", "_asdict", "_fields", "_make", "_getframe", "_attributes", "_exit"})
"""Underscored names that are public API of the standard library."""

KNOWN: frozenset[tuple[str, str]] = frozenset(
    # the metered variants reach into the script that compiled them (the lang/policy knot around limits.py)
    ("streamrt/policy/limits.py", name)
    for name in ("_after_toplevel", "_call", "_metered", "_metered_code", "_recorded", "_runtime_error")
)
"""Uses still to be removed, as ``(module path, name)``: none may be added, and each must go (the test says so
when one has)."""


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _package(path: Path) -> str:
    """``runtime`` for ``streamrt/runtime/engine.py``; a top-level module is its own package."""
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else path.stem


def _own(tree: ast.Module) -> set[str]:
    """The private names a module defines: top-level and class-level names, ``self._x`` targets, slots."""
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            own.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            own.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                own.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            own.add(node.target.id)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "__slots__":
                    for elt in ast.walk(node.value):
                        if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                            own.add(elt.value)
    return {name for name in own if _private(name)}


def private_uses(path: Path, text: str | None = None) -> Iterator[tuple[int, str, str]]:
    """``(line, name, how)`` for each use of another module's private name in ``path`` (or in ``text``, read as
    if it were that module)."""
    source = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(source, str(path))
    package = _package(path)
    own = _own(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("streamrt"):
            parts = node.module.split(".")
            theirs = parts[1] if len(parts) > 1 else "streamrt"
            for alias in node.names:
                if _private(alias.name) and theirs != package:
                    yield node.lineno, alias.name, f"imported from {node.module}"
                if any(_private(p) for p in parts[1:]):
                    yield node.lineno, node.module, "a private module"
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                continue
            if node.attr in own or node.attr in STDLIB_API:
                continue
            yield node.lineno, node.attr, f"attribute of {ast.unparse(base)}"


def all_uses() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = str(path.relative_to(ROOT.parent))
        for line, name, how in private_uses(path):
            found.setdefault((rel, name), []).append(f"{rel}:{line}: {name} ({how})")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    found = all_uses()
    new = {key: where for key, where in found.items() if key not in KNOWN}
    assert not new, "private names used across modules:\n" + "\n".join(w for ws in new.values() for w in ws)
    gone = KNOWN - set(found)
    assert not gone, f"no longer used, take them off KNOWN: {sorted(gone)}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("from streamrt.store.codec import _pack\n", ["_pack"], id="private-import"),
        pytest.param("provider._persist = hook\n", ["_persist"], id="attribute-write"),
        pytest.param("x = record._cache\n", ["_cache"], id="attribute-read"),
        pytest.param("class A:\n    def f(self):\n        return self._x\n", [], id="self"),
        pytest.param(
            "class A:\n    __slots__ = ('_r',)\n    def eq(self, o):\n        return o._r\n",
            [],
            id="own-slot",
        ),
        pytest.param("t = point._replace(x=1)\n", [], id="stdlib-api"),
        pytest.param("from streamrt.runtime.loops import _template\n", [], id="same-package"),
    ],
)
def test_the_scan_finds_what_it_should(source: str, expected: list[str]) -> None:
    found = [name for _, name, _ in private_uses(ROOT / "runtime" / "probe.py", source)]
    assert found == expected
