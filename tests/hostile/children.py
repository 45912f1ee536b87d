"""Child processes for the hostile tests: ``streamrt`` or Python code run in a child that is bounded in time and
memory, stopped by its own process id and never left behind, so a crash (rc -11), a hang or a runaway fails the
test, not the test run."""

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

__all__ = ["Finished", "finish", "outputs_by_stream", "run_python", "run_streamrt", "started", "write"]

MEMORY_CAP = 1 << 30
"""Address space a ``streamrt run`` child may use (1 GiB): a runaway that outgrows it fails with MemoryError instead
of taking the machine (and the other tests) down with it."""
WALK_MEMORY_CAP = 2 << 30
"""Address space of a child that walks hostile values (:func:`run_streamrt`, :func:`run_python`)."""
_MAIN = "import sys; from streamrt.cli import main; sys.exit(main(sys.argv[1:]))"


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


@contextmanager
def started(
    args: Sequence[str], *, cwd: Path, argv: Sequence[str] | None = None, memory: int = MEMORY_CAP
) -> Iterator[subprocess.Popen[str]]:
    """``python -m streamrt ARGS`` (or ``argv`` as it is) in a child, its address space capped at ``memory``;
    killed (by its pid) if still running at the end."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    proc = subprocess.Popen(
        [sys.executable, "-m", "streamrt", *args] if argv is None else list(argv),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=limit_memory,
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
                    f"the child did not exit within {timeout} s{' of the signal' if sig else ''}; stderr:\n"
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


def _run(argv: Sequence[str], *, cwd: Path, timeout: float) -> Finished:
    with started((), cwd=cwd, argv=argv, memory=WALK_MEMORY_CAP) as proc:
        done = finish(proc, timeout=timeout)
    assert done.code >= 0, f"the child died of signal {-done.code}; stderr:\n{done.err[-2000:]}"
    return done


def run_streamrt(args: list[str], *, cwd: Path, timeout: float = 120) -> Finished:
    """The ``streamrt`` command with ``args`` in a child capped in memory and time; a crash fails the test."""
    return _run([sys.executable, "-c", _MAIN, *args], cwd=cwd, timeout=timeout)


def run_python(code: str, *, cwd: Path, timeout: float = 120) -> Finished:
    """``python -c CODE`` in the same kind of child."""
    return _run([sys.executable, "-c", code], cwd=cwd, timeout=timeout)
