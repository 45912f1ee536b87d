"""The "Schemas" and "Error policy" sections of docs/policy.md run as written.

``python`` blocks run as programs; a ``console`` block runs its ``$ streamrt ...`` commands in a folder holding the
files named by ``<!-- file: NAME -->`` blocks and compares stdout line by line (JSON lines as JSON, with the two
clock readings, ``received-at`` and ``created_at``, left out); each line of the ``text`` block of messages is
produced by a real schema.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import threading
from pathlib import Path
from typing import Any

import pytest

from streamrt.cli import main
from streamrt.jsoncodec import from_json_text
from streamrt.policy.schema import compile_schema, read_schema
from tests.policy.test_on_error_cli import dead_letters

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
_SECTIONS = ("Schemas", "Error policy")


def _section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match is not None, f"docs/policy.md has no section {title!r}"
    return match.group(1)


TEXT = "\n".join(_section(DOC.read_text(encoding="utf-8"), t) for t in _SECTIONS)
_BLOCK = re.compile(r"(?:<!-- file: (?P<file>\S+) -->\n)?```(?P<kind>\w+)\n(?P<body>.*?)^```$", re.S | re.M)
BLOCKS = [(m.group("kind"), m.group("file"), m.group("body")) for m in _BLOCK.finditer(TEXT)]


def test_the_sections_have_examples() -> None:
    kinds = [kind for kind, _, _ in BLOCKS]
    assert kinds.count("python") >= 2 and "console" in kinds and "text" in kinds


@pytest.mark.parametrize("code", [b for k, _, b in BLOCKS if k == "python"])
def test_python_example(code: str) -> None:
    failure: list[BaseException] = []

    def target() -> None:
        try:
            exec(compile(code, str(DOC), "exec"), {"__name__": "__docs__"})
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=target)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    if failure:
        raise failure[0]


def _comparable(line: str) -> Any:
    try:
        value = json.loads(line)
    except ValueError:
        return line
    if isinstance(value, dict):
        value.pop("created_at", None)
        if isinstance(value.get("meta"), dict):
            value["meta"].pop("received-at", None)
    return value


def test_console_example(tmp_path: Path) -> None:
    for _kind, name, body in BLOCKS:
        if name is not None:
            (tmp_path / name).write_text(body, encoding="utf-8")
    [console] = [b for k, _, b in BLOCKS if k == "console"]
    steps: list[tuple[list[str], list[str]]] = []
    for line in console.splitlines():
        if line.startswith("$ "):
            steps.append((shlex.split(line[2:]), []))
        else:
            steps[-1][1].append(line)
    for argv, expected in steps:
        assert argv[0] == "streamrt"
        args = [str(tmp_path / a) if (tmp_path / a).exists() or a.endswith(".db") else a for a in argv[1:]]
        if args[0] == "dead-letters":
            code, letters, err = dead_letters(args[1], Path(args[3]))
            got = [json.dumps(d) for d in letters]
        else:
            out, errs = io.StringIO(), io.StringIO()
            code = main(args, out=out, err=errs)
            got, err = out.getvalue().splitlines(), errs.getvalue()
        assert code == 0, err
        assert [_comparable(g) for g in got] == [_comparable(e) for e in expected], argv


# each message of the doc's text block, from (option, schema, value as language text, subject)
MESSAGES: dict[str, tuple[str, str, str, str]] = {
    "stream sensors: chunk 2": (":input-schema", "[:map [:temp :number]]", '{:temp "hot"}', "chunk 2"),
    "stream s: chunk 7": (
        ":input-schema",
        "[:map [:readings [:vector [:map [:temp :number]]]]]",
        '{:readings [{:temp 1} {:temp 2} {:temp "hot"}]}',
        "chunk 7",
    ),
    "stream s: chunk 3": (":input-schema", "[:map [:sensor :string]]", "{:temp 1}", "chunk 3"),
    "stream s: output 1": (
        ":output-schema",
        "[:map [:level [:enum :low :high]]]",
        "{:level :mid}",
        "output 1 of chunk 4",
    ),
    "stream s: the state": (
        ":state-schema",
        "[:map {:closed true} [:n :int] [:total :number]]",
        "{:n 1 :total 2 :extra 3}",
        "the state after chunk 9",
    ),
}


def test_messages_in_the_doc_are_real() -> None:
    [block] = [b for k, _, b in BLOCKS if k == "text"]
    lines = block.splitlines()
    assert len(lines) == len(MESSAGES)
    for line in lines:
        key = next(k for k in MESSAGES if line.startswith(k + " "))
        option, spec, value_text, subject = MESSAGES[key]
        schema = compile_schema(spec, option)
        value = read_schema(value_text)  # reads any data, not only schemas
        assert not schema.check(value)
        stream = key.split()[1].rstrip(":")
        assert str(schema.violation(value, stream_id=stream, subject=subject)) == line


def test_json_data_in_the_doc_parses() -> None:
    for kind, name, body in BLOCKS:
        if kind == "json":
            assert name is not None
            assert all(isinstance(from_json_text(line), dict) for line in body.splitlines())
