"""Every example in docs/language.md runs: ``expr ;=> value`` lines hold (evaluated by a REPL session, printed
values compared), the REPL transcripts are what the REPL prints, and error output is what ``streamrt check`` prints.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from streamrt.cli import main
from streamrt.cli.repl import PROMPT
from streamrt.lang.meter import Limits
from streamrt.lang.repl import ReplSession, show
from streamrt.printer import pr_str

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


def _steps(body: str) -> list[tuple[str, str | None]]:
    """(text to evaluate, expected printed value or None for definitions), in the block's order.

    ``expr ;=> value`` on one line, or an expression on its own line followed by a ``;=> value`` line; every other
    line is a definition, evaluated before the next example.
    """
    steps: list[tuple[str, str | None]] = []
    pending: list[str] = []
    for line in body.splitlines():
        if line.startswith(";=>"):
            expr = pending.pop()
            if pending:
                steps.append(("\n".join(pending), None))
            pending = []
            steps.append((expr, line[3:].strip()))
        elif ";=>" in line:
            expr, _, value = line.partition(";=>")
            if pending:
                steps.append(("\n".join(pending), None))
            pending = []
            steps.append((expr.strip(), value.strip()))
        else:
            pending.append(line)
    if pending:
        steps.append(("\n".join(pending), None))
    return steps


def test_examples_are_checked() -> None:
    checked = sum(
        1 for body, expected in EXAMPLES if expected is None for _, v in _steps(body) if v is not None
    )
    assert checked >= 150


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
    # The doc's limits are the defaults, but a loaded CI machine must not fail an example on the wall clock:
    # fuel still bounds every step, time gets a minute.
    session = ReplSession(limits=Limits(time_ms=60_000))
    for text, value in _steps(body):
        got = session.eval(text)
        if value is None:
            continue
        assert len(got) == 1, f"{text} is {len(got)} forms"
        want = ReplSession(limits=None).eval("'" + value)[0]
        assert pr_str(got[0]) == pr_str(want), f"{text} gave {pr_str(got[0])}, the doc says {value}"


_REPL = "$ streamrt repl\n"


def _transcripts() -> list[str]:
    return [
        m.group(2) for m in _BLOCK.finditer(DOC.read_text(encoding="utf-8")) if m.group(2).startswith(_REPL)
    ]


TRANSCRIPTS = _transcripts()


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[f"repl-{i}" for i in range(len(TRANSCRIPTS))])
def test_repl_transcript(transcript: str) -> None:
    """Lines after the prompt are input (continuation lines start with spaces and '...>'); the rest is output."""
    session = ReplSession()
    lines = transcript[len(_REPL) :].splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith(PROMPT):
            raise AssertionError(f"expected a prompt line, got {line!r}")
        text = [line[len(PROMPT) :]]
        i += 1
        while i < len(lines) and lines[i].lstrip().startswith("...>"):
            text.append(lines[i].lstrip()[len("...> ") :])
            i += 1
        expected: list[str] = []
        while i < len(lines) and not lines[i].startswith(PROMPT):
            expected.append(lines[i])
            i += 1
        try:
            got = [show(v) for v in session.eval("\n".join(text))]
        except Exception as exc:  # the transcript shows the error the REPL prints
            got = exc.format().splitlines()  # type: ignore[attr-defined]
        assert got == expected


def test_the_doc_has_repl_transcripts() -> None:
    assert TRANSCRIPTS


_EVAL = "$ streamrt eval "


def _eval_examples() -> list[str]:
    return [
        m.group(2) for m in _BLOCK.finditer(DOC.read_text(encoding="utf-8")) if m.group(2).startswith(_EVAL)
    ]


EVALS = _eval_examples()


@pytest.mark.parametrize("example", EVALS, ids=[f"eval-{i}" for i in range(len(EVALS))])
def test_eval_example(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import shlex

    command, _, expected = example.partition("\n")
    monkeypatch.chdir(DOC.parents[1])
    out, err = io.StringIO(), io.StringIO()
    assert main(shlex.split(command)[2:], out=out, err=err) == 0, err.getvalue()
    assert out.getvalue() == expected


def test_every_core_function_is_in_the_doc() -> None:
    from streamrt.lang.core import core_name, script_names

    text = DOC.read_text(encoding="utf-8")
    # str/join and the like are the unqualified functions under their clojure.string names
    names = [n for n in script_names() if not ("/" in n and core_name(n.rpartition("/")[2]))]
    missing = [n for n in names if f"`({n} " not in text and f"`({n})" not in text and f"({n} " not in text]
    assert missing == []
