"""Child processes that cannot run far ahead of the test reading their output.

The crash tests kill a child once they have read a random number of its output lines, and count on every planned
kill landing before the child is done. Through an ordinary 64 KiB pipe a child on a busy machine can write (and so
process) a thousand short lines before the test reads its first few, and finish before the kill: fewer kills than
planned, a failure that depends on scheduling alone. Here the child's stdout is a pipe of one page and every line it
writes is padded to at least ``LINE_BYTES``, so a child that writes each line as it goes (flushed) blocks once it is
``LEAD`` lines ahead of what the test has read: the pipe's page and the reader's two buffers, counted in lines, plus
the line being written. A test that reads at most ``n`` lines before each kill therefore knows each run gets at
most ``n + LEAD`` lines further, whatever the machine's load.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from collections.abc import Sequence

__all__ = ["LEAD", "LINE_BYTES", "spawn_paced"]

PIPE_BYTES = 4096
#: the reader's buffers: the binary buffer below and TextIOWrapper's decoding chunk (8 KiB in CPython)
READ_BUFFER = 8192
LINE_BYTES = 2048
LEAD = (PIPE_BYTES + 2 * READ_BUFFER) // LINE_BYTES + 1


def spawn_paced(argv: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``argv`` with its stdout on a one-page pipe (``proc.stdout``, text) and its stderr on a plain pipe."""
    read_end, write_end = os.pipe()
    try:
        size = fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        assert size <= PIPE_BYTES, f"the pipe holds {size} bytes; LEAD assumes {PIPE_BYTES}"
        proc = subprocess.Popen(argv, stdout=write_end, stderr=subprocess.PIPE, text=True, env=env)
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    try:
        proc.stdout = open(read_end, encoding="utf-8", buffering=READ_BUFFER)  # noqa: SIM115 - closed with proc
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(read_end)
        proc.kill()
        proc.wait()
        raise
    return proc
