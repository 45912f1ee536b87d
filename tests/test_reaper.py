"""The reaper (tests/reaper.py) kills what a killed test run started, and nothing after a normal exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import pid_alive

ROOT = Path(__file__).resolve().parent.parent

_RUN = """
import os, signal, subprocess, sys
from pathlib import Path
from tests.reaper import forget, reap_on_exit
server = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(120)"],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
    start_new_session=True,
)
reap_on_exit(server.pid, Path(sys.argv[2]))
if sys.argv[1] == "forgotten":
    forget(server.pid)
print(server.pid, flush=True)
if sys.argv[1] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _run(how: str, scratch: Path) -> int:
    """A child "test run" that starts a server, registers it (and ``scratch``) and ends ``how``; the server's pid."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, how, str(scratch)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    return int(done.stdout.split()[0])


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not pid_alive(pid)


def test_a_killed_run_leaves_no_server_and_no_directory(tmp_path: Path) -> None:
    scratch = tmp_path / "server-dir"
    scratch.mkdir()
    pid = _run("killed", scratch)
    try:
        assert _gone_within(pid, 20), f"server {pid} outlived the killed run"
        deadline = time.monotonic() + 10
        while scratch.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not scratch.exists()
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_normal_exit_or_a_forgotten_pid_leaves_the_process_alone(tmp_path: Path) -> None:
    for how in ("normal", "forgotten"):
        scratch = tmp_path / how
        scratch.mkdir()
        pid = _run(how, scratch)
        try:
            time.sleep(1.0)  # the reaper has read its pipe's end by now
            assert pid_alive(pid), how
            assert scratch.exists(), how
        finally:
            os.kill(pid, signal.SIGKILL)
