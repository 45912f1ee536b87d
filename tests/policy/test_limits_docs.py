"""The "Effects and the security context" and "Limits" sections of docs/policy.md run as written.

``python`` blocks run as programs; each ``console`` block's ``$ streamrt ...`` commands run in a folder holding the
files named by ``<!-- file: NAME -->`` blocks, and their output (stdout, then stderr) must be exactly what follows;
each message line of a ``text`` block is produced by a real run.
"""

from __future__ import annotations

import asyncio
import io
import re
import shlex
from pathlib import Path

import pytest

from streamrt.cli import main
from streamrt.errors import EffectDeniedError
from streamrt.lang.script import load_script
from streamrt.policy.effects import SecurityContext
from streamrt.runtime.provider import Provider
from streamrt.values import Keyword

pytestmark = pytest.mark.timeout(60)

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
_BLOCK = re.compile(r"(?:<!-- file: (?P<file>\S+) -->\n)?```(?P<kind>\w+)\n(?P<body>.*?)^```$", re.S | re.M)


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match is not None, f"docs/policy.md has no section {title!r}"
    return match.group(1)


EFFECTS = [
    (m["kind"], m["file"], m["body"]) for m in _BLOCK.finditer(_section("Effects and the security context"))
]
LIMITS = [(m["kind"], m["file"], m["body"]) for m in _BLOCK.finditer(_section("Limits"))]


def test_the_sections_have_examples() -> None:
    assert [k for k, _, _ in EFFECTS] == ["text", "python", "clojure", "console"]
    assert [k for k, _, _ in LIMITS] == ["text", "python"]


@pytest.mark.parametrize("code", [b for k, _, b in EFFECTS + LIMITS if k == "python"])
def test_python_example(code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {"__name__": "__docs__"})


def test_console_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for _kind, name, body in EFFECTS:
        if name is not None:
            (tmp_path / name).write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    [console] = [b for k, _, b in EFFECTS if k == "console"]
    commands = re.split(r"^\$ ", console, flags=re.M)[1:]
    assert len(commands) == 3
    for chunk in commands:
        command, _, expected = chunk.partition("\n")
        argv = shlex.split(command)
        assert argv[0] == "streamrt"
        out, err = io.StringIO(), io.StringIO()
        main(argv[1:], out=out, err=err)
        assert out.getvalue() + err.getvalue() == expected


def test_effect_message_in_the_doc_is_real() -> None:
    [text] = [b for k, _, b in EFFECTS if k == "text"]
    source = '(defn p [state chunk] state)\n(mcp-stream "https://example.org/feed" p)\n'
    with pytest.raises(EffectDeniedError) as info:
        load_script(source, filename="app.rtfs", security=SecurityContext.parse(deny="network"))
    assert str(info.value) + "\n" == text


def test_limit_messages_in_the_doc_are_real() -> None:
    [text] = [b for k, _, b in LIMITS if k == "text"]
    script = load_script(
        "\n(defn forever [state chunk] (forever state chunk))\n\n\n"
        "(defn runaway-range [state chunk] {:n (count (range (:n chunk)))})\n",
        filename="app.rtfs",
    )

    async def messages() -> list[str]:
        async with Provider() as p:
            one = p.start(script.processor("forever"))
            two = p.start(script.processor("runaway-range"))
            await p.push(one, {})
            await p.push(two, {Keyword("n"): 10**8})
            await p.settle()
            return [p.inspect(sid)["message"] for sid in (one, two)]

    assert asyncio.run(messages()) == text.splitlines()
