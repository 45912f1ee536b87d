"""The root package's public names: one sorted ``__all__``, all importable, lazily, and seen by type checkers.

In the manner of httpx's tests/test_exported_members.py: a name added to the embedding surface must be added here
consistently, or this fails.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import streamrt

INIT = Path(streamrt.__file__)


def checked_names() -> dict[str, str]:
    """``{name: module}`` imported under ``if TYPE_CHECKING:`` in streamrt/__init__.py (what mypy sees)."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    guarded = next(
        node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    out: dict[str, str] = {}
    for node in guarded.body:
        assert isinstance(node, ast.ImportFrom) and node.module is not None
        if not node.module.startswith("streamrt"):
            continue  # typing.Any, for the annotations
        for alias in node.names:
            out[alias.asname or alias.name] = node.module
    return out


def test_all_is_sorted_and_is_the_lazy_table() -> None:
    assert streamrt.__all__ == sorted(streamrt.__all__, key=str.casefold)
    assert set(streamrt.__all__) == {"__version__", *streamrt._HOME}
    assert len(streamrt.__all__) == len(set(streamrt.__all__))


def test_type_checkers_see_the_same_names_from_the_same_modules() -> None:
    assert checked_names() == streamrt._HOME


@pytest.mark.parametrize("name", sorted(streamrt._HOME))
def test_every_name_is_the_object_its_home_module_defines(name: str) -> None:
    value = getattr(streamrt, name)
    home = importlib.import_module(streamrt._HOME[name])
    assert getattr(home, name) is value
    assert name in getattr(home, "__all__", ()), f"{home.__name__} does not list {name} in its __all__"
    if inspect.isclass(value) or inspect.isfunction(value):
        assert value.__module__ == home.__name__, (
            f"{name} is re-exported by {home.__name__}, not defined there"
        )


def test_the_embedding_surface_is_there() -> None:
    for name in ("Provider", "Output", "load_script", "Keyword", "Status", "SecurityContext", "Limits"):
        assert name in streamrt.__all__
    for name in (
        "open_source",
        "open_sink",
        "open_store",
        "SourceType",
        "SinkType",
        "StoreType",
        "MemoryStore",
    ):
        assert name in streamrt.__all__
    for name in (
        "Observer",
        "StatusChange",
        "StreamView",
        "StreamSpec",
        "Persister",
        "Persistence",
        "Leases",
    ):
        assert name in streamrt.__all__, "the provider's ports are public"
    errors = importlib.import_module("streamrt.errors")
    assert set(errors.__all__) <= set(streamrt.__all__), "every error class is public at the root"


def test_unknown_names_raise_attribute_error_and_dir_lists_everything() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        streamrt.Nope  # noqa: B018
    assert set(streamrt.__all__) <= set(dir(streamrt))


def test_import_streamrt_imports_nothing_else_of_streamrt() -> None:
    """The lazy table is what keeps ``import streamrt`` (and the CLI's start) fast."""
    code = "import sys, streamrt; print(sorted(m for m in sys.modules if m.startswith('streamrt')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "['streamrt', 'streamrt.lazy']"
