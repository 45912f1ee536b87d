"""Live progress lines: drawn on a terminal (a pty here), never on a pipe, off with --no-progress."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streamrt.observe.progress import Progress, wants_progress
from streamrt.runtime.provider import Provider

pytestmark = pytest.mark.timeout(60)

SLOW = """
(defn echo [state chunk] {:state (inc state) :output (:seq chunk)})
(mcp-stream "mock:m?count=12&interval_ms=60" echo 0 {:stream-id "feed"})
"""
ERASE = "\x1b[J"


def run_with_stderr_on(script: Path, pty_stderr: bool, *extra: str) -> tuple[int, str, str]:
    """Run ``streamrt run`` with stderr on a pty (or a pipe); returns exit code, stdout, stderr as seen."""
    argv = [sys.executable, "-c", "from streamrt.cli import entry; entry()", "run", str(script), *extra]
    env = {**os.environ, "TERM": "xterm"}
    if not pty_stderr:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env, check=False)
        return done.returncode, done.stdout, done.stderr
    master, slave = os.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return code, out, b"".join(chunks).decode()


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "slow.rtfs"
    path.write_text(SLOW, encoding="utf-8")
    return path


def test_progress_is_drawn_on_a_terminal_and_erased_at_the_end(script: Path) -> None:
    code, out, err = run_with_stderr_on(script, True)
    assert code == 0
    assert len(out.splitlines()) == 12  # stdout (a pipe) has the outputs only
    assert "\x1b[" not in out
    status_lines = [line for line in err.replace("\r", "").split("\n") if "chunks/s" in line]
    assert status_lines, err
    assert any("feed  active" in line and "queue " in line and "outputs " in line for line in status_lines)
    # redrawn: the cursor goes back up over the previous block at least once
    assert "\x1b[1F" + ERASE in err
    # and the last thing before the summary is erasing the block
    summary = err.index("stream feed: completed; processed 12")
    assert err.rindex(ERASE) < summary
    assert "chunks/s" not in err[summary:]


def test_nothing_is_drawn_on_a_pipe(script: Path) -> None:
    code, out, err = run_with_stderr_on(script, False)
    assert code == 0 and len(out.splitlines()) == 12
    assert "\x1b[" not in err and "chunks/s" not in err
    assert "stream feed: completed; processed 12" in err


def test_no_progress_flag_turns_it_off_on_a_terminal(script: Path) -> None:
    code, _, err = run_with_stderr_on(script, True, "--no-progress")
    assert code == 0
    assert "\x1b[" not in err and "chunks/s" not in err
    assert "stream feed: completed; processed 12" in err


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_wants_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    assert wants_progress(Tty())
    assert not wants_progress(Tty(), requested=False)
    assert not wants_progress(io.StringIO())
    monkeypatch.setenv("TERM", "dumb")
    assert not wants_progress(Tty())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_render_rates_queue_and_overflow() -> None:
    clock = Clock()
    async with Provider(default_queue_capacity=4) as p:
        progress = Progress(p, Tty(), clock=clock)
        a = p.start(lambda s, c: s, stream_id="a")
        b = p.start(lambda s, c: s, stream_id="bb")
        first = progress.render()
        assert all("—" in line for line in first)  # no rate before there is history
        await p.push_many(a, range(50))
        await p.settle()
        clock.now += 0.5
        p.pause(b)
        for i in range(4):
            await p.push(b, i)
        line_a, line_b = progress.render()
        assert line_a.startswith("a   active") and "100.0 chunks/s" in line_a and "processed 50" in line_a
        assert line_b.startswith("bb  paused") and "queue 4/4 full" in line_b and "0.0 chunks/s" in line_b
        for i in range(5):
            p.start(lambda s, c: s, stream_id=f"x{i}")
        p.cancel("x4")
        lines = progress.render(max_lines=4)
        assert len(lines) == 4
        assert lines[-1] == "… and 4 more streams (3 active, 1 cancelled)"


async def test_clear_and_guard_write_nothing_when_nothing_is_drawn() -> None:
    out = Tty()
    async with Provider() as p:
        progress = Progress(p, out)
        p.start(lambda s, c: s, stream_id="a")
        seen: list[Any] = []
        sink = progress.guard(seen.append)
        sink("x")  # type: ignore[arg-type]
        assert out.getvalue() == "" and seen == ["x"]
        progress.draw()
        assert progress.drawn == 1 and out.getvalue().endswith("\n")
        sink("y")  # type: ignore[arg-type]
        assert out.getvalue().endswith("\x1b[1F" + ERASE) and progress.drawn == 0
