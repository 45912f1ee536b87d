"""Log forging: a stream id or a logged message with a newline or ESC must not start a line of its own.

A script chooses its stream ids and what it logs; a server chooses the error messages a stream fails with. In the
text log format each record must stay one line, and nothing may reach the terminal as a control sequence. Runs the
real CLI in a subprocess and reads its stderr.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from streamrt.observe.progress import Progress
from streamrt.runtime.provider import Provider

pytestmark = pytest.mark.timeout(60)

FORGED = "12:00:00 CRITICAL streamrt.stream: stream bank failed: forged"

# The id holds a newline, a carriage return and ESC; the processor logs a message with a newline, a terminal escape
# (clear screen) and U+2028; the input file's name holds a forged line, and its second line is not JSON, so the
# stream fails with a message that names the file.
DATA = "in\n12:00:00 CRITICAL streamrt.stream: stream bank failed: forged\r.jsonl"
SCRIPT = r"""
(defn step [state chunk meta]
  (call :log {:message "chunk\n12:00:00 CRITICAL streamrt.stream: stream bank failed: forged\u001b[2J\u2028x"
              :level :warning})
  {:state (inc state)})

(mcp-stream "jsonl:in\n12:00:00 CRITICAL streamrt.stream: stream bank failed: forged\r.jsonl" step 0
            {:stream-id "evil\n12:00:00 CRITICAL streamrt.stream: stream bank failed: forged\r\u001b[31m"})
"""

CLI = (sys.executable, "-c", "import sys; from streamrt.cli import entry; sys.exit(entry())")
RECORD = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) streamrt[.\w]*: ")


def run_cli(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "forge.rtfs"
    script.write_text(SCRIPT, encoding="utf-8")
    (tmp_path / DATA).write_text('{"n": 1}\nnot json\n{"n": 3}\n', encoding="utf-8")
    return subprocess.run(
        [*CLI, "run", str(script), "--log-level", "debug", "--no-progress", *extra],
        capture_output=True,
        text=True,
        timeout=50,
        cwd=tmp_path,
    )


def test_text_log_lines_cannot_be_forged(tmp_path: Path) -> None:
    proc = run_cli(tmp_path)
    assert proc.returncode == 1, proc.stderr  # the stream failed on line 2
    lines = proc.stderr.split("\n")
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr and "\u2028" not in proc.stderr
    # No line starts with the forged text; each record line starts with a time, a level and a logger.
    assert not any(line.startswith(FORGED[:8]) for line in lines)
    records = [line for line in lines if RECORD.match(line)]
    assert records, proc.stderr
    assert not [r for r in records if r.startswith("12:00:00 CRITICAL")]
    # The forged text is still there to read, escaped, inside the real records.
    script_logs = [r for r in records if " streamrt.script: " in r]
    assert script_logs and all(r.count("\\n12:00:00 CRITICAL") == 1 for r in script_logs)
    assert all("\\x1b[2J\\u2028x" in r for r in script_logs)
    start = next(r for r in records if "[event=start" in r)
    assert "stream evil\\n12:00:00 CRITICAL" in start and "\\r\\x1b[31m" in start
    failed = next(r for r in records if "[event=error" in r)
    assert "in\\n12:00:00 CRITICAL" in failed and "not JSON" in failed
    # The closing summary, also on stderr, is one line per stream.
    summaries = [line for line in lines if line.startswith("stream evil")]
    assert len(summaries) == 1 and "error" in summaries[0]
    # Every non-empty stderr line is a record, the summary, or the run's own notes (nothing forged in between).
    others = [line for line in lines if line and not RECORD.match(line) and line not in summaries]
    assert not [line for line in others if "forged" in line], others


def test_json_log_lines_each_parse_and_keep_the_text(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "--log-format", "json")
    assert proc.returncode == 1, proc.stderr
    assert "\x1b" not in proc.stderr and "\u2028" not in proc.stderr
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    by_event = {r.get("event"): r for r in records}
    # JSON keeps the exact text (escaped by the encoder), so a reader gets back what the script wrote.
    assert by_event["start"]["stream_id"].startswith("evil\n12:00:00 CRITICAL")
    assert by_event["start"]["stream_id"].endswith("\r\x1b[31m")
    script_logs = [r for r in records if r["logger"] == "streamrt.script"]
    assert script_logs and script_logs[0]["message"].endswith("forged\x1b[2J\u2028x")
    # splitlines() breaks at U+2028 too: yet every line of stderr is one whole JSON record, the summary included.
    lines = proc.stderr.splitlines()
    assert len(records) == len(lines)
    summary = next(r for r in records if r.get("event") == "summary")
    assert summary["stream_id"] == by_event["start"]["stream_id"] and summary["status"] == "error"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_progress_lines_stay_one_line_each() -> None:
    """The live status block moves the cursor by its line count: an id with a newline would break that."""
    async with Provider() as p:
        p.start(lambda s, c: s, stream_id="a\n\x1b[2Jb")
        p.start(lambda s, c: s, stream_id="plain")
        lines = Progress(p, _Tty()).render()
    assert len(lines) == 2
    assert lines[0].startswith("a\\n\\x1b[2Jb  active") and lines[1].startswith("plain" + " " * 8 + "active")
    assert not any(c in "".join(lines) for c in "\n\r\x1b")
