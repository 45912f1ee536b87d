"""No module of streamrt uses another package's private names: ports between packages are public.

A *package* is a subpackage of streamrt (``lang``, ``runtime``, ...) or a top-level module (``values``, ``sinks``).
The scan reads every module's AST and reports, across packages:

- ``from streamrt.P.m import _x`` and imports of a private module (``streamrt.P._m``);
- ``obj._x`` (a read, a write or a call; also ``getattr(obj, "_x")``, ``setattr``, ``hasattr``) where ``_x`` is
  defined only in other packages: as a function, class, module global, class attribute, ``self._x`` assignment,
  parameter or ``__slots__`` entry. ``self`` and ``cls`` are always the module's own. (A name that both packages
  define escapes the scan; the import-linter layers catch most such reaches anyway.)

Names with a leading underscore that Python or a library makes part of their public API (``namedtuple._replace``,
``sys._getframe``) are allowed.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import streamrt

PACKAGE = Path(streamrt.__file__).parent
ALLOWED = frozenset({"_replace", "_asdict", "_fields", "_make", "_getframe"})


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def package_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def modules() -> Iterator[tuple[Path, str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, package_of(path), ast.parse(path.read_text(encoding="utf-8"))


def defined_names(tree: ast.Module) -> set[str]:
    """The private names a module defines (for itself or for its package)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                out.add(node.attr)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            out.update(
                c.value
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
        elif isinstance(node, ast.arg):
            out.add(node.arg)
    return {name for name in out if _private(name)}


def uses(tree: ast.Module) -> Iterator[tuple[int, str, str | None]]:
    """``(line, private name, module it is imported from or None for an attribute)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                for part in alias.name.split(".")[1:] if alias.name.startswith("streamrt.") else ():
                    if _private(part):
                        yield node.lineno, part, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("streamrt"):
            for part in node.module.split("."):
                if _private(part):
                    yield node.lineno, part, node.module
            for alias in node.names:
                if _private(alias.name):
                    yield node.lineno, alias.name, node.module
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
            and node.args[1].value not in ALLOWED
        ):
            yield node.lineno, node.args[1].value, None
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in ALLOWED:
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                continue
            if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super":
                continue
            yield node.lineno, node.attr, None


@functools.cache
def cross_package_uses() -> list[str]:
    trees = list(modules())
    owners: dict[str, set[str]] = defaultdict(set)
    for _, package, tree in trees:
        for name in defined_names(tree):
            owners[name].add(package)
    found = []
    for path, package, tree in trees:
        where = path.relative_to(PACKAGE.parent)
        for line, name, module in uses(tree):
            if module is not None:
                target = module.split(".")[1] if "." in module else "streamrt"
                if target != package:
                    found.append(f"{where}:{line}: imports {name} from {module}")
            elif package not in owners[name] and owners[name]:
                found.append(f"{where}:{line}: uses .{name} of {', '.join(sorted(owners[name]))}")
    return found


KNOWN: dict[str, set[str]] = {}
"""Uses still to be removed, by module path: none may be added, and each must go (the test below says when)."""


def _known(use: str) -> bool:
    path, _, what = use.partition(": ")
    return what.removeprefix("imports ").removeprefix("uses ") in KNOWN.get(path.rsplit(":", 1)[0], set())


def test_no_module_uses_another_packages_private_names() -> None:
    assert [use for use in cross_package_uses() if not _known(use)] == []


def test_every_known_exception_still_happens() -> None:
    """So that the list above shrinks as the uses go."""
    seen = {
        (use.split(":", 1)[0], use.partition(": ")[2].removeprefix("imports ").removeprefix("uses "))
        for use in cross_package_uses()
    }
    assert {(path, what) for path, whats in KNOWN.items() for what in whats} <= seen


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner itself, on code that does each forbidden thing."""
    tree = ast.parse(
        "from streamrt.runtime.batch import _Fault\n"
        "import streamrt.runtime._private\n"
        "from streamrt.lang._inner import x\n"
        "provider._persist = 1\n"
        "getattr(provider, '_observer')\n"
        "self._mine = parts._replace(x=1)\n"
    )
    assert sorted((line, name) for line, name, _ in uses(tree)) == [
        (1, "_Fault"),
        (2, "_private"),
        (3, "_inner"),
        (4, "_persist"),
        (5, "_observer"),
    ]
