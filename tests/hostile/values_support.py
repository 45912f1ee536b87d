"""Child processes for the hostile value tests: a crash (rc -11) or a hang must fail the test, not the test run."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Child", "run_python", "run_streamrt"]

MEMORY_CAP = 2 << 30
"""Address space a child may use: a runaway walk fails with MemoryError instead of taking the machine with it."""


@dataclass
class Child:
    code: int
    out: str
    err: str


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _run(argv: list[str], *, cwd: Path, timeout: float) -> Child:
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_limit_memory,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"the child did not finish within {timeout} s; stderr:\n{err[-2000:]}") from None
    assert proc.returncode >= 0, f"the child died of signal {-proc.returncode}; stderr:\n{err[-2000:]}"
    return Child(proc.returncode, out, err)


def run_streamrt(args: list[str], *, cwd: Path, timeout: float = 120) -> Child:
    """The ``streamrt`` command with ``args`` in a child capped in memory and time, killed by its pid if it overruns."""
    return _run([sys.executable, "-c", _MAIN, *args], cwd=cwd, timeout=timeout)


_MAIN = "import sys; from streamrt.cli import main; sys.exit(main(sys.argv[1:]))"


def run_python(code: str, *, cwd: Path, timeout: float = 120) -> Child:
    """``python -c CODE`` in the same kind of child."""
    return _run([sys.executable, "-c", code], cwd=cwd, timeout=timeout)
