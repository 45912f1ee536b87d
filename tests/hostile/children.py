"""Running ``streamrt`` in a child process for the hostile runtime tests: bounded in time and memory, stopped by its
own process id, never left behind."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Finished", "finish", "outputs_by_stream", "started", "write"]

MEMORY_CAP = 1 << 30
"""Address space a child may use (1 GiB): a runaway that outgrows it fails with MemoryError instead of taking the
machine (and the other tests) down with it."""


@dataclass
class Finished:
    code: int
    out: str
    err: str
    seconds: float
    """From the signal (or the start, without one) to the exit."""
    peak_rss: int
    """The child's own peak resident memory, in bytes."""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@contextmanager
def started(args: Sequence[str], *, cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """``python -m streamrt ARGS`` in a child, its memory capped; killed (by its pid) if still running at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamrt", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_limit_memory,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()


def finish(proc: subprocess.Popen[str], *, sig: int | None = None, timeout: float = 60) -> Finished:
    """Send ``sig`` (if any) and wait up to ``timeout`` s for the exit; the output, how long the exit took, and the
    child's own peak memory (reaped with ``os.wait4``: ``RUSAGE_CHILDREN`` would be the largest of every child the
    test process ever had, a browser or a cluster node of another test among them)."""
    began = time.monotonic()
    if sig is not None:
        proc.send_signal(sig)
    assert proc.stdout is not None and proc.stderr is not None
    with ThreadPoolExecutor(2) as pool:
        out_read, err_read = pool.submit(proc.stdout.read), pool.submit(proc.stderr.read)
        deadline = began + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.kill(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                err = err_read.result(timeout=30)
                proc.stdout.close()
                proc.stderr.close()
                raise AssertionError(
                    f"streamrt did not exit within {timeout} s{' of the signal' if sig else ''}; stderr:\n"
                    f"{err[-2000:]}"
                )
            time.sleep(0.01)
        seconds = time.monotonic() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out, err = out_read.result(timeout=30), err_read.result(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    return Finished(proc.returncode, out, err, seconds, usage.ru_maxrss * 1024)


def outputs_by_stream(out: str) -> dict[str, list[Any]]:
    """The output lines of a run, by stream id."""
    streams: dict[str, list[Any]] = {}
    for line in out.splitlines():
        if line.strip():
            row = json.loads(line)
            streams.setdefault(row["stream"], []).append(row["output"])
    return streams
