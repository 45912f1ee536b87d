"""Reading and showing scripts and values past Python's own limits: a clear error with the place, no traceback.

An integer literal of more than 4,300 digits, ``streamrt inspect`` of a state holding such an integer, ``lower``
of 1,000 nested brackets all printed Python tracebacks; a 5 MB string literal took 1.4 GB to read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrt.errors import ScriptSyntaxError
from streamrt.lang.reader import MAX_NESTING, read
from tests.hostile.children import run_python, run_streamrt

pytestmark = pytest.mark.timeout(180)

COMMANDS = [["check"], ["lower"], ["compile", "--python"], ["run", "--no-progress"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_integer_literal_past_the_digit_limit_is_a_located_error(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "big.rtfs").write_text("(def ok 1)\n(def x " + "9" * 5000 + ")\n", encoding="utf-8")
    child = run_streamrt([*command, "big.rtfs"], cwd=tmp_path)
    assert child.code == 2
    assert "Traceback" not in child.err
    assert "big.rtfs:2:8: integer literal of 5,000 digits: at most 4,300" in child.err


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_brackets_nested_past_the_limit_are_a_located_error(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "deep.rtfs").write_text("(defn f []\n  " + "[" * 1000 + "]" * 1000 + ")\n", encoding="utf-8")
    child = run_streamrt([*command, "deep.rtfs"], cwd=tmp_path)
    assert child.code == 2
    assert "Traceback" not in child.err
    assert f"deep.rtfs:2:{MAX_NESTING + 2}: brackets nested more than {MAX_NESTING} deep" in child.err


def test_nesting_up_to_the_limit_reads_and_lowers(tmp_path: Path) -> None:
    depth = MAX_NESTING - 1  # inside the defn's own list
    (tmp_path / "ok.rtfs").write_text(
        "(defn f [] " + "(inc " * depth + "1" + ")" * depth + ")\n", encoding="utf-8"
    )
    child = run_streamrt(["lower", "ok.rtfs"], cwd=tmp_path)
    assert child.code == 0, child.err[-2000:]
    with pytest.raises(ScriptSyntaxError, match="nested more than"):
        read("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1), "x.rtfs")


def test_inspect_of_a_state_holding_a_huge_integer_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "s.rtfs").write_text(
        "(defn p [state chunk] {:state {:n (reduce * 1 (repeat 1000 99999))}})\n"
        '(mcp-stream "mock:x?count=2" p {} {:stream-id "big"})\n',
        encoding="utf-8",
    )
    ran = run_streamrt(["run", "s.rtfs", "--store", "s.db", "--no-progress"], cwd=tmp_path)
    assert "stream big: completed" in ran.err, ran.err[-2000:]
    child = run_streamrt(["inspect", "big", "--store", "s.db"], cwd=tmp_path)
    assert "Traceback" not in child.err
    assert child.code == 2
    assert (
        "streamrt inspect: an integer of more than 4,300 digits cannot be written as text or JSON"
        in child.err
    )


def test_an_output_holding_a_huge_integer_fails_its_stream(tmp_path: Path) -> None:
    (tmp_path / "o.rtfs").write_text(
        "(defn p [state chunk] {:state state :output (reduce * 1 (repeat 1000 99999))})\n"
        '(mcp-stream "mock:x?count=2" p {} {:stream-id "big"})\n',
        encoding="utf-8",
    )
    child = run_streamrt(["run", "o.rtfs", "--no-progress"], cwd=tmp_path)
    assert "Traceback" not in child.err
    assert "stream big: error" in child.err
    assert "an integer of more than 4,300 digits cannot be written" in child.err


def test_a_5mb_string_literal_reads_in_bounded_memory(tmp_path: Path) -> None:
    code = """
import resource
from streamrt.lang.reader import read
text = '(def s "' + 'a' * 5_000_000 + '\\\\n")'
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
(form,) = read(text, "big.rtfs")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert len(form.items[2].value) == 5_000_001
print((after - before) // 1024)
"""
    child = run_python(code, cwd=tmp_path)
    assert child.code == 0, child.err[-2000:]
    grown_mib = int(child.out.strip())
    assert grown_mib < 200, (
        f"reading a 5 MB literal grew the process by {grown_mib} MiB"
    )  # it was about 1,400
