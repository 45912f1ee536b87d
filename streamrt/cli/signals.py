"""SIGINT and SIGTERM while ``streamrt run`` or ``resume`` lasts: the first ends the run cleanly, a second at once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, Final

from streamrt.cli.exits import EXIT_SIGINT, EXIT_SIGTERM
from streamrt.lang.turn import halt, unhalt

__all__ = ["end_run", "leave_now", "signals_end_run"]

_EXIT_FOR_SIGNAL: Final = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}


def end_run(stop: asyncio.Future[int], code: int) -> None:
    """End the run with ``code`` (the first reason given wins)."""
    if not stop.done():
        stop.set_result(code)


@contextlib.contextmanager
def signals_end_run(loop: asyncio.AbstractEventLoop, stop: asyncio.Future[int]) -> Iterator[None]:
    """SIGINT / SIGTERM while the run lasts (nothing is installed off the main thread).

    The first signal halts processing at once (:func:`streamrt.lang.turn.halt`: a batch stops at its next chunk,
    a metered processor part way through its chunk, which stays queued for a resume) and ends the run with the
    signal's exit code: intake stops, sources close, the last snapshots are written. The handler is Python's own,
    run between two bytecodes of whatever runs, not the event loop's, which runs only once the loop gets control
    back: a busy processor made that one deaf for minutes. A second signal during the shutdown leaves at once
    (:func:`leave_now`): an unmetered processor (``--no-limits``) cannot be stopped part way, and this is the way
    out of one that never ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = 0

    def on_signal(signum: int, frame: object) -> None:
        nonlocal received
        received += 1
        code = _EXIT_FOR_SIGNAL.get(signal.Signals(signum), EXIT_SIGINT)
        if received > 1:
            leave_now(code)
        halt()
        with contextlib.suppress(RuntimeError):  # the loop is closing: the run is ending anyway
            loop.call_soon_threadsafe(end_run, stop, code)

    previous: dict[signal.Signals, Any] = {}
    for sig in _EXIT_FOR_SIGNAL:
        try:
            previous[sig] = signal.signal(sig, on_signal)
        except (ValueError, OSError):
            continue
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        unhalt()


def leave_now(code: int) -> None:
    """Exit at once, from a signal handler: nothing more runs, not even the final snapshots (the store keeps the
    last committed ones, and a resume goes on from them). Outputs are written a line at a time, and flushed."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # the signal may have come in the middle of a write to it
            stream.flush()
    os.write(2, b"streamrt: a second signal: leaving at once, without the final snapshots\n")
    os._exit(code)
