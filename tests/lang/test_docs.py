"""Every example in docs/language.md runs: scripts load, ``expr ;=> value`` lines hold, error output is real."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from streamrt.cli import main
from streamrt.values import pr_str
from tests.lang.conftest import load

DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"
_BLOCK = re.compile(r"```(clojure|text)\n(.*?)```", re.S)
_CHECK = "$ streamrt check example.rtfs\n"


def _examples() -> list[tuple[str, str | None]]:
    """(clojure block, expected check output or None) for each clojure block of the doc."""
    blocks = [
        (m.group(1), m.group(2), m.start(), m.end()) for m in _BLOCK.finditer(DOC.read_text(encoding="utf-8"))
    ]
    out: list[tuple[str, str | None]] = []
    for i, (kind, body, _start, end) in enumerate(blocks):
        if kind != "clojure":
            continue
        expected = None
        if i + 1 < len(blocks):
            nkind, nbody, nstart, _ = blocks[i + 1]
            if (
                nkind == "text"
                and nbody.startswith(_CHECK)
                and DOC.read_text(encoding="utf-8")[end:nstart].strip() == ""
            ):
                expected = nbody[len(_CHECK) :]
        out.append((body, expected))
    return out


EXAMPLES = _examples()


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 10
    assert sum(1 for _, expected in EXAMPLES if expected is not None) >= 3


def _split(body: str) -> tuple[str, list[tuple[str, str]]]:
    """Definitions, and (expression, expected value text) pairs."""
    lines = body.splitlines()
    defs: list[str] = []
    checks: list[tuple[str, str]] = []
    for line in lines:
        if line.startswith(";=>"):
            expr = defs.pop()
            checks.append((expr, line[3:].strip()))
        elif ";=>" in line:
            expr, _, value = line.partition(";=>")
            checks.append((expr.strip(), value.strip()))
        else:
            defs.append(line)
    return "\n".join(defs), checks


@pytest.mark.parametrize(("body", "expected"), EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_doc_example(
    body: str, expected: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if expected is not None:
        monkeypatch.chdir(tmp_path)
        Path("example.rtfs").write_text(body, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        assert main(["check", "example.rtfs"], out=out, err=err) == 2
        assert err.getvalue() == expected
        return
    defs, checks = _split(body)
    fns = "\n".join(
        f"(defn doc-example-{i} [] {expr})\n(defn doc-expected-{i} [] '{value})"
        for i, (expr, value) in enumerate(checks)
    )
    script = load(defs + "\n" + fns + "\n")
    for i, (expr, value) in enumerate(checks):
        got = script.processor(f"doc-example-{i}")()
        want = script.processor(f"doc-expected-{i}")()
        assert pr_str(got) == pr_str(want), f"{expr} gave {pr_str(got)}, the doc says {value}"
