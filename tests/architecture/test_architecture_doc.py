"""docs/architecture.md says what the code does: its layers, error tree and lifecycle table are checked here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import streamrt.errors
from streamrt.runtime.machine import lifecycle_table

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def block_after(marker: str) -> str:
    """The fenced block or table that follows an HTML comment starting with ``marker``."""
    start = DOC.index(f"<!-- {marker}")
    rest = DOC[DOC.index("-->", start) + 4 :]
    if rest.startswith("```"):
        return rest.split("```", 2)[1].strip("\n")
    return rest.split("\n\n", 1)[0].strip("\n")


def test_the_layers_are_the_import_linter_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = (c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    assert block_after("layers").splitlines() == contract["layers"]


def test_the_error_tree_is_the_one_errors_py_draws() -> None:
    drawn = (streamrt.errors.__doc__ or "").split("```", 2)[1].strip("\n")
    assert block_after("errors") == drawn


def test_the_lifecycle_table_is_rendered_from_transitions() -> None:
    assert block_after("lifecycle") == lifecycle_table()


def test_every_place_in_the_layout_table_exists() -> None:
    table = DOC.split("## Where each part lives", 1)[1].split("\n## ", 1)[0]
    places = re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE)
    assert len(places) >= 10
    for place in places:
        assert (ROOT / place).exists(), place


# Built from parts, so that this file does not match itself.
_OUTSIDE = ["design" + ".md", "/work" + "/"]


@pytest.mark.parametrize("needle", _OUTSIDE)
def test_nothing_in_the_repository_cites_a_file_outside_it(needle: str) -> None:
    found = []
    for folder in ("streamrt", "tests", "docs", "benchmarks", "examples", "scripts", "processors", ".ci"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".md", ".rtfs", ".toml", ".sh", ".lark", ""}:
                text = path.read_text(encoding="utf-8", errors="replace")
                found += [
                    f"{path.relative_to(ROOT)}:{i}"
                    for i, line in enumerate(text.splitlines(), 1)
                    if needle in line
                ]
    for name in ("README.md", "pyproject.toml"):
        if needle in (ROOT / name).read_text(encoding="utf-8"):
            found.append(name)
    assert found == []
