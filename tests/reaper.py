"""Servers a test run starts are stopped even when the run itself is killed.

A fixture stops its server by pid at teardown, but a pytest killed outright (SIGKILL from an outer timeout, a closed
terminal) runs no teardown, and the PostgreSQL, Redis, HAProxy or ``streamrt serve`` it started lives on, orphaned
(seven PostgreSQL servers were found so in one working session). The reaper is a small process in a session of its
own, started on first use, reading a pipe whose write end only this pytest holds. When pytest is killed, the pipe
closes without the word a normal exit writes; the reaper then kills every pid still registered (each the pid of a
process this run started) and removes the directories registered with it. A server stopped normally is forgotten
first, so a reused pid is never touched.
"""

from __future__ import annotations

import atexit
import contextlib
import subprocess
import sys
from pathlib import Path

__all__ = ["forget", "reap_on_exit"]

_REAPER = r"""
import os, shutil, signal, sys
pids, dirs = {}, []
for line in sys.stdin:
    word, _, arg = line.rstrip("\n").partition(" ")
    if word == "pid":
        pids[int(arg)] = True
    elif word == "forget":
        pids.pop(int(arg), None)
    elif word == "dir":
        dirs.append(arg)
    elif word == "exit":  # pytest ended normally: its teardowns stopped what they started
        sys.exit(0)
for pid in pids:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
if pids:
    import time
    time.sleep(0.5)  # a killed PostgreSQL's children leave their files as they go
for path in dirs:
    shutil.rmtree(path, ignore_errors=True)
"""

_proc: subprocess.Popen[str] | None = None


def _send(line: str) -> None:
    global _proc
    if _proc is None:
        _proc = subprocess.Popen(
            [sys.executable, "-c", _REAPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        atexit.register(_close)
    assert _proc.stdin is not None
    _proc.stdin.write(line + "\n")
    _proc.stdin.flush()


def _close() -> None:
    """At a normal exit the teardowns have run: the reaper is told so and leaves everything alone."""
    if _proc is not None and _proc.stdin is not None:
        with contextlib.suppress(OSError):  # the reaper is gone already
            _proc.stdin.write("exit\n")
            _proc.stdin.close()
        _proc.wait(timeout=30)


def reap_on_exit(pid: int, *dirs: Path) -> None:
    """Kill ``pid`` (a process this run started) and remove ``dirs`` if this run ends before :func:`forget`."""
    for path in dirs:
        _send(f"dir {path}")
    _send(f"pid {pid}")


def forget(pid: int) -> None:
    """``pid`` was stopped by its owner: the reaper must not kill it (the number may be reused)."""
    if _proc is not None:
        _send(f"forget {pid}")
